#include "connectors/mqtt/mqtt_destination.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "connectors/mqtt/mqtt_message.h"
#include "engine/core/topic_names.h"

namespace dataflow::mqtt {

Result<std::unique_ptr<MqttDestination>> MqttDestination::create(
    ClientSettings settings, int qos, runtime::FlightLimits limits, const Clock& clock,
    std::shared_ptr<spdlog::logger> logger) {
  if (qos < 0 || qos > 1) {
    return Status::fatal("qos " + std::to_string(qos) + " is not supported; use 0 or 1");
  }
  if (limits.max_messages == 0) {
    return Status::fatal("an MQTT destination needs room for at least one message in flight");
  }
  if (!logger) logger = spdlog::default_logger();
  MqttClient::Options options;
  options.role = "destination";
  options.max_outgoing_inflight = std::max<uint16_t>(1, settings.receive_maximum);
  Result<std::shared_ptr<MqttClient>> client =
      MqttClient::create(std::move(settings), std::move(options), clock, logger);
  if (!client.isOk()) return client.status();
  return std::unique_ptr<MqttDestination>(
      new MqttDestination(std::move(client).value(), qos, limits, clock, std::move(logger)));
}

MqttDestination::MqttDestination(std::shared_ptr<MqttClient> client, int qos,
                                 runtime::FlightLimits limits, const Clock& clock,
                                 std::shared_ptr<spdlog::logger> logger)
    : qos_(qos),
      limits_(limits),
      logger_(std::move(logger)),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      refusal_warning_(clock, warning_sink_, kRefusalLogInterval),
      expired_warning_(clock, warning_sink_, kRefusalLogInterval),
      client_(std::move(client)) {}

MqttDestination::~MqttDestination() { close(); }

Status MqttDestination::start(DeliveryHandler& handler) {
  if (handler_ != nullptr) return Status::fatal("MQTT destination started twice");
  handler_ = &handler;
  return client_->start(MqttClient::Callbacks());
}

bool MqttDestination::hasRoom(size_t bytes) const {
  return entries_.size() < limits_.max_messages &&
         (entries_.empty() || unreported_bytes_ + bytes <= limits_.max_bytes);
}

bool MqttDestination::awaitCapacity(size_t bytes) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return closed_ || hasRoom(bytes); });
  return !closed_;
}

Status MqttDestination::send(Message&& message) {
  if (!isValidMqttTopicName(message.topic)) {
    return Status::fatal("topic \"" + message.topic +
                         "\" is not a valid MQTT topic name (empty, a wildcard, or not valid "
                         "UTF-8)");
  }
  Entry entry;
  entry.bytes = message.topic.size() + message.payload.size();
  entry.ack = message.ack;
  const std::optional<std::chrono::steady_clock::time_point> expires = message.expires_at;
  uint64_t id = 0;
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || hasRoom(entry.bytes); });
    if (closed_) return Status::retriable("the MQTT destination is closing");
    id = next_id_++;
    unreported_bytes_ += entry.bytes;
    entries_.emplace(id, entry);
  }
  // Converted on the sender's thread, once; the client writes it from its loop thread.
  client_->publish(toPublish(std::move(message), qos_), expires,
                   [this, id](const PublishResult& result) { onResult(id, result); });
  return Status::ok();
}

size_t MqttDestination::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return entries_.empty() && reporting_ == 0; });
  return entries_.size() + reporting_;
}

void MqttDestination::onResult(uint64_t id, const PublishResult& result) noexcept {
  try {
    switch (result.kind) {
      case PublishResult::Kind::Delivered:
        finish(id, Status::ok());
        return;
      case PublishResult::Kind::Refused:
        refusal_warning_.report([&] {
          return "MQTT destination: message to " + result.topic + " refused: " + result.why;
        });
        finish(id, Status::fatal("message to " + result.topic + " not delivered: " + result.why));
        return;
      case PublishResult::Kind::Expired:
        expired_warning_.report([&] {
          return "MQTT destination: a message to " + result.topic +
                 " expired while it waited for the broker (Message Expiry Interval); dropped";
        });
        finish(id, Status::ok(), /*expired=*/true);
        return;
      case PublishResult::Kind::Abandoned:
        return;  // close(): counted there
    }
  } catch (const std::exception& e) {
    logger_->error("MQTT destination: handling a publish outcome: {}", e.what());
  }
}

// Reports entry `id` once. report_mutex_ is taken before the entry leaves entries_, so a flush()
// that saw it gone is followed by its report even when close() comes next.
void MqttDestination::finish(uint64_t id, const Status& status, bool expired) {
  std::lock_guard gate(report_mutex_);
  AckToken token;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    token = it->second.ack;
    unreported_bytes_ -= it->second.bytes;
    entries_.erase(it);
    ++reporting_;
  }
  changed_.notify_all();  // room for awaitCapacity() and send()
  if (expired) expired_.fetch_add(1, std::memory_order_relaxed);
  if (!reporting_closed_) {
    if (expired) {
      handler_->onExpired(token);
    } else {
      handler_->onDelivery(token, status);
    }
  }
  {
    std::lock_guard lock(mutex_);
    --reporting_;
  }
  changed_.notify_all();  // flush()
}

void MqttDestination::close() {
  std::lock_guard close_lock(close_mutex_);
  size_t abandoned = 0;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
  }
  changed_.notify_all();
  {
    std::lock_guard gate(report_mutex_);
    reporting_closed_ = true;
  }
  client_->close();
  {
    std::lock_guard lock(mutex_);
    abandoned = entries_.size();
  }
  if (abandoned > 0) {
    logger_->warn("MQTT destination: {} message(s) not yet acknowledged by {} abandoned at close()",
                  abandoned, client_->settings().server_uri);
  }
}

}  // namespace dataflow::mqtt
