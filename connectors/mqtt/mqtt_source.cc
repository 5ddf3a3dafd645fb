#include "connectors/mqtt/mqtt_source.h"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <exception>
#include <utility>

#include "connectors/mqtt/mqtt_message.h"
#include "engine/core/backoff.h"

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

std::string joined(const std::vector<std::string>& topics) {
  std::string out;
  for (const std::string& t : topics) out += (out.empty() ? "" : ", ") + t;
  return out;
}

// Logs the first failure of a streak, then at most once per kFailureLogInterval with the number
// of attempts, and the recovery once. Connection thread only.
class FailureLog {
 public:
  explicit FailureLog(spdlog::logger& logger) : logger_(logger) {}

  void failed(const std::string& what) {
    ++attempts_;
    const steady_clock::time_point now = steady_clock::now();
    if (attempts_ > 1 && now - last_logged_ < kFailureLogInterval) return;
    last_logged_ = now;
    logger_.warn("MQTT source: {} (attempt {}; retrying with backoff up to {} s)", what, attempts_,
                 kMaxBackoff.count() / 1000);
  }
  void succeeded() {
    if (attempts_ > 1) logger_.info("MQTT source: recovered after {} failed attempts", attempts_);
    attempts_ = 0;
  }

 private:
  spdlog::logger& logger_;
  uint64_t attempts_ = 0;
  steady_clock::time_point last_logged_{};
};

}  // namespace

// Relays the outcome of a connect or subscribe to the connection thread. Paho's threads.
class MqttSource::Listener final : public ::mqtt::iaction_listener {
 public:
  explicit Listener(MqttSource& source) : source_(source) {}
  void on_success(const ::mqtt::token& token) override { source_.onOperationDone(token, true); }
  void on_failure(const ::mqtt::token& token) override { source_.onOperationDone(token, false); }

 private:
  MqttSource& source_;
};

Result<std::unique_ptr<MqttSource>> MqttSource::create(ClientSettings settings,
                                                       std::vector<std::string> topics,
                                                       const Clock& clock,
                                                       std::shared_ptr<spdlog::logger> logger) {
  if (topics.empty()) return Status::fatal("an MQTT source needs at least one topic filter");
  if (!logger) logger = spdlog::default_logger();
  try {
    return std::unique_ptr<MqttSource>(
        new MqttSource(std::move(settings), std::move(topics), clock, std::move(logger)));
  } catch (const ::mqtt::exception& e) {
    return Status::fatal(std::string("cannot create the MQTT client: ") + e.what());
  }
}

MqttSource::MqttSource(ClientSettings settings, std::vector<std::string> topics, const Clock& clock,
                       std::shared_ptr<spdlog::logger> logger)
    : settings_(std::move(settings)),
      connect_options_(toConnectOptions(settings_)),
      topics_(std::move(topics)),
      clock_(clock),
      logger_(std::move(logger)) {
  listener_ = std::make_unique<Listener>(*this);
  client_ = std::make_unique<::mqtt::async_client>(settings_.server_uri, settings_.client_id,
                                                   ::mqtt::create_options(MQTTVERSION_5));
  client_->set_message_callback([this](::mqtt::const_message_ptr message) { onMessage(message); });
  client_->set_connection_lost_handler(
      [this](const std::string& cause) { onConnectionLost(cause); });
  client_->set_disconnected_handler([this](const ::mqtt::properties&, ::mqtt::ReasonCode code) {
    onConnectionLost("the broker sent DISCONNECT: " + ::mqtt::exception::reason_code_str(code));
  });
}

MqttSource::~MqttSource() { close(); }

Status MqttSource::start(MessageHandler& handler) {
  if (handler_ != nullptr) return Status::fatal("MQTT source started twice");
  handler_ = &handler;
  {
    std::lock_guard lock(mutex_);
    thread_done_ = false;
  }
  connection_thread_ = std::thread([this] {
    try {
      run();
    } catch (const std::exception& e) {
      logger_->error("MQTT source: connection thread stopped: {}", e.what());
    }
    std::lock_guard lock(mutex_);
    thread_done_ = true;
    changed_.notify_all();
  });
  return Status::ok();
}

void MqttSource::ack(const AckToken&) { acked_.fetch_add(1, std::memory_order_relaxed); }

bool MqttSource::connected() const { return connected_.load(); }

