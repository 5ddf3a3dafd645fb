#include "connectors/kafka/kafka_destination.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "engine/core/backoff.h"
#include "engine/core/murmur2.h"
#include "engine/runtime/log_fields.h"

namespace dataflow::kafka {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kPollTimeoutMs = 100;  // how long the delivery thread may sleep in one poll
constexpr auto kWarningInterval = std::chrono::seconds(10);
// A sender waiting for queue space re-checks at least this often even without a wake-up.
constexpr auto kSpaceWaitSlice = milliseconds(100);
constexpr auto kMetadataTimeout = milliseconds(1000);
constexpr auto kMetadataRetryInitial = milliseconds(100);
constexpr auto kMetadataRetryMax = milliseconds(5000);
// While no broker is known to be up: how often a metadata probe asks, and how often what
// librdkafka queues again (failed requests) is taken back.
constexpr auto kProbeInterval = std::chrono::seconds(2);

const Clock& systemClock() {
  static const SystemClock clock;
  return clock;
}

Status closedStatus() { return Status::retriable("the Kafka destination is closing"); }

std::string bootstrapOf(const ProducerConfig& config) {
  const std::string* servers = findProperty(config, "bootstrap.servers");
  return servers ? *servers : std::string();
}

// An integer property of `config`, or librdkafka's default when the list does not set it.
size_t integerProperty(const ProducerConfig& config, const char* name, size_t fallback) {
  const std::string* value = findProperty(config, name);
  return value ? std::stoull(*value) : fallback;
}

HeadersHandle makeHeaders(const std::vector<Property>& properties) {
  if (properties.empty()) return nullptr;
  HeadersHandle headers(rd_kafka_headers_new(properties.size()));
  for (const Property& p : properties) {
    rd_kafka_header_add(headers.get(), p.name.data(), static_cast<ssize_t>(p.name.size()),
                        p.value.data(), static_cast<ssize_t>(p.value.size()));
  }
  return headers;
}

std::string refusalReason(const std::string& topic, rd_kafka_resp_err_t error, size_t payload_size) {
  std::string reason = "Kafka refused the message for topic \"" + topic + "\": ";
  if (error == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
    return reason + "its " + std::to_string(payload_size) +
           "-byte payload with key and headers exceeds message.max.bytes (" +
           std::to_string(kMessageMaxBytes) + ")";
  }
  return reason + rd_kafka_err2str(error);
}


}  // namespace

std::string KafkaDestination::fatalReason(rd_kafka_t* producer) {
  char reason[512];
  if (rd_kafka_fatal_error(producer, reason, sizeof reason) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "librdkafka reported a fatal error";
  }
  return reason;
}

