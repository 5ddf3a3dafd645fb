// MQTT v5 source on paho.mqtt.cpp's async_client.
//
// Session: a stable client id, Clean Start 0 and the endpoint's Session Expiry Interval, so the
// broker keeps the subscription and queues QoS 1 messages across reconnects and engine restarts.
// Every topic is (re)subscribed after every connect, even when the broker says the session is
// present: harmless, and it covers a broker that lost its state. Retain Handling 1 keeps a
// resubscribe from replaying retained messages into an existing subscription; Retain As
// Published 1 keeps the publisher's retain flag for an MQTT->MQTT bridge with `retain: Keep`.
//
// One SUBSCRIBE per filter, all sent before waiting for the SUBACKs: paho.mqtt.cpp 1.2.0 crashes
// on a multi-filter subscribe with per-filter options (its response_options copy loses the
// options list: paho.mqtt.cpp issue #524, fixed upstream later).
//
// Reconnecting: one loop owned here, on its own connection thread, for the first connect and
// every later one (paho's automatic reconnect covers neither the first connect nor resubscribing,
// so using it would mean two loops). Waits come from engine/core/backoff.h, 100 ms doubling to
// 30 s with jitter, reset after each successful connect + subscribe. Failures are logged on the
// first attempt and then at most once a minute with the attempt count.
//
// Threads:
//   - connection thread (owned): connect, subscribe, wait for loss or stop, back off, repeat.
//   - paho's callback thread (ONE per process, shared by every paho client): runs
//     MessageHandler::onMessage inline, plus connection-lost and operation outcomes. Paho holds
//     its process-wide lock while a callback runs, so a blocked onMessage stops every paho client
//     in the process from reading its socket and running its commands (including DISCONNECT):
//     that block is the backpressure (TCP and then the broker hold the rest), and it is also why
//     a second paho client in the same process must never be what unblocks this handler.
//   - runtime threads: start, ack, stopReceiving, close, connected.
// Paho's receive thread waits on its sockets up to 1 s at a time and only then notices a new
// socket, so a (re)connect typically completes about 1 s after the broker is reachable.
//
// Delivery guarantee: paho sends PUBACK for a QoS 1 message before handing it over
// (paho.mqtt.cpp issue #353), so what a SIGKILL can lose is the message in onMessage plus what
// the destination holds in flight. Everything still in TCP buffers or queued at the broker is
// redelivered to the kept session.
#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "connectors/mqtt/mqtt_settings.h"
#include "engine/core/clock.h"
#include "engine/core/source.h"

namespace spdlog {
class logger;
}

namespace dataflow::mqtt {

class MqttSource final : public Source {
 public:
  // How long stopReceiving() waits for the connection thread and the DISCONNECT to complete.
  static constexpr std::chrono::milliseconds kStopBudget{2000};

  // Fatal when paho refuses the server URI or client id. `clock` outlives the source.
  static Result<std::unique_ptr<MqttSource>> create(ClientSettings settings,
                                                    std::vector<std::string> topics,
                                                    const Clock& clock,
                                                    std::shared_ptr<spdlog::logger> logger);
  ~MqttSource() override;  // close()

  MqttSource(const MqttSource&) = delete;
  MqttSource& operator=(const MqttSource&) = delete;

  // Starts the connection thread and returns at once. Fatal if called twice.
  Status start(MessageHandler& handler) override;
  // Accounting only: paho has already acknowledged QoS 1 on receipt. Any thread.
  void ack(const AckToken& token) override;
  // Stops reconnecting and sends DISCONNECT (the broker keeps the session and queues what is
  // published meanwhile). Returns within kStopBudget. While onMessage is blocked, paho cannot
  // send the DISCONNECT (it holds its lock): this returns after the budget with a warning, the
  // DISCONNECT goes out once the handler returns, and any message paho reads before that is
  // still passed to the handler (paho has already acknowledged it). Any runtime thread.
  void stopReceiving() override;
  // Messages are handed to the handler on paho's thread as they arrive, so none waits here.
  size_t drainReceived(std::chrono::steady_clock::time_point) override { return 0; }
  // Waits for an onMessage in progress to return (the runtime closes the destination first,
  // which unblocks it), then stopReceiving() and joins the connection thread; the paho client
  // object itself goes with the destructor. No handler call after this returns: a message paho
  // delivers later is dropped and counted in a warning. Idempotent. Runtime thread.
  void close() override;
  // Connected and subscribed. Any thread; never takes paho's lock.
  bool connected() const override;

  uint64_t receivedCount() const { return received_.load(); }
  uint64_t ackedCount() const { return acked_.load(); }

 private:
  class Listener;
  struct Outcome {
    bool ok = false;
    std::string error;
    bool session_present = false;
  };

  MqttSource(ClientSettings settings, std::vector<std::string> topics, const Clock& clock,
             std::shared_ptr<spdlog::logger> logger);

  // Connection thread.
  void run();
  Status connectAndSubscribe();
  Status subscribeAll();
  uint64_t beginOperation(size_t answers, bool new_connection);
  std::optional<Outcome> waitForOutcome();
  void waitForLossOrStop();
  bool sleepUnlessStopped(std::chrono::milliseconds wait);
  void disconnect(std::chrono::steady_clock::time_point deadline, bool quiet);

  // Paho's callback thread.
  void onMessage(const ::mqtt::const_message_ptr& message) noexcept;
  void onConnectionLost(const std::string& cause) noexcept;
  void onOperationDone(const ::mqtt::token& token, bool ok) noexcept;
  Outcome answerOf(const ::mqtt::token& token, bool ok) const;

  // Runtime threads.
  void stopConnection(std::chrono::steady_clock::time_point deadline);

  const ClientSettings settings_;
  const ::mqtt::connect_options connect_options_;
  const std::vector<std::string> topics_;
  const Clock& clock_;
  const std::shared_ptr<spdlog::logger> logger_;

  MessageHandler* handler_ = nullptr;  // set by start() before the connection thread exists
  std::mutex handler_mutex_;           // held around every handler call; close() waits on it
  bool closed_ = false;                // guarded by handler_mutex_

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stop_ = false;              // guarded by mutex_
  bool lost_ = false;              // guarded by mutex_: the connection dropped
  bool thread_done_ = true;        // guarded by mutex_: no connection thread running
  uint64_t operation_ = 0;         // guarded by mutex_: id of the pending connect/subscribes
  size_t expected_answers_ = 0;    // guarded by mutex_: paho outcomes operation_ waits for
  size_t answers_ = 0;             // guarded by mutex_: outcomes received so far
  Outcome outcome_;                // guarded by mutex_: the answers of operation_ combined
  std::thread connection_thread_;  // started by start(), joined by close()

  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> received_{0};  // also the next ack sequence; paho's thread writes it
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> dropped_after_close_{0};

  // Last, so destroyed first: paho's destroy waits for a callback in progress (callbacks run
  // under paho's lock), and every member such a callback touches is still alive then.
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<::mqtt::async_client> client_;
};

}  // namespace dataflow::mqtt
