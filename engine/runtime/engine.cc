#include "engine/runtime/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "engine/runtime/dataflow_model.h"
#include "engine/runtime/logging.h"
#include "engine/runtime/pipeline_options.h"

namespace dataflow::runtime {

namespace {

constexpr auto kHeartbeat = std::chrono::seconds(1);

ConnectorContext contextFor(const config::PlannedDataflow& planned,
                            const config::DataflowEndpoint& endpoint, const EngineOptions& options,
                            const config::MountedFiles& files, const Clock& clock) {
  ConnectorContext context;
  context.dataflow_name = planned.dataflow->metadata.name;
  context.endpoint = &endpoint;
  context.files = &files;
  context.clock = &clock;
  context.logger = endpointLogger(context.dataflow_name, endpoint.metadata.name);
  context.shared_logger = endpointLogger("engine", endpoint.metadata.name);
  context.instance_id = options.instance_id;
  context.instance_count = static_cast<uint32_t>(planned.profile->spec.instance_count);
  context.client_id = mqttClientId(planned, endpoint, options.instance_id);
  return context;
}

std::unique_ptr<DataflowRunner> buildRunner(const config::PlannedDataflow& planned,
                                            const EngineOptions& options,
                                            const ConnectorFactory& factory,
                                            const config::MountedFiles& files, const Clock& clock,
                                            std::vector<std::string>& errors,
                                            std::vector<std::string> retired_topics = {}) {
  const std::string& name = planned.dataflow->metadata.name;
  auto log = logger(name);
  transform::PipelineEnvironment environment;
  environment.clock = &clock;
  environment.warning_sink = [log](std::string_view line) { log->warn("{}", line); };
  auto pipeline = transform::Pipeline::build(pipelineOptions(planned, options.instance_id),
                                             std::move(environment));
  SourceSpec source_spec{contextFor(planned, *planned.source, options, files, clock),
                         subscriptionTopics(planned, planned.profile->spec.instance_count),
                         std::move(retired_topics)};
  DestinationSpec destination_spec{contextFor(planned, *planned.destination, options, files, clock),
                                   options.limits};
  destination_spec.context.client_id += "-out";
  auto source = factory.createSource(source_spec);
  auto destination = factory.createDestination(destination_spec);
  const size_t before = errors.size();
  for (const Status* s : {&pipeline.status(), &source.status(), &destination.status()}) {
    if (!s->isOk()) errors.push_back("dataflow " + name + ": " + s->message());
  }
  if (errors.size() != before) return nullptr;
  std::shared_ptr<DataflowTelemetry> telemetry;
  if (options.telemetry) {
    telemetry = options.telemetry->dataflow({name, planned.source->metadata.name,
                                             planned.destination->metadata.name,
                                             serviceType(*planned.source),
                                             serviceType(*planned.destination)});
  }
  auto runner = std::make_unique<DataflowRunner>(
      name, std::move(pipeline).value(), std::move(source).value(),
      std::move(destination).value(), log, clock, std::move(telemetry));
  // A Kafka source needs no spool: its committed offsets keep its place and the records stay in
  // Kafka (ignoredSettings says so when it is requested).
  const bool requested =
      planned.dataflow->spec.request_disk_persistence == config::OperationalMode::Enabled;
  if (planned.source->spec.mqtt && (requested || options.spool.all)) {
    if (options.spool.root.empty()) {
      errors.push_back("dataflow " + name +
                       ": spec.requestDiskPersistence is Enabled, so it spools to local disk; "
                       "give the folder with --spool-dir");
      return nullptr;
    }
    spool::SpoolOptions spool;
    spool.directory = spool::spoolDirectory(options.spool.root, name, options.instance_id);
    spool.max_bytes = options.spool.max_bytes;
    spool.max_age = options.spool.max_age;
    runner->useSpool(std::move(spool));
  }
  return runner;
}

}  // namespace

namespace {

// The profile this engine runs, or null when the plan has none of that name.
const config::DataflowProfile* profileOf(const config::Plan& plan, const EngineOptions& options) {
  for (const config::DataflowProfile& p : plan.manifests.profiles) {
    if (p.metadata.name == options.profile) return &p;
  }
  return nullptr;
}

}  // namespace

bool Engine::checkProfile(const config::Plan& plan, const EngineOptions& options,
                          std::vector<std::string>& errors) {
  if (profileOf(plan, options) == nullptr) {
    errors.push_back("no DataflowProfile named \"" + options.profile + "\"");
    return false;
  }
  if (const std::optional<int64_t> count = scaledBelow(plan, options)) {
    errors.push_back("--instance-id " + std::to_string(options.instance_id) +
                     " is out of range: profile " + options.profile + " has instanceCount " +
                     std::to_string(*count) + " (instances 0 to " + std::to_string(*count - 1) +
                     ")");
  }
  return true;
}

std::optional<int64_t> Engine::scaledBelow(const config::Plan& plan,
                                           const EngineOptions& options) {
  const config::DataflowProfile* profile = profileOf(plan, options);
  if (profile == nullptr ||
      options.instance_id < static_cast<uint64_t>(profile->spec.instance_count)) {
    return std::nullopt;
  }
  return profile->spec.instance_count;
}

std::string mqttClientId(const config::PlannedDataflow& planned, const config::DataflowEndpoint& e,
                         uint32_t instance_id) {
  std::string prefix = "dataflow";
  if (e.spec.mqtt && e.spec.mqtt->client_id_prefix) prefix = *e.spec.mqtt->client_id_prefix;
  return prefix + "-" + planned.dataflow->metadata.name + "-" + std::to_string(instance_id);
}

std::vector<std::string> subscriptionTopics(const config::PlannedDataflow& planned,
                                            uint32_t instance_count) {
  std::vector<std::string> topics = planned.source_topics;
  const bool mqtt_source = planned.source->spec.endpoint_type == config::EndpointType::Mqtt;
  if (!mqtt_source || instance_count <= 1) return topics;
  for (std::string& topic : topics) {
    if (!topic.starts_with("$share/")) {
      topic = "$share/" + planned.dataflow->metadata.name + "/" + topic;
    }
  }
  return topics;
}

std::vector<std::string> retiredTopics(const config::PlannedDataflow& before,
                                       const config::PlannedDataflow& after, uint32_t instance_id) {
  const config::DataflowEndpoint& was = *before.source;
  const config::DataflowEndpoint& is = *after.source;
  if (!was.spec.mqtt || !is.spec.mqtt || was.spec.mqtt->host != is.spec.mqtt->host ||
      mqttClientId(before, was, instance_id) != mqttClientId(after, is, instance_id)) {
    return {};
  }
  const std::vector<std::string> now =
      subscriptionTopics(after, static_cast<uint32_t>(after.profile->spec.instance_count));
  std::vector<std::string> retired;
  for (std::string& topic :
       subscriptionTopics(before, static_cast<uint32_t>(before.profile->spec.instance_count))) {
    if (std::find(now.begin(), now.end(), topic) == now.end()) retired.push_back(std::move(topic));
  }
  return retired;
}

std::unique_ptr<Engine> Engine::build(const config::Plan& plan, const EngineOptions& options,
                                      const ConnectorFactory& factory,
                                      const config::MountedFiles& files, const Clock& clock,
                                      std::vector<std::string>& errors) {
  std::unique_ptr<Engine> engine(new Engine());
  engine->factory_ = &factory;
  engine->files_ = &files;
  engine->clock_ = &clock;
  engine->options_ = options;
  // One home for the counters the metrics export, whether or not anyone serves them.
  if (!engine->options_.telemetry) engine->options_.telemetry = std::make_shared<Telemetry>();
  engine->rotation_drain_ = options.drain;
  if (!checkProfile(plan, options, errors)) return nullptr;
  auto log = logger("engine");
  for (const config::PlannedDataflow& planned : plan.dataflows) {
    if (planned.profile->metadata.name != options.profile) continue;
    if (!planned.enabled) {
      log->info("dataflow {} is disabled (spec.mode: Disabled); not started",
                planned.dataflow->metadata.name);
      continue;
    }
    if (auto runner = buildRunner(planned, options, factory, files, clock, errors)) {
      engine->adopt(std::move(runner), engine->slotFor(planned, nullptr));
    }
  }
  if (!errors.empty()) return nullptr;
  return engine;
}

std::unique_ptr<DataflowRunner> Engine::makeRunner(const config::PlannedDataflow& planned,
                                                   std::vector<std::string>& errors,
                                                   const Slot* replaced) const {
  std::vector<std::string> retired;
  if (replaced) retired = retiredTopics(*replaced->planned, planned, options_.instance_id);
  return buildRunner(planned, options_, *factory_, *files_, *clock_, errors, std::move(retired));
}

Engine::Slot Engine::slotFor(const config::PlannedDataflow& planned,
                             std::shared_ptr<const config::Plan> plan) {
  Slot slot;
  slot.planned = &planned;
  slot.plan = std::move(plan);
  slot.model = dataflowModel(planned);
  slot.folders = files_->foldersOf(*planned.source);
  for (std::string& f : files_->foldersOf(*planned.destination)) slot.folders.push_back(f);
  slot.fingerprint = fingerprintOf(slot.folders);
  return slot;
}

void Engine::adopt(std::unique_ptr<DataflowRunner> runner, Slot slot) {
  watchFailures(*runner);
  runners_.push_back(std::move(runner));
  slots_.push_back(std::move(slot));
}

size_t Engine::start() {
  for (auto& runner : runners_) runner->start();  // a failure is logged by the runner
  options_.telemetry->started = true;
  return reapFailed();
}

size_t Engine::reapFailed() {
  size_t running = 0;
  for (size_t i = 0; i < runners_.size(); ++i) {
    DataflowRunner& runner = *runners_[i];
    if (runner.state() != RunnerState::Failed) {
      if (runner.state() == RunnerState::Running) ++running;
      continue;
    }
    if (slots_[i].reaped) continue;
    slots_[i].reaped = true;
    runner.stopReceiving();
    runner.drainAndClose(std::chrono::milliseconds(0));
    logger(runner.name())->error("stopped after failing: {}", runner.failureReason());
  }
  return running;
}

void Engine::watchFailures(DataflowRunner& runner) {
  runner.setFailureCallback([this] {
    {
      std::lock_guard lock(mutex_);
      ++failures_pending_;
    }
    changed_.notify_all();
  });
}

Engine::Outcome Engine::supervise() {
  using std::chrono::steady_clock;
  auto next_recheck = steady_clock::now() + recheck_;
  for (;;) {
    std::set<std::string> changed;
    bool recheck = false;
    std::shared_ptr<const config::Plan> plan;
    std::string trigger;
    {
      std::unique_lock lock(mutex_);
      auto woken = [&] {
        return stop_requested_ || failures_pending_ > 0 || !changed_folders_.empty() ||
               pending_plan_ != nullptr;
      };
      // Wakes at least every kHeartbeat to show the liveness probe this thread is not wedged.
      while (!woken()) {
        options_.telemetry->heartbeat();
        auto until = steady_clock::now() + kHeartbeat;
        if (watcher_) until = std::min(until, next_recheck);
        changed_.wait_until(lock, until, woken);
        if (watcher_ && steady_clock::now() >= next_recheck) {
          recheck = true;
          next_recheck = steady_clock::now() + recheck_;
          break;
        }
      }
      options_.telemetry->heartbeat();
      if (stop_requested_) return Outcome::StopRequested;
      failures_pending_ = 0;
      changed.swap(changed_folders_);
      plan = std::move(pending_plan_);
      pending_plan_ = nullptr;
      trigger.swap(pending_trigger_);
    }
    if (plan) apply(std::move(plan), trigger);
    if (!changed.empty() || recheck) rotate(changed, recheck);
    if (reapFailed() == 0 && !runners_.empty()) return Outcome::AllFailed;
  }
}

Status Engine::watchMountedFiles(std::chrono::milliseconds drain,
                                 std::chrono::milliseconds recheck) {
  rotation_drain_ = drain;
  recheck_ = recheck;
  watching_ = true;
  for (Slot& slot : slots_) slot.fingerprint = fingerprintOf(slot.folders);
  return rewatch();
}

Status Engine::rewatch() {
  if (!watching_) return Status::ok();
  std::set<std::string> folders;
  for (const Slot& slot : slots_) folders.insert(slot.folders.begin(), slot.folders.end());
  if (watcher_ && folders == watched_folders_) return Status::ok();  // no gap without a need
  watched_folders_ = folders;
  std::vector<std::string> all(folders.begin(), folders.end());
  watcher_.reset();
  if (all.empty()) return Status::ok();  // nothing mounted is read: nothing to watch
  Result<std::unique_ptr<DirectoryWatcher>> watcher =
      DirectoryWatcher::start(all, [this](const std::vector<std::string>& folders) {
        {
          std::lock_guard lock(mutex_);
          changed_folders_.insert(folders.begin(), folders.end());
        }
        changed_.notify_all();
      });
  if (!watcher.isOk()) return watcher.status();
  watcher_ = std::move(watcher).value();
  return Status::ok();
}

uint64_t Engine::fingerprintOf(const std::vector<std::string>& folders) const {
  uint64_t combined = 0;
  for (const std::string& folder : folders) {
    combined = combined * 1099511628211ull ^ config::MountedFiles::fingerprint(folder);
  }
  return combined;
}

void Engine::rotate(const std::set<std::string>& changed, bool everything) {
  for (size_t i = 0; i < runners_.size(); ++i) {
    const std::vector<std::string>& folders = slots_[i].folders;
    if (runners_[i]->state() != RunnerState::Running || folders.empty()) continue;
    const bool concerned =
        everything || std::any_of(folders.begin(), folders.end(),
                                  [&](const std::string& f) { return changed.count(f) > 0; });
    if (!concerned) continue;
    const uint64_t fingerprint = fingerprintOf(folders);
    if (fingerprint != slots_[i].fingerprint) rebuild(i, fingerprint);
  }
}

void Engine::rebuild(size_t index, uint64_t fingerprint) {
  const std::string name = runners_[index]->name();
  auto log = logger(name);
  std::string folders;
  for (const std::string& f : slots_[index].folders) folders += (folders.empty() ? "" : ", ") + f;
  slots_[index].fingerprint = fingerprint;  // a refused change is logged once, not at every recheck
  std::vector<std::string> errors;
  auto fresh = makeRunner(*slots_[index].planned, errors, &slots_[index]);
  if (!fresh) {
    std::string why;
    for (const std::string& e : errors) why += (why.empty() ? "" : "; ") + e;
    log->error(
        "mounted content changed ({}) but cannot be used, so the running connections keep what "
        "they have: {}",
        folders, why);
    return;
  }
  log->info("mounted content changed ({}): reconnecting with it", folders);
  lost_in_rotations_ += drainTogether({runners_[index].get()}, rotation_drain_);
  Slot slot = slots_[index];
  replace(index, std::move(fresh), std::move(slot));
  options_.telemetry->rotations.fetch_add(1, std::memory_order_relaxed);
  runners_[index]->start();  // a failure is logged by the runner and reaped by supervise()
}

void Engine::replace(size_t index, std::unique_ptr<DataflowRunner> fresh, Slot slot) {
  RunnerCounters c = runners_[index]->counters();
  logger(runners_[index]->name())
      ->info(
          "before the reconnect: received {}, delivered {}, dropped {}, expired while held {}, "
          "refused {}, not delivered {}",
          c.received, c.delivered, c.dropped, c.expired, c.refused, c.inFlight() + c.abandoned);
  watchFailures(*fresh);
  runners_[index] = std::move(fresh);
  slot.reaped = false;
  slots_[index] = std::move(slot);
}

uint64_t Engine::drainTogether(const std::vector<DataflowRunner*>& runners,
                               std::chrono::milliseconds drain) {
  for (DataflowRunner* runner : runners) runner->stopReceiving();
  const auto deadline = std::chrono::steady_clock::now() + drain;
  // Every dataflow drains and closes on a thread of its own against the one deadline: closing a
  // connection can take a broker round trip (a consumer leaving its group waits for its revoke),
  // and one after the other that would grow with the number of dataflows.
  std::atomic<uint64_t> lost{0};
  std::vector<std::thread> stoppers;
  stoppers.reserve(runners.size());
  for (DataflowRunner* runner : runners) {
    stoppers.emplace_back([&deadline, &lost, runner] {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      lost.fetch_add(runner->drainAndClose(std::max(left, std::chrono::milliseconds(0))));
    });
  }
  for (std::thread& stopper : stoppers) stopper.join();
  return lost.load();
}

void Engine::requestStop() {
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
  }
  changed_.notify_all();
}

size_t Engine::failedCount() const {
  size_t failed = 0;
  for (const auto& runner : runners_) failed += runner->state() == RunnerState::Failed ? 1 : 0;
  return failed;
}

uint64_t Engine::stop(std::chrono::milliseconds drain) {
  watcher_.reset();  // no report after this point
  std::vector<DataflowRunner*> all;
  for (auto& runner : runners_) all.push_back(runner.get());
  const uint64_t lost = drainTogether(all, drain);
  for (auto& runner : runners_) {
    RunnerCounters c = runner->counters();
    logger(runner->name())
        ->info(
            "stopped: received {}, delivered {}, dropped {}, expired while held {}, refused {}, "
            "not delivered {}{}",
            c.received, c.delivered, c.dropped, c.expired, c.refused, c.inFlight() + c.abandoned,
            runner->state() == RunnerState::Failed ? "; it had failed: " + runner->failureReason()
                                                   : std::string());
  }
  return lost + lost_in_rotations_;
}

}  // namespace dataflow::runtime