KafkaDestination::KafkaDestination(Options options)
    : config_(std::move(options.config)),
      bootstrap_servers_(bootstrapOf(config_)),
      logger_(options.logger ? std::move(options.logger) : spdlog::default_logger()),
      oauthbearer_(std::move(options.oauthbearer)),
      clock_(options.clock ? *options.clock : systemClock()),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      refused_warning_(clock_, warning_sink_, kWarningInterval),
      metadata_warning_(clock_, warning_sink_, kWarningInterval),
      expired_warning_(clock_, warning_sink_, kWarningInterval),
      diagnostics_(std::move(options.endpoint_name), config_, clock_, warning_sink_),
      max_in_flight_messages_(integerProperty(config_, "queue.buffering.max.messages", 100'000)),
      max_in_flight_bytes_(1024 *
                           integerProperty(config_, "queue.buffering.max.kbytes", 1'048'576)) {}

KafkaDestination::~KafkaDestination() { close(); }

Status KafkaDestination::start(DeliveryHandler& handler) {
  if (producer_ || closed_.load()) return Status::fatal("the Kafka destination was started twice");
  if (Status status = createProducer(); !status.isOk()) return status;
  handler_ = &handler;
  started_.store(true);
  logger_->info("Kafka producer started: {}", describe(config_));
  if (logger_->should_log(spdlog::level::debug)) {
    logger_->debug("Kafka producer effective configuration: {}",
                   describe(effectiveConfig(producer_.get())));
  }
  delivery_thread_ = std::thread([this] { deliveryLoop(); });
  return Status::ok();
}

// The runtime's thread (start) or the delivery thread holding client_mutex_ (restart).
Status KafkaDestination::createProducer() {
  // Log lines go to the main queue, so they too are served by the delivery thread's poll.
  ClientCallbacks callbacks;
  callbacks.opaque = this;
  callbacks.on_error = &KafkaDestination::onError;
  callbacks.on_log = &KafkaDestination::onLog;
  callbacks.on_certificate = &KafkaDestination::onCertificate;
  Result<ConfHandle> conf = makeClientConf(config_, callbacks);
  if (!conf.isOk()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &KafkaDestination::onDeliveryReport);
  rd_kafka_conf_set_stats_cb(conf.value().get(), &KafkaDestination::onStatistics);
  if (oauthbearer_) enableOAuthBearer(conf.value().get(), &KafkaDestination::onTokenRefresh);
  Result<ClientHandle> producer = newClient(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer.isOk()) return producer.status();
  if (oauthbearer_) {
    if (Status s = startOAuthBearerRefresh(producer.value().get()); !s.isOk()) return s;
  }
  producer_ = std::move(producer).value();
  rd_kafka_set_log_queue(producer_.get(), nullptr);
  topics_ = std::make_unique<TopicTable>(producer_.get(), clock_);
  return Status::ok();
}

bool KafkaDestination::awaitCapacity(size_t bytes) {
  auto has_room = [&] {
    const size_t messages = in_flight_.load();
    return closed_.load() ||
           (messages < max_in_flight_messages_ &&
            (messages == 0 || in_flight_bytes_.load() + bytes <= max_in_flight_bytes_));
  };
  while (!has_room()) waitUntil(steady_clock::now() + kSpaceWaitSlice, has_room);
  return !closed_.load();
}

Status KafkaDestination::send(Message&& message) {
  // Counted so that close() can wait until no thread is inside librdkafka with this producer.
  struct Active {
    KafkaDestination& self;
    explicit Active(KafkaDestination& s) : self(s) { self.active_senders_.fetch_add(1); }
    ~Active() {
      if (self.active_senders_.fetch_sub(1) == 1 && self.closed_.load()) self.notifyWaiters();
    }
  } active(*this);
  if (closed_.load()) return closedStatus();
  if (!started_.load()) return Status::fatal("send() on a Kafka destination that was not started");
  // The bound holds for parked messages too (librdkafka's QUEUE_FULL only sees what it holds).
  if (!awaitCapacity(message.payload.size())) return closedStatus();
  InFlight* slot = acquireSlot();
  slot->message = std::move(message);
  const size_t payload_size = slot->message.payload.size();
  in_flight_.fetch_add(1);
  in_flight_bytes_.fetch_add(payload_size);
  // Not taken: the caller keeps its message.
  auto give_back = [&](Status status) {
    in_flight_.fetch_sub(1);
    in_flight_bytes_.fetch_sub(payload_size);
    message = std::move(slot->message);
    releaseSlot(slot);
    return status;
  };
  Backoff metadata_backoff(kMetadataRetryInitial, kMetadataRetryMax);
  bool refresh_metadata = false;
  for (;;) {
    std::shared_lock client(client_mutex_);
    if (closed_.load()) return give_back(closedStatus());
    if (parking_.load()) {
      park(slot);
      return Status::ok();
    }
    const uint64_t polls_before = polls_.load();
    Status refused;
    switch (produce(*slot, refresh_metadata, refused)) {
      case Attempt::Produced:
        return Status::ok();
      case Attempt::Refused:
        return give_back(std::move(refused));
      case Attempt::ClientFatal:
        requestRestart(fatalReason(producer_.get()));
        park(slot);
        return Status::ok();
      case Attempt::QueueFull:
        // Backpressure: wait for the delivery thread to serve reports (or for close()).
        client.unlock();
        waitUntil(steady_clock::now() + kSpaceWaitSlice,
                  [&] { return closed_.load() || polls_.load() != polls_before; });
        break;
      case Attempt::NoMetadata:
        client.unlock();
        metadata_warning_.report([&] {
          return "Static partitioning waits for the partition count of Kafka topic \"" +
                 slot->message.topic + "\": " + refused.message();
        });
        waitUntil(steady_clock::now() + metadata_backoff.next(), [&] { return closed_.load(); });
        refresh_metadata = true;
        break;
    }
  }
}

KafkaDestination::Attempt KafkaDestination::produce(InFlight& slot, bool refresh_metadata,
                                                    Status& refusal) {
  const Message& message = slot.message;
  Result<TopicTable::Topic*> found = topics_->get(message.topic);
  if (!found.isOk()) {
    refusal = found.status();
    return Attempt::Refused;
  }
  TopicTable::Topic& topic = *found.value();
  bool refreshed = false;
  const void* key = message.key ? message.key->data() : nullptr;  // data() of "" is non-null
  const size_t key_size = message.key ? message.key->size() : 0;
  for (;;) {
    if (message.partition && (slot.partition == RD_KAFKA_PARTITION_UA || refresh_metadata)) {
      Result<int32_t> count = topics_->partitionCount(topic, refresh_metadata, kMetadataTimeout);
      if (!count.isOk()) {
        refusal = count.status();
        return Attempt::NoMetadata;
      }
      slot.partition = staticPartition(static_cast<uint32_t>(*message.partition), count.value());
      refresh_metadata = false;
    }
    HeadersHandle headers = makeHeaders(message.properties);
    slot.in_client = true;  // before producev: its report may be served before it returns
    const rd_kafka_resp_err_t error = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_RKT(topic.handle()), RD_KAFKA_V_PARTITION(slot.partition),
        RD_KAFKA_V_VALUE(const_cast<char*>(message.payload.data()), message.payload.size()),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_TIMESTAMP(message.timestamp_ms),
        RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_OPAQUE(&slot), RD_KAFKA_V_END);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)headers.release();  // librdkafka owns them now
      return Attempt::Produced;
    }
    slot.in_client = false;
    switch (error) {
      case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return Attempt::QueueFull;
      case RD_KAFKA_RESP_ERR__FATAL:
        return Attempt::ClientFatal;
      case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        // The topic shrank or the cached count is stale: ask the cluster once more.
        if (message.partition && !refreshed) {
          refreshed = refresh_metadata = true;
          continue;
        }
        [[fallthrough]];
      default:
        refusal = Status::fatal(refusalReason(topic.name(), error, message.payload.size()));
        return Attempt::Refused;
    }
  }
}