void MqttSource::run() {
  Backoff backoff(kInitialBackoff, kMaxBackoff);
  FailureLog failures(*logger_);
  while (true) {
    const Status status = connectAndSubscribe();
    if (status.isOk()) {
      failures.succeeded();
      backoff.reset();
      waitForLossOrStop();
      connected_ = false;
    } else if (!status.message().empty()) {
      failures.failed(status.message());
    }
    if (!sleepUnlessStopped(backoff.next())) return;
  }
}

// Ok: connected and subscribed. Retriable with an empty message: stop requested.
Status MqttSource::connectAndSubscribe() {
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
    return Status::retriable("cannot connect to " + settings_.server_uri + ": " + connect->error);
  }
  logger_->info("MQTT source: connected to {} as client id {} (session {})", settings_.server_uri,
                settings_.client_id, connect->session_present ? "resumed" : "new");
  return subscribeAll();
}

Status MqttSource::subscribeAll() {
  const uint64_t operation = beginOperation(topics_.size(), /*new_connection=*/false);
  const ::mqtt::subscribe_options options(::mqtt::subscribe_options::SUBSCRIBE_LOCAL,
                                          ::mqtt::subscribe_options::RETAIN_AS_PUBLISHED,
                                          ::mqtt::subscribe_options::SEND_RETAINED_ON_NEW);
  try {
    for (const std::string& topic : topics_) {
      client_->subscribe(topic, settings_.subscription_qos, toContext(operation), *listener_,
                         options);
    }
  } catch (const ::mqtt::exception& e) {
    disconnect(steady_clock::now() + kStopBudget, true);
    return Status::retriable(std::string("cannot subscribe: ") + e.what());
  }
  const std::optional<Outcome> subscribe = waitForOutcome();
  if (!subscribe) {
    std::lock_guard lock(mutex_);
    return Status::retriable(lost_ ? "connection lost while subscribing" : "");
  }
  if (!subscribe->ok) {
    // Not connected without every subscription: disconnect and retry the whole sequence.
    disconnect(steady_clock::now() + kStopBudget, true);
    return Status::retriable("subscribing failed: " + subscribe->error);
  }
  connected_ = true;
  logger_->info("MQTT source: subscribed to {} at QoS {}", joined(topics_),
                settings_.subscription_qos);
  return Status::ok();
}

// Starts waiting for `answers` paho outcomes tagged with the returned operation id. A new
// connection forgets the loss of the previous one.
uint64_t MqttSource::beginOperation(size_t answers, bool new_connection) {
  std::lock_guard lock(mutex_);
  expected_answers_ = answers;
  answers_ = 0;
  outcome_ = Outcome{.ok = true, .error = {}, .session_present = false};
  if (new_connection) lost_ = false;
  return ++operation_;
}

// The combined answers of the current operation, or nullopt when stop was requested or the
// connection dropped first.
std::optional<MqttSource::Outcome> MqttSource::waitForOutcome() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return stop_ || lost_ || answers_ == expected_answers_; });
  if (stop_ || answers_ != expected_answers_) return std::nullopt;
  return outcome_;
}

void MqttSource::waitForLossOrStop() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return stop_ || lost_; });
}

bool MqttSource::sleepUnlessStopped(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, wait, [&] { return stop_; });
}

void MqttSource::disconnect(steady_clock::time_point deadline, bool quiet) {
  try {
    ::mqtt::token_ptr token = client_->disconnect();
    if (token->wait_until(deadline)) {
      if (!quiet) {
        logger_->info("MQTT source: disconnected from {}; the broker keeps the session for {} s",
                      settings_.server_uri, settings_.session_expiry_seconds);
      }
      return;
    }
    logger_->warn(
        "MQTT source: DISCONNECT from {} not confirmed in time: a message handler is still "
        "blocked and paho holds its lock meanwhile; the connection closes once it returns",
        settings_.server_uri);
  } catch (const ::mqtt::exception& e) {
    if (e.get_return_code() == MQTTASYNC_DISCONNECTED) return;  // already down
    logger_->warn("MQTT source: disconnecting from {}: {}", settings_.server_uri, e.what());
  }
}

