#include "connectors/kafka/kafka_destination.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "engine/core/backoff.h"
#include "engine/transform/murmur2.h"

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
constexpr auto kProbeInterval = std::chrono::seconds(2);
constexpr int kProbeTimeoutMs = 1000;

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

std::string refusal(const std::string& topic, rd_kafka_resp_err_t error, size_t payload_size) {
  std::string reason = "Kafka refused the message for topic \"" + topic + "\": ";
  if (error == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
    return reason + "its " + std::to_string(payload_size) +
           "-byte payload with key and headers exceeds message.max.bytes (" +
           std::to_string(kMessageMaxBytes) + ")";
  }
  return reason + rd_kafka_err2str(error);
}

}  // namespace

KafkaDestination::KafkaDestination(Options options)
    : config_(std::move(options.config)),
      bootstrap_servers_(bootstrapOf(config_)),
      logger_(options.logger ? std::move(options.logger) : spdlog::default_logger()),
      clock_(options.clock ? *options.clock : systemClock()),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      refused_warning_(clock_, warning_sink_, kWarningInterval),
      metadata_warning_(clock_, warning_sink_, kWarningInterval),
      max_in_flight_messages_(integerProperty(config_, "queue.buffering.max.messages", 100'000)),
      max_in_flight_bytes_(1024 *
                           integerProperty(config_, "queue.buffering.max.kbytes", 1'048'576)) {}

KafkaDestination::~KafkaDestination() { close(); }

Status KafkaDestination::start(DeliveryHandler& handler) {
  if (producer_ || closed_.load()) return Status::fatal("the Kafka destination was started twice");
  // Log lines go to the main queue, so they too are served by the delivery thread's poll.
  ClientCallbacks callbacks;
  callbacks.opaque = this;
  callbacks.on_error = &KafkaDestination::onError;
  callbacks.on_log = &KafkaDestination::onLog;
  Result<ConfHandle> conf = makeClientConf(config_, callbacks);
  if (!conf.isOk()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &KafkaDestination::onDeliveryReport);
  Result<ClientHandle> producer = newClient(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer.isOk()) return producer.status();
  producer_ = std::move(producer).value();
  rd_kafka_set_log_queue(producer_.get(), nullptr);
  topics_ = std::make_unique<TopicTable>(producer_.get(), clock_);
  handler_ = &handler;
  logger_->info("Kafka producer started: {}", describe(config_));
  if (logger_->should_log(spdlog::level::debug)) {
    logger_->debug("Kafka producer effective configuration: {}",
                   describe(effectiveConfig(producer_.get())));
  }
  delivery_thread_ = std::thread([this] { deliveryLoop(); });
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
  if (!producer_) return Status::fatal("send() on a Kafka destination that was not started");
  Result<TopicTable::Topic*> topic = topics_->get(message.topic);
  if (!topic.isOk()) return topic.status();
  int32_t partition = RD_KAFKA_PARTITION_UA;
  if (message.partition) {
    Result<int32_t> chosen = staticPartitionFor(*topic.value(), *message.partition, false);
    if (!chosen.isOk()) return chosen.status();
    partition = chosen.value();
  }
  HeadersHandle headers = makeHeaders(message.properties);
  InFlight* slot = acquireSlot();
  slot->ack = message.ack;
  slot->payload = std::move(message.payload);
  const size_t payload_size = slot->payload.size();
  in_flight_.fetch_add(1);
  in_flight_bytes_.fetch_add(payload_size);
  Status status = produce(*topic.value(), partition, message, *slot, headers);
  if (!status.isOk()) {
    in_flight_.fetch_sub(1);
    in_flight_bytes_.fetch_sub(payload_size);
    message.payload = std::move(slot->payload);  // not taken: the caller keeps its message
    releaseSlot(slot);
  }
  return status;
}

Status KafkaDestination::produce(TopicTable::Topic& topic, int32_t partition,
                                 const Message& message, InFlight& slot, HeadersHandle& headers) {
  bool refreshed = false;
  const void* key = message.key ? message.key->data() : nullptr;  // data() of "" is non-null
  const size_t key_size = message.key ? message.key->size() : 0;
  for (;;) {
    const uint64_t polls_before = polls_.load();
    const rd_kafka_resp_err_t error = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_RKT(topic.handle()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(slot.payload.data(), slot.payload.size()), RD_KAFKA_V_KEY(key, key_size),
        RD_KAFKA_V_TIMESTAMP(message.timestamp_ms), RD_KAFKA_V_HEADERS(headers.get()),
        RD_KAFKA_V_OPAQUE(&slot), RD_KAFKA_V_END);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)headers.release();  // librdkafka owns them now
      return Status::ok();
    }
    if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Backpressure: wait for the delivery thread to serve reports (or for close()).
      waitUntil(steady_clock::now() + kSpaceWaitSlice,
                [&] { return closed_.load() || polls_.load() != polls_before; });
      if (closed_.load()) return closedStatus();
      continue;
    }
    if (error == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && message.partition && !refreshed) {
      // The topic shrank or the cached count is stale: ask the cluster once more.
      Result<int32_t> chosen = staticPartitionFor(topic, *message.partition, true);
      if (!chosen.isOk()) return chosen.status();
      partition = chosen.value();
      refreshed = true;
      continue;
    }
    if (error == RD_KAFKA_RESP_ERR__FATAL) {
      char reason[512];
      rd_kafka_fatal_error(producer_.get(), reason, sizeof reason);
      return Status::fatal(std::string("the Kafka producer failed for good: ") + reason);
    }
    return Status::fatal(refusal(topic.name(), error, slot.payload.size()));
  }
}

