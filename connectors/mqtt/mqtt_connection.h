// One MQTT v5 connection kept up by one loop: the connect/reconnect machinery shared by
// MqttSource and MqttDestination, which own one each.
//
// Session: a stable client id, Clean Start 0 and the endpoint's Session Expiry Interval
// (toConnectOptions; paho's own in-flight cap stays at its default of 65,535), so the broker keeps
// the session across reconnects and engine restarts.
//
// Reconnecting: one loop, on its own connection thread, for the first connect and every later one
// (paho's automatic reconnect covers neither the first connect nor what must follow a CONNACK, so
// using it would mean two loops). After each CONNACK the owner's AfterConnect hook runs on the
// connection thread with the CONNACK's session flag, Receive Maximum and Maximum Packet Size (the
// source subscribes there, the destination resumes publishing); only when it returns Ok is the
// connection "up". Waits come from engine/core/backoff.h, 100 ms doubling to 30 s with jitter,
// reset after each connection that came up. Connect failures are logged on the first attempt and
// then at most once a minute with the attempt count; losses at most once per kLossLogInterval.
//
// Credentials (ClientSettings::credentials): fetched before every CONNECT and sent as its
// Authentication Method and Data. The connection renews them by a graceful reconnect (DISCONNECT,
// CONNECT at once, session kept; paho cannot send AUTH): when the source reports a change and
// fetch() returns different data, or at the credential's renew_at. Failing to fetch is a connect
// failure like any other (logged, retried with backoff).
//
// TLS failures: a connect that got no CONNACK over TLS is diagnosed (tls_diagnosis.h) when it is
// logged, so the one line names the endpoint and the cause (untrusted CA, expired certificate,
// host-name mismatch, client certificate refused).
//
// Pause: pause() asks the connection thread to DISCONNECT (the broker keeps the session and
// queues QoS 1 messages) and to stay away until resume(); this is the only backpressure paho
// allows without blocking its one callback thread. Resuming reconnects at once, without backoff.
//
// Threads:
//   - connection thread (owned): connect, AfterConnect, wait for loss, pause or stop, back off,
//     repeat.
//   - paho's callback thread (one per process, shared by every paho client): operation outcomes,
//     connection lost, and the owner's OnLost hook. Nothing here blocks on it.
//   - owner/runtime threads: start, pause, resume, stop, close, connected.
// Paho's receive thread waits on its sockets up to 1 s at a time and only then notices a new
// socket, so a (re)connect typically completes about 1 s after the broker is reachable.
#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "connectors/common/client_chain_file.h"
#include "connectors/mqtt/mqtt_settings.h"
#include "engine/core/clock.h"
#include "engine/core/connection_health.h"
#include "engine/core/status.h"
#include "engine/core/rate_limited_warning.h"

namespace spdlog {
class logger;
}

namespace dataflow::mqtt {

// What a CONNACK said that the owner needs.
struct ConnackInfo {
  bool session_present = false;
  uint16_t receive_maximum = 65535;             // the broker's Receive Maximum; absent = 65,535
  std::optional<uint32_t> maximum_packet_size;  // the broker's Maximum Packet Size; absent = none
};

class MqttConnection {
 public:
  // How long stop() waits for the connection thread and the DISCONNECT.
  static constexpr std::chrono::milliseconds kStopBudget{2000};
  static constexpr std::chrono::seconds kLossLogInterval{60};

  // Connection thread, after each CONNACK. Ok: the connection is up. Retriable: it is dropped
  // and retried with backoff; a non-empty message is logged as the failure, an empty one means
  // stop was requested or the connection dropped meanwhile.
  using AfterConnect = std::function<Status(const ConnackInfo&)>;
  // Paho's callback thread or the connection thread, once per connection that was up, when it
  // goes down (lost, paused or stopped). Must not block.
  using OnLost = std::function<void()>;
  // Called once if the connection thread ends on an exception: the connection no longer works.
  using OnFailure = std::function<void(const Status&)>;

  // `role` names the owner in every log line ("source", "destination"). `clock` outlives the
  // connection. Fatal when paho refuses the server URI or client id.
  static Result<std::unique_ptr<MqttConnection>> create(ClientSettings settings, std::string role,
                                                        const Clock& clock,
                                                        std::shared_ptr<spdlog::logger> logger);
  ~MqttConnection();  // close()
  MqttConnection(const MqttConnection&) = delete;
  MqttConnection& operator=(const MqttConnection&) = delete;

  // The paho client, for the owner to set its message callback (before start()), subscribe (in
  // AfterConnect) and publish. Valid until the connection is destroyed.
  ::mqtt::async_client& client() { return *client_; }
  const ClientSettings& settings() const { return settings_; }

  // Starts the connection thread and returns at once. Fatal if called twice.
  Status start(AfterConnect after_connect, OnLost on_lost, OnFailure on_failure);

  // Connection thread only, inside AfterConnect: `issue` makes `answers` paho calls, each given
  // `context` and `listener`; waits for all their answers. Ok when every one succeeded (a SUBACK
  // reason code >= 0x80 is a failure naming its filter); Retriable with the combined errors, or
  // with an empty message when stop was requested or the connection dropped first.
  Status runOperations(
      size_t answers,
      const std::function<void(void* context, ::mqtt::iaction_listener& listener)>& issue);

  // Any thread; never blocks. pause(): disconnect (session kept) and stay disconnected until
  // resume(). Idempotent.
  void pause();
  void resume();

