// Engine::apply and its helpers: a reload, diffed per dataflow against what runs.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "engine/runtime/dataflow_model.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/logging.h"

namespace dataflow::runtime {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

}  // namespace

void Engine::requestApply(std::shared_ptr<const config::Plan> plan, std::string trigger) {
  {
    std::lock_guard lock(mutex_);
    pending_plan_ = std::move(plan);
    pending_trigger_ = std::move(trigger);
  }
  changed_.notify_all();
}

std::vector<Engine::Change> Engine::plannedChanges(const std::shared_ptr<const config::Plan>& plan,
                                                   std::vector<std::string>& errors) {
  std::vector<Change> changes;
  std::map<std::string, size_t> running;  // name -> index
  for (size_t i = 0; i < runners_.size(); ++i) running[runners_[i]->name()] = i;
  for (const config::PlannedDataflow& planned : plan->dataflows) {
    if (planned.profile->metadata.name != options_.profile || !planned.enabled) continue;
    Slot slot = slotFor(planned, plan);
    auto found = running.find(planned.dataflow->metadata.name);
    std::optional<size_t> index;
    if (found != running.end()) {
      index = found->second;
      running.erase(found);
      const Slot& now = slots_[*index];
      const bool failed = runners_[*index]->state() == RunnerState::Failed;
      if (!failed && now.model == slot.model && now.fingerprint == slot.fingerprint) continue;
    }
    auto fresh = makeRunner(planned, errors, index ? &slots_[*index] : nullptr);
    if (fresh) changes.push_back(Change{index, std::move(fresh), std::move(slot)});
  }
  for (const auto& [name, index] : running) changes.push_back(Change{index, nullptr, Slot()});
  return changes;
}

Status Engine::apply(std::shared_ptr<const config::Plan> plan, const std::string& trigger) {
  auto log = logger("engine");
  std::vector<std::string> errors;
  std::vector<Change> changes;
  const std::optional<int64_t> count = scaledBelow(*plan, options_);
  if (count) {
    // A scale-down removed this instance: it stops everything, and its sources end their broker
    // sessions so that the remaining instances get this instance's share from now on (a kept
    // session would go on collecting it until it expires). Its pod is about to be terminated; a
    // later scale-up starts the dataflows again.
    log->warn("reload ({}): profile {} now has instanceCount {}, so instance {} is no longer one "
              "of its instances: stopping its dataflows and ending their MQTT sessions, so that "
              "the remaining instances receive everything",
              trigger, options_.profile, *count, options_.instance_id);
    for (size_t i = 0; i < runners_.size(); ++i) {
      runners_[i]->leavingForGood();
      changes.push_back(Change{i, nullptr, Slot()});
    }
  } else if (checkProfile(*plan, options_, errors)) {
    changes = plannedChanges(plan, errors);
  }
  if (!errors.empty()) {
    for (const std::string& e : errors) log->error("reload ({}): {}", trigger, e);
    options_.telemetry->reloads_refused.fetch_add(1);
    log->error("reload ({}) refused: {}; the running configuration stays", trigger,
               errors.size() == 1 ? "1 error" : std::to_string(errors.size()) + " errors");
    return Status::fatal("reload refused: " + errors.front());
  }
  // Every dataflow that stops or is replaced drains at once, against one deadline; then the
  // fresh runners take their places and start, after every old connection is closed.
  std::vector<DataflowRunner*> leaving;
  for (const Change& change : changes) {
    if (!change.index) continue;
    DataflowRunner* old = runners_[*change.index].get();
    logger(old->name())
        ->info("reload ({}): {}", trigger,
               change.fresh ? "changed; draining it, then it starts again"
               : count      ? "this instance was scaled away; draining and stopping it"
                            : "no longer in the manifests (or disabled); draining and stopping it");
    leaving.push_back(old);
  }
  lost_in_rotations_ += drainTogether(leaving, rotation_drain_);
  std::vector<std::string> started, restarted, stopped;
  std::vector<size_t> removals;
  std::vector<DataflowRunner*> fresh;
  for (Change& change : changes) {
    if (!change.fresh) {
      removals.push_back(*change.index);
      continue;
    }
    fresh.push_back(change.fresh.get());
    if (change.index) {
      restarted.push_back(change.fresh->name());
      replace(*change.index, std::move(change.fresh), std::move(change.slot));
    } else {
      started.push_back(change.fresh->name());
      adopt(std::move(change.fresh), std::move(change.slot));
    }
  }
  std::sort(removals.rbegin(), removals.rend());  // highest first: indices below stay valid
  for (size_t index : removals) {
    stopped.push_back(runners_[index]->name());
    remove(index);
  }
  for (DataflowRunner* runner : fresh) runner->start();  // a failure is reaped by supervise()
  if (Status watched = rewatch(); !watched.isOk()) {
    log->warn("rotated Secrets and ConfigMaps of new dataflows will not be picked up: {}",
              watched.message());
  }
  options_.telemetry->reloads_applied.fetch_add(1);
  const size_t unchanged = runners_.size() - started.size() - restarted.size();
  log->info("reload ({}) applied: started {}; restarted {}; stopped {}; {} unchanged", trigger,
            joined(started), joined(restarted), joined(stopped), unchanged);
  return Status::ok();
}

void Engine::remove(size_t index) {
  const DataflowRunner& old = *runners_[index];
  RunnerCounters c = old.counters();
  logger(old.name())
      ->info(
          "stopped: received {}, delivered {}, dropped {}, expired while held {}, refused {}, "
          "not delivered {}",
          c.received, c.delivered, c.dropped, c.expired, c.refused, c.inFlight() + c.abandoned);
  const std::string name = old.name();
  runners_.erase(runners_.begin() + static_cast<std::ptrdiff_t>(index));
  slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(index));
  options_.telemetry->remove(name);  // its series leave /metrics; re-added, it starts at 0
}

}  // namespace dataflow::runtime
