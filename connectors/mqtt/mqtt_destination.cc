#include "connectors/mqtt/mqtt_destination.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "connectors/mqtt/mqtt_message.h"
#include "connectors/mqtt/mqtt_packet.h"
#include "engine/core/message_expiry.h"
#include "engine/core/topic_names.h"

namespace dataflow::mqtt {

namespace {

// After paho refused a publish call for a passing reason (e.g. it saw the connection drop before
// this destination did), the publisher tries again this much later, or at the next event.
constexpr std::chrono::milliseconds kRetryPause{100};

// A publish's paho user context: the entry id in the low 48 bits, the attempt in the high 16.
static_assert(sizeof(void*) == sizeof(uint64_t), "publish contexts need 64-bit pointers");
constexpr int kAttemptShift = 48;

void* toContext(uint64_t id, uint16_t attempt) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(
      (static_cast<uint64_t>(attempt) << kAttemptShift) | (id & ((1ull << kAttemptShift) - 1))));
}
uint64_t idOf(void* context) {
  return reinterpret_cast<uintptr_t>(context) & ((1ull << kAttemptShift) - 1);
}
uint16_t attemptOf(void* context) {
  return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(context) >> kAttemptShift);
}

// Paho return codes of a publish call that no retry can change.
bool permanent(int return_code) {
  return return_code == MQTTASYNC_BAD_UTF8_STRING || return_code == MQTTASYNC_TOPICNAME_TRUNCATED ||
         return_code == MQTTASYNC_BAD_QOS || return_code == MQTTASYNC_NULL_PARAMETER ||
         return_code == MQTTASYNC_BAD_STRUCTURE;
}

}  // namespace

// Relays publish outcomes. Paho's callback thread.
class MqttDestination::Listener final : public ::mqtt::iaction_listener {
 public:
  explicit Listener(MqttDestination& destination) : destination_(destination) {}
  void on_success(const ::mqtt::token& token) override { destination_.onPublishDone(token, true); }
  void on_failure(const ::mqtt::token& token) override { destination_.onPublishDone(token, false); }

 private:
  MqttDestination& destination_;
};

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
  Result<std::unique_ptr<MqttConnection>> connection =
      MqttConnection::create(std::move(settings), "destination", clock, logger);
  if (!connection.isOk()) return connection.status();
  return std::unique_ptr<MqttDestination>(
      new MqttDestination(std::move(connection).value(), qos, limits, clock, std::move(logger)));
}

MqttDestination::MqttDestination(std::unique_ptr<MqttConnection> connection, int qos,
                                 runtime::FlightLimits limits, const Clock& clock,
                                 std::shared_ptr<spdlog::logger> logger)
    : qos_(qos),
      clock_(clock),
      limits_(limits),
      max_in_flight_setting_(std::max<size_t>(1, connection->settings().receive_maximum)),
      logger_(std::move(logger)),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      refusal_warning_(clock, warning_sink_, kRefusalLogInterval),
      expired_warning_(clock, warning_sink_, kRefusalLogInterval),
      error_sink_([logger = logger_](std::string_view line) { logger->error("{}", line); }),
      outcome_error_(clock, error_sink_, kRefusalLogInterval),
      listener_(std::make_unique<Listener>(*this)),
      connection_(std::move(connection)) {}

MqttDestination::~MqttDestination() { close(); }

Status MqttDestination::start(DeliveryHandler& handler) {
  if (handler_ != nullptr) return Status::fatal("MQTT destination started twice");
  handler_ = &handler;
  publisher_ = std::thread([this] {
    try {
      publishLoop();
    } catch (const std::exception& e) {
      handler_->onFailure(Status::fatal(
          std::string("the MQTT destination's publisher thread stopped: ") + e.what()));
    }
  });
  return connection_->start([this](const ConnackInfo& connack) { return onConnected(connack); },
                            [this] { onLost(); },
                            [this](const Status& reason) { handler_->onFailure(reason); });
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
  // Converted here, on the sender's thread and outside the lock, once per message.
  Entry entry;
  entry.bytes = message.topic.size() + message.payload.size();
  entry.packet_size = publishPacketSize(message, qos_);
  entry.ack = message.ack;
  entry.expires_at = message.expires_at;
  entry.expiry_sent = message.mqtt.message_expiry_interval.value_or(0);
  entry.publish = toPaho(std::move(message), qos_);
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || hasRoom(entry.bytes); });
    if (closed_) return Status::retriable("the MQTT destination is closing");
    const uint64_t id = next_id_++;
    const size_t bytes = entry.bytes;
    entries_.emplace(id, std::move(entry));
    pending_.insert(id);
    unreported_bytes_ += bytes;
  }
  changed_.notify_all();
  return Status::ok();
}

size_t MqttDestination::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return entries_.empty() && reporting_ == 0; });
  return entries_.size() + reporting_;
}

size_t MqttDestination::maxOnWire() const {
  std::lock_guard lock(mutex_);
  return max_on_wire_;
}

Status MqttDestination::onConnected(const ConnackInfo& connack) {
  size_t republish = 0;
  {
    std::lock_guard lock(mutex_);
    window_ =
        std::max<size_t>(1, std::min<size_t>(max_in_flight_setting_, connack.receive_maximum));
    max_packet_size_ = connack.maximum_packet_size;
    if (!connack.session_present) {
      // The broker has no session, so paho dropped its in-flight state: publish them again.
      for (auto& [id, entry] : entries_) {
        if (!entry.on_wire) continue;
        entry.on_wire = false;
        pending_.insert(id);
        ++republish;
      }
      on_wire_ = 0;
    }
    up_ = true;
  }
  changed_.notify_all();
  if (republish > 0) {
    republished_.fetch_add(republish, std::memory_order_relaxed);
    logger_->info(
        "MQTT destination: the broker kept no session; republishing {} unacknowledged "
        "message(s)",
        republish);
  }
  return Status::ok();
}

