#include "connectors/mqtt/client/mqtt_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "connectors/mqtt/net/transport.h"
#include "engine/core/backoff.h"
#include "engine/core/message_expiry.h"
#include "engine/core/rate_limited_warning.h"

namespace dataflow::mqtt {

namespace {

using std::chrono::steady_clock;
using wire::reason::kSuccess;

constexpr std::chrono::milliseconds kInitialBackoff{100};
// Set on a blocking-pool thread while it runs a client's task.
thread_local bool t_in_blocking_task = false;
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
constexpr std::chrono::seconds kFailureLogInterval{60};
// Bytes read from one connection per readiness event before the loop serves the others.
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kReadBudget = 16 * kReadChunk;
// Publishes stop moving from the queue into the write buffer above this many unwritten bytes:
// the socket's pace is the backpressure on the queue (and so on the destination's FlightLimits).
constexpr size_t kWriteHighWater = 1 << 20;

// CONNACK reason codes that refuse who we are rather than where or when we connect.
bool refusesCredentials(uint8_t code) {
  return code == wire::reason::kBadUserNameOrPassword || code == wire::reason::kNotAuthorized ||
         code == wire::reason::kBanned || code == wire::reason::kBadAuthenticationMethod;
}

// Logs the first failure of a streak, then at most once per kFailureLogInterval with the number
// of attempts, and the recovery once.
class FailureLog {
 public:
  FailureLog(spdlog::logger& logger, const std::string& role) : logger_(logger), role_(role) {}
  void failed(const std::string& what) {
    ++attempts_;
    const steady_clock::time_point now = steady_clock::now();
    if (attempts_ > 1 && now - last_logged_ < kFailureLogInterval) return;
    last_logged_ = now;
    logger_.warn("MQTT {}: {} (attempt {}; retrying with backoff up to {} s)", role_, what,
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

}  // namespace

struct MqttClient::Request {
  enum class Kind { Publish, Ack, Reading };
  Kind kind = Kind::Publish;
  wire::Publish publish;
  std::optional<steady_clock::time_point> expires;
  PublishDone done;
  uint64_t receipt = 0;
  bool reading = true;
};

struct MqttClient::Shared {
  std::mutex requests_mutex;
  std::vector<Request> requests;  // guarded by requests_mutex
  bool wake_posted = false;       // guarded by requests_mutex

  std::atomic<bool> started{false};
  std::atomic<bool> closed{false};
  std::atomic<bool> up{false};
  std::atomic<bool> end_session_at_stop{false};
  std::atomic<uint64_t> connection_attempts{0};
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> resent{0};
  std::atomic<size_t> max_inflight{0};
  mutable std::mutex health_mutex;
  std::string problem;                 // guarded by health_mutex
  bool authentication_failed = false;  // guarded by health_mutex

  std::mutex stop_mutex;
  std::condition_variable stop_changed;
  bool stopped = false;      // guarded by stop_mutex: the connection is closed for good
  size_t blocking_tasks = 0;  // guarded by stop_mutex: submitted to the pool, not finished
};

// The connection state machine. Loop thread only.
struct MqttClient::Impl {
  enum class Phase {
    Idle,          // not started
    Waiting,       // backing off before the next attempt
    Preparing,     // resolving, reading TLS files, fetching the credential (blocking pool)
    Handshaking,   // TCP connect, TLS, WebSocket upgrade
    AwaitConnack,  // CONNECT sent
    Subscribing,   // SUBSCRIBE / UNSUBSCRIBE sent
    Up,
    Stopping,  // DISCONNECT queued, flushing
    Stopped,
  };
  struct Outgoing {
    wire::Publish publish;
    std::optional<steady_clock::time_point> expires;
    PublishDone done;
    bool sent_before = false;  // in an earlier connection (counted as resent when sent again)
  };
  struct Prepared {
    Status status;
    std::vector<net::Address> addresses;
    std::shared_ptr<net::TlsContext> tls;
    std::optional<Credential> credential;
    bool auth_problem = false;  // no credential could be fetched
  };

  Impl(MqttClient& client, Callbacks callbacks)
      : c(client),
        callbacks(std::move(callbacks)),
        backoff(kInitialBackoff, kMaxBackoff),
        failures(*client.logger_, client.options_.role),
        loss_warning(client.clock_, loss_sink, kLossLogInterval),
        excess_warning(client.clock_, loss_sink, kLossLogInterval) {}

  MqttClient& c;
  Callbacks callbacks;
  Phase phase = Phase::Idle;
  uint64_t attempt = 0;  // bumped per connect attempt; stale pool answers compare it
  Backoff backoff;
  FailureLog failures;
  WarningSink loss_sink = [logger = c.logger_](std::string_view line) { logger->warn("{}", line); };
  RateLimitedWarning loss_warning;
  RateLimitedWarning excess_warning;
  LoopThread::TimerId connect_timer = 0;
  LoopThread::TimerId backoff_timer = 0;
  LoopThread::TimerId keepalive_timer = 0;
  LoopThread::TimerId renew_timer = 0;
  LoopThread::TimerId stop_timer = 0;

  // The transport and its buffers.
  std::unique_ptr<net::Transport> transport;
  std::vector<net::Address> addresses;
  size_t address_index = 0;
  std::shared_ptr<net::TlsContext> tls;
  std::string in;  // bytes [in_begin, in_end) read and not parsed yet
  size_t in_begin = 0;
  size_t in_end = 0;
  std::string out;
  size_t out_begin = 0;
  bool want_write_for_read = false;  // TLS: a read needs the socket writable
  uint32_t interest = 0;
  bool reading = true;  // setReading
  bool stopping = false;
  bool auth_refused = false;  // the latest failure refused our credentials

  // From the CONNACK.
  ConnackInfo connack;
  std::chrono::seconds keep_alive{0};
  steady_clock::time_point last_write{};
  bool ping_outstanding = false;
  steady_clock::time_point ping_sent{};

  // Credential.
  std::optional<std::string> credential_data;  // what the last CONNECT or AUTH carried
  std::optional<std::string> credential_method;
  bool reauth_in_progress = false;
  // A change signalled while a re-authentication was in progress: looked at once it completes,
  // so a rotation that lands during one is not lost until the next renewal.
  bool recheck_credential = false;

  // Subscribing.
  size_t acks_awaited = 0;  // SUBACK/UNSUBACK still due
  bool unsubscribing = false;
  std::vector<std::string> retired;

  // Outgoing session state: queue_ not yet on this connection; inflight by send order.
  std::deque<Outgoing> queue;
  std::map<uint64_t, Outgoing> inflight;  // by send order
  // Packet id -> send order in inflight; sized by the window, not by the 65,535 possible ids
  // (a source, which publishes nothing, keeps it empty).
  std::unordered_map<uint16_t, uint64_t> id_to_seq;
  std::unordered_set<uint16_t> sub_ids;  // packet ids used by SUBSCRIBE/UNSUBSCRIBE
  uint64_t next_seq = 1;
  uint16_t next_packet_id = 1;

  // Incoming QoS 1 awaiting their PUBACK, in arrival order.
  struct Incoming {
    uint16_t packet_id = 0;
    bool done = false;
    bool qos1 = true;  // a PUBACK is due (QoS 0 entries only keep the receipts in order)
  };
  std::deque<Incoming> incoming;
  size_t incoming_qos1 = 0;     // QoS 1 entries in `incoming`
  uint64_t incoming_base = 0;  // receipt of incoming.front()
  uint64_t next_receipt = 0;

  // ---- helpers ----
  std::string label() const {
    if (c.settings_.endpoint.empty()) return c.settings_.server_uri;
    return "endpoint \"" + c.settings_.endpoint + "\" (" + c.settings_.server_uri + ")";
  }
  const std::string& role() const { return c.options_.role; }
  LoopThread& loop() { return c.thread_; }

  void cancel(LoopThread::TimerId& id) {
    if (id != 0) loop().cancelTimer(id);
    id = 0;
  }

  std::weak_ptr<MqttClient> weak() { return c.weak_from_this(); }

  // ---- connecting ----
  void connect() {
    if (stopping) return;
    phase = Phase::Preparing;
    ++attempt;
    auth_refused = false;
    c.shared_->connection_attempts.fetch_add(1, std::memory_order_relaxed);
    const uint64_t this_attempt = attempt;
    connect_timer = loop().addTimer(steady_clock::now() + kConnectTimeout, [this, this_attempt] {
      connect_timer = 0;
      if (attempt != this_attempt) return;
      fail("no CONNACK within " + std::to_string(kConnectTimeout.count()) +
           " s (the broker or the network is too slow, or a proxy swallows the connection)");
    });
    // The blocking steps, with copies of what they need: the client may be closed meanwhile.
    c.submitBlocking([weak = weak(), target = c.target_, tls_files = c.settings_.tls,
                      credentials = c.settings_.credentials, label = label(), this_attempt]() {
      auto prepared = std::make_shared<Prepared>(prepare(target, tls_files, credentials, label));
      std::shared_ptr<MqttClient> client = weak.lock();
      if (!client) return;
      client->thread_.post([weak, prepared, this_attempt] {
        std::shared_ptr<MqttClient> alive = weak.lock();
        if (!alive || !alive->impl_) return;
        alive->impl_->onPrepared(std::move(*prepared), this_attempt);
      });
    });
  }

  static Prepared prepare(const net::Target& target, const std::optional<TlsFiles>& tls_files,
                          const std::shared_ptr<CredentialSource>& credentials,
                          const std::string& label) {
    Prepared p;
    Result<std::vector<net::Address>> resolved = net::resolve(target.host, target.port);
    if (!resolved.isOk()) {
      p.status = Status::retriable(label + ": " + resolved.status().message());
      return p;
    }
    p.addresses = std::move(resolved).value();
    if (target.tls) {
      Result<std::shared_ptr<net::TlsContext>> context =
          net::makeTlsContext(tls_files.value_or(TlsFiles{}));
      if (!context.isOk()) {
        p.status = Status::retriable(label + ": " + context.status().message());
        return p;
      }
      p.tls = std::move(context).value();
    }
    if (credentials) {
      Result<Credential> credential = credentials->fetch();
      if (!credential.isOk()) {
        p.status = Status::retriable(label + ": " + credential.status().message());
        p.auth_problem = true;
        return p;
      }
      p.credential = std::move(credential).value();
    }
    return p;
  }

  void onPrepared(Prepared prepared, uint64_t this_attempt) {
    if (this_attempt != attempt || phase != Phase::Preparing) return;
    if (!prepared.status.isOk()) {
      auth_refused = prepared.auth_problem;
      fail(prepared.status.message(), /*labelled=*/true);
      return;
    }
    addresses = std::move(prepared.addresses);
    address_index = 0;
    tls = std::move(prepared.tls);
    if (prepared.credential) {
      credential_method = prepared.credential->method;
      credential_data = prepared.credential->data;
      scheduleRenewal(prepared.credential->renew_at);
    }
    openTransport();
  }

  void openTransport() {
    Result<std::unique_ptr<net::Transport>> opened =
        net::connectTransport(c.target_, addresses[address_index], tls);
    if (!opened.isOk()) {
      fail(opened.status().message());
      return;
    }
    transport = std::move(opened).value();
    phase = Phase::Handshaking;
    interest = EPOLLIN | EPOLLOUT;
    loop().watch(transport->fd(), interest, [this](uint32_t events) { onEvents(events); });
  }

  void closeTransport() {
    if (!transport) return;
    loop().unwatch(transport->fd());
    transport.reset();
    in.clear();
    in.shrink_to_fit();
    in_begin = in_end = 0;
    out.clear();
    out_begin = 0;
    want_write_for_read = false;
  }

  // A connect attempt failed before the connection was up.
  void fail(const std::string& why, bool labelled = false) {
    const std::string what = labelled ? why : label() + ": cannot connect: " + why;
    teardown();
    {
      std::lock_guard lock(c.shared_->health_mutex);
      c.shared_->problem = what;
      c.shared_->authentication_failed = auth_refused;
    }
    failures.failed(what);
    scheduleReconnect();
  }

  // A connection that was up (or subscribing) went down.
  void lost(const std::string& why) {
    const bool was_up = phase == Phase::Up;
    if (phase != Phase::Up && phase != Phase::Subscribing) {
      fail(why);
      return;
    }
    teardown();
    if (was_up) {
      c.shared_->disconnects.fetch_add(1, std::memory_order_relaxed);
      loss_warning.report([&] {
        return "MQTT " + role() + ": connection to " + c.settings_.server_uri + " lost (" + why +
               "); reconnecting";
      });
    } else {
      failures.failed(label() + ": " + why);
    }
    {
      std::lock_guard lock(c.shared_->health_mutex);
      c.shared_->problem = label() + ": " + why;
      c.shared_->authentication_failed = false;
    }
    scheduleReconnect();
  }

  void teardown() {
    cancel(connect_timer);
    cancel(keepalive_timer);
    closeTransport();
    const bool was_up = c.shared_->up.exchange(false);
    // Receipts handed out on this connection can no longer be acknowledged: the broker sends
    // those messages again on the next one.
    incoming.clear();
    incoming_qos1 = 0;
    incoming_base = next_receipt;
    reauth_in_progress = false;
    recheck_credential = false;  // the next CONNECT fetches the credential anyway
    ping_outstanding = false;
    acks_awaited = 0;
    sub_ids.clear();
    if (was_up && callbacks.on_down) callbacks.on_down();
  }

  void scheduleReconnect() {
    if (stopping) {
      finishStop();
      return;
    }
    phase = Phase::Waiting;
    backoff_timer = loop().addTimer(steady_clock::now() + backoff.next(), [this] {
      backoff_timer = 0;
      connect();
    });
  }

  void scheduleRenewal(std::optional<std::chrono::system_clock::time_point> renew_at) {
    cancel(renew_timer);
    if (!renew_at) return;
    const auto wait = *renew_at - std::chrono::system_clock::now();
    if (wait <= std::chrono::seconds(0)) return;  // already past: renewing at once would not help
    renew_timer = loop().addTimer(
        steady_clock::now() + std::chrono::duration_cast<steady_clock::duration>(wait), [this] {
          renew_timer = 0;
          c.logger_->info("MQTT {}: {}: the credential is due for renewal before it expires",
                          role(), label());
          credentialChanged(/*due=*/true);
        });
  }

  // ---- I/O ----
  void onEvents(uint32_t events) {
    if (!transport) return;
    if (phase == Phase::Handshaking) {
      handshake();
      return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || (want_write_for_read && (events & EPOLLOUT))) {
      if (!readSome()) return;
    }
    if (events & EPOLLOUT) {
      if (!flush()) return;
    }
    updateInterest();
  }

  void handshake() {
    net::IoResult r = transport->handshake();
    switch (r.state) {
      case net::IoResult::State::Done:
        sendConnect();
        return;
      case net::IoResult::State::WantRead:
        setInterest(EPOLLIN);
        return;
      case net::IoResult::State::WantWrite:
        setInterest(EPOLLOUT);
        return;
      case net::IoResult::State::Closed:
      case net::IoResult::State::Error:
        if (address_index + 1 < addresses.size()) {
          ++address_index;
          closeTransport();
          openTransport();
          return;
        }
        fail((r.error.empty() ? "the connection closed during the handshake" : r.error) +
             " (no CONNACK)");
        return;
    }
  }

  void setInterest(uint32_t wanted) {
    if (!transport || wanted == interest) return;
    interest = wanted;
    loop().modify(transport->fd(), interest);
  }

  void updateInterest() {
    if (!transport) return;
    uint32_t wanted = 0;
    const bool may_read = reading || phase != Phase::Up;
    if (may_read) wanted |= EPOLLIN;
    if (out_begin < out.size() || transport->hasPendingOutput() || want_write_for_read) {
      wanted |= EPOLLOUT;
    }
    setInterest(wanted);
  }

  // False when the connection went down.
  bool readSome() {
    want_write_for_read = false;
    size_t budget = kReadBudget;
    while (budget > 0 && transport && (reading || phase != Phase::Up)) {
      if (in.size() - in_end < kReadChunk) {
        if (in_begin > 0) {  // keep the partial packet, drop what was parsed
          std::memmove(in.data(), in.data() + in_begin, in_end - in_begin);
          in_end -= in_begin;
          in_begin = 0;
        }
        if (in.size() - in_end < kReadChunk) in.resize(std::max(in.size() * 2, in_end + kReadChunk));
      }
      net::IoResult r = transport->read(in.data() + in_end, in.size() - in_end);
      switch (r.state) {
        case net::IoResult::State::Done:
          in_end += r.bytes;
          budget -= std::min(budget, r.bytes);
          if (!parse()) return false;
          continue;
        case net::IoResult::State::WantRead:
          return true;
        case net::IoResult::State::WantWrite:
          want_write_for_read = true;
          return true;
        case net::IoResult::State::Closed:
          lost("the broker closed the connection");
          return false;
        case net::IoResult::State::Error:
          lost(r.error);
          return false;
      }
    }
    if (budget == 0 && transport) {
      // More may be waiting: come back after the other connections had their turn.
      loop().post([weak = weak()] {
        std::shared_ptr<MqttClient> alive = weak.lock();
        if (alive && alive->impl_ && alive->impl_->transport) alive->impl_->onEvents(EPOLLIN);
      });
    }
    return true;
  }

  // Decodes every whole packet in `in`. False when the connection went down.
  bool parse() {
    while (transport && (reading || phase != Phase::Up) && in_begin < in_end) {
      const std::string_view buffer(in.data() + in_begin, in_end - in_begin);
      const wire::Frame frame = wire::frameAt(buffer, c.options_.maximum_packet_size);
      if (frame.state == wire::Frame::State::Incomplete) break;
      if (frame.state == wire::Frame::State::Error) {
        return protocolError(frame.error.reason_code, frame.error.what);
      }
      wire::Decoded decoded =
          wire::decode(buffer.substr(0, frame.size), wire::Direction::FromServer);
      in_begin += frame.size;
      if (!decoded.packet) return protocolError(decoded.error.reason_code, decoded.error.what);
      if (!handle(std::move(*decoded.packet))) return false;
    }
    if (in_begin == in_end) in_begin = in_end = 0;
    return true;
  }

  // Writes what is buffered. False when the connection went down.
  bool flush() {
    while (transport && (out_begin < out.size() || transport->hasPendingOutput())) {
      net::IoResult r = transport->write(std::string_view(out).substr(out_begin));
      if (r.state == net::IoResult::State::Done) {
        out_begin += r.bytes;
        last_write = steady_clock::now();
        if (r.bytes == 0 && out_begin == out.size()) break;
        continue;
      }
      if (r.state == net::IoResult::State::WantRead || r.state == net::IoResult::State::WantWrite) {
        break;
      }
      lost(r.error.empty() ? "the connection closed while writing" : r.error);
      return false;
    }
    if (out_begin == out.size()) {
      out.clear();
      out_begin = 0;
      if (phase == Phase::Stopping && transport && !transport->hasPendingOutput()) {
        logDisconnected();
        finishStop();
        return false;
      }
      pump();
    }
    return true;
  }

  template <class Packet>
  void send(const Packet& packet) {
    wire::encode(packet, out);
  }

  // Sends what is buffered now; false when the connection went down.
  bool sendNow() {
    if (!flush()) return false;
    updateInterest();
    return true;
  }

  bool protocolError(uint8_t reason_code, const std::string& what) {
    c.logger_->error("MQTT {}: {}: the broker sent a packet this client must refuse: {}; "
                     "disconnecting with {}",
                     role(), label(), what,
                     wire::reasonName(reason_code, wire::PacketType::Disconnect));
    wire::Disconnect disconnect;
    disconnect.reason_code = reason_code;
    out.erase(0, out_begin);
    out_begin = 0;
    send(disconnect);
    // Best effort: one write, then close.
    transport->write(std::string_view(out));
    transport->shutdown();
    lost("disconnected with " + wire::reasonName(reason_code, wire::PacketType::Disconnect) +
         ": " + what);
    return false;
  }

  void sendConnect() {
    wire::Connect connect = connectPacket(c.settings_, nullptr);
    if (credential_method) {
      connect.authentication_method = credential_method;
      connect.authentication_data = credential_data;
    }
    connect.maximum_packet_size = c.options_.maximum_packet_size;
    send(connect);
    phase = Phase::AwaitConnack;
    sendNow();
  }

  // ---- packets ----
  bool handle(wire::Packet&& packet) {
    if (auto* p = std::get_if<wire::Publish>(&packet)) return onPublish(std::move(*p));
    if (auto* p = std::get_if<wire::Ack>(&packet)) return onAck(*p);
    if (auto* p = std::get_if<wire::Connack>(&packet)) return onConnack(*p);
    if (auto* p = std::get_if<wire::Suback>(&packet)) return onSuback(*p);
    if (std::holds_alternative<wire::Pingresp>(packet)) {
      ping_outstanding = false;
      return true;
    }
    if (auto* p = std::get_if<wire::Disconnect>(&packet)) {
      std::string why = "the broker sent DISCONNECT " +
                        wire::reasonName(p->reason_code, wire::PacketType::Disconnect);
      if (p->reason_string) why += " (" + *p->reason_string + ")";
      if (p->server_reference) why += "; it names another server: " + *p->server_reference;
      lost(why);
      return false;
    }
    if (auto* p = std::get_if<wire::Auth>(&packet)) return onAuth(*p);
    return protocolError(wire::reason::kProtocolError, "unexpected packet");
  }

  bool onConnack(const wire::Connack& ack) {
    if (phase != Phase::AwaitConnack) {
      return protocolError(wire::reason::kProtocolError, "a second CONNACK");
    }
    if (ack.reason_code >= wire::reason::kUnspecifiedError) {
      auth_refused = refusesCredentials(ack.reason_code);
      std::string why = "the broker refused the connection: " +
                        wire::reasonName(ack.reason_code, wire::PacketType::Connack);
      if (ack.reason_string) why += " (" + *ack.reason_string + ")";
      if (ack.server_reference) why += "; it names another server: " + *ack.server_reference;
      fail(why);
      return false;
    }
    connack.session_present = ack.session_present;
    connack.receive_maximum = ack.receive_maximum.value_or(65535);
    connack.maximum_packet_size = ack.maximum_packet_size;
    keep_alive = ack.server_keep_alive ? std::chrono::seconds(*ack.server_keep_alive)
                                       : c.settings_.keep_alive;
    startKeepAlive();
    if (ack.maximum_qos && *ack.maximum_qos < c.settings_.subscription_qos &&
        !c.options_.subscriptions.empty()) {
      c.logger_->warn("MQTT {}: {}: the broker supports QoS {} at most (asked {})", role(),
                      label(), *ack.maximum_qos, c.settings_.subscription_qos);
    }
    c.logger_->info("MQTT {}: connected to {} as client id {} (session {})", role(),
                    c.settings_.server_uri, c.settings_.client_id,
                    ack.session_present ? "resumed" : "new");
    restoreSession(ack.session_present);
    return subscribe();
  }

  // After a CONNACK: what was in flight goes again, with DUP on a resumed session (same packet
  // identifiers, in order, MQTT-4.4.0-1) or as new PUBLISHes on a new one (MQTT-3.2.2-5).
  void restoreSession(bool session_present) {
    if (inflight.empty()) return;
    c.shared_->resent.fetch_add(inflight.size(), std::memory_order_relaxed);
    if (!session_present) {
      c.logger_->info("MQTT {}: the broker kept no session; publishing {} unacknowledged "
                      "message(s) again",
                      role(), inflight.size());
      for (auto it = inflight.rbegin(); it != inflight.rend(); ++it) {
        id_to_seq.erase(it->second.publish.packet_id);
        it->second.publish.packet_id = 0;
        it->second.publish.dup = false;
        queue.push_front(std::move(it->second));
      }
      inflight.clear();
      return;
    }
    for (auto& [seq, entry] : inflight) {
      entry.publish.dup = true;
      send(entry.publish);
    }
  }

  bool subscribe() {
    const Options& o = c.options_;
    if (o.subscriptions.empty()) return unsubscribeRetired();
    wire::Subscribe sub;
    sub.packet_id = allocateSubId();
    sub.subscriptions = o.subscriptions;
    send(sub);
    acks_awaited = 1;
    unsubscribing = false;
    phase = Phase::Subscribing;
    return sendNow();
  }

  bool unsubscribeRetired() {
    if (retired.empty()) return goUp();
    wire::Unsubscribe unsub;
    unsub.packet_id = allocateSubId();
    unsub.filters = retired;
    send(unsub);
    acks_awaited = 1;
    unsubscribing = true;
    phase = Phase::Subscribing;
    return sendNow();
  }

  uint16_t allocateSubId() {
    while (true) {
      const uint16_t id = nextPacketId();
      if (!id_to_seq.contains(id) && sub_ids.insert(id).second) return id;
    }
  }

  uint16_t nextPacketId() {
    const uint16_t id = next_packet_id;
    next_packet_id = next_packet_id == 65535 ? 1 : next_packet_id + 1;
    return id;
  }

  bool onSuback(const wire::Suback& ack) {
    if (phase != Phase::Subscribing || acks_awaited == 0 || !sub_ids.contains(ack.packet_id)) {
      return protocolError(wire::reason::kProtocolError,
                           std::string(wire::toString(ack.type)) + " for no pending request");
    }
    sub_ids.erase(ack.packet_id);
    --acks_awaited;
    if (!unsubscribing) {
      const auto& subs = c.options_.subscriptions;
      std::string refused;
      for (size_t i = 0; i < ack.reason_codes.size() && i < subs.size(); ++i) {
        const uint8_t code = ack.reason_codes[i];
        if (code >= wire::reason::kUnspecifiedError) {
          refused += (refused.empty() ? "" : "; ") + subs[i].filter + ": " +
                     wire::reasonName(code, wire::PacketType::Suback);
        } else if (code < subs[i].qos) {
          c.logger_->warn("MQTT {}: the broker granted QoS {} for {} (asked {})", role(),
                          static_cast<int>(code), subs[i].filter, subs[i].qos);
        }
      }
      if (ack.reason_codes.size() != subs.size()) {
        return protocolError(wire::reason::kProtocolError,
                             "SUBACK with " + std::to_string(ack.reason_codes.size()) +
                                 " reason codes for " + std::to_string(subs.size()) + " filters");
      }
      if (!refused.empty()) {
        disconnectAndRetry("subscribing failed: " + refused);
        return false;
      }
      std::string names;
      for (const auto& s : subs) names += (names.empty() ? "" : ", ") + s.filter;
      c.logger_->info("MQTT {}: subscribed to {} at QoS {}", role(), names,
                      c.settings_.subscription_qos);
      return unsubscribeRetired();
    }
    std::string names;
    for (const auto& f : retired) names += (names.empty() ? "" : ", ") + f;
    c.logger_->info("MQTT {}: unsubscribed from {} (no longer among this dataflow's filters)",
                    role(), names);
    retired.clear();
    return goUp();
  }

  // A refusal after CONNACK: DISCONNECT (normal), then retry with backoff.
  void disconnectAndRetry(const std::string& why) {
    wire::Disconnect disconnect;
    send(disconnect);
    transport->write(std::string_view(out).substr(out_begin));
    transport->shutdown();
    phase = Phase::AwaitConnack;  // counts as a failed attempt, not a lost connection
    fail(why);
  }

  bool goUp() {
    phase = Phase::Up;
    cancel(connect_timer);
    backoff.reset();
    failures.succeeded();
    {
      std::lock_guard lock(c.shared_->health_mutex);
      c.shared_->problem.clear();
      c.shared_->authentication_failed = false;
    }
    c.shared_->up.store(true);
    if (callbacks.on_up) callbacks.on_up(connack);
    pump();
    return sendNow();
  }

  bool onPublish(wire::Publish&& publish) {
    if (publish.topic_alias) {
      return protocolError(wire::reason::kTopicAliasInvalid,
                           "PUBLISH with a Topic Alias (this client allows none)");
    }
    if (publish.qos > 1) {
      return protocolError(wire::reason::kQosNotSupported,
                           "PUBLISH at QoS 2 (this client subscribes at QoS 1 at most)");
    }
    // Every PUBLISH gets the next receipt (its receive order); a QoS 0 one needs no PUBACK, so it
    // is complete at once and only holds its place while earlier QoS 1 ones are open.
    const uint64_t receipt = next_receipt++;
    if (publish.qos == 1) {
      if (++incoming_qos1 > c.settings_.receive_maximum) {
        // MQTT-3.3.4-9 forbids it, but mosquitto 2.0.11 does it (by one, now and then, while
        // PUBACKs flow). Disconnecting (0x93) would turn a harmless overshoot into a reconnect
        // loop; memory stays bounded by the source's watermarks, which stop reading.
        excess_warning.report([&] {
          return "MQTT " + role() + ": " + label() + ": the broker sent more than our Receive " +
                 "Maximum of " + std::to_string(c.settings_.receive_maximum) +
                 " unacknowledged QoS 1 PUBLISHes (" + std::to_string(incoming_qos1) +
                 "); accepted";
        });
      }
      incoming.push_back({publish.packet_id, false, true});
    } else if (incoming.empty()) {
      incoming_base = next_receipt;
    } else {
      incoming.push_back({0, true, false});
    }
    if (callbacks.on_message) {
      callbacks.on_message(std::move(publish), receipt);
    } else {
      acknowledge(receipt);  // nobody to hand it to (a destination's connection)
    }
    return true;
  }

  void acknowledge(uint64_t receipt) {
    if (receipt < incoming_base || receipt - incoming_base >= incoming.size()) return;
    incoming[receipt - incoming_base].done = true;
    bool any = false;
    while (!incoming.empty() && incoming.front().done) {
      if (incoming.front().qos1) {
        wire::Ack ack;
        ack.packet_id = incoming.front().packet_id;
        send(ack);
        --incoming_qos1;
        any = true;
      }
      incoming.pop_front();
      ++incoming_base;
    }
    if (any) sendNow();
  }

  bool onAck(const wire::Ack& ack) {
    if (ack.type != wire::PacketType::Puback) {
      return protocolError(wire::reason::kProtocolError,
                           std::string(wire::toString(ack.type)) + " (this client uses no QoS 2)");
    }
    const auto found = id_to_seq.find(ack.packet_id);
    if (found == id_to_seq.end()) return true;  // not ours (any more): nothing to complete
    const uint64_t seq = found->second;
    id_to_seq.erase(found);
    auto it = inflight.find(seq);
    if (it == inflight.end()) return true;
    Outgoing entry = std::move(it->second);
    inflight.erase(it);
    if (ack.reason_code >= wire::reason::kUnspecifiedError) {
      std::string why =
          "the broker answered PUBACK " + wire::reasonName(ack.reason_code, wire::PacketType::Puback);
      if (ack.reason_string) why += " (" + *ack.reason_string + ")";
      complete(entry, PublishResult{PublishResult::Kind::Refused, std::move(why), {}});
    } else {
      complete(entry, PublishResult{});
    }
    pump();
    return sendNow();
  }

  bool onAuth(const wire::Auth& auth) {
    if (auth.reason_code == kSuccess && reauth_in_progress) {
      reauth_in_progress = false;
      c.logger_->info("MQTT {}: {}: re-authenticated with the renewed credential", role(),
                      label());
      if (recheck_credential) {
        recheck_credential = false;
        credentialChanged();
      }
      return true;
    }
    return protocolError(wire::reason::kProtocolError,
                         "AUTH " + wire::reasonName(auth.reason_code, wire::PacketType::Auth) +
                             (reauth_in_progress ? " (only single-step methods are supported)"
                                                 : " without a re-authentication in progress"));
  }

  void complete(Outgoing& entry, PublishResult result) {
    if (!entry.done) return;
    if (result.kind != PublishResult::Kind::Delivered) result.topic = entry.publish.topic;
    PublishDone done = std::move(entry.done);
    done(result);
  }

  // Moves queued publishes into the write buffer while the connection and the window allow.
  void pump() {
    if (phase != Phase::Up) return;
    // What was written leaves the front of the buffer before more is appended. Under a steady
    // flow the buffer may never drain completely, and appending behind the written bytes grew it
    // without bound (heaptrack: 32 MiB for Kafka -> MQTT QoS 0 with 8 properties).
    if (out_begin > 0 && out_begin >= out.size() / 2) {
      out.erase(0, out_begin);
      out_begin = 0;
    }
    const size_t window = std::max<size_t>(
        1, std::min<size_t>(c.options_.max_outgoing_inflight, connack.receive_maximum));
    while (!queue.empty() && out.size() - out_begin < kWriteHighWater) {
      Outgoing& front = queue.front();
      if (front.publish.qos == 1 && inflight.size() >= window) break;
      Outgoing entry = std::move(front);
      queue.pop_front();
      if (entry.expires) {
        const std::optional<uint32_t> remaining =
            remainingSeconds(*entry.expires, c.clock_.steadyNow());
        if (!remaining) {
          complete(entry, PublishResult{PublishResult::Kind::Expired, {}, {}});
          continue;
        }
        auto& interval = entry.publish.properties.message_expiry_interval;
        if (!interval || *remaining < *interval) interval = *remaining;
      }
      if (connack.maximum_packet_size) {
        const size_t size = wire::encodedSize(entry.publish);
        if (size > *connack.maximum_packet_size) {
          complete(entry, PublishResult{PublishResult::Kind::Refused,
                                        "its PUBLISH of " + std::to_string(size) +
                                            " bytes exceeds the broker's Maximum Packet Size " +
                                            std::to_string(*connack.maximum_packet_size),
                                        {}});
          continue;
        }
      }
      if (entry.sent_before) c.shared_->resent.fetch_add(1, std::memory_order_relaxed);
      if (entry.publish.qos == 0) {
        send(entry.publish);
        complete(entry, PublishResult{});
        continue;
      }
      uint16_t id = 0;
      do {
        id = nextPacketId();
      } while (id_to_seq.contains(id) || sub_ids.contains(id));
      entry.publish.packet_id = id;
      entry.sent_before = true;
      send(entry.publish);
      const uint64_t seq = next_seq++;
      id_to_seq[id] = seq;
      inflight.emplace(seq, std::move(entry));
      size_t seen = c.shared_->max_inflight.load(std::memory_order_relaxed);
      if (inflight.size() > seen) c.shared_->max_inflight.store(inflight.size());
    }
  }

  // ---- keep alive ----
  void startKeepAlive() {
    cancel(keepalive_timer);
    if (keep_alive.count() == 0) return;
    last_write = steady_clock::now();
    armKeepAlive();
  }
  void armKeepAlive() {
    const auto period = std::max<steady_clock::duration>(std::chrono::seconds(1), keep_alive / 2);
    keepalive_timer = loop().addTimer(steady_clock::now() + period, [this] {
      keepalive_timer = 0;
      onKeepAlive();
    });
  }
  void onKeepAlive() {
    if (!transport) return;
    const steady_clock::time_point now = steady_clock::now();
    if (ping_outstanding && now - ping_sent >= keep_alive) {
      if (reading || phase != Phase::Up) {
        lost("no PINGRESP within the keep alive of " + std::to_string(keep_alive.count()) +
             " s: the broker or the network stopped answering");
        return;
      }
      ping_sent = now;  // not reading on purpose: the answer waits in the socket
    }
    if (!ping_outstanding && now - last_write >= keep_alive / 2) {
      send(wire::Pingreq{});
      ping_outstanding = true;
      ping_sent = now;
      if (!sendNow()) return;
    }
    armKeepAlive();
  }

  // ---- credentials ----
  // `due`: at the credential's renew_at, re-authenticate even with the same data (the broker
  // checks it again and extends what it allows); otherwise only when the data changed.
  void credentialChanged(bool due = false) {
    if (phase != Phase::Up || !c.settings_.credentials) return;
    if (reauth_in_progress) {
      recheck_credential = true;
      return;
    }
    const uint64_t this_attempt = attempt;
    c.submitBlocking([weak = weak(), credentials = c.settings_.credentials, this_attempt, due] {
      auto fetched = std::make_shared<Result<Credential>>(credentials->fetch());
      std::shared_ptr<MqttClient> client = weak.lock();
      if (!client) return;
      client->thread_.post([weak, fetched, this_attempt, due] {
        std::shared_ptr<MqttClient> alive = weak.lock();
        if (!alive || !alive->impl_) return;
        alive->impl_->reauthenticate(*fetched, this_attempt, due);
      });
    });
  }

  void reauthenticate(const Result<Credential>& credential, uint64_t this_attempt, bool due) {
    if (this_attempt != attempt || phase != Phase::Up) return;
    if (!credential.isOk()) {
      c.logger_->warn("MQTT {}: {}: {}; keeping the current connection", role(), label(),
                      credential.status().message());
      return;
    }
    scheduleRenewal(credential.value().renew_at);
    if (!due && credential.value().data == credential_data &&
        credential.value().method == credential_method) {
      return;
    }
    credential_method = credential.value().method;
    credential_data = credential.value().data;
    wire::Auth auth;
    auth.reason_code = wire::reason::kReAuthenticate;
    auth.authentication_method = credential_method;
    auth.authentication_data = credential_data;
    send(auth);
    reauth_in_progress = true;
    if (due) {
      c.logger_->info("MQTT {}: {}: re-authenticating with a freshly fetched credential", role(),
                      label());
    } else {
      c.logger_->info("MQTT {}: {}: re-authenticating ({} changed)", role(), label(),
                      c.settings_.credentials->describe());
    }
    sendNow();
  }

  // ---- stopping ----
  void stop() {
    if (stopping) return;
    stopping = true;
    reading = false;
    cancel(backoff_timer);
    cancel(renew_timer);
    cancel(keepalive_timer);
    const bool connected_now =
        transport && (phase == Phase::Up || phase == Phase::Subscribing);
    if (!connected_now) {
      teardown();
      finishStop();
      return;
    }
    wire::Disconnect disconnect;
    const bool end_session = c.shared_->end_session_at_stop.load();
    if (end_session) disconnect.session_expiry_interval = 0;
    send(disconnect);
    phase = Phase::Stopping;
    stop_timer = loop().addTimer(steady_clock::now() + kStopBudget, [this] {
      stop_timer = 0;
      c.logger_->warn("MQTT {}: DISCONNECT to {} not written within {} ms", role(),
                      c.settings_.server_uri, kStopBudget.count());
      finishStop();
    });
    if (flush()) updateInterest();
  }

  // The stop's DISCONNECT has been written.
  void logDisconnected() {
    if (c.shared_->end_session_at_stop.load()) {
      c.logger_->info("MQTT {}: disconnected from {} (stopped) and ended the session (Session "
                      "Expiry Interval 0): the broker keeps nothing for this client",
                      role(), c.settings_.server_uri);
    } else {
      c.logger_->info("MQTT {}: disconnected from {} (stopped); the broker keeps the session for "
                      "{} s",
                      role(), c.settings_.server_uri, c.settings_.session_expiry_seconds);
    }
  }

  void finishStop() {
    cancel(stop_timer);
    cancel(connect_timer);
    if (transport) transport->shutdown();
    const bool was_up = c.shared_->up.exchange(false);
    closeTransport();
    phase = Phase::Stopped;
    if (was_up && callbacks.on_down) callbacks.on_down();
    {
      std::lock_guard lock(c.shared_->stop_mutex);
      c.shared_->stopped = true;
    }
    c.shared_->stop_changed.notify_all();
  }

  // Close: everything not reported is Abandoned; no callback after this.
  void abandonAll() {
    std::map<uint64_t, Outgoing> sent = std::move(inflight);
    std::deque<Outgoing> waiting = std::move(queue);
    const PublishResult abandoned{PublishResult::Kind::Abandoned, "the client was closed", {}};
    for (auto& [seq, entry] : sent) complete(entry, abandoned);
    for (Outgoing& entry : waiting) complete(entry, abandoned);
    cancel(backoff_timer);
    cancel(renew_timer);
    cancel(keepalive_timer);
    cancel(connect_timer);
    cancel(stop_timer);
    closeTransport();
    callbacks = Callbacks();
  }
};

Result<std::shared_ptr<MqttClient>> MqttClient::create(ClientSettings settings, Options options,
                                                       const Clock& clock,
                                                       std::shared_ptr<spdlog::logger> logger,
                                                       EventLoop& loop) {
  Result<net::Target> target = net::parseServerUri(settings.server_uri);
  if (!target.isOk()) return target.status();
  if (target.value().tls && !settings.tls) settings.tls.emplace();
  if (!logger) logger = spdlog::default_logger();
  return std::shared_ptr<MqttClient>(new MqttClient(std::move(settings), std::move(target).value(),
                                                    std::move(options), clock, std::move(logger),
                                                    loop));
}

MqttClient::MqttClient(ClientSettings settings, net::Target target, Options options,
                       const Clock& clock, std::shared_ptr<spdlog::logger> logger, EventLoop& loop)
    : settings_(std::move(settings)),
      target_(std::move(target)),
      options_(std::move(options)),
      clock_(clock),
      logger_(std::move(logger)),
      loop_(loop),
      thread_(loop.pick()),
      shared_(std::make_shared<Shared>()) {}

MqttClient::~MqttClient() {
  close();
  loop_.release(thread_);
}

// close() waits for these: a credential source or TLS file read must not run on after its client
// is gone (at exit it would outlive the statics it uses).
void MqttClient::submitBlocking(std::function<void()> task) {
  {
    std::lock_guard lock(shared_->stop_mutex);
    ++shared_->blocking_tasks;
  }
  loop_.blocking().submit([shared = shared_, task = std::move(task)] {
    t_in_blocking_task = true;
    task();  // may drop the last reference to the client: its close() then does not wait
    t_in_blocking_task = false;
    // Notified under the lock: the waiting close() may destroy `shared` as soon as it sees 0.
    std::lock_guard lock(shared->stop_mutex);
    --shared->blocking_tasks;
    shared->stop_changed.notify_all();
  });
}

void MqttClient::runOnLoop(const std::function<void()>& task) {
  if (thread_.inLoop()) {
    task();
    return;
  }
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;
  thread_.post([&] {
    task();
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    done_changed.notify_all();
  });
  std::unique_lock lock(mutex);
  done_changed.wait(lock, [&] { return done; });
}

Status MqttClient::start(Callbacks callbacks) {
  if (shared_->started.exchange(true)) {
    return Status::fatal("MQTT " + options_.role + " client started twice");
  }
  runOnLoop([&] {
    impl_ = std::make_unique<Impl>(*this, std::move(callbacks));
    impl_->retired = options_.retired_filters;
    impl_->connect();
  });
  if (settings_.credentials) {
    const Status watching = settings_.credentials->watch([weak = weak_from_this()] {
      std::shared_ptr<MqttClient> client = weak.lock();
      if (!client) return;
      client->thread_.post([weak] {
        std::shared_ptr<MqttClient> alive = weak.lock();
        if (alive && alive->impl_) alive->impl_->credentialChanged();
      });
    });
    if (!watching.isOk()) {
      logger_->warn("MQTT {}: {}: {}; the credential is renewed only when it is due or after a "
                    "reconnect",
                    options_.role, settings_.server_uri, watching.message());
    }
  }
  return Status::ok();
}

void MqttClient::submit(Request&& request) {
  bool post = false;
  {
    std::lock_guard lock(shared_->requests_mutex);
    shared_->requests.push_back(std::move(request));
    post = !shared_->wake_posted;
    shared_->wake_posted = true;
  }
  if (post) {
    thread_.post([weak = weak_from_this()] {
      if (std::shared_ptr<MqttClient> alive = weak.lock()) alive->drainRequests();
    });
  }
}

void MqttClient::drainRequests() {
  std::vector<Request> requests;
  {
    std::lock_guard lock(shared_->requests_mutex);
    requests.swap(shared_->requests);
    shared_->wake_posted = false;
  }
  if (!impl_) {
    for (Request& r : requests) {
      if (r.done) {
        r.done(PublishResult{PublishResult::Kind::Abandoned, "the client was closed",
                             std::move(r.publish.topic)});
      }
    }
    return;
  }
  bool reading_changed = false;
  for (Request& r : requests) {
    switch (r.kind) {
      case Request::Kind::Publish:
        impl_->queue.push_back(Impl::Outgoing{std::move(r.publish), r.expires, std::move(r.done)});
        break;
      case Request::Kind::Ack:
        impl_->acknowledge(r.receipt);
        break;
      case Request::Kind::Reading:
        if (!impl_->stopping) {
          impl_->reading = r.reading;
          reading_changed = true;
        }
        break;
    }
    if (!impl_) return;
  }
  impl_->pump();
  if (impl_->transport) {
    if (!impl_->sendNow()) return;
    if (reading_changed && impl_->reading && impl_->transport) {
      // Bytes may already wait in our buffer or the socket (edge cases of TLS buffering).
      if (impl_->parse() && impl_->transport) impl_->onEvents(EPOLLIN);
    }
  }
}

void MqttClient::publish(wire::Publish publish,
                         std::optional<std::chrono::steady_clock::time_point> expires,
                         PublishDone done) {
  Request r;
  r.kind = Request::Kind::Publish;
  r.publish = std::move(publish);
  r.expires = expires;
  r.done = std::move(done);
  submit(std::move(r));
}

void MqttClient::acknowledge(uint64_t receipt) {
  Request r;
  r.kind = Request::Kind::Ack;
  r.receipt = receipt;
  submit(std::move(r));
}

void MqttClient::setReading(bool reading) {
  if (!reading && thread_.inLoop()) {
    // From a callback (the source's on_message): stop at once, before the next packet of the
    // buffer is handed over, so the source's watermark is an exact bound.
    if (impl_) impl_->reading = false;
    return;
  }
  Request r;
  r.kind = Request::Kind::Reading;
  r.reading = reading;
  submit(std::move(r));
}

void MqttClient::endSessionAtStop() { shared_->end_session_at_stop.store(true); }

void MqttClient::stop() {
  std::lock_guard close_lock(close_mutex_);
  if (!shared_->started.load()) return;
  const steady_clock::time_point deadline = steady_clock::now() + kStopBudget;
  thread_.post([weak = weak_from_this()] {
    std::shared_ptr<MqttClient> alive = weak.lock();
    if (alive && alive->impl_) alive->impl_->stop();
  });
  if (thread_.inLoop()) return;
  std::unique_lock lock(shared_->stop_mutex);
  shared_->stop_changed.wait_until(lock, deadline + std::chrono::milliseconds(500),
                                   [&] { return shared_->stopped; });
}

void MqttClient::close() {
  if (shared_->closed.exchange(true)) return;
  if (shared_->started.load()) {
    if (!thread_.inLoop()) stop();
    runOnLoop([&] {
      if (!impl_) return;
      if (!impl_->stopping) impl_->stop();
      if (impl_->phase != Impl::Phase::Stopped) impl_->finishStop();
      impl_->abandonAll();
      impl_.reset();
      drainRequests();  // reports publishes submitted meanwhile as Abandoned
    });
    // Blocking steps still running (a token request up to its own timeout): as the connection
    // thread of paho's days was joined, so are they.
    if (!t_in_blocking_task) {
      std::unique_lock lock(shared_->stop_mutex);
      shared_->stop_changed.wait(lock, [&] { return shared_->blocking_tasks == 0; });
    }
  }
  if (settings_.credentials) settings_.credentials->watch(nullptr);
}

bool MqttClient::connected() const { return shared_->up.load(); }

uint64_t MqttClient::resentCount() const {
  return shared_->resent.load(std::memory_order_relaxed);
}

size_t MqttClient::maxInflight() const {
  return shared_->max_inflight.load(std::memory_order_relaxed);
}

ConnectionHealth MqttClient::health() const {
  ConnectionHealth h;
  if (shared_->up.load()) {
    h = healthOf(true);
  } else {
    std::lock_guard lock(shared_->health_mutex);
    h = healthOf(false, shared_->authentication_failed, shared_->problem);
  }
  h.connection_attempts = shared_->connection_attempts.load(std::memory_order_relaxed);
  h.disconnects = shared_->disconnects.load(std::memory_order_relaxed);
  h.messages_resent = shared_->resent.load(std::memory_order_relaxed);
  return h;
}

}  // namespace dataflow::mqtt
