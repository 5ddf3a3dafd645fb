#include "connectors/mqtt/mqtt_source.h"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <exception>
#include <utility>

#include "connectors/mqtt/mqtt_message.h"
#include "connectors/mqtt/net/transport.h"

namespace dataflow::mqtt {

namespace {

using std::chrono::steady_clock;

size_t bytesOf(const Message& message) { return message.topic.size() + message.payload.size(); }

}  // namespace

Result<std::unique_ptr<MqttSource>> MqttSource::create(ClientSettings settings,
                                                       std::vector<std::string> topics,
                                                       const Clock& clock,
                                                       std::shared_ptr<spdlog::logger> logger,
                                                       QueueLimits limits, WorkerPool& pool) {
  if (topics.empty()) return Status::fatal("an MQTT source needs at least one topic filter");
  if (limits.low_messages >= limits.high_messages || limits.low_bytes >= limits.high_bytes) {
    return Status::fatal("an MQTT source's low watermarks must be below its high watermarks");
  }
  if (Result<net::Target> target = net::parseServerUri(settings.server_uri); !target.isOk()) {
    return target.status();
  }
  if (!logger) logger = spdlog::default_logger();
  std::unique_ptr<MqttSource> source(
      new MqttSource(std::move(topics), clock, std::move(logger), limits, pool));
  source->settings_ = std::move(settings);
  return source;
}

MqttSource::MqttSource(std::vector<std::string> topics, const Clock& clock,
                       std::shared_ptr<spdlog::logger> logger, QueueLimits limits,
                       WorkerPool& pool)
    : topics_(std::move(topics)),
      clock_(clock),
      logger_(std::move(logger)),
      limits_(limits),
      pool_(pool),
      info_sink_([logger = logger_](std::string_view line) { logger->info("{}", line); }),
      pause_log_(clock, info_sink_, kPauseLogInterval),
      resume_log_(clock, info_sink_, kPauseLogInterval),
      error_sink_([logger = logger_](std::string_view line) { logger->error("{}", line); }),
      not_queued_log_(clock, error_sink_, kErrorLogInterval) {}

MqttSource::~MqttSource() { close(); }

Status MqttSource::start(MessageHandler& handler) {
  if (handler_ != nullptr) return Status::fatal("MQTT source started twice");
  MqttClient::Options options;
  options.role = "source";
  for (const std::string& topic : topics_) {
    wire::Subscription subscription;
    subscription.filter = topic;
    subscription.qos = static_cast<uint8_t>(settings_.subscription_qos);
    subscription.retain_as_published = true;
    subscription.retain_handling = 1;  // retained messages only for a new subscription
    options.subscriptions.push_back(std::move(subscription));
  }
  options.retired_filters = std::move(retired_topics_);
  Result<std::shared_ptr<MqttClient>> client =
      MqttClient::create(settings_, std::move(options), clock_, logger_);
  if (!client.isOk()) return client.status();
  client_ = std::move(client).value();
  handler_ = &handler;
  MqttClient::Callbacks callbacks;
  callbacks.on_message = [this](wire::Publish&& publish, uint64_t receipt) {
    onMessage(std::move(publish), receipt);
  };
  return client_->start(std::move(callbacks));
}

void MqttSource::ack(const AckToken& token) {
  acked_.fetch_add(1, std::memory_order_relaxed);
  if (client_) client_->acknowledge(token.sequence);
}

bool MqttSource::connected() const { return client_ && client_->connected(); }

ConnectionHealth MqttSource::health() const {
  if (!client_) return healthOf(false);
  return client_->health();
}

size_t MqttSource::queuedCount() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

size_t MqttSource::maxQueuedCount() const {
  std::lock_guard lock(mutex_);
  return max_queued_;
}

void MqttSource::onMessage(wire::Publish&& publish, uint64_t receipt) noexcept {
  try {
    received_.fetch_add(1, std::memory_order_relaxed);
    Message converted = fromPublish(std::move(publish), clock_, receipt);
    bool pause_now = false;
    bool post = false;
    size_t queued = 0;
    {
      std::lock_guard lock(mutex_);
      if (closed_ || stopped_) {
        // Left unacknowledged, so the broker keeps it for the next connection.
        dropped_after_close_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      queued_bytes_ += bytesOf(converted);
      queue_.push_back(std::move(converted));
      queued = queue_.size();
      max_queued_ = std::max(max_queued_, queued);
      if (!paused_ && !stopped_ &&
          (queued >= limits_.high_messages || queued_bytes_ >= limits_.high_bytes)) {
        paused_ = true;
        pause_now = true;
      }
      post = !scheduled_;
      scheduled_ = true;
    }
    if (post) pool_.post(this);
    if (pause_now) {
      pauses_.fetch_add(1, std::memory_order_relaxed);
      client_->setReading(false);
      pause_log_.report([&] {
        return "MQTT source: the message handler is behind (" + std::to_string(queued) +
               " messages queued); pausing: not reading from the broker until it catches up";
      });
    }
  } catch (const std::exception& e) {
    // Not queued, so never acknowledged: the broker sends a QoS 1 message again after a
    // reconnect. Whatever failed may fail for every message: one line per interval.
    not_queued_log_.report(
        [&] { return std::string("MQTT source: a received message was not queued: ") + e.what(); });
  }
}

bool MqttSource::runSome() noexcept {
  for (size_t handed = 0;; ++handed) {
    Message message;
    bool resume_now = false;
    {
      std::lock_guard lock(mutex_);
      in_progress_ = false;
      if (closed_ || queue_.empty() || handed == kBatch) {
        if (!closed_ && !queue_.empty()) return true;  // the others' turn; queued again
        // Notified under the lock: once close() sees scheduled_ false it may destroy the source,
        // and this thread touches nothing of it after the unlock.
        scheduled_ = false;
        changed_.notify_all();
        return false;
      }
      message = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= bytesOf(message);
      in_progress_ = true;
      if (paused_ && queue_.size() <= limits_.low_messages && queued_bytes_ <= limits_.low_bytes) {
        paused_ = false;
        resume_now = !stopped_;
      }
    }
    if (resume_now) {
      client_->setReading(true);
      resume_log_.report([] { return std::string("MQTT source: caught up; resuming"); });
    }
    handOver(std::move(message));
  }
}

// A handler that throws has not taken the message: the dataflow is failed visibly rather than
// going on with a hole in its stream (the message stays unacknowledged at the broker).
void MqttSource::handOver(Message&& message) noexcept {
  const std::string topic = message.topic;
  std::string why;
  try {
    handler_->onMessage(std::move(message));
    return;
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "an exception that is not std::exception";
  }
  handler_->onFailure(
      Status::fatal("the message handler failed on a message of " + topic + ": " + why));
}

void MqttSource::stopReceiving() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  if (client_) client_->setReading(false);
}

void MqttSource::endSessionAtStop() {
  if (client_) client_->endSessionAtStop();
}

size_t MqttSource::drainReceived(steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [&] { return queue_.empty() && !in_progress_; });
  return queue_.size();
}

void MqttSource::close() {
  std::lock_guard close_lock(close_mutex_);
  size_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    stopped_ = true;
    dropped = queue_.size();
    queue_.clear();
    queued_bytes_ = 0;
  }
  {
    // Waits for a turn on the pool in progress (an onMessage) or still queued there to end.
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !scheduled_; });
  }
  // After that: the acks of what the handler took are queued before the DISCONNECT.
  if (client_) client_->close();
  dropped += dropped_after_close_.load();
  if (dropped > 0) {
    logger_->info(
        "MQTT source: {} received message(s) not handed over at close(); unacknowledged, so the "
        "broker sends them again",
        dropped);
  }
  logger_->info("MQTT source: closed ({} received, {} acknowledged)", received_.load(),
                acked_.load());
}

}  // namespace dataflow::mqtt