void MqttSource::onMessage(const ::mqtt::const_message_ptr& message) noexcept {
  try {
    std::lock_guard gate(handler_mutex_);
    if (closed_) {
      dropped_after_close_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const uint64_t sequence = received_.fetch_add(1, std::memory_order_relaxed);
    handler_->onMessage(fromPaho(*message, clock_, sequence));
  } catch (const std::exception& e) {
    logger_->error("MQTT source: message on {} not handled: {}", message->get_topic(), e.what());
  } catch (...) {
    logger_->error("MQTT source: message on {} not handled: unknown exception",
                   message->get_topic());
  }
}

void MqttSource::onConnectionLost(const std::string& cause) noexcept {
  try {
    bool was_connected = connected_.exchange(false);
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      lost_ = true;
    }
    changed_.notify_all();
    if (was_connected) {
      logger_->warn("MQTT source: connection to {} lost{}; reconnecting", settings_.server_uri,
                    cause.empty() ? "" : " (" + cause + ")");
    }
  } catch (const std::exception& e) {
    logger_->error("MQTT source: handling a connection loss: {}", e.what());
  }
}

// One paho answer: failure text (naming the filter for a subscribe), or the session flag of a
// CONNACK, or a warning when the broker granted a lower QoS than asked (it may then drop
// messages the engine would have acknowledged).
MqttSource::Outcome MqttSource::answerOf(const ::mqtt::token& token, bool ok) const {
  Outcome answer{.ok = ok, .error = {}, .session_present = false};
  std::string filter;
  if (token.get_type() == ::mqtt::token::Type::SUBSCRIBE && token.get_topics() &&
      !token.get_topics()->empty()) {
    filter = (*token.get_topics())[0];
  }
  if (!ok) {
    answer.error =
        (filter.empty() ? "" : filter + ": ") +
        ::mqtt::exception::printable_error(token.get_return_code(), token.get_reason_code());
    if (token.get_type() == ::mqtt::token::Type::CONNECT &&
        token.get_reason_code() == ::mqtt::ReasonCode::SUCCESS) {
      answer.error +=
          " (no CONNACK: the broker is unreachable, or the TCP, TLS or WebSockets "
          "handshake failed)";
    }
  } else if (token.get_type() == ::mqtt::token::Type::CONNECT) {
    answer.session_present = token.get_connect_response().is_session_present();
  } else if (token.get_type() == ::mqtt::token::Type::SUBSCRIBE) {
    const ::mqtt::subscribe_response response = token.get_subscribe_response();
    for (::mqtt::ReasonCode code : response.get_reason_codes()) {
      if (code >= ::mqtt::ReasonCode::UNSPECIFIED_ERROR) {
        answer.ok = false;
        answer.error = filter + ": " + ::mqtt::exception::reason_code_str(code);
      } else if (code < settings_.subscription_qos) {
        logger_->warn("MQTT source: the broker granted QoS {} for {} (asked {})",
                      static_cast<int>(code), filter, settings_.subscription_qos);
      }
    }
  }
  return answer;
}

void MqttSource::onOperationDone(const ::mqtt::token& token, bool ok) noexcept {
  try {
    const Outcome answer = answerOf(token, ok);
    bool disconnect_now = false;
    {
      std::lock_guard lock(mutex_);
      if (fromContext(token.get_user_context()) != operation_) return;  // stale
      ++answers_;
      outcome_.session_present = outcome_.session_present || answer.session_present;
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
    logger_->error("MQTT source: handling an operation outcome: {}", e.what());
  }
}

void MqttSource::stopConnection(steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline, [&] { return thread_done_; });
  }
  connected_ = false;
  disconnect(deadline, false);
}

void MqttSource::stopReceiving() { stopConnection(steady_clock::now() + kStopBudget); }

void MqttSource::close() {
  {
    std::lock_guard gate(handler_mutex_);  // waits for an onMessage in progress
    if (closed_) return;
    closed_ = true;
  }
  stopConnection(steady_clock::now() + kStopBudget);
  if (connection_thread_.joinable()) connection_thread_.join();
  if (const uint64_t dropped = dropped_after_close_.load(); dropped > 0) {
    logger_->warn(
        "MQTT source: {} message(s) arrived after close() and were dropped; paho had already "
        "acknowledged them to the broker",
        dropped);
  }
  logger_->info("MQTT source: closed ({} received, {} acknowledged)", received_.load(),
                acked_.load());
}

}  // namespace dataflow::mqtt