Result<int32_t> KafkaDestination::staticPartitionFor(TopicTable::Topic& topic, int32_t ordinal,
                                                     bool refresh) {
  Backoff backoff(kMetadataRetryInitial, kMetadataRetryMax);
  for (;;) {
    Result<int32_t> count = topics_->partitionCount(topic, refresh, kMetadataTimeout);
    if (count.isOk()) {
      return transform::staticPartition(static_cast<uint32_t>(ordinal), count.value());
    }
    metadata_warning_.report([&] {
      return "Static partitioning waits for the partition count of Kafka topic \"" + topic.name() +
             "\": " + count.status().message();
    });
    if (waitUntil(steady_clock::now() + backoff.next(), [&] { return closed_.load(); })) {
      return closedStatus();
    }
    refresh = true;
  }
}

KafkaDestination::InFlight* KafkaDestination::acquireSlot() {
  std::lock_guard lock(mutex_);
  if (free_slots_.empty()) return &slots_.emplace_back();
  InFlight* slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void KafkaDestination::releaseSlot(InFlight* slot) {
  std::string().swap(slot->payload);  // frees the payload now, not when the slot is reused
  std::lock_guard lock(mutex_);
  free_slots_.push_back(slot);
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
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                      RD_KAFKA_PURGE_F_NON_BLOCKING);
  topics_.reset();
  producer_.reset();
}

bool KafkaDestination::connected() const { return connection_.load() == Connection::Up; }

void KafkaDestination::deliveryLoop() {
  auto next_probe = steady_clock::now();
  try {
    while (!stopping_.load()) {
      if (connection_.load() != Connection::Up && steady_clock::now() >= next_probe) {
        probeConnection();
        next_probe = steady_clock::now() + kProbeInterval;
      }
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
    logger_->error("the Kafka delivery thread stopped: {}; no further delivery is reported",
                   e.what());
  }
}

void KafkaDestination::onDeliveryReport(rd_kafka_t*, const rd_kafka_message_t* report,
                                        void* opaque) {
  static_cast<KafkaDestination*>(opaque)->delivered(*report);
}

void KafkaDestination::delivered(const rd_kafka_message_t& report) {
  auto* slot = static_cast<InFlight*>(report._private);
  const AckToken ack = slot->ack;
  in_flight_bytes_.fetch_sub(slot->payload.size());
  releaseSlot(slot);
  if (report.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (connection_.load(std::memory_order_relaxed) != Connection::Up) {
      setConnection(Connection::Up, "");
    }
    reportDelivery(ack, Status::ok());
  } else {
    // librdkafka retries every retriable error without a deadline, so a failed report is final:
    // too large for the broker, not authorised, unknown topic or partition, invalid record, ...
    std::string reason = std::string("Kafka refused the message for topic \"") +
                         (report.rkt ? rd_kafka_topic_name(report.rkt) : "") +
                         "\": " + rd_kafka_err2str(report.err);
    refused_warning_.report([&] { return reason; });
    reportDelivery(ack, Status::fatal(std::move(reason)));
  }
  // Last: once flush() sees 0, every handler call has returned.
  in_flight_.fetch_sub(1);
}

// Runs inside rd_kafka_poll: an exception must not unwind through librdkafka's C frames.
void KafkaDestination::reportDelivery(const AckToken& ack, const Status& status) {
  if (!handler_) return;
  try {
    handler_->onDelivery(ack, status);
  } catch (const std::exception& e) {
    logger_->error("the delivery handler failed: {}", e.what());
  } catch (...) {
    logger_->error("the delivery handler failed with an exception that is not std::exception");
  }
}

void KafkaDestination::onError(rd_kafka_t* producer, int error, const char* reason, void* opaque) {
  static_cast<KafkaDestination*>(opaque)->clientError(producer, error, reason);
}

void KafkaDestination::clientError(rd_kafka_t* producer, int error, const char* reason) {
  switch (static_cast<rd_kafka_resp_err_t>(error)) {
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      setConnection(Connection::Down, reason);
      return;
    case RD_KAFKA_RESP_ERR__FATAL: {
      char fatal_reason[512];
      rd_kafka_fatal_error(producer, fatal_reason, sizeof fatal_reason);
      logger_->error("the Kafka producer failed for good: {}; it refuses every message now",
                     fatal_reason);
      return;
    }
    default:
      // Broker disconnects, authentication failures, ...: librdkafka logs them itself (onLog).
      logger_->debug("librdkafka error {}: {}",
                     rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error)), reason);
  }
}

void KafkaDestination::onLog(const rd_kafka_t* producer, int level, const char* facility,
                             const char* line) {
  auto* self = static_cast<KafkaDestination*>(rd_kafka_opaque(producer));
  self->logger_->log(spdlogLevel(level), "librdkafka {}: {}", facility, line);
}

void KafkaDestination::setConnection(Connection now, const char* reason) {
  const Connection before = connection_.exchange(now);
  if (before == now) return;
  if (now == Connection::Up) {
    logger_->info("connected to Kafka at {}", bootstrap_servers_);
  } else if (before == Connection::Up) {
    logger_->warn("lost the connection to Kafka at {} ({}); messages wait in the producer queue",
                  bootstrap_servers_, reason);
  } else {
    logger_->warn("cannot reach Kafka at {} ({}); retrying", bootstrap_servers_, reason);
  }
}

// While no broker is known to be up, a metadata request (brokers only) tells whether one answers
// now: an idle producer has no deliveries to learn it from.
void KafkaDestination::probeConnection() {
  Result<MetadataHandle> metadata = fetchMetadata(producer_.get(), nullptr, kProbeTimeoutMs);
  if (metadata.isOk() && metadata.value()->broker_cnt > 0) setConnection(Connection::Up, "");
}

}  // namespace dataflow::kafka
