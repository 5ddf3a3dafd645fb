// The runtime: every enabled Dataflow of one profile, each a DataflowRunner, started and stopped
// together. Built from a validated Plan; the connectors come from a ConnectorFactory so the
// runtime itself knows no client library.
//
// Threads: build/start/stop are called from one thread (the `run` command's main thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/mounted_files.h"
#include "engine/config/validate.h"
#include "engine/core/clock.h"
#include "engine/runtime/connector_factory.h"
#include "engine/runtime/dataflow_runner.h"

namespace dataflow::runtime {

struct EngineOptions {
  std::string profile = config::kDefaultProfile;
  uint32_t instance_id = 0;
  FlightLimits limits;
};

class Engine {
 public:
  // Prepares a runner for every enabled dataflow of `options.profile`: pipeline and connectors
  // are built, nothing connects yet. Every problem is appended to `errors` (one sentence each,
  // naming the dataflow); the engine is returned only when there are none. `plan`, `factory`,
  // `files` and `clock` outlive the engine.
  static std::unique_ptr<Engine> build(const config::Plan& plan, const EngineOptions& options,
                                       const ConnectorFactory& factory,
                                       const config::MountedFiles& files, const Clock& clock,
                                       std::vector<std::string>& errors);

  // Starts every runner. A runner whose start fails is logged and stopped; the others run.
  // Returns how many runners are running.
  size_t start();

  // Stops every source, then waits for what is in flight until `drain` has passed (one deadline
  // for all dataflows), then closes every connection. Returns the number of received messages
  // that were not delivered, and logs one summary line per dataflow.
  uint64_t stop(std::chrono::milliseconds drain);

  const std::vector<std::unique_ptr<DataflowRunner>>& runners() const { return runners_; }

 private:
  Engine() = default;
  std::vector<std::unique_ptr<DataflowRunner>> runners_;
};

// `clientIdPrefix` (default "dataflow") + "-" + dataflow name + "-" + instance id.
std::string mqttClientId(const config::PlannedDataflow& planned, const config::DataflowEndpoint& e,
                         uint32_t instance_id);

// The filters to subscribe: with more than one instance, each filter that is not already a shared
// subscription becomes `$share/<dataflow name>/<filter>` so the instances share the stream.
std::vector<std::string> subscriptionTopics(const config::PlannedDataflow& planned,
                                            uint32_t instance_count);

}  // namespace dataflow::runtime
