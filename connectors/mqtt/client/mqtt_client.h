// Our MQTT v5 client (QoS 0 and 1): one connection to one broker, kept up across failures, on one
// of the process's event-loop threads (event_loop.h). It exists because every MQTT library Debian
// has (paho C/C++, libmosquitto) sends PUBACK for a QoS 1 message before the application has it,
// so a crash loses what the broker thinks was delivered (paho.mqtt.c#522, paho.mqtt.cpp#353,
// eclipse-mosquitto#118), and paho runs every client's callbacks on one thread under a
// process-wide lock. Everything else here is plain MQTT v5.
//
// Session: Clean Start 0, the endpoint's Session Expiry Interval, Receive Maximum =
// maxInflightMessages, our Maximum Packet Size announced, Topic Alias Maximum 0 (absent). The
// keep alive is the endpoint's, or the server's Server Keep Alive when the CONNACK has one.
// After each CONNACK: every subscription is (re)subscribed (also when the session is present:
// harmless, and it covers a broker that lost its state), then the retired filters are
// unsubscribed once; only then is the connection "up" (Callbacks::on_up).
//
// Incoming QoS 1: handed over with a receipt; acknowledge(receipt) sends the PUBACK once the
// message is safe, and PUBACKs leave in the order the PUBLISHes arrived (MQTT-4.6.0-2): a
// completion out of order is held until every earlier one is complete. The broker's in-flight
// window (our Receive Maximum) is the backpressure. A broker that exceeds it is tolerated with a
// rate-limited warning rather than disconnected with 0x93: mosquitto 2.0.11 overshoots by one now
// and then while PUBACKs flow, and a reconnect loop would be worse than the extra message. Every
// PUBLISH gets a receipt, its receive order (QoS 0 ones need no acknowledge()). A receipt of an
// earlier connection is ignored: the broker sends that message again (DUP) on the resumed
// session. setReading(false) stops reading the socket (for QoS 0, which has no
// window); the keep-alive timeout is not enforced while reading is stopped.
//
// Outgoing: publish() queues; at most min(max_outgoing_inflight, the server's Receive Maximum)
// QoS 1 PUBLISHes await their PUBACK. Each publish is reported exactly once through its
// callback: Delivered (PUBACK < 0x80; QoS 0 once written to the transport), Refused (PUBACK >=
// 0x80 by name, or larger than the server's Maximum Packet Size: refused before sending, the
// connection kept), Expired (its expires_at passed before it was first sent or sent again on a
// new session), Abandoned (close()). When the connection drops, unacknowledged PUBLISHes stay:
// a resumed session gets them again with DUP, in order, with their packet identifiers; a new
// session (Session Present 0) gets them as new PUBLISHes, with the remaining expiry.
//
// Authentication: with ClientSettings::credentials, every CONNECT carries the Authentication
// Method and Data fetched just before it (on the blocking pool). When the source reports a change
// (or at the credential's renew_at) and fetch() gives different data, the client re-authenticates
// on the live connection: AUTH with reason 0x19 and the new data; the broker's AUTH 0x00 completes
// it; a refusal arrives as DISCONNECT and the client reconnects with the newest credential.
//
// Reconnecting: waits from engine/core/backoff.h, 100 ms doubling to 30 s with jitter, reset after
// each connection that came up; kConnectTimeout per attempt (resolve, TCP, TLS, WebSockets,
// CONNACK, SUBACKs). Failures are logged on the first attempt, then at most once a minute with the
// attempt count; losses at most once per kLossLogInterval. CONNACK and DISCONNECT reason codes are
// logged by name; TLS failures name their cause (net/transport.h).
//
// Malformed input from the broker (wire/codec.h) closes the connection with a DISCONNECT carrying
// the reason code (0x81, 0x82, 0x94, 0x95, 0x9B), logged, and the client reconnects.
//
// Threads: the loop thread owns all connection state. publish(), acknowledge(), setReading(),
// stop(), close(), connected(), health() may be called from any thread (close() and stop() not
// from a callback). Callbacks run on the loop thread and must not block.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connectors/mqtt/client/event_loop.h"
#include "connectors/mqtt/mqtt_settings.h"
#include "connectors/mqtt/net/transport.h"
#include "connectors/mqtt/wire/codec.h"
#include "engine/core/clock.h"
#include "engine/core/connection_health.h"
#include "engine/core/status.h"

namespace spdlog {
class logger;
}

