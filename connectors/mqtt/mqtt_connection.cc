#include "connectors/mqtt/mqtt_connection.h"

#include <MQTTProperties.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <exception>
#include <utility>

#include "engine/core/backoff.h"

namespace mqtt {
// paho.mqtt.cpp 1.2 builds disconnect_options from MQTTAsync_disconnectOptions_initializer
// (struct_version 0), and paho C sends a DISCONNECT's properties only from struct_version 1 on
// (MQTTAsync_disconnect1), so a Session Expiry Interval set on them would be dropped silently;
// later paho.mqtt.cpp releases added the v5 initializer. disconnect_options befriends this class
// (for paho's own unit tests, which the library does not contain); defining it here is the only
// way to the version without copying the struct's layout. The copy async_client::disconnect()
// takes keeps it. Goes with paho (the MQTT client issue).
class disconnect_options_test {
 public:
  static void sendProperties(disconnect_options& options) { options.opts_.struct_version = 1; }
};
}  // namespace mqtt

namespace dataflow::mqtt {

namespace {

using std::chrono::steady_clock;

constexpr std::chrono::milliseconds kInitialBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
constexpr std::chrono::seconds kFailureLogInterval{60};

void* toContext(uint64_t operation) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(operation));
}
uint64_t fromContext(void* context) { return reinterpret_cast<uintptr_t>(context); }

// Logs the first failure of a streak, then at most once per kFailureLogInterval with the number
// of attempts, and the recovery once. Connection thread only.
class FailureLog {
 public:
  FailureLog(spdlog::logger& logger, const std::string& role) : logger_(logger), role_(role) {}

  // `describe` composes the failure text; called only when a line is written.
  template <class Describe>
  void failed(Describe&& describe) {
    ++attempts_;
    const steady_clock::time_point now = steady_clock::now();
    if (attempts_ > 1 && now - last_logged_ < kFailureLogInterval) return;
    last_logged_ = now;
    logger_.warn("MQTT {}: {} (attempt {}; retrying with backoff up to {} s)", role_, describe(),
                 attempts_, kMaxBackoff.count() / 1000);
  }
  void succeeded() {
    if (attempts_ > 1) {
      logger_.info("MQTT {}: recovered after {} failed attempts", role_, attempts_);
    }
    attempts_ = 0;
  }

 private:
  spdlog::logger& logger_;
  const std::string& role_;
  uint64_t attempts_ = 0;
  steady_clock::time_point last_logged_{};
};

// CONNACK reason codes that refuse who we are rather than where or when we connect.
bool refusesCredentials(int code) {
  return code == ::mqtt::ReasonCode::BAD_USER_NAME_OR_PASSWORD ||
         code == ::mqtt::ReasonCode::NOT_AUTHORIZED || code == ::mqtt::ReasonCode::BANNED ||
         code == ::mqtt::ReasonCode::BAD_AUTHENTICATION_METHOD;
}

// The CONNACK properties the owners need, read from paho's C property list.
ConnackInfo connackInfo(const ::mqtt::connect_response& response) {
  ConnackInfo info;
  info.session_present = response.is_session_present();
  MQTTProperties& props = const_cast<MQTTProperties&>(response.get_properties().c_struct());
  if (MQTTProperty* p = MQTTProperties_getProperty(&props, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
    info.receive_maximum = static_cast<uint16_t>(p->value.integer2);
  }
  if (MQTTProperty* p = MQTTProperties_getProperty(&props, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE)) {
    info.maximum_packet_size = static_cast<uint32_t>(p->value.integer4);
  }
  return info;
}

}  // namespace

// Relays the outcome of a connect, subscribe or other awaited operation. Paho's threads.
class MqttConnection::Listener final : public ::mqtt::iaction_listener {
 public:
  explicit Listener(MqttConnection& connection) : connection_(connection) {}
  void on_success(const ::mqtt::token& token) override { connection_.onOperationDone(token, true); }
  void on_failure(const ::mqtt::token& token) override {
    connection_.onOperationDone(token, false);
  }

 private:
  MqttConnection& connection_;
};

