#include "connectors/mqtt/mqtt_source.h"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <exception>
#include <utility>

#include "connectors/mqtt/mqtt_message.h"

namespace dataflow::mqtt {

namespace {

using std::chrono::steady_clock;

std::string joined(const std::vector<std::string>& topics) {
  std::string out;
  for (const std::string& t : topics) out += (out.empty() ? "" : ", ") + t;
  return out;
}

size_t bytesOf(const Message& message) { return message.topic.size() + message.payload.size(); }

}  // namespace

Result<std::unique_ptr<MqttSource>> MqttSource::create(ClientSettings settings,
                                                       std::vector<std::string> topics,
                                                       const Clock& clock,
                                                       std::shared_ptr<spdlog::logger> logger,
                                                       QueueLimits limits) {
  if (topics.empty()) return Status::fatal("an MQTT source needs at least one topic filter");
  if (limits.low_messages >= limits.high_messages || limits.low_bytes >= limits.high_bytes) {
    return Status::fatal("an MQTT source's low watermarks must be below its high watermarks");
  }
  if (!logger) logger = spdlog::default_logger();
  Result<std::unique_ptr<MqttConnection>> connection =
      MqttConnection::create(std::move(settings), "source", clock, logger);
  if (!connection.isOk()) return connection.status();
  return std::unique_ptr<MqttSource>(new MqttSource(
      std::move(connection).value(), std::move(topics), clock, std::move(logger), limits));
}

MqttSource::MqttSource(std::unique_ptr<MqttConnection> connection, std::vector<std::string> topics,
                       const Clock& clock, std::shared_ptr<spdlog::logger> logger,
                       QueueLimits limits)
    : topics_(std::move(topics)),
      clock_(clock),
      logger_(std::move(logger)),
      limits_(limits),
      info_sink_([logger = logger_](std::string_view line) { logger->info("{}", line); }),
      pause_log_(clock, info_sink_, kPauseLogInterval),
      resume_log_(clock, info_sink_, kPauseLogInterval),
      error_sink_([logger = logger_](std::string_view line) { logger->error("{}", line); }),
      not_queued_log_(clock, error_sink_, kErrorLogInterval),
      connection_(std::move(connection)) {
  connection_->client().set_message_callback(
      [this](::mqtt::const_message_ptr message) { onMessage(message); });
}

MqttSource::~MqttSource() { close(); }

Status MqttSource::start(MessageHandler& handler) {
  if (handler_ != nullptr) return Status::fatal("MQTT source started twice");
  handler_ = &handler;
  worker_ = std::thread([this] {
    try {
      work();
    } catch (const std::exception& e) {
      handler_->onFailure(Status::fatal(std::string("the MQTT source's worker thread stopped: ") +
                                        e.what()));
    }
  });
  return connection_->start([this](const ConnackInfo&) { return subscribeAll(); }, nullptr,
                            [this](const Status& reason) { handler_->onFailure(reason); });
}

void MqttSource::ack(const AckToken&) { acked_.fetch_add(1, std::memory_order_relaxed); }

bool MqttSource::connected() const {
  if (connection_->connected()) return true;
  std::lock_guard lock(mutex_);
  return paused_ && !stopped_;
}

ConnectionHealth MqttSource::health() const {
  ConnectionHealth h = connection_->health();
  if (h.state != ConnectionState::Connected && connected()) h.state = ConnectionState::Connected;
  return h;
}

size_t MqttSource::queuedCount() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

size_t MqttSource::maxQueuedCount() const {
  std::lock_guard lock(mutex_);
  return max_queued_;
}

Status MqttSource::subscribeAll() {
  const ClientSettings& settings = connection_->settings();
  const ::mqtt::subscribe_options options(::mqtt::subscribe_options::SUBSCRIBE_LOCAL,
                                          ::mqtt::subscribe_options::RETAIN_AS_PUBLISHED,
                                          ::mqtt::subscribe_options::SEND_RETAINED_ON_NEW);
  Status status = connection_->runOperations(
      topics_.size(), [&](void* context, ::mqtt::iaction_listener& listener) {
        for (const std::string& topic : topics_) {
          connection_->client().subscribe(topic, settings.subscription_qos, context, listener,
                                          options);
        }
      });
  if (!status.isOk()) {
    if (status.message().empty()) return status;
    return Status::retriable("subscribing failed: " + status.message());
  }
  logger_->info("MQTT source: subscribed to {} at QoS {}", joined(topics_),
                settings.subscription_qos);
  return unsubscribeRetired();
}

// After subscribing, so that no message matching both an old and a new filter goes unmatched in
// between (it may arrive twice instead). "No subscription existed" is a success reason code.
Status MqttSource::unsubscribeRetired() {
  if (retired_topics_.empty()) return Status::ok();
  Status status = connection_->runOperations(
      retired_topics_.size(), [&](void* context, ::mqtt::iaction_listener& listener) {
        for (const std::string& topic : retired_topics_) {
          connection_->client().unsubscribe(topic, context, listener);
        }
      });
  if (!status.isOk()) {
    if (status.message().empty()) return status;
    return Status::retriable("unsubscribing the filters this dataflow no longer has failed: " +
                             status.message());
  }
  logger_->info("MQTT source: unsubscribed from {} (no longer among this dataflow's filters)",
                joined(retired_topics_));
  retired_topics_.clear();
  return Status::ok();
}

void MqttSource::onMessage(const ::mqtt::const_message_ptr& message) noexcept {
  try {
    const uint64_t sequence = received_.fetch_add(1, std::memory_order_relaxed);
    Message converted = fromPaho(*message, clock_, sequence);
    bool pause_now = false;
    size_t queued = 0;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
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
    }
    changed_.notify_all();
    if (pause_now) {
      pauses_.fetch_add(1, std::memory_order_relaxed);
      connection_->pause();
      pause_log_.report([&] {
        return "MQTT source: the message handler is behind (" + std::to_string(queued) +
               " messages queued); pausing: disconnecting, the broker keeps the session and "
               "queues";
      });
    }
  } catch (const std::exception& e) {
    // Whatever failed may fail for every message: one line per interval.
    not_queued_log_.report([&] {
      return "MQTT source: message on " + message->get_topic() + " not queued: " + e.what();
    });
  }
}

void MqttSource::work() {
  while (true) {
    Message message;
    bool resume_now = false;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (closed_) return;
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
      connection_->resume();
      resume_log_.report([] { return std::string("MQTT source: caught up; resuming"); });
    }
    handOver(std::move(message));
    {
      std::lock_guard lock(mutex_);
      in_progress_ = false;
    }
    changed_.notify_all();
  }
}

// A handler that throws has lost the message (paho acknowledged it already): the dataflow is
// failed visibly rather than going on with a hole in its stream.
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
  connection_->stop();
}

void MqttSource::endSessionAtStop() { connection_->endSessionAtStop(); }

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
  changed_.notify_all();
  connection_->close();
  if (worker_.joinable()) worker_.join();  // waits for an onMessage in progress
  dropped += dropped_after_close_.load();
  if (dropped > 0) {
    logger_->warn(
        "MQTT source: {} received message(s) dropped at close() before reaching the handler; "
        "paho had already acknowledged them to the broker",
        dropped);
  }
  logger_->info("MQTT source: closed ({} received, {} acknowledged)", received_.load(),
                acked_.load());
}

}  // namespace dataflow::mqtt
