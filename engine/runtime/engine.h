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
#include <set>
#include <string>
#include <vector>

#include "engine/config/mounted_files.h"
#include "engine/config/validate.h"
#include "engine/core/clock.h"
#include "engine/core/directory_watcher.h"
#include "engine/runtime/connector_factory.h"
#include "engine/runtime/dataflow_runner.h"

namespace dataflow::runtime {

struct EngineOptions {
  std::string profile = config::kDefaultProfile;
  uint32_t instance_id = 0;
  FlightLimits limits;
  // Where the runners' counters and the supervising thread's heartbeat go (metrics, probes);
  // none when null.
  std::shared_ptr<Telemetry> telemetry;
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

  // Watches the Secret and ConfigMap folders the dataflows' endpoints read when they connect
  // (MountedFiles::foldersOf). When the content of one changes (Kubernetes rotated it), supervise()
  // rebuilds every running dataflow that reads it: new connectors are made first, and a change
  // they cannot use (a key removed, say) is logged and refused while the running connections keep
  // the material they have; otherwise the old dataflow stops receiving, delivers what it holds for
  // up to `drain`, closes, and the new one connects with the new content. What the old one had not
  // delivered stays unacknowledged at its source. Every `recheck` every folder's content is
  // compared as well, in case an event was missed. Fatal when the folders cannot be watched.
  // Call after start(), on the thread that calls supervise().
  Status watchMountedFiles(std::chrono::milliseconds drain,
                           std::chrono::milliseconds recheck = std::chrono::seconds(60));
  // How many dataflows were rebuilt for changed Secrets or ConfigMaps. supervise()'s thread.
  size_t rotationCount() const { return rotations_; }

  enum class Outcome { StopRequested, AllFailed };
  // Blocks until requestStop() or until no dataflow is running any more. Meanwhile, every runner
  // that turns Failed (a connector that can no longer work, a handler that threw) is stopped here,
  // at once: its source takes nothing new, its connections are released, and what it had not
  // delivered stays unacknowledged at its source. The other runners go on. Rotations (see
  // watchMountedFiles) happen here too.
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

  // A rotation replaces a runner: read this on supervise()'s thread, or while it is not running.
  const std::vector<std::unique_ptr<DataflowRunner>>& runners() const { return runners_; }

 private:
  Engine() = default;
  // Stops the runners that failed and are not stopped yet; returns how many are still running.
  size_t reapFailed();
  // Reports the runner's failure to supervise().
  void watchFailures(DataflowRunner& runner);
  // Rebuilds the running dataflows whose folders are in `changed` (all of them when `everything`)
  // and whose content really changed.
  void rotate(const std::set<std::string>& changed, bool everything);
  void rebuild(size_t index, uint64_t fingerprint);
  uint64_t fingerprintOf(size_t index) const;

  // What build() was given, to rebuild a dataflow; all outlive the engine.
  const ConnectorFactory* factory_ = nullptr;
  const config::MountedFiles* files_ = nullptr;
  const Clock* clock_ = nullptr;
  EngineOptions options_;
  std::vector<const config::PlannedDataflow*> planned_;  // per runner

  // Rotation; main thread only unless noted.
  std::vector<std::vector<std::string>> folders_;  // per runner: the folders its endpoints read
  std::vector<uint64_t> fingerprints_;             // per runner: their content when it was built
  std::unique_ptr<DirectoryWatcher> watcher_;
  std::chrono::milliseconds rotation_drain_{0};
  std::chrono::milliseconds recheck_{0};
  size_t rotations_ = 0;
  uint64_t lost_in_rotations_ = 0;
  std::set<std::string> changed_folders_;  // guarded by mutex_: reported, not handled yet

  std::vector<std::unique_ptr<DataflowRunner>> runners_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a runner failed, a folder changed, or a stop was requested
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
