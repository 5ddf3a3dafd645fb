// A Destination that publishes to an MQTT v5 broker with our own client (client/mqtt_client.h;
// contract: engine/core/destination.h).
//
// Session: Clean Start 0 and the endpoint's Session Expiry Interval, so an unacknowledged QoS 1
// PUBLISH survives a reconnect: the client sends it again with DUP when the broker resumed the
// session, or as a new PUBLISH when it kept none (verified against mosquitto in
// mqtt_destination_integration_tests). Each accepted message is reported exactly once.
//
// Bounds:
//   - FlightLimits (the runtime's): messages accepted by send() and not yet reported, waiting for
//     a connection included. awaitCapacity() and send() block at either bound until a report
//     frees room or close().
//   - on the wire: at most min(maxInflightMessages, the broker's Receive Maximum from CONNACK)
//     QoS 1 PUBLISHes awaiting their PUBACK (the client's window).
//   - Maximum Packet Size (CONNACK; absent = none): a message whose PUBLISH would be larger is not
//     sent and is reported Fatal; the connection stays up.
//
// Message expiry (Message::expires_at): a message that expired while it waited (e.g. for the
// broker to come back) is not sent but reported through DeliveryHandler::onExpired, and one whose
// remaining interval has dropped is sent with the remaining interval; a DUP resend into a resumed
// session is, as MQTT requires, identical to the first PUBLISH.
//
// Threads:
//   - send()/awaitCapacity(): source threads; they convert the message once and hand it to the
//     client, which writes it from its event-loop thread.
//   - the client's event-loop thread: publish outcomes -> DeliveryHandler (which must not block).
//   - runtime thread: start, flush, close; connected() any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "connectors/mqtt/client/mqtt_client.h"
#include "connectors/mqtt/mqtt_settings.h"
#include "engine/core/clock.h"
#include "engine/core/destination.h"
#include "engine/runtime/connector_factory.h"
#include "engine/core/rate_limited_warning.h"

namespace spdlog {
class logger;
}

namespace dataflow::mqtt {

class MqttDestination final : public Destination {
 public:
  static constexpr std::chrono::seconds kRefusalLogInterval{10};

  // `settings.receive_maximum` is the endpoint's maxInflightMessages: the bound on unacknowledged
  // publishes. `qos` is the endpoint's qos (0 or 1). `clock` outlives the destination. Fatal when
  // the server URI cannot be parsed, or for a qos other than 0 or 1.
  static Result<std::unique_ptr<MqttDestination>> create(ClientSettings settings, int qos,
                                                         runtime::FlightLimits limits,
                                                         const Clock& clock,
                                                         std::shared_ptr<spdlog::logger> logger);
  ~MqttDestination() override;  // close()
  MqttDestination(const MqttDestination&) = delete;
  MqttDestination& operator=(const MqttDestination&) = delete;

  // Starts connecting; returns at once. Fatal if called twice.
  Status start(DeliveryHandler& handler) override;
  // Blocks while the accepted-unreported messages are at either FlightLimits bound (an empty
  // destination always takes one), until close() (then false). Source threads.
  bool awaitCapacity(size_t bytes) override;
  // Takes the message (waiting for room like awaitCapacity); it is published when the connection
  // is up, also if that is only after a reconnect. Fatal without taking it when no PUBLISH can
  // carry it: an invalid topic name (empty, wildcards, bad UTF-8). Retriable when close() is
  // called while it waits. Source threads.
  Status send(Message&& message) override;
  // Waits up to `timeout` for every accepted message to be reported; returns how many are not.
  size_t flush(std::chrono::milliseconds timeout) override;
  // Unblocks send()/awaitCapacity(), disconnects (session kept). Messages still unreported are
  // abandoned, counted in one warning; no handler call after this returns. Idempotent.
  void close() override;
  bool connected() const override { return client_->connected(); }
  // The connection's health; messages_resent counts PUBLISHes sent again.
  ConnectionHealth health() const override { return client_->health(); }

  // Most PUBLISHes ever awaiting their answer at once, and how many were sent again after a
  // reconnect. Any thread.
  size_t maxOnWire() const { return client_->maxInflight(); }
  uint64_t republishedCount() const { return client_->resentCount(); }
  // Messages that expired while this destination held them (reported through onExpired).
  uint64_t expiredCount() const { return expired_.load(); }

 private:
  struct Entry {
    AckToken ack;
    size_t bytes = 0;  // topic + payload, as counted against FlightLimits
  };

  MqttDestination(std::shared_ptr<MqttClient> client, int qos, runtime::FlightLimits limits,
                  const Clock& clock, std::shared_ptr<spdlog::logger> logger);

  bool hasRoom(size_t bytes) const;  // mutex_ held
  // The client's loop thread.
  void onResult(uint64_t id, const PublishResult& result) noexcept;
  // Reports entry `id` once: delivered or refused (`status`), or expired (`expired`).
  void finish(uint64_t id, const Status& status, bool expired = false);

  const int qos_;
  const runtime::FlightLimits limits_;
  const std::shared_ptr<spdlog::logger> logger_;
  const WarningSink warning_sink_;
  RateLimitedWarning refusal_warning_;
  RateLimitedWarning expired_warning_;

  DeliveryHandler* handler_ = nullptr;  // set by start()
  std::mutex report_mutex_;             // held around each handler call; close() takes it
  bool reporting_closed_ = false;       // guarded by report_mutex_

  mutable std::mutex mutex_;
  std::condition_variable changed_;               // room, reports, closing
  std::unordered_map<uint64_t, Entry> entries_;  // guarded by mutex_: accepted, unreported
  uint64_t next_id_ = 0;                          // guarded by mutex_
  size_t unreported_bytes_ = 0;                   // guarded by mutex_
  size_t reporting_ = 0;                          // guarded by mutex_: left entries_, in onDelivery
  bool closed_ = false;                           // guarded by mutex_
  std::mutex close_mutex_;                        // serialises close()

  std::atomic<uint64_t> expired_{0};

  const std::shared_ptr<MqttClient> client_;
};

}  // namespace dataflow::mqtt
