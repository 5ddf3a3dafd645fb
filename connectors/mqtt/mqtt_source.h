// MQTT v5 source on paho.mqtt.cpp's async_client, over an MqttConnection (session, reconnect
// loop, backoff, pause).
//
// Subscriptions: every filter is (re)subscribed after every connect, even when the broker says
// the session is present: harmless, and it covers a broker that lost its state. Retain Handling 1
// keeps a resubscribe from replaying retained messages into an existing subscription; Retain As
// Published 1 keeps the publisher's retain flag for an MQTT->MQTT bridge with `retain: Keep`.
// One SUBSCRIBE per filter, all sent before waiting for the SUBACKs: paho.mqtt.cpp 1.2.0 crashes
// on a multi-filter subscribe with per-filter options (its response_options copy loses the
// options list: paho.mqtt.cpp issue #524, fixed upstream later).
//
// Never blocking paho's thread: paho C runs every callback of every paho client in the process on
// ONE thread, under a process-wide lock. A handler that blocks there (a destination applying
// backpressure) would freeze every other paho client in the process, and an MQTT destination in
// the same process would deadlock (its PUBACKs are read by that same thread). So the message
// callback only converts the message and appends it to a bounded hand-off queue; a worker thread
// owned by the source calls MessageHandler::onMessage, which may block as long as it likes.
//
// Backpressure: paho acknowledges QoS 1 before the callback (paho.mqtt.cpp issue #353), so the
// broker's flow control (Receive Maximum) holds nothing back. When the queue reaches its high
// watermark (QueueLimits, by default 1,000 messages or 8 MiB) the source pauses: it disconnects,
// the broker keeps the session (Clean Start 0) and queues QoS 1 messages. When the queue falls to
// its low watermark (500 messages and 4 MiB) it reconnects and resubscribes (about 1 s, see
// mqtt_connection.h). The DISCONNECT is requested from the callback itself; messages paho
// delivers until it takes effect are still queued (paho acknowledged them already). That
// overshoot is not bounded by the Receive Maximum, since paho acknowledges on receipt and the
// broker's window keeps moving until the socket closes: it is what paho reads in the DISCONNECT's
// latency. Measured on loopback (mqtt_bridge_test.cc): up to 1,314 messages beyond a high
// watermark of 1,000, up to 264 beyond one of 100, during bursts of small messages. So memory is
// bounded by a few times the high watermark in practice, not exactly by it. A redelivery after a
// pause may also repeat a few messages whose PUBACK had not left yet (at least once).
// The gap between the watermarks keeps a slow handler from flapping the connection; pauses and
// resumes are logged at info, at most one line of each per minute with a count.
//
// Threads:
//   - connection thread (MqttConnection): connect, subscribe, reconnect, pause.
//   - paho's callback thread: converts a message and queues it; never blocks on the handler.
//   - worker thread (owned): takes queued messages in order and calls MessageHandler::onMessage.
//   - runtime threads: start, ack, stopReceiving, drainReceived, close, connected.
//
// Delivery guarantee: paho sends PUBACK for a QoS 1 message before handing it over, so what a
// SIGKILL can lose is the hand-off queue, the message in onMessage and what the destination holds
// in flight. Everything still in TCP buffers or queued at the broker is redelivered to the kept
// session.
#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/mqtt/mqtt_connection.h"
#include "connectors/mqtt/mqtt_settings.h"
#include "engine/core/clock.h"
#include "engine/core/source.h"
#include "engine/core/rate_limited_warning.h"

namespace spdlog {
class logger;
}

namespace dataflow::mqtt {

// Watermarks of the hand-off queue. Bytes count topic + payload.
struct QueueLimits {
  size_t high_messages = 1'000;
  size_t high_bytes = 8u << 20;
  size_t low_messages = 500;
  size_t low_bytes = 4u << 20;
};

class MqttSource final : public Source {
 public:
  static constexpr std::chrono::milliseconds kStopBudget = MqttConnection::kStopBudget;
  static constexpr std::chrono::seconds kPauseLogInterval{60};
  // At most one "message not queued" error per interval, with the count suppressed since.
  static constexpr std::chrono::seconds kErrorLogInterval{10};

  // Fatal when paho refuses the server URI or client id, or without topics. `clock` outlives the
  // source.
  static Result<std::unique_ptr<MqttSource>> create(ClientSettings settings,
                                                    std::vector<std::string> topics,
                                                    const Clock& clock,
                                                    std::shared_ptr<spdlog::logger> logger,
                                                    QueueLimits limits = QueueLimits());
  ~MqttSource() override;  // close()