void MqttDestination::onLost() {
  std::lock_guard lock(mutex_);
  up_ = false;
}

void MqttDestination::publishLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock,
                  [&] { return closed_ || (up_ && !pending_.empty() && on_wire_ < window_); });
    if (closed_) return;
    const uint64_t id = *pending_.begin();
    pending_.erase(pending_.begin());
    publishOne(lock, id);
  }
}

// Publishes entry `id` (taken off pending_), or refuses it. Called and returns with `lock` held;
// releases it around paho and the handler.
void MqttDestination::publishOne(std::unique_lock<std::mutex>& lock, uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  if (!refreshExpiry(entry)) {
    const std::string topic = entry.publish->get_topic();
    lock.unlock();
    expired_warning_.report([&] {
      return "MQTT destination: a message to " + topic +
             " expired while it waited for the broker (Message Expiry Interval); dropped";
    });
    finish(id, Status::ok(), true);
    lock.lock();
    return;
  }
  if (max_packet_size_ && entry.packet_size > *max_packet_size_) {
    const std::string topic = entry.publish->get_topic();
    const std::string why = "its PUBLISH of " + std::to_string(entry.packet_size) +
                            " bytes exceeds the broker's Maximum Packet Size " +
                            std::to_string(*max_packet_size_);
    lock.unlock();
    refuse(id, topic, why);
    lock.lock();
    return;
  }
  entry.on_wire = true;
  const uint16_t attempt = ++entry.attempt;
  max_on_wire_ = std::max(max_on_wire_, ++on_wire_);
  const ::mqtt::const_message_ptr message = entry.publish;
  lock.unlock();
  try {
    connection_->client().publish(message, toContext(id, attempt), *listener_);
    lock.lock();
    return;
  } catch (const ::mqtt::exception& e) {
    lock.lock();
    it = entries_.find(id);
    if (it == entries_.end() || !it->second.on_wire || it->second.attempt != attempt) return;
    it->second.on_wire = false;
    --on_wire_;
    if (!permanent(e.get_return_code())) {
      pending_.insert(id);
      changed_.wait_for(lock, kRetryPause, [&] { return closed_; });
      return;
    }
    const std::string topic = it->second.publish->get_topic();
    lock.unlock();
    refuse(id, topic, std::string("paho cannot publish it: ") + e.what());
    lock.lock();
  }
}

void MqttDestination::onPublishDone(const ::mqtt::token& token, bool ok) noexcept {
  try {
    void* context = token.get_user_context();
    const uint64_t id = idOf(context);
    const uint16_t attempt = attemptOf(context);
    const ::mqtt::ReasonCode reason = token.get_reason_code();
    if (ok) {
      finish(id, Status::ok());
      return;
    }
    if (reason >= ::mqtt::ReasonCode::UNSPECIFIED_ERROR) {
      std::string topic;
      {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(id);
        if (it == entries_.end()) return;
        topic = it->second.publish->get_topic();
      }
      refuse(id, topic, "the broker answered PUBACK " + ::mqtt::exception::reason_code_str(reason));
      return;
    }
    // Not delivered for a passing reason (connection dropped, operation incomplete): again.
    {
      std::lock_guard lock(mutex_);
      auto it = entries_.find(id);
      if (it == entries_.end() || !it->second.on_wire || it->second.attempt != attempt) return;
      it->second.on_wire = false;
      --on_wire_;
      pending_.insert(id);
    }
    republished_.fetch_add(1, std::memory_order_relaxed);
    changed_.notify_all();
  } catch (const std::exception& e) {
    outcome_error_.report(
        [&] { return std::string("MQTT destination: handling a publish outcome: ") + e.what(); });
  }
}

void MqttDestination::refuse(uint64_t id, const std::string& topic, const std::string& why) {
  refusal_warning_.report(
      [&] { return "MQTT destination: message to " + topic + " refused: " + why; });
  finish(id, Status::fatal("message to " + topic + " not delivered: " + why));
}

bool MqttDestination::refreshExpiry(Entry& entry) {
  if (!entry.expires_at) return true;
  const std::optional<uint32_t> remaining = remainingSeconds(*entry.expires_at, clock_.steadyNow());
  if (!remaining) return false;
  if (*remaining < entry.expiry_sent) {
    entry.publish = withExpiryInterval(*entry.publish, *remaining);
    entry.expiry_sent = *remaining;
  }
  return true;
}

// Reports entry `id` once. report_mutex_ is taken before the entry leaves entries_, so a flush()
// that saw it gone is followed by its report even when close() comes next.
void MqttDestination::finish(uint64_t id, const Status& status, bool expired) {
  std::lock_guard gate(report_mutex_);
  AckToken token;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;  // reported already (an earlier attempt's answer)
    token = it->second.ack;
    if (it->second.on_wire) --on_wire_;
    pending_.erase(id);
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
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
  }
  changed_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  {
    std::lock_guard gate(report_mutex_);
    reporting_closed_ = true;
  }
  connection_->close();
  size_t abandoned = 0;
  {
    std::lock_guard lock(mutex_);
    abandoned = entries_.size();
  }
  if (abandoned > 0) {
    logger_->warn("MQTT destination: {} message(s) not yet acknowledged by {} abandoned at close()",
                  abandoned, connection_->settings().server_uri);
  }
}

}  // namespace dataflow::mqtt
