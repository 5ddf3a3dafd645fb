// MQTT v5 source on our own client (client/mqtt_client.h): session, reconnects and
// subscriptions are the client's; this class hands messages to the runtime and acknowledges them.
//
// Subscriptions: every filter is (re)subscribed after every connect. Retain Handling 1 keeps a
// resubscribe from replaying retained messages into an existing subscription; Retain As Published
// 1 keeps the publisher's retain flag for an MQTT->MQTT bridge with `retain: Keep`.
//
// Delivery guarantee: a QoS 1 message is acknowledged to the broker (PUBACK) only when the
// runtime calls ack() for it, i.e. when its destination has it or it was dropped on purpose, and
// PUBACKs leave in the order the PUBLISHes arrived. So a crash at any point loses nothing: the
// broker sends every unacknowledged message again to the kept session (duplicates possible, at
// least once). A message acknowledged after its connection dropped is not acknowledged at all:
// the broker sends it again.
//
// Backpressure: the broker's in-flight window (Receive Maximum = maxInflightMessages) bounds the
// QoS 1 messages between the broker and the runtime; when the runtime is slow, acks come slowly
// and the broker waits. QoS 0 has no window, so the hand-off queue has watermarks (QueueLimits):
// at the high one the client stops reading its socket (TCP holds the rest; the connection stays
// up), at the low one it reads again. Pauses and resumes are logged at info, at most one line of
// each per minute.
//
// Threads:
//   - the client's event-loop thread: converts a message and queues it; never blocks. When the
//     queue was idle it posts the source to the worker pool.
//   - a thread of the process's WorkerPool (engine/core/worker_pool.h), shared by every source:
//     takes queued messages in order (a batch at a time) and calls MessageHandler::onMessage,
//     which may block as long as it likes (the pool lends another thread to the others then).
//     One at a time: the source is in the pool's queue at most once.
//   - runtime threads: start, ack, stopReceiving, drainReceived, close, connected.
#pragma once

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

#include "connectors/mqtt/client/mqtt_client.h"
#include "connectors/mqtt/mqtt_settings.h"
#include "engine/core/clock.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/core/source.h"
#include "engine/core/worker_pool.h"

namespace spdlog {
class logger;
}

namespace dataflow::mqtt {

// Watermarks of the hand-off queue, for QoS 0 (QoS 1 is bounded by the broker's window, which
// the setting keeps below these). Bytes count topic + payload.
struct QueueLimits {
  size_t high_messages = 1'000;
  size_t high_bytes = 8u << 20;
  size_t low_messages = 500;
  size_t low_bytes = 4u << 20;
};

class MqttSource final : public Source, private WorkerPool::Task {
 public:
  static constexpr std::chrono::milliseconds kStopBudget = MqttClient::kStopBudget;
  static constexpr std::chrono::seconds kPauseLogInterval{60};
  // At most one "message not queued" error per interval, with the count suppressed since.
  static constexpr std::chrono::seconds kErrorLogInterval{10};
  // Messages handed over per turn on a pool thread before the other sources get theirs.
  static constexpr size_t kBatch = 64;

  // Fatal when the server URI cannot be parsed, or without topics. `clock` outlives the source.
  static Result<std::unique_ptr<MqttSource>> create(ClientSettings settings,
                                                    std::vector<std::string> topics,
                                                    const Clock& clock,
                                                    std::shared_ptr<spdlog::logger> logger,
                                                    QueueLimits limits = QueueLimits(),
                                                    WorkerPool& pool = WorkerPool::shared());
  ~MqttSource() override;  // close()

  MqttSource(const MqttSource&) = delete;
  MqttSource& operator=(const MqttSource&) = delete;

  // Filters an earlier source subscribed in this client's persistent session that this one must
  // not receive: unsubscribed after the first successful subscription (runtime::SourceSpec::
  // retired_topics). Call before start().
  void retireTopics(std::vector<std::string> filters) { retired_topics_ = std::move(filters); }

  // Starts connecting and returns at once. Fatal if called twice.
  Status start(MessageHandler& handler) override;
  // The message is safe: its PUBACK goes to the broker (in arrival order). Any thread.
  void ack(const AckToken& token) override;
  // Stops reading and reconnecting; the connection stays up until close() so that the
  // acknowledgements of what the runtime still holds reach the broker. Queued messages still go
  // to the handler. Returns at once. Any runtime thread.
  void stopReceiving() override;
  // The DISCONNECT of the stop carries Session Expiry Interval 0: the broker discards the session
  // and its subscriptions (MQTT v5 3.14.2.2.2).
  void endSessionAtStop() override;
  // Waits until the queue is empty and no onMessage is in progress, or `deadline`. Returns how
  // many messages are still queued. Runtime thread.
  size_t drainReceived(std::chrono::steady_clock::time_point deadline) override;
  // Drops what is still queued (counted in one line: unacknowledged, so the broker sends it
  // again), waits for an onMessage in progress to return (the runtime closes the destination
  // first, which unblocks it), sends DISCONNECT (the broker keeps the session) and joins the
  // waits for the source's turn on the pool to end. No handler call after this returns.
  // Idempotent. Runtime thread.
  void close() override;
  // Connected and subscribed. Any thread.
  bool connected() const override;
  // The connection's health.
  ConnectionHealth health() const override;

  uint64_t receivedCount() const { return received_.load(); }
  uint64_t ackedCount() const { return acked_.load(); }
  // The hand-off queue now and at its fullest; how many times the source stopped reading. Any
  // thread.
  size_t queuedCount() const;
  size_t maxQueuedCount() const;
  uint64_t pauseCount() const { return pauses_.load(); }

 private:
  MqttSource(std::vector<std::string> topics, const Clock& clock,
             std::shared_ptr<spdlog::logger> logger, QueueLimits limits, WorkerPool& pool);

  // The client's loop thread.
  void onMessage(wire::Publish&& publish, uint64_t receipt) noexcept;
  // A pool thread: hands over up to kBatch queued messages.
  bool runSome() noexcept override;
  void handOver(Message&& message) noexcept;

  const std::vector<std::string> topics_;
  std::vector<std::string> retired_topics_;  // given to the client by start()
  ClientSettings settings_;                  // given to the client by start()
  const Clock& clock_;
  const std::shared_ptr<spdlog::logger> logger_;
  const QueueLimits limits_;
  WorkerPool& pool_;
  const WarningSink info_sink_;  // pause/resume lines, at info
  RateLimitedWarning pause_log_;
  RateLimitedWarning resume_log_;
  const WarningSink error_sink_;  // lines at error
  RateLimitedWarning not_queued_log_;

  MessageHandler* handler_ = nullptr;  // set by start() before the threads exist

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // the pool's turn ended (queue empty or closing)
  std::deque<Message> queue_;        // guarded by mutex_
  size_t queued_bytes_ = 0;          // guarded by mutex_
  size_t max_queued_ = 0;            // guarded by mutex_
  bool in_progress_ = false;         // guarded by mutex_: a pool thread is inside onMessage
  bool scheduled_ = false;           // guarded by mutex_: in the pool's queue or running there
  bool paused_ = false;              // guarded by mutex_: the client stopped reading for us
  bool stopped_ = false;             // guarded by mutex_: stopReceiving() was called
  bool closed_ = false;              // guarded by mutex_: close() began; messages dropped
  std::mutex close_mutex_;           // serialises close()

  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> pauses_{0};
  std::atomic<uint64_t> dropped_after_close_{0};

  std::shared_ptr<MqttClient> client_;  // created by start()
};

}  // namespace dataflow::mqtt
