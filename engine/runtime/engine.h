// The runtime: every enabled Dataflow of one profile, each a DataflowRunner, started and stopped
// together. Built from a validated Plan; the connectors come from a ConnectorFactory so the
// runtime itself knows no client library.
//
// Threads: build/start/supervise/stop are called from one thread (the `run` command's main
// thread); requestStop() from any thread (the signal thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
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

  // Starts every runner. A runner whose start fails is logged, marked Failed and stopped; the
  // others run. Returns how many runners are running.
  size_t start();

  enum class Outcome { StopRequested, AllFailed };
  // Blocks until requestStop() or until no dataflow is running any more. Meanwhile, every runner
  // that turns Failed (a connector that can no longer work, a handler that threw) is stopped here,
  // at once: its source takes nothing new, its connections are released, and what it had not
  // delivered stays unacknowledged at its source. The other runners go on.
  Outcome supervise();
  // Ends supervise(). Any thread, any number of times.
  void requestStop();
  // How many runners have failed since start.
  size_t failedCount() const;

  // Stops every source, then waits for what is in flight until `drain` has passed (one deadline
  // for all dataflows, each draining on a thread of its own), then closes every connection.
  // Returns the number of received messages that were not delivered, and logs one summary line
  // per dataflow.
  uint64_t stop(std::chrono::milliseconds drain);

  const std::vector<std::unique_ptr<DataflowRunner>>& runners() const { return runners_; }

 private:
  Engine() = default;
  // Stops the runners that failed and are not stopped yet; returns how many are still running.
  size_t reapFailed();

  std::vector<std::unique_ptr<DataflowRunner>> runners_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a runner failed, or a stop was requested
  bool stop_requested_ = false;      // guarded by mutex_
  size_t failures_pending_ = 0;      // guarded by mutex_: failed runners not reaped yet
  std::vector<bool> reaped_;         // main thread only: per runner, stopped after failing
};

// `clientIdPrefix` (default "dataflow") + "-" + dataflow name + "-" + instance id.
std::string mqttClientId(const config::PlannedDataflow& planned, const config::DataflowEndpoint& e,
                         uint32_t instance_id);

// The filters to subscribe: with more than one instance, each filter that is not already a shared
// subscription becomes `$share/<dataflow name>/<filter>` so the instances share the stream.
std::vector<std::string> subscriptionTopics(const config::PlannedDataflow& planned,
                                            uint32_t instance_count);

}  // namespace dataflow::runtime