Result<std::unique_ptr<MqttConnection>> MqttConnection::create(
    ClientSettings settings, std::string role, const Clock& clock,
    std::shared_ptr<spdlog::logger> logger) {
  if (!logger) logger = spdlog::default_logger();
  std::unique_ptr<ClientChainFile> chain_file;
  if (settings.tls && settings.tls->intermediate_certificates) {
    Result<std::unique_ptr<ClientChainFile>> created = ClientChainFile::create();
    if (!created.isOk()) return created.status();
    chain_file = std::move(created).value();
  }
  try {
    return std::unique_ptr<MqttConnection>(new MqttConnection(
        std::move(settings), std::move(role), clock, std::move(logger), std::move(chain_file)));
  } catch (const ::mqtt::exception& e) {
    return Status::fatal(std::string("cannot create the MQTT client: ") + e.what());
  }
}

MqttConnection::MqttConnection(ClientSettings settings, std::string role, const Clock& clock,
                               std::shared_ptr<spdlog::logger> logger,
                               std::unique_ptr<ClientChainFile> chain_file)
    : settings_(std::move(settings)),
      role_(std::move(role)),
      chain_file_(std::move(chain_file)),
      // Built in place: copying or moving a paho.mqtt.cpp 1.2 connect_options with properties
      // leaves its C struct pointing into the source object (a crash at the next connect).
      connect_options_(toConnectOptions(
          settings_, chain_file_ ? std::optional<std::string>(chain_file_->path()) : std::nullopt)),
      logger_(std::move(logger)),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      loss_warning_(clock, warning_sink_, kLossLogInterval) {
  listener_ = std::make_unique<Listener>(*this);
  client_ = std::make_unique<::mqtt::async_client>(settings_.server_uri, settings_.client_id,
                                                   ::mqtt::create_options(MQTTVERSION_5));
  client_->set_connection_lost_handler(
      [this](const std::string& cause) { onConnectionLost(cause); });
  client_->set_disconnected_handler([this](const ::mqtt::properties&, ::mqtt::ReasonCode code) {
    onConnectionLost("the broker sent DISCONNECT: " + ::mqtt::exception::reason_code_str(code));
  });
}

MqttConnection::~MqttConnection() { close(); }

Status MqttConnection::start(AfterConnect after_connect, OnLost on_lost, OnFailure on_failure) {
  {
    std::lock_guard lock(mutex_);
    if (started_) return Status::fatal("MQTT " + role_ + " started twice");
    started_ = true;
    thread_done_ = false;
  }
  after_connect_ = std::move(after_connect);
  on_lost_ = std::move(on_lost);
  on_failure_ = std::move(on_failure);
  if (settings_.credentials) {
    const Status watching = settings_.credentials->watch([this] {
      {
        std::lock_guard lock(mutex_);
        credential_changed_ = true;
      }
      changed_.notify_all();
    });
    if (!watching.isOk()) {
      logger_->warn("MQTT {}: {}: {}; the credential is renewed only when it is due or after a "
                    "reconnect", role_, label(), watching.message());
    }
  }
  connection_thread_ = std::thread([this] {
    try {
      run();
    } catch (const std::exception& e) {
      logger_->error("MQTT {}: connection thread stopped: {}", role_, e.what());
      if (on_failure_) {
        on_failure_(Status::fatal("the MQTT " + role_ + "'s connection thread stopped: " +
                                  e.what()));
      }
    }
    std::lock_guard lock(mutex_);
    thread_done_ = true;
    changed_.notify_all();
  });
  return Status::ok();
}

void MqttConnection::run() {
  Backoff backoff(kInitialBackoff, kMaxBackoff);
  FailureLog failures(*logger_, role_);
  while (waitUntilWanted()) {
    const Status status = connectOnce();
    if (status.isOk()) {
      recordConnected();
      failures.succeeded();
      backoff.reset();
      const Wake wake = waitWhileUp();
      wentDown();
      if (wake == Wake::Stop) return;  // stop() sends the DISCONNECT
      if (wake == Wake::Pause) {
        const steady_clock::time_point deadline = steady_clock::now() + kStopBudget;
        if (!awaitPauseDisconnect(deadline)) disconnect(deadline, nullptr);
        continue;  // reconnects as soon as resume() was called (perhaps already)
      }
      if (wake == Wake::CredentialChanged || wake == Wake::RenewDue) {
        logger_->info("MQTT {}: {}: reconnecting to renew the credential ({})", role_, label(),
                      wake == Wake::RenewDue ? "it is due for renewal before it expires"
                                             : settings_.credentials->describe() + " changed");
        disconnect(steady_clock::now() + kStopBudget, nullptr);
        continue;  // at once: the session is kept, in-flight messages are resent
      }
    } else if (!status.message().empty()) {
      recordFailure(status.message(), last_connect_auth_failed_);
      failures.failed([&] {
        std::string diagnosed = withDiagnosis(status.message());
        recordFailure(diagnosed, last_connect_auth_failed_);
        return diagnosed;
      });
    }
    if (!sleepUnlessStopped(backoff.next())) return;
  }
}

