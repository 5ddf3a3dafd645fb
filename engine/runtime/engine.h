// The runtime: every enabled Dataflow of one profile, each a DataflowRunner, started and stopped
// together. Built from a validated Plan; the connectors come from a ConnectorFactory so the
// runtime itself knows no client library.
//
// Threads: build/start/supervise/apply/stop are called from one thread (the `run` command's main
// thread); requestStop(), requestApply() and the reload counters from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
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

// The disk spool (engine/spool/spool.h): which dataflows spool, where, and their limits.
struct SpoolSettings {
  std::string root;  // --spool-dir: each dataflow instance spools in <root>/<dataflow>/<instance>
  bool all = false;  // --spool-all: every dataflow with an MQTT source, requested or not
  uint64_t max_bytes = uint64_t{1} << 30;  // per dataflow
  std::chrono::seconds max_age{0};         // zero: no age limit
};

struct EngineOptions {
  std::string profile = config::kDefaultProfile;
  uint32_t instance_id = 0;
  FlightLimits limits;
  SpoolSettings spool;
  // Where the runners' counters, the rotation and reload counts and the supervising thread's
  // heartbeat go (metrics, probes); the engine makes its own when null.
  std::shared_ptr<Telemetry> telemetry;
  // How long a dataflow that a reload stops or restarts may deliver what it holds.
  std::chrono::milliseconds drain{10'000};
};

class Engine {
 public:
  // Prepares a runner for every enabled dataflow of `options.profile`: pipeline and connectors
  // are built, nothing connects yet. Every problem is appended to `errors` (one sentence each,
  // naming the dataflow); the engine is returned only when there are none. A profile that no
  // dataflow uses yet is not a problem: the engine runs none until apply() brings some.
  // `plan`, `factory`, `files` and `clock` outlive the engine.
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
  size_t rotationCount() const { return options_.telemetry->rotations.load(); }

  // Reload: makes the running dataflows those of `plan` (validated; the engine keeps it alive
  // while a runner refers to it). Compared per dataflow by name (dataflowModel(), plus the content
  // of the Secrets and ConfigMaps it reads): an unchanged dataflow keeps running untouched; a
  // changed one, or one that had failed, is replaced (new connectors made first, then the old one
  // stops receiving and delivers what it holds for up to `options.drain`, then the new one
  // starts; what was not delivered stays unacknowledged at its source); a new one starts; one no
  // longer in the plan (or disabled) stops receiving, drains and closes. Every runner is built
  // before anything is touched: when one cannot be (or the profile is gone, or --instance-id is
  // out of the new instanceCount), every error is logged, nothing changes, and the reload counts
  // as refused. `trigger` names the cause in the log. supervise()'s thread, or while it is not
  // running.
  Status apply(std::shared_ptr<const config::Plan> plan, const std::string& trigger);
  // Hands `plan` to supervise(), which applies it. Any thread. A plan handed over while an earlier
  // one waits replaces it (the earlier is never applied, nor counted).
  void requestApply(std::shared_ptr<const config::Plan> plan, std::string trigger);
  // Counts a reload refused before it reached the engine (manifests that do not validate; the
  // caller logs why). Any thread.
  void countRefusedReload() { options_.telemetry->reloads_refused.fetch_add(1); }
  // Reloads applied / refused since start. Any thread.
  uint64_t reloadsApplied() const { return options_.telemetry->reloads_applied.load(); }
  uint64_t reloadsRefused() const { return options_.telemetry->reloads_refused.load(); }

  enum class Outcome { StopRequested, AllFailed };
  // Blocks until requestStop() or until every dataflow has failed (none running while some
  // exist; with none at all it waits for a reload to bring some). Meanwhile, every runner
  // that turns Failed (a connector that can no longer work, a handler that threw) is stopped here,
  // at once: its source takes nothing new, its connections are released, and what it had not
  // delivered stays unacknowledged at its source. The other runners go on. Rotations (see
  // watchMountedFiles) and reloads (requestApply) happen here too.
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

  // A rotation or a reload replaces, adds and removes runners: read this on supervise()'s thread,
  // or while it is not running.
  const std::vector<std::unique_ptr<DataflowRunner>>& runners() const { return runners_; }

 private:
  // What one runner was built from; same index as runners_.
  struct Slot {
    const config::PlannedDataflow* planned = nullptr;
    std::shared_ptr<const config::Plan> plan;  // keeps `planned` alive; null: build()'s plan
    std::string model;                         // dataflowModel(*planned)
    std::vector<std::string> folders;          // the mounted folders its endpoints read
    uint64_t fingerprint = 0;                  // their content when it was built
    bool reaped = false;                       // stopped by supervise() after failing
  };
  // One dataflow a reload starts, restarts (index set) or stops (fresh null).
  struct Change {
    std::optional<size_t> index;  // the running runner it replaces or stops
    std::unique_ptr<DataflowRunner> fresh;
    Slot slot;
  };