namespace dataflow::mqtt {

// What a CONNACK said that the owners need.
struct ConnackInfo {
  bool session_present = false;
  uint16_t receive_maximum = 65535;             // the broker's Receive Maximum; absent = 65,535
  std::optional<uint32_t> maximum_packet_size;  // the broker's Maximum Packet Size; absent = none
};

struct PublishResult {
  enum class Kind { Delivered, Refused, Expired, Abandoned };
  Kind kind = Kind::Delivered;
  std::string why;  // Refused: one clause, e.g. "the broker answered PUBACK 0x87 Not authorized"
  std::string topic;  // the PUBLISH's topic, for every kind but Delivered
};

class MqttClient : public std::enable_shared_from_this<MqttClient> {
 public:
  static constexpr std::chrono::milliseconds kStopBudget{2000};
  static constexpr std::chrono::seconds kLossLogInterval{60};

  struct Options {
    std::string role;  // "source", "destination": in every log line
    std::vector<wire::Subscription> subscriptions;
    std::vector<std::string> retired_filters;  // unsubscribed after the first subscription
    // Our Maximum Packet Size; a bigger packet from the broker is a protocol violation (0x95).
    uint32_t maximum_packet_size = wire::kMaxRemainingLength + 5;
    // Outgoing QoS 1 window before the server's Receive Maximum is known and applied.
    uint16_t max_outgoing_inflight = 65535;
  };
  struct Callbacks {
    std::function<void(const ConnackInfo&)> on_up;
    std::function<void()> on_down;  // a connection that was up went down
    // A PUBLISH from the broker and its receipt (receive order, from 0). QoS 1: acknowledge(receipt)
    // exactly once, any thread; QoS 0: acknowledging is allowed and does nothing.
    std::function<void(wire::Publish&& publish, uint64_t receipt)> on_message;
  };
  using PublishDone = std::function<void(const PublishResult&)>;

  // Fatal when the server URI cannot be parsed.
  static Result<std::shared_ptr<MqttClient>> create(ClientSettings settings, Options options,
                                                    const Clock& clock,
                                                    std::shared_ptr<spdlog::logger> logger,
                                                    EventLoop& loop = EventLoop::shared());
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  const ClientSettings& settings() const { return settings_; }

  // Begins connecting; returns at once. Fatal if called twice.
  Status start(Callbacks callbacks);
  // Any thread. `publish` must be valid (topic name, QoS 0/1, strings); `done` runs once on the
  // loop thread (or inside close()).
  void publish(wire::Publish publish, std::optional<std::chrono::steady_clock::time_point> expires,
               PublishDone done);
  // Any thread: the QoS 1 message of `receipt` is safe; its PUBACK goes when every earlier one's
  // has.
  void acknowledge(uint64_t receipt);
  // Any thread; from an on_message callback, setReading(false) takes effect before the next
  // packet already read is handed over.
  void setReading(bool reading);
  // Stops reconnecting and reading; PUBACKs already due are written, then DISCONNECT (the broker
  // keeps the session, unless endSessionAtStop()). Returns within kStopBudget. Idempotent.
  void stop();
  void endSessionAtStop();
  // stop(), then: publishes not yet reported are reported Abandoned, no callback runs after
  // close() returns. Idempotent.
  void close();

  // Up: CONNACK, SUBACKs and UNSUBACKs received. Any thread.
  bool connected() const;
  ConnectionHealth health() const;
  // PUBLISHes sent again (DUP on a resumed session, or anew on a new one).
  uint64_t resentCount() const;
  // Most QoS 1 PUBLISHes ever awaiting their PUBACK at once.
  size_t maxInflight() const;

 private:
  struct Impl;  // the loop thread's state machine (mqtt_client.cc)
  struct Request;
  struct Shared;  // what the loop thread shares with the other threads

  MqttClient(ClientSettings settings, net::Target target, Options options, const Clock& clock,
             std::shared_ptr<spdlog::logger> logger, EventLoop& loop);
  void submit(Request&& request);  // any thread: queues for the loop thread, wakes it once
  void drainRequests();            // loop thread
  // Runs `task` on the blocking pool; close() waits for every such task to finish.
  void submitBlocking(std::function<void()> task);
  // Runs `task` on the loop thread and waits for it (inline when already there).
  void runOnLoop(const std::function<void()>& task);

  const ClientSettings settings_;
  const net::Target target_;  // settings_.server_uri, parsed once by create()
  const Options options_;
  const Clock& clock_;
  const std::shared_ptr<spdlog::logger> logger_;
  EventLoop& loop_;
  LoopThread& thread_;
  const std::shared_ptr<Shared> shared_;  // shared with the blocking-pool tasks
  std::unique_ptr<Impl> impl_;  // loop thread; created by start(), destroyed by close()
  std::mutex close_mutex_;      // serialises stop() and close()
};

}  // namespace dataflow::mqtt