// Ok: connected and AfterConnect said Ok. Retriable with an empty message: stop requested or
// the connection dropped meanwhile.
Status MqttConnection::connectOnce() {
  last_connect_without_connack_ = false;
  last_connect_auth_failed_ = false;
  connection_attempts_.fetch_add(1, std::memory_order_relaxed);
  if (Status prepared = prepareConnect(); !prepared.isOk()) return prepared;
  const uint64_t operation = beginOperation(1, /*new_connection=*/true);
  try {
    client_->connect(connect_options_, toContext(operation), *listener_);
  } catch (const ::mqtt::exception& e) {
    return Status::retriable("cannot start connecting to " + settings_.server_uri + ": " +
                             e.what());
  }
  const std::optional<Outcome> connect = waitForOutcome();
  if (!connect) return Status::retriable("");
  if (!connect->ok) {
    last_connect_without_connack_ = connect->no_connack;
    last_connect_auth_failed_ = connect->auth_refused;
    return Status::retriable(label() + ": cannot connect: " + connect->error);
  }
  logger_->info("MQTT {}: connected to {} as client id {} (session {})", role_,
                settings_.server_uri, settings_.client_id,
                connect->connack.session_present ? "resumed" : "new");
  Status ready = after_connect_(connect->connack);
  if (!ready.isOk()) {
    disconnect(steady_clock::now() + kStopBudget, nullptr);
    return ready;
  }
  connected_ = true;
  return Status::ok();
}

Status MqttConnection::runOperations(
    size_t answers,
    const std::function<void(void* context, ::mqtt::iaction_listener& listener)>& issue) {
  const uint64_t operation = beginOperation(answers, /*new_connection=*/false);
  try {
    issue(toContext(operation), *listener_);
  } catch (const ::mqtt::exception& e) {
    return Status::retriable(e.what());
  }
  const std::optional<Outcome> outcome = waitForOutcome();
  if (!outcome) {
    std::lock_guard lock(mutex_);
    return Status::retriable(lost_ && !stop_ ? "connection lost while waiting for the broker" : "");
  }
  if (!outcome->ok) return Status::retriable(outcome->error);
  return Status::ok();
}

// Starts waiting for `answers` paho outcomes tagged with the returned operation id. A new
// connection forgets the loss of the previous one.
uint64_t MqttConnection::beginOperation(size_t answers, bool new_connection) {
  std::lock_guard lock(mutex_);
  expected_answers_ = answers;
  answers_ = 0;
  outcome_ = Outcome();
  if (new_connection) {
    lost_ = false;
    pause_disconnect_sent_ = false;  // it concerned an earlier connection
    pause_token_ready_ = false;
    pause_token_.reset();
  }
  return ++operation_;
}

// The combined answers of the current operation, or nullopt when stop was requested or the
// connection dropped first.
std::optional<MqttConnection::Outcome> MqttConnection::waitForOutcome() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return stop_ || lost_ || answers_ == expected_answers_; });
  if (stop_ || answers_ != expected_answers_) return std::nullopt;
  return outcome_;
}

MqttConnection::Wake MqttConnection::waitForLossPauseOrStop() {
  std::unique_lock lock(mutex_);
  const auto woken = [&] { return stop_ || lost_ || pause_requested_ || credential_changed_; };
  if (renew_at_) {
    if (!changed_.wait_until(lock, *renew_at_, woken)) return Wake::RenewDue;
  } else {
    changed_.wait(lock, woken);
  }
  if (stop_) return Wake::Stop;
  if (lost_) return Wake::Lost;
  if (pause_requested_) {
    pause_requested_ = false;  // handled now, even if resume() already came
    return Wake::Pause;
  }
  credential_changed_ = false;
  return Wake::CredentialChanged;
}