  Engine() = default;
  // The profile exists (else false) and --instance-id is within its instanceCount; every problem
  // is appended to `errors`.
  static bool checkProfile(const config::Plan& plan, const EngineOptions& options,
                           std::vector<std::string>& errors);
  // The profile's instanceCount when the profile exists and --instance-id is not below it: a
  // scale-down removed this instance.
  static std::optional<int64_t> scaledBelow(const config::Plan& plan,
                                            const EngineOptions& options);
  // Stops the runners that failed and are not stopped yet; returns how many are still running.
  size_t reapFailed();
  // Reports the runner's failure to supervise().
  void watchFailures(DataflowRunner& runner);
  // buildRunner() with what build() was given. `replaced`: the runner's slot it replaces, whose
  // source filters the new one drops are unsubscribed (SourceSpec::retired_topics).
  std::unique_ptr<DataflowRunner> makeRunner(const config::PlannedDataflow& planned,
                                             std::vector<std::string>& errors,
                                             const Slot* replaced = nullptr) const;
  Slot slotFor(const config::PlannedDataflow& planned, std::shared_ptr<const config::Plan> plan);
  // Appends a built runner (not started).
  void adopt(std::unique_ptr<DataflowRunner> runner, Slot slot);
  // Replaces runner `index`, already drained and closed, by `fresh` (built, not started).
  void replace(size_t index, std::unique_ptr<DataflowRunner> fresh, Slot slot);
  // Removes runner `index`, already drained and closed.
  void remove(size_t index);
  // Every runner stops receiving, then each drains and closes on a thread of its own, all against
  // one deadline `drain` from now. Returns how many received messages were not delivered.
  static uint64_t drainTogether(const std::vector<DataflowRunner*>& runners,
                                std::chrono::milliseconds drain);
  // Rebuilds the running dataflows whose folders are in `changed` (all of them when `everything`)
  // and whose content really changed.
  void rotate(const std::set<std::string>& changed, bool everything);
  void rebuild(size_t index, uint64_t fingerprint);
  uint64_t fingerprintOf(const std::vector<std::string>& folders) const;
  // (Re)starts the watcher on every runner's folders; when watching was asked for.
  Status rewatch();
  // apply()'s first phase: what must change, every runner it needs built; errors collected.
  std::vector<Change> plannedChanges(const std::shared_ptr<const config::Plan>& plan,
                                     std::vector<std::string>& errors);

  // What build() was given, to rebuild a dataflow; all outlive the engine.
  const ConnectorFactory* factory_ = nullptr;
  const config::MountedFiles* files_ = nullptr;
  const Clock* clock_ = nullptr;
  EngineOptions options_;

  // Rotation; main thread only unless noted.
  std::unique_ptr<DirectoryWatcher> watcher_;
  bool watching_ = false;                        // watchMountedFiles() was called
  std::set<std::string> watched_folders_;        // what watcher_ watches
  std::chrono::milliseconds rotation_drain_{0};  // options.drain, or watchMountedFiles' drain
  std::chrono::milliseconds recheck_{0};
  uint64_t lost_in_rotations_ = 0;         // and in reloads
  std::set<std::string> changed_folders_;  // guarded by mutex_: reported, not handled yet

  // Reload.
  std::shared_ptr<const config::Plan> pending_plan_;  // guarded by mutex_: not applied yet
  std::string pending_trigger_;                       // guarded by mutex_

  std::vector<std::unique_ptr<DataflowRunner>> runners_;
  std::vector<Slot> slots_;  // main thread only: per runner
  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a runner failed, a folder changed, a plan or a stop came
  bool stop_requested_ = false;      // guarded by mutex_
  size_t failures_pending_ = 0;      // guarded by mutex_: failed runners not reaped yet
};

// `clientIdPrefix` (default "dataflow") + "-" + dataflow name + "-" + instance id.
std::string mqttClientId(const config::PlannedDataflow& planned, const config::DataflowEndpoint& e,
                         uint32_t instance_id);

// The filters to subscribe: with more than one instance, each filter that is not already a shared
// subscription becomes `$share/<dataflow name>/<filter>` so the instances share the stream.
std::vector<std::string> subscriptionTopics(const config::PlannedDataflow& planned,
                                            uint32_t instance_count);

// The filters `before` subscribed that `after` does not, when both are MQTT sources of the same
// broker and client id (one persistent session); empty otherwise.
std::vector<std::string> retiredTopics(const config::PlannedDataflow& before,
                                       const config::PlannedDataflow& after, uint32_t instance_id);

}  // namespace dataflow::runtime