KafkaDestination::InFlight* KafkaDestination::acquireSlot() {
  std::lock_guard lock(mutex_);
  InFlight* slot = nullptr;
  if (free_slots_.empty()) {
    slot = &slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  slot->order = next_order_++;
  slot->partition = RD_KAFKA_PARTITION_UA;
  slot->in_client = false;
  slot->maybe_sent = false;
  return slot;
}

void KafkaDestination::releaseSlot(InFlight* slot) {
  slot->message = Message();  // frees the payload now, not when the slot is reused
  std::lock_guard lock(mutex_);
  free_slots_.push_back(slot);
}

// A parked message always has parking_ set with it, so the delivery thread produces it again even
// when it arrives just after the parked list was emptied.
void KafkaDestination::park(InFlight* slot) {
  slot->in_client = false;
  std::lock_guard lock(mutex_);
  parked_.emplace(slot->order, slot);
  parking_.store(true);
}

template <class Done>
bool KafkaDestination::waitUntil(steady_clock::time_point deadline, Done done) {
  std::unique_lock lock(mutex_);
  waiters_.fetch_add(1);
  const bool result = changed_.wait_until(lock, deadline, done);
  waiters_.fetch_sub(1);
  return result;
}

void KafkaDestination::notifyWaiters() {
  { std::lock_guard lock(mutex_); }  // a waiter is either before its check or inside wait
  changed_.notify_all();
}

size_t KafkaDestination::flush(milliseconds timeout) {
  if (!delivery_thread_.joinable()) return in_flight_.load();
  flush_requests_.fetch_add(1);
  waitUntil(steady_clock::now() + timeout,
            [&] { return in_flight_.load() == 0 || stopping_.load(); });
  flush_requests_.fetch_sub(1);
  return in_flight_.load();
}

void KafkaDestination::close() {
  std::lock_guard close_lock(close_mutex_);
  closed_.store(true);
  notifyWaiters();
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return active_senders_.load() == 0; });
  }
  stopping_.store(true);
  if (delivery_thread_.joinable()) delivery_thread_.join();
  handler_ = nullptr;  // whatever librdkafka still reports during destroy goes nowhere
  if (!producer_) return;
  if (const size_t abandoned = in_flight_.load(); abandoned > 0) {
    logger_->debug("closing the Kafka producer with {} unconfirmed message(s)", abandoned);
  }
  discarding_ = true;
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                      RD_KAFKA_PURGE_F_NON_BLOCKING);
  topics_.reset();
  producer_.reset();
}

