// A Destination that publishes to an MQTT v5 broker with paho.mqtt.cpp's async_client, over an
// MqttConnection (contract: engine/core/destination.h).
//
// Session: Clean Start 0 and the endpoint's Session Expiry Interval, so an unacknowledged QoS 1
// PUBLISH survives a reconnect. Verified against mosquitto (mqtt_destination_integration_tests):
// when the broker resumes the session, paho resends its in-flight PUBLISHes with DUP and reports
// their PUBACKs to the original tokens; when the broker has no session (CONNACK session present
// 0), paho discards its in-flight state, and this destination republishes every message that
// was on the wire before that connection. A paho failure for a publish (connection dropped,
// operation incomplete) also puts the message back in line. Either way delivery is at least once,
// and each accepted message is reported exactly once: the first answer wins, later answers for
// the same message are ignored.
//
// Bounds:
//   - FlightLimits (the runtime's): messages accepted by send() and not yet reported, waiting for
//     a connection included. awaitCapacity() and send() block at either bound until a report
//     frees room or close().
//   - on the wire: at most min(maxInflightMessages, the broker's Receive Maximum from CONNACK)
//     PUBLISHes awaiting their PUBACK (QoS 1) or their write (QoS 0).
//   - Maximum Packet Size (CONNACK; absent = none): a message whose PUBLISH would be larger
//     (publishPacketSize, exact) is not sent and is reported Fatal; the connection stays up.
//
// Message expiry (Message::expires_at): before every publish this destination makes itself
// (the first, and a republish after a reconnect without a session) a message that has expired
// while it waited (e.g. for the broker to come back) is not sent but reported through
// DeliveryHandler::onExpired, and one whose remaining interval has dropped is sent with the
// remaining interval. A PUBLISH paho resends itself into a resumed session is, as MQTT requires
// of a DUP resend, identical to the first one.
//
// Threads:
//   - send()/awaitCapacity(): source threads; they convert the message to a paho message once
//     (outside the lock) and queue it, never call paho's client.
//   - publisher thread (owned): publishes queued messages in order while the connection is up
//     and the wire has room; reports refusals it decides itself (oversize, bad topic) through
//     DeliveryHandler::onDelivery.
//   - paho's callback thread (one per process): publish outcomes -> onDelivery. Never blocks:
//     it takes this destination's mutex briefly and calls the handler, which must not block.
//   - connection thread (MqttConnection): connect, reconnect; its AfterConnect hook takes the
//     CONNACK's limits and wakes the publisher.
//   - runtime thread: start, flush, close; connected() any thread.
#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "connectors/mqtt/mqtt_connection.h"
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
  // paho refuses the server URI or client id, or for a qos other than 0 or 1.
  static Result<std::unique_ptr<MqttDestination>> create(ClientSettings settings, int qos,
                                                         runtime::FlightLimits limits,
                                                         const Clock& clock,
                                                         std::shared_ptr<spdlog::logger> logger);
  ~MqttDestination() override;  // close()
  MqttDestination(const MqttDestination&) = delete;
  MqttDestination& operator=(const MqttDestination&) = delete;

  // Starts the publisher and connection threads; returns at once. Fatal if called twice.
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
  // Unblocks send()/awaitCapacity(), stops the publisher, disconnects (session kept). Messages
  // still unreported are abandoned, counted in one warning; no handler call after this returns.
  // Idempotent.
  void close() override;
  bool connected() const override { return connection_->connected(); }
  // The connection's health; messages_resent counts republished PUBLISHes.
  ConnectionHealth health() const override {
    ConnectionHealth h = connection_->health();
    h.messages_resent = republished_.load(std::memory_order_relaxed);
    return h;
  }

  // Most PUBLISHes ever awaiting their answer at once, and how many were republished by this
  // destination after a reconnect. Any thread.
  size_t maxOnWire() const;
  uint64_t republishedCount() const { return republished_.load(); }
  // Messages that expired while this destination held them (reported through onExpired).
  uint64_t expiredCount() const { return expired_.load(); }

 private:
  class Listener;
  struct Entry {
    ::mqtt::const_message_ptr publish;  // converted once by send(); republished as is
    AckToken ack;
    size_t bytes = 0;        // topic + payload, as counted against FlightLimits
    size_t packet_size = 0;  // publishPacketSize() of the PUBLISH
    std::optional<std::chrono::steady_clock::time_point> expires_at;  // Message::expires_at
    uint32_t expiry_sent = 0;  // the Message Expiry Interval `publish` carries, when expires_at
    uint16_t attempt = 0;    // the publish whose answers count; bumped at every publish
    bool on_wire = false;    // published, answer pending
  };

  MqttDestination(std::unique_ptr<MqttConnection> connection, int qos, runtime::FlightLimits limits,
                  const Clock& clock, std::shared_ptr<spdlog::logger> logger);

  bool hasRoom(size_t bytes) const;  // mutex_ held
  // Connection thread / paho's thread.
  Status onConnected(const ConnackInfo& connack);
  void onLost();
  // Publisher thread.
  void publishLoop();
  void publishOne(std::unique_lock<std::mutex>& lock, uint64_t id);
  // Paho's callback thread (and the publisher thread for failures it sees first).
  void onPublishDone(const ::mqtt::token& token, bool ok) noexcept;
  // Any of those threads, no lock held.
  void refuse(uint64_t id, const std::string& topic, const std::string& why);
  // Reports entry `id` once: delivered or refused (`status`), or expired (`expired`).
  void finish(uint64_t id, const Status& status, bool expired = false);
  // Publisher thread, mutex_ held: false when the entry has expired (the caller reports it);
  // otherwise its PUBLISH carries the remaining interval.
  bool refreshExpiry(Entry& entry);

  const int qos_;
  const Clock& clock_;
  const runtime::FlightLimits limits_;
  const size_t max_in_flight_setting_;  // maxInflightMessages
  const std::shared_ptr<spdlog::logger> logger_;
  const WarningSink warning_sink_;
  RateLimitedWarning refusal_warning_;
  RateLimitedWarning expired_warning_;
  const WarningSink error_sink_;      // lines at error
  RateLimitedWarning outcome_error_;  // a publish outcome that could not be handled

  DeliveryHandler* handler_ = nullptr;  // set by start()
  std::mutex report_mutex_;             // held around each handler call; close() takes it
  bool reporting_closed_ = false;       // guarded by report_mutex_

  mutable std::mutex mutex_;
  std::condition_variable changed_;          // room, queued work, connection up, reports
  std::map<uint64_t, Entry> entries_;        // guarded by mutex_: accepted, unreported, by id
  std::set<uint64_t> pending_;               // guarded by mutex_: ids waiting to be published
  uint64_t next_id_ = 0;                     // guarded by mutex_
  size_t unreported_bytes_ = 0;              // guarded by mutex_
  size_t reporting_ = 0;                     // guarded by mutex_: left entries_, in onDelivery
  size_t on_wire_ = 0;                       // guarded by mutex_
  size_t max_on_wire_ = 0;                   // guarded by mutex_
  size_t window_ = 1;                        // guarded by mutex_: on-wire bound now
  std::optional<uint32_t> max_packet_size_;  // guarded by mutex_: from the last CONNACK
  bool up_ = false;                          // guarded by mutex_: connected, may publish
  bool closed_ = false;                      // guarded by mutex_
  std::thread publisher_;
  std::mutex close_mutex_;  // serialises close()

  std::atomic<uint64_t> republished_{0};
  std::atomic<uint64_t> expired_{0};

  // Last, so destroyed first: its paho client calls onPublishDone until it is gone.
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<MqttConnection> connection_;
};

}  // namespace dataflow::mqtt