  // Stops reconnecting and sends DISCONNECT (the broker keeps the session, unless
  // endSessionAtStop() was called). Returns within kStopBudget. Any owner thread; idempotent.
  void stop();
  // Makes stop()'s DISCONNECT carry Session Expiry Interval 0, so the broker discards the session
  // (allowed since CONNECT's interval was not 0). Any thread, before stop().
  void endSessionAtStop() { end_session_at_stop_.store(true); }
  // stop(), then joins the connection thread. Idempotent.
  void close();

  // Up: connected and AfterConnect returned Ok. Any thread; never takes paho's lock.
  bool connected() const { return connected_.load(); }
  // Up or not, the latest connect failure (AuthenticationFailed when the broker's CONNACK refused
  // the credentials, 0x86/0x87/0x8A/0x8C, or no credential could be fetched), connects tried and
  // connections lost. Any thread; never takes paho's lock.
  ConnectionHealth health() const;

 private:
  class Listener;
  struct Outcome {
    bool ok = true;
    bool no_connack = false;  // a CONNECT failed before any CONNACK (TCP, TLS, WebSockets)
    bool auth_refused = false;  // a CONNACK refused the credentials or the client
    std::string error;
    ConnackInfo connack;
  };
  enum class Wake { Lost, Pause, Stop, CredentialChanged, RenewDue };

  MqttConnection(ClientSettings settings, std::string role, const Clock& clock,
                 std::shared_ptr<spdlog::logger> logger,
                 std::unique_ptr<ClientChainFile> chain_file);

  // Connection thread.
  void run();
  Status connectOnce();
  Status prepareConnect();
  bool credentialDiffers();
  Wake waitWhileUp();
  std::string withDiagnosis(const std::string& failure) const;
  std::string label() const;  // endpoint "name" (uri)
  uint64_t beginOperation(size_t answers, bool new_connection);
  std::optional<Outcome> waitForOutcome();
  Wake waitForLossPauseOrStop();
  bool waitUntilWanted();
  bool awaitPauseDisconnect(std::chrono::steady_clock::time_point deadline);
  bool sleepUnlessStopped(std::chrono::milliseconds wait);
  // `end_session`: with Session Expiry Interval 0.
  void disconnect(std::chrono::steady_clock::time_point deadline, const char* why,
                  bool end_session = false);
  void wentDown();
  // Connection thread: the latest connect failed (`problem`, for /readyz) or succeeded.
  void recordFailure(const std::string& problem, bool authentication);
  void recordConnected();

  // Paho's callback thread.
  void onConnectionLost(const std::string& cause) noexcept;
  void onOperationDone(const ::mqtt::token& token, bool ok) noexcept;
  Outcome answerOf(const ::mqtt::token& token, bool ok) const;

  const ClientSettings settings_;
  const std::string role_;
  const std::unique_ptr<ClientChainFile> chain_file_;  // null unless there are intermediates
  // Connection thread (after construction): its properties are replaced before each CONNECT.
  ::mqtt::connect_options connect_options_;
  std::optional<std::string> credential_data_;  // connection thread: what the last CONNECT sent
  std::optional<std::chrono::system_clock::time_point> renew_at_;  // connection thread
  bool last_connect_without_connack_ = false;                      // connection thread
  bool last_connect_auth_failed_ = false;                          // connection thread
  const std::shared_ptr<spdlog::logger> logger_;
  const WarningSink warning_sink_;
  RateLimitedWarning loss_warning_;

  AfterConnect after_connect_;  // set by start() before the connection thread exists
  OnLost on_lost_;              // likewise
  OnFailure on_failure_;        // likewise

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stop_ = false;                   // guarded by mutex_
  bool paused_ = false;                 // guarded by mutex_: the owner asked to stay disconnected
  bool pause_requested_ = false;        // guarded by mutex_: pause() not yet handled by the thread
  bool pause_disconnect_sent_ = false;  // guarded by mutex_: pause() sent the DISCONNECT itself
  bool pause_token_ready_ = false;      // guarded by mutex_: pause_token_ is set (maybe null)
  ::mqtt::token_ptr pause_token_;       // guarded by mutex_: that DISCONNECT's token
  bool lost_ = false;                   // guarded by mutex_: the connection dropped
  bool credential_changed_ = false;     // guarded by mutex_: the credential source said so
  bool thread_done_ = true;             // guarded by mutex_: no connection thread running
  bool started_ = false;                // guarded by mutex_
  uint64_t operation_ = 0;              // guarded by mutex_: id of the pending operation
  size_t expected_answers_ = 0;         // guarded by mutex_: paho outcomes operation_ waits for
  size_t answers_ = 0;                  // guarded by mutex_: outcomes received so far
  Outcome outcome_;                     // guarded by mutex_: the answers of operation_ combined
  std::thread connection_thread_;       // started by start(), joined by close()
  std::mutex close_mutex_;              // serialises close()

  std::atomic<bool> connected_{false};
  std::atomic<bool> end_session_at_stop_{false};
  std::atomic<uint64_t> connection_attempts_{0};
  std::atomic<uint64_t> disconnects_{0};  // connections that were up and were lost
  mutable std::mutex health_mutex_;
  std::string problem_;                 // guarded by health_mutex_: the latest connect failure
  bool authentication_failed_ = false;  // guarded by health_mutex_: it was an authentication one

  // Last, so destroyed first: paho's destroy waits for a callback in progress, and every member
  // such a callback touches is still alive then.
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<::mqtt::async_client> client_;
};

}  // namespace dataflow::mqtt