bool KafkaDestination::connected() const { return connection_.load() == Connection::Up; }

ConnectionHealth KafkaDestination::health() const {
  ConnectionHealth h = diagnostics_.health(connected());
  statistics_.addCounters(h);
  h.messages_resent = resent_.load();
  h.client_restarts = restarts_.load();
  return h;
}

// The delivery thread's poll. The destination outlives its producer.
int KafkaDestination::onStatistics(rd_kafka_t*, char* json, size_t json_length, void* opaque) {
  static_cast<KafkaDestination*>(opaque)->statistics_.update(std::string_view(json, json_length));
  return 0;  // librdkafka frees the document
}

void KafkaDestination::deliveryLoop() {
  auto next_probe = steady_clock::now();
  auto next_reclaim = steady_clock::now();
  try {
    while (!stopping_.load()) {
      if (restart_requested_.load()) {
        restartProducer();
        if (stopping_.load()) break;  // the producer could not be re-created
      }
      const bool down = connection_.load() == Connection::Down;
      if (connection_.load() != Connection::Up && steady_clock::now() >= next_probe) {
        probeConnection();
        next_probe = steady_clock::now() + kProbeInterval;
      }
      if (down && (reclaim_now_ || steady_clock::now() >= next_reclaim)) {
        // Requests that failed put their messages back in librdkafka's queues: take them back.
        reclaim_now_ = false;
        reclaim(RD_KAFKA_PURGE_F_QUEUE);
        expireParked();
        next_reclaim = steady_clock::now() + kProbeInterval;
      }
      if (!down && parking_.load() && !restart_requested_.load()) produceParked();
      bool served = true;  // rd_kafka_flush does not say; assume it did
      if (flush_requests_.load() > 0) {
        rd_kafka_flush(producer_.get(), kPollTimeoutMs);  // polls too, on this thread
      } else {
        served = rd_kafka_poll(producer_.get(), kPollTimeoutMs) > 0;
      }
      // Reports served in that poll have been freed by librdkafka only now that it returned.
      if (served) polls_.fetch_add(1);
      if (waiters_.load() > 0) notifyWaiters();
    }
  } catch (const std::exception& e) {
    if (handler_) {
      handler_->onFailure(
          Status::fatal(std::string("the Kafka delivery thread stopped: ") + e.what()));
    }
  }
}

void KafkaDestination::onDeliveryReport(rd_kafka_t* producer, const rd_kafka_message_t* report,
                                        void* opaque) {
  static_cast<KafkaDestination*>(opaque)->delivered(producer, *report);
}

void KafkaDestination::delivered(rd_kafka_t* producer, const rd_kafka_message_t& report) {
  if (discarding_) return;  // an abandoned producer: its messages are parked or abandoned
  auto* slot = static_cast<InFlight*>(report._private);
  slot->in_client = false;
  if (report.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (connection_.load(std::memory_order_relaxed) != Connection::Up) {
      setConnection(Connection::Up, "");
    }
    finish(slot, Status::ok());
    return;
  }
  // A failed batch of a producer that failed for good reports the broker's error (e.g.
  // OUT_OF_ORDER_SEQUENCE_NUMBER), not __FATAL: the producer's own state tells.
  char ignored[8];
  const bool client_failed =
      report.err == RD_KAFKA_RESP_ERR__FATAL ||
      rd_kafka_fatal_error(producer, ignored, sizeof ignored) != RD_KAFKA_RESP_ERR_NO_ERROR;
  if (client_failed || report.err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
      report.err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
    // Taken back (an outage or a restart purged it, or the producer failed for good with it in a
    // request): produced again later. One that was in a request may have been written.
    slot->maybe_sent = slot->maybe_sent || report.err != RD_KAFKA_RESP_ERR__PURGE_QUEUE;
    if (client_failed) requestRestart(fatalReason(producer));
    park(slot);
    return;
  }
  // librdkafka retries every retriable error without a deadline, so a failed report is final:
  // too large for the broker, not authorised, unknown topic or partition, invalid record, ...
  std::string reason = std::string("Kafka refused the message for topic \"") +
                       (report.rkt ? rd_kafka_topic_name(report.rkt) : "") +
                       "\": " + rd_kafka_err2str(report.err);
  refused_warning_.report([&] { return reason; });
  finish(slot, Status::fatal(std::move(reason)));
}

