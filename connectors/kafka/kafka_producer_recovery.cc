// KafkaProducer's recovery: re-creating a producer that failed for good, taking messages back
// from librdkafka during an outage, producing them again (expiry re-checked), and the connection
// state that decides between the two. Delivery thread, except requestRestart (any thread). The
// class comment in kafka_destination.h says what each does for the messages.
#include <spdlog/spdlog.h>

#include <utility>

#include "connectors/kafka/kafka_producer.h"
#include "engine/core/message_expiry.h"

namespace dataflow::kafka {

namespace {

using std::chrono::steady_clock;

// A restart waits this long for the abandoned producer's reports of what it held.
constexpr auto kRestartReportWait = std::chrono::seconds(5);
constexpr int kProbeTimeoutMs = 1000;

}  // namespace

// Any thread. The delivery thread restarts the producer at its next round; meanwhile send()
// parks.
void KafkaProducer::requestRestart(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    if (!restart_requested_.load()) restart_reason_ = reason;
    restart_requested_.store(true);
    parking_.store(true);
  }
  changed_.notify_all();
}

void KafkaProducer::restartProducer() {
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    reason = restart_reason_;
  }
  // Exclusive: no sender is inside librdkafka with the old producer from here on.
  std::unique_lock client(client_mutex_);
  reclaim(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  // Serve the purged messages' reports (delivered ones are reported as such, the rest parked).
  // Every lane's slots librdkafka still holds; `f` runs for each, mutex_ held.
  auto for_each_held = [&](auto f) {
    std::lock_guard lock(mutex_);
    for (const auto& lane : lanes_) {
      std::lock_guard slots(lane->slots_mutex);
      for (InFlight& slot : lane->slots) {
        if (slot.in_client) f(slot);
      }
    }
  };
  auto held = [&] {
    size_t count = 0;
    for_each_held([&](InFlight&) { ++count; });
    return count;
  };
  const auto deadline = steady_clock::now() + kRestartReportWait;
  while (held() > 0 && steady_clock::now() < deadline) rd_kafka_poll(producer_.get(), 10);
  size_t unreported = 0;
  std::vector<InFlight*> abandoned;  // of lanes that left: freed, not produced again
  for_each_held([&](InFlight& slot) {
    slot.in_client = false;
    if (!slot.lane->handler) {
      abandoned.push_back(&slot);
      return;
    }
    slot.maybe_sent = true;  // no report came: it may have been written
    slot.parked = true;
    parked_.emplace(slot.order, &slot);
    ++unreported;
  });
  for (InFlight* slot : abandoned) abandon(slot);
  discarding_ = true;
  topics_.reset();
  producer_.reset();
  statistics_.clientReplaced();
  discarding_ = false;
  connection_.store(Connection::Unknown);
  if (Status created = createProducer(); !created.isOk()) {
    // Parked messages stay unreported (unacknowledged at the source); the runtime stops every
    // dataflow the producer served.
    failAll(Status::fatal("the Kafka producer failed for good (" + reason +
                          ") and could not be re-created: " + created.message()));
    stopping_.store(true);
    return;
  }
  size_t parked = 0;
  {
    std::lock_guard lock(mutex_);
    parked = parked_.size();
    restart_requested_.store(false);
  }
  const uint64_t restarts = restarts_.fetch_add(1) + 1;
  logger_->error(
      "the Kafka producer failed for good ({}); re-created it (restart {}); producing again the "
      "{} message(s) it held{}, at least once (duplicates possible)",
      reason, restarts, parked,
      unreported > 0 ? " (" + std::to_string(unreported) + " without a report)" : std::string());
}

// Delivery thread: takes back what librdkafka holds (as `purge_flags` say); the reports of the
// purged messages park them at the next poll.
void KafkaProducer::reclaim(int purge_flags) {
  if (const rd_kafka_resp_err_t error = rd_kafka_purge(producer_.get(), purge_flags); error) {
    logger_->warn("taking messages back from the Kafka producer failed: {}",
                  rd_kafka_err2str(error));
  }
}

// Delivery thread, connection not down: produces the parked messages again in acceptance order,
// then lets send() produce directly again.
void KafkaProducer::produceParked() {
  for (;;) {
    InFlight* slot = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (parked_.empty()) {
        if (!restart_requested_.load()) parking_.store(false);
        return;
      }
      slot = parked_.begin()->second;
      parked_.erase(parked_.begin());
      slot->parked = false;
    }
    if (!refreshExpiry(slot->message, clock_.steadyNow())) {
      expire(slot);
      continue;
    }
    Status refused;
    switch (produce(*slot, false, refused)) {
      case Attempt::Produced:
        resent_.fetch_add(1);
        slot->lane->resent.fetch_add(1);
        if (slot->maybe_sent) {
          possible_duplicates_.fetch_add(1);
          slot->lane->possible_duplicates.fetch_add(1);
        }
        continue;
      case Attempt::Refused:
        slot->lane->refused_warning.report([&] { return refused.message(); });
        finish(slot, refused);
        continue;
      case Attempt::ClientFatal:
        park(slot);
        requestRestart(fatalReason(producer_.get()));
        return;
      case Attempt::QueueFull:
      case Attempt::NoMetadata:
        park(slot);  // again after the next poll
        return;
    }
  }
}

// Delivery thread, during an outage: drops what expired while parked, so that it is acknowledged
// at its source and frees its room.
void KafkaProducer::expireParked() {
  const auto now = clock_.steadyNow();
  std::vector<InFlight*> expired;
  {
    std::lock_guard lock(mutex_);
    for (auto it = parked_.begin(); it != parked_.end();) {
      const auto& expires_at = it->second->message.expires_at;
      if (expires_at && now >= *expires_at) {
        expired.push_back(it->second);
        it->second->parked = false;
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (InFlight* slot : expired) expire(slot);
}

void KafkaProducer::setConnection(Connection now, const char* reason) {
  const Connection before = connection_.exchange(now);
  if (before == now) return;
  if (now == Connection::Down) {
    {
      std::lock_guard lock(mutex_);
      parking_.store(true);
    }
    reclaim_now_ = true;
  }
  if (now == Connection::Up) {
    diagnostics_.clearProblem();
    logger_->info("connected to Kafka at {}", bootstrap_servers_);
  } else if (before == Connection::Up) {
    logger_->warn(
        "lost the connection to Kafka at {} ({}); messages wait in the engine until it is back",
        bootstrap_servers_, reason);
  } else {
    logger_->warn("cannot reach Kafka at {} ({}); retrying", bootstrap_servers_, reason);
  }
}

// While no broker is known to be up, a metadata request (brokers only) tells whether one answers
// now: an idle producer has no deliveries to learn it from.
void KafkaProducer::probeConnection() {
  Result<MetadataHandle> metadata = fetchMetadata(producer_.get(), nullptr, kProbeTimeoutMs);
  if (metadata.isOk() && metadata.value()->broker_cnt > 0) setConnection(Connection::Up, "");
}

}  // namespace dataflow::kafka