// Waits while paused; false when stop was requested.
bool MqttConnection::waitUntilWanted() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return stop_ || !paused_; });
  pause_requested_ = false;  // a pause already undone by resume() needs no disconnect
  return !stop_;
}

// Waits (up to `deadline`) for the DISCONNECT pause() sent to complete, so that the next connect
// is not refused by paho as "command ignored". False when pause() sent none.
bool MqttConnection::awaitPauseDisconnect(steady_clock::time_point deadline) {
  ::mqtt::token_ptr token;
  {
    std::unique_lock lock(mutex_);
    if (!std::exchange(pause_disconnect_sent_, false)) return false;
    changed_.wait_until(lock, deadline, [&] { return pause_token_ready_ || stop_; });
    token = std::move(pause_token_);
    pause_token_ready_ = false;
  }
  try {
    if (token) token->wait_until(deadline);
  } catch (const ::mqtt::exception&) {
    // It failed: the connection is down all the same.
  }
  return true;
}

bool MqttConnection::sleepUnlessStopped(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, wait, [&] { return stop_; });
}

void MqttConnection::wentDown() {
  if (connected_.exchange(false) && on_lost_) on_lost_();
}

// `why` non-null: log the completed DISCONNECT with it.
void MqttConnection::disconnect(steady_clock::time_point deadline, const char* why,
                                bool end_session) {
  try {
    ::mqtt::disconnect_options options;
    if (end_session) {
      options.set_properties(
          ::mqtt::properties{::mqtt::property(::mqtt::property::SESSION_EXPIRY_INTERVAL, 0)});
      ::mqtt::disconnect_options_test::sendProperties(options);
    }
    ::mqtt::token_ptr token = client_->disconnect(options);
    if (token->wait_until(deadline)) {
      if (why != nullptr && end_session) {
        logger_->info("MQTT {}: disconnected from {} ({}) and ended the session (Session Expiry "
                      "Interval 0): the broker keeps nothing for this client",
                      role_, settings_.server_uri, why);
      } else if (why != nullptr) {
        logger_->info("MQTT {}: disconnected from {} ({}); the broker keeps the session for {} s",
                      role_, settings_.server_uri, why, settings_.session_expiry_seconds);
      }
      return;
    }
    logger_->warn("MQTT {}: DISCONNECT from {} not confirmed within {} ms", role_,
                  settings_.server_uri, kStopBudget.count());
  } catch (const ::mqtt::exception& e) {
    if (e.get_return_code() == MQTTASYNC_DISCONNECTED) return;  // already down
    logger_->warn("MQTT {}: disconnecting from {}: {}", role_, settings_.server_uri, e.what());
  }
}

void MqttConnection::onConnectionLost(const std::string& cause) noexcept {
  try {
    const bool was_connected = connected_.load();
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      lost_ = true;
    }
    changed_.notify_all();
    wentDown();
    if (was_connected) {
      disconnects_.fetch_add(1, std::memory_order_relaxed);
      loss_warning_.report([&] {
        return "MQTT " + role_ + ": connection to " + settings_.server_uri + " lost" +
               (cause.empty() ? "" : " (" + cause + ")") + "; reconnecting";
      });
    }
  } catch (const std::exception& e) {
    logger_->error("MQTT {}: handling a connection loss: {}", role_, e.what());
  }
}