void KafkaDestination::finish(InFlight* slot, const Status& status) {
  const AckToken ack = slot->message.ack;
  in_flight_bytes_.fetch_sub(slot->message.payload.size());
  releaseSlot(slot);
  reportDelivery(ack, status);
  // Last: once flush() sees 0, every handler call has returned.
  in_flight_.fetch_sub(1);
}

void KafkaDestination::expire(InFlight* slot) {
  const AckToken ack = slot->message.ack;
  const std::string topic = slot->message.topic;
  in_flight_bytes_.fetch_sub(slot->message.payload.size());
  releaseSlot(slot);
  expired_warning_.report([&] {
    return "a message for Kafka topic \"" + topic +
           "\" expired while it waited for Kafka (Message Expiry Interval); dropped";
  });
  if (handler_) handler_->onExpired(ack);
  in_flight_.fetch_sub(1);
}

// Runs inside rd_kafka_poll: an exception must not unwind through librdkafka's C frames. A
// handler that throws cannot acknowledge the message: the dataflow fails visibly.
void KafkaDestination::reportDelivery(const AckToken& ack, const Status& status) {
  if (!handler_) return;
  std::string why;
  try {
    handler_->onDelivery(ack, status);
    return;
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "an exception that is not std::exception";
  }
  handler_->onFailure(Status::fatal("the delivery handler failed: " + why));
}

void KafkaDestination::onError(rd_kafka_t* producer, int error, const char* reason, void* opaque) {
  static_cast<KafkaDestination*>(opaque)->clientError(producer, error, reason);
}

void KafkaDestination::clientError(rd_kafka_t* producer, int error, const char* reason) {
  switch (static_cast<rd_kafka_resp_err_t>(error)) {
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      setConnection(Connection::Down, reason);
      return;
    case RD_KAFKA_RESP_ERR__FATAL:
      requestRestart(fatalReason(producer));
      return;
    default:
      // TLS and SASL failures: one clear line per kind. Other broker failures (disconnects, ...):
      // librdkafka logs them itself (onLog).
      if (diagnostics_.report(error, reason)) return;
      logger_->debug("librdkafka error {}: {}",
                     rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error)),
                     diagnostics_.scrub(reason));
  }
}

void KafkaDestination::onLog(const rd_kafka_t* producer, int level, const char* facility,
                             const char* line) {
  auto* self = static_cast<KafkaDestination*>(rd_kafka_opaque(producer));
  runtime::LogFields fields({{"library", std::string("librdkafka")}, {"facility", facility}});
  // A line that repeats a TLS or SASL failure clientError reports clearly stays at debug.
  self->logger_->log(
      self->diagnostics_.repeatsReport(facility, line) ? spdlog::level::debug : spdlogLevel(level),
      "librdkafka {}: {}", facility, self->diagnostics_.scrub(line));
}

// A librdkafka broker thread, during a TLS handshake.
int KafkaDestination::onCertificate(rd_kafka_t*, const char* broker_name, int32_t, int* x509_error,
                                    int, const char*, size_t, char* errstr, size_t errstr_size,
                                    void* opaque) {
  auto* self = static_cast<KafkaDestination*>(opaque);
  return self->diagnostics_.verifyCertificate(broker_name, *x509_error, errstr, errstr_size) ? 1
                                                                                             : 0;
}

// librdkafka's background thread. The destination outlives its producer (close() destroys it).
void KafkaDestination::onTokenRefresh(rd_kafka_t* producer, const char*, void* opaque) {
  auto* self = static_cast<KafkaDestination*>(opaque);
  refreshOAuthBearerToken(producer, *self->oauthbearer_, *self->logger_);
}

}  // namespace dataflow::kafka