  MqttSource(const MqttSource&) = delete;
  MqttSource& operator=(const MqttSource&) = delete;

  // Filters an earlier source subscribed in this client's persistent session that this one must
  // not receive: unsubscribed after the first successful subscription (runtime::SourceSpec::
  // retired_topics). Call before start().
  void retireTopics(std::vector<std::string> filters) { retired_topics_ = std::move(filters); }

  // Starts the worker and connection threads and returns at once. Fatal if called twice.
  Status start(MessageHandler& handler) override;
  // Accounting only: paho has already acknowledged QoS 1 on receipt. Any thread.
  void ack(const AckToken& token) override;
  // Stops reconnecting and sends DISCONNECT (the broker keeps the session and queues what is
  // published meanwhile); returns within kStopBudget (paho's thread is never blocked by the
  // handler). Queued messages still go to the handler. Any runtime thread.
  void stopReceiving() override;
  // The DISCONNECT of the stop carries Session Expiry Interval 0: the broker discards the session
  // and its subscriptions (MQTT v5 3.14.2.2.2).
  void endSessionAtStop() override;
  // Waits until the queue is empty and no onMessage is in progress, or `deadline`. Returns how
  // many messages are still queued. Runtime thread.
  size_t drainReceived(std::chrono::steady_clock::time_point deadline) override;
  // Drops what is still queued (counted in one warning: paho had already acknowledged it), waits
  // for an onMessage in progress to return (the runtime closes the destination first, which
  // unblocks it), stops the connection and joins the threads. No handler call after this
  // returns. Idempotent. Runtime thread.
  void close() override;
  // Connected and subscribed, or paused on purpose (a deliberate disconnect is not a fault).
  // Any thread; never takes paho's lock.
  bool connected() const override;
  // The connection's health; paused for backpressure counts as connected, as in connected().
  ConnectionHealth health() const override;

  uint64_t receivedCount() const { return received_.load(); }
  uint64_t ackedCount() const { return acked_.load(); }
  // The hand-off queue now and at its fullest; how many times the source paused. Any thread.
  size_t queuedCount() const;
  size_t maxQueuedCount() const;
  uint64_t pauseCount() const { return pauses_.load(); }

 private:
  MqttSource(std::unique_ptr<MqttConnection> connection, std::vector<std::string> topics,
             const Clock& clock, std::shared_ptr<spdlog::logger> logger, QueueLimits limits);

  // Connection thread.
  Status subscribeAll();
  Status unsubscribeRetired();
  // Paho's callback thread.
  void onMessage(const ::mqtt::const_message_ptr& message) noexcept;
  // Worker thread.
  void work();
  void handOver(Message&& message) noexcept;

  const std::vector<std::string> topics_;
  std::vector<std::string> retired_topics_;  // cleared by the connection thread once unsubscribed
  const Clock& clock_;
  const std::shared_ptr<spdlog::logger> logger_;
  const QueueLimits limits_;
  const WarningSink info_sink_;  // pause/resume lines, at info
  RateLimitedWarning pause_log_;
  RateLimitedWarning resume_log_;
  const WarningSink error_sink_;  // lines at error
  RateLimitedWarning not_queued_log_;

  MessageHandler* handler_ = nullptr;  // set by start() before the threads exist

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // queued, taken, handed over, closing
  std::deque<Message> queue_;        // guarded by mutex_
  size_t queued_bytes_ = 0;          // guarded by mutex_
  size_t max_queued_ = 0;            // guarded by mutex_
  bool in_progress_ = false;         // guarded by mutex_: the worker is inside onMessage
  bool paused_ = false;              // guarded by mutex_: disconnected for backpressure
  bool stopped_ = false;             // guarded by mutex_: stopReceiving() was called
  bool closed_ = false;              // guarded by mutex_: close() began; paho messages dropped
  std::thread worker_;               // started by start(), joined by close()
  std::mutex close_mutex_;           // serialises close()

  std::atomic<uint64_t> received_{0};  // also the next ack sequence; paho's thread writes it
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> pauses_{0};
  std::atomic<uint64_t> dropped_after_close_{0};

  // Last, so destroyed first: its paho client calls onMessage until it is gone.
  std::unique_ptr<MqttConnection> connection_;
};

}  // namespace dataflow::mqtt