// One paho answer: failure text (naming the filter for a subscribe), or what a CONNACK said, or
// a warning when the broker granted a lower QoS than asked (it may then drop messages the engine
// would have acknowledged).
MqttConnection::Outcome MqttConnection::answerOf(const ::mqtt::token& token, bool ok) const {
  Outcome answer;
  answer.ok = ok;
  std::string filter;
  if (token.get_type() == ::mqtt::token::Type::SUBSCRIBE && token.get_topics() &&
      !token.get_topics()->empty()) {
    filter = (*token.get_topics())[0];
  }
  if (!ok) {
    answer.error =
        (filter.empty() ? "" : filter + ": ") +
        ::mqtt::exception::printable_error(token.get_return_code(), token.get_reason_code());
    const bool connack_refusal = token.get_return_code() >= ::mqtt::ReasonCode::UNSPECIFIED_ERROR;
    if (token.get_type() == ::mqtt::token::Type::CONNECT && connack_refusal) {
      // Paho gives a CONNACK's v5 reason code (e.g. 0x87 Not authorized) as the return code.
      answer.error = "the broker refused the connection: " +
                     ::mqtt::exception::reason_code_str(token.get_return_code());
      answer.auth_refused = refusesCredentials(token.get_return_code());
    } else if (token.get_type() == ::mqtt::token::Type::CONNECT &&
               token.get_reason_code() == ::mqtt::ReasonCode::SUCCESS) {
      answer.no_connack = true;
      answer.error +=
          " (no CONNACK: the broker is unreachable, or the TCP, TLS or WebSockets "
          "handshake failed)";
    }
  } else if (token.get_type() == ::mqtt::token::Type::CONNECT) {
    answer.connack = connackInfo(token.get_connect_response());
  } else if (token.get_type() == ::mqtt::token::Type::SUBSCRIBE) {
    const ::mqtt::subscribe_response response = token.get_subscribe_response();
    for (::mqtt::ReasonCode code : response.get_reason_codes()) {
      if (code >= ::mqtt::ReasonCode::UNSPECIFIED_ERROR) {
        answer.ok = false;
        answer.error = filter + ": " + ::mqtt::exception::reason_code_str(code);
      } else if (code < settings_.subscription_qos) {
        logger_->warn("MQTT {}: the broker granted QoS {} for {} (asked {})", role_,
                      static_cast<int>(code), filter, settings_.subscription_qos);
      }
    }
  }
  return answer;
}

void MqttConnection::onOperationDone(const ::mqtt::token& token, bool ok) noexcept {
  try {
    const Outcome answer = answerOf(token, ok);
    bool disconnect_now = false;
    {
      std::lock_guard lock(mutex_);
      if (fromContext(token.get_user_context()) != operation_) return;  // stale
      ++answers_;
      if (token.get_type() == ::mqtt::token::Type::CONNECT) {
        outcome_.connack = answer.connack;
        outcome_.no_connack = answer.no_connack;
        outcome_.auth_refused = answer.auth_refused;
      }
      if (!answer.ok) {
        outcome_.ok = false;
        outcome_.error += (outcome_.error.empty() ? "" : "; ") + answer.error;
      }
      // A connect that completes after stop was requested: nobody waits for it any more.
      disconnect_now = stop_ && ok && token.get_type() == ::mqtt::token::Type::CONNECT;
    }
    changed_.notify_all();
    if (disconnect_now) client_->disconnect();
  } catch (const std::exception& e) {
    logger_->error("MQTT {}: handling an operation outcome: {}", role_, e.what());
  }
}

void MqttConnection::pause() {
  bool disconnect_now = false;
  {
    std::lock_guard lock(mutex_);
    if (paused_) return;
    paused_ = true;
    pause_requested_ = true;
    // DISCONNECT at once rather than when the connection thread wakes: every message paho reads
    // until it takes effect still arrives. The connection thread then sends no second one (paho
    // would keep it queued and apply it to the next connection).
    disconnect_now = connected_.load();
    pause_disconnect_sent_ = disconnect_now;
  }
  changed_.notify_all();
  if (!disconnect_now) return;
  ::mqtt::token_ptr token;
  try {
    token = client_->disconnect();  // non-blocking; paho allows it on its own thread
  } catch (const ::mqtt::exception&) {
    // Already down: the connection thread sees the loss or the pause and carries on.
  }
  {
    std::lock_guard lock(mutex_);
    pause_token_ = std::move(token);
    pause_token_ready_ = true;
  }
  changed_.notify_all();
}

void MqttConnection::resume() {
  {
    std::lock_guard lock(mutex_);
    paused_ = false;
  }
  changed_.notify_all();
}

void MqttConnection::stop() {
  const steady_clock::time_point deadline = steady_clock::now() + kStopBudget;
  {
    std::lock_guard lock(mutex_);
    if (stop_) return;
    stop_ = true;
  }
  changed_.notify_all();
  {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline, [&] { return thread_done_; });
  }
  wentDown();
  disconnect(deadline, "stopped", end_session_at_stop_.load());
}

void MqttConnection::close() {
  std::lock_guard close_lock(close_mutex_);
  stop();
  if (connection_thread_.joinable()) connection_thread_.join();
  // Ends the watch (joining a callback in progress) while every member it touches is alive.
  if (settings_.credentials) settings_.credentials->watch(nullptr);
}

}  // namespace dataflow::mqtt
