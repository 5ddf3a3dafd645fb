#include "connectors/kafka/kafka_producer.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "engine/core/backoff.h"
#include "engine/core/murmur2.h"
#include "engine/core/thread_name.h"
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

std::string KafkaProducer::fatalReason(rd_kafka_t* producer) {
  char reason[512];
  if (rd_kafka_fatal_error(producer, reason, sizeof reason) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "librdkafka reported a fatal error";
  }
  return reason;
}

KafkaProducer::Lane::Lane(DeliveryHandler& handler_in, runtime::FlightLimits limits_in,
                          std::shared_ptr<spdlog::logger> logger_in, const Clock& clock)
    : handler(&handler_in),
      limits(limits_in),
      logger(std::move(logger_in)),
      sink([logger = logger](std::string_view line) { logger->warn("{}", line); }),
      refused_warning(clock, sink, kWarningInterval),
      metadata_warning(clock, sink, kWarningInterval),
      expired_warning(clock, sink, kWarningInterval) {}

KafkaProducer::KafkaProducer(Options options)
    : config_(std::move(options.config)),
      bootstrap_servers_(bootstrapOf(config_) +
                         (options.endpoint_name.empty()
                              ? std::string()
                              : " (endpoint \"" + options.endpoint_name + "\")")),
      logger_(options.logger ? std::move(options.logger) : spdlog::default_logger()),
      oauthbearer_(std::move(options.oauthbearer)),
      clock_(options.clock ? *options.clock : systemClock()),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      diagnostics_(std::move(options.endpoint_name), config_, clock_, warning_sink_),
      queue_messages_(integerProperty(config_, "queue.buffering.max.messages", 100'000)),
      queue_bytes_(1024 * integerProperty(config_, "queue.buffering.max.kbytes", 1'048'576)) {}

KafkaProducer::~KafkaProducer() {
  stopping_.store(true);
  if (delivery_thread_.joinable()) delivery_thread_.join();
  if (!producer_) return;
  discarding_ = true;  // whatever librdkafka still reports during destroy goes nowhere
  rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                      RD_KAFKA_PURGE_F_NON_BLOCKING);
  topics_.reset();
  producer_.reset();
}

runtime::FlightLimits KafkaProducer::defaultLimits() const {
  return runtime::FlightLimits{queue_messages_, queue_bytes_};
}

Result<std::shared_ptr<KafkaProducer::Lane>> KafkaProducer::attach(DeliveryHandler& handler,
                                                   runtime::FlightLimits limits,
                                                   std::shared_ptr<spdlog::logger> logger) {
  std::lock_guard lock(mutex_);
  if (!started_) {
    started_ = true;
    start_status_ = start();
  }
  if (!start_status_.isOk()) return start_status_;
  if (failed_.load()) return Status::fatal("the Kafka producer failed for good");
  lanes_.push_back(std::make_shared<Lane>(handler, limits, logger ? std::move(logger) : logger_,
                                          clock_));
  return lanes_.back();
}

size_t KafkaProducer::laneCount() const {
  std::lock_guard lock(mutex_);
  size_t count = 0;
  for (const auto& lane : lanes_) count += lane->detached ? 0 : 1;
  return count;
}

// mutex_ held by attach().
Status KafkaProducer::start() {
  if (Status status = createProducer(); !status.isOk()) return status;
  logger_->info("Kafka producer started: {}", describe(config_));
  if (logger_->should_log(spdlog::level::debug)) {
    logger_->debug("Kafka producer effective configuration: {}",
                   describe(effectiveConfig(producer_.get())));
  }
  running_.store(true);
  delivery_thread_ = std::thread([this] {
    nameThisThread("df-kafka-out");
    deliveryLoop();
  });
  return Status::ok();
}

// attach() (mutex_ held) or the delivery thread holding client_mutex_ (restart).
Status KafkaProducer::createProducer() {
  // Log lines go to the main queue, so they too are served by the delivery thread's poll.
  ClientCallbacks callbacks;
  callbacks.opaque = this;
  callbacks.on_error = &KafkaProducer::onError;
  callbacks.on_log = &KafkaProducer::onLog;
  callbacks.on_certificate = &KafkaProducer::onCertificate;
  Result<ConfHandle> conf = makeClientConf(config_, callbacks);
  if (!conf.isOk()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &KafkaProducer::onDeliveryReport);
  rd_kafka_conf_set_stats_cb(conf.value().get(), &KafkaProducer::onStatistics);
  if (oauthbearer_) enableOAuthBearer(conf.value().get(), &KafkaProducer::onTokenRefresh);
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

bool KafkaProducer::awaitCapacity(Lane& lane, size_t bytes) {
  auto has_room = [&] {
    const size_t messages = lane.in_flight.load();
    return lane.closed.load() ||
           (messages < lane.limits.max_messages &&
            (messages == 0 || lane.in_flight_bytes.load() + bytes <= lane.limits.max_bytes));
  };
  while (!has_room()) waitUntil(steady_clock::now() + kSpaceWaitSlice, has_room);
  return !lane.closed.load();
}

Status KafkaProducer::send(Lane& lane, Message&& message) {
  // Counted so that detach() can wait until no thread of the lane is inside librdkafka.
  struct Active {
    KafkaProducer& self;
    Lane& lane;
    Active(KafkaProducer& s, Lane& l) : self(s), lane(l) { lane.active_senders.fetch_add(1); }
    ~Active() {
      if (lane.active_senders.fetch_sub(1) == 1 && lane.closed.load()) self.notifyWaiters();
    }
  } active(*this, lane);
  if (lane.closed.load()) return closedStatus();
  // The bound holds for parked messages too (librdkafka's QUEUE_FULL only sees what it holds).
  if (!awaitCapacity(lane, message.payload.size())) return closedStatus();
  InFlight* slot = acquireSlot(lane);
  slot->message = std::move(message);
  const size_t payload_size = slot->message.payload.size();
  lane.in_flight.fetch_add(1);
  lane.in_flight_bytes.fetch_add(payload_size);
  // Not taken: the caller keeps its message.
  auto give_back = [&](Status status) {
    lane.in_flight.fetch_sub(1);
    lane.in_flight_bytes.fetch_sub(payload_size);
    message = std::move(slot->message);
    releaseSlot(slot);
    return status;
  };
  Backoff metadata_backoff(kMetadataRetryInitial, kMetadataRetryMax);
  bool refresh_metadata = false;
  for (;;) {
    std::shared_lock client(client_mutex_);
    if (lane.closed.load()) return give_back(closedStatus());
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
        // Backpressure: wait for the delivery thread to serve reports (or for detach()).
        client.unlock();
        waitUntil(steady_clock::now() + kSpaceWaitSlice,
                  [&] { return lane.closed.load() || polls_.load() != polls_before; });
        break;
      case Attempt::NoMetadata:
        client.unlock();
        lane.metadata_warning.report([&] {
          return "Static partitioning waits for the partition count of Kafka topic \"" +
                 slot->message.topic + "\": " + refused.message();
        });
        waitUntil(steady_clock::now() + metadata_backoff.next(),
                  [&] { return lane.closed.load(); });
        refresh_metadata = true;
        break;
    }
  }
}

KafkaProducer::Attempt KafkaProducer::produce(InFlight& slot, bool refresh_metadata,
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

KafkaProducer::InFlight* KafkaProducer::acquireSlot(Lane& lane) {
  std::lock_guard lock(lane.slots_mutex);
  InFlight* slot = nullptr;
  if (lane.free_slots.empty()) {
    slot = &lane.slots.emplace_back();
    slot->lane = &lane;
  } else {
    slot = lane.free_slots.back();
    lane.free_slots.pop_back();
  }
  ++lane.held;
  slot->order = next_order_.fetch_add(1, std::memory_order_relaxed);
  slot->partition = RD_KAFKA_PARTITION_UA;
  slot->in_client = false;
  slot->maybe_sent = false;
  slot->parked = false;
  return slot;
}

void KafkaProducer::releaseSlot(InFlight* slot) {
  slot->message = Message();  // frees the payload now, not when the slot is reused
  slot->in_client = false;
  Lane& lane = *slot->lane;
  std::lock_guard lock(lane.slots_mutex);
  lane.free_slots.push_back(slot);
  --lane.held;
}

// A parked message always has parking_ set with it, so the delivery thread produces it again even
// when it arrives just after the parked list was emptied.
void KafkaProducer::park(InFlight* slot) {
  slot->in_client = false;
  std::lock_guard lock(mutex_);
  parked_.emplace(slot->order, slot);
  slot->parked = true;
  parking_.store(true);
}

template <class Done>
bool KafkaProducer::waitUntil(steady_clock::time_point deadline, Done done) {
  std::unique_lock lock(mutex_);
  waiters_.fetch_add(1);
  const bool result = changed_.wait_until(lock, deadline, done);
  waiters_.fetch_sub(1);
  return result;
}

void KafkaProducer::notifyWaiters() {
  { std::lock_guard lock(mutex_); }  // a waiter is either before its check or inside wait
  changed_.notify_all();
}

size_t KafkaProducer::flush(Lane& lane, milliseconds timeout) {
  if (!running_.load()) return lane.in_flight.load();
  flush_requests_.fetch_add(1);
  waitUntil(steady_clock::now() + timeout,
            [&] { return lane.in_flight.load() == 0 || !running_.load(); });
  flush_requests_.fetch_sub(1);
  return lane.in_flight.load();
}

size_t KafkaProducer::detach(Lane& lane) {
  lane.closed.store(true);
  notifyWaiters();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return lane.active_senders.load() == 0; });
  if (lane.detached) return 0;
  const size_t unreported = lane.in_flight.load();
  if (!running_.load()) {
    release(lane);
    return unreported;
  }
  // The delivery thread is the one that calls handlers: it lets the lane go between two polls.
  detach_requests_.push_back(&lane);
  detach_pending_.store(true);
  if (client_mutex_.try_lock_shared()) {  // wakes the poll now rather than at its timeout
    if (producer_) rd_kafka_yield(producer_.get());
    client_mutex_.unlock_shared();
  }
  changed_.wait(lock, [&] { return lane.detached || !running_.load(); });
  if (!lane.detached) release(lane);  // the delivery thread ended meanwhile
  return unreported;
}

// Delivery thread: serves detach() requests.
void KafkaProducer::detachRequested() {
  {
    std::lock_guard lock(mutex_);
    detach_pending_.store(false);
    for (Lane* lane : detach_requests_) {
      if (!lane->detached) release(*lane);
    }
    detach_requests_.clear();
    // Lanes that left and whose last slot came back are forgotten.
    std::erase_if(lanes_, [&](const std::shared_ptr<Lane>& lane) {
      std::lock_guard slots(lane->slots_mutex);
      const bool forget = lane->detached && lane->held == 0;
      if (forget) left_lanes_.fetch_sub(1);
      return forget;
    });
  }
  changed_.notify_all();
}

// mutex_ held; the delivery thread, or the caller of detach() when there is none. The lane's
// parked messages are dropped; what librdkafka holds is abandoned: delivered() frees it.
void KafkaProducer::release(Lane& lane) {
  lane.handler = nullptr;
  lane.detached = true;
  left_lanes_.fetch_add(1);
  std::vector<InFlight*> dropped;
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (it->second->lane == &lane) {
      dropped.push_back(it->second);
      it = parked_.erase(it);
    } else {
      ++it;
    }
  }
  for (InFlight* slot : dropped) {
    slot->parked = false;
    releaseSlot(slot);
  }
  if (lane.in_flight.load() > 0) {
    lane.logger->debug("leaving the Kafka producer with {} unconfirmed message(s)",
                       lane.in_flight.load());
  }
}

bool KafkaProducer::connected() const { return connection_.load() == Connection::Up; }

ConnectionHealth KafkaProducer::health() const {
  ConnectionHealth h = diagnostics_.health(connected());
  statistics_.addCounters(h);
  h.messages_resent = resent_.load();
  h.client_restarts = restarts_.load();
  return h;
}

uint64_t KafkaProducer::resentCount(const Lane& lane) { return lane.resent.load(); }

uint64_t KafkaProducer::possibleDuplicateCount(const Lane& lane) {
  return lane.possible_duplicates.load();
}

ConnectionHealth KafkaProducer::health(const Lane& lane) const {
  ConnectionHealth h = health();
  h.messages_resent = lane.resent.load();
  return h;
}

// The delivery thread's poll. The KafkaProducer outlives its librdkafka producer.
int KafkaProducer::onStatistics(rd_kafka_t*, char* json, size_t json_length, void* opaque) {
  static_cast<KafkaProducer*>(opaque)->statistics_.update(std::string_view(json, json_length));
  return 0;  // librdkafka frees the document
}

void KafkaProducer::deliveryLoop() {
  auto next_probe = steady_clock::now();
  auto next_reclaim = steady_clock::now();
  try {
    auto next_sweep = steady_clock::now();
    while (!stopping_.load()) {
      // Detach requests; and now and then, lanes that left with messages in librdkafka whose
      // reports have all come since.
      if (detach_pending_.load() || (left_lanes_.load() > 0 && steady_clock::now() >= next_sweep)) {
        detachRequested();
        next_sweep = steady_clock::now() + kProbeInterval;
      }
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
    failAll(Status::fatal(std::string("the Kafka delivery thread stopped: ") + e.what()));
  }
  {
    std::lock_guard lock(mutex_);
    running_.store(false);
  }
  changed_.notify_all();  // detach() and flush() no longer wait for this thread
}

// Delivery thread: the producer serves no one any more; every lane's dataflow stops visibly.
void KafkaProducer::failAll(const Status& reason) {
  failed_.store(true);
  std::vector<DeliveryHandler*> handlers;
  {
    std::lock_guard lock(mutex_);
    for (const auto& lane : lanes_) {
      if (lane->handler) handlers.push_back(lane->handler);
    }
  }
  // Handlers are set to null only by this thread while it runs: the pointers stay valid.
  for (DeliveryHandler* handler : handlers) handler->onFailure(reason);
}

void KafkaProducer::onDeliveryReport(rd_kafka_t* producer, const rd_kafka_message_t* report,
                                        void* opaque) {
  static_cast<KafkaProducer*>(opaque)->delivered(producer, *report);
}

void KafkaProducer::delivered(rd_kafka_t* producer, const rd_kafka_message_t& report) {
  if (discarding_) return;  // an abandoned producer: its messages are parked or abandoned
  auto* slot = static_cast<InFlight*>(report._private);
  slot->in_client = false;
  Lane& lane = *slot->lane;
  if (!lane.handler) {  // its dataflow left: nobody waits for it
    abandon(slot);
    return;
  }
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
  lane.refused_warning.report([&] { return reason; });
  finish(slot, Status::fatal(std::move(reason)));
}

// Delivery thread: a slot of a lane that left comes back; no report.
void KafkaProducer::abandon(InFlight* slot) {
  Lane& lane = *slot->lane;
  lane.in_flight_bytes.fetch_sub(slot->message.payload.size());
  releaseSlot(slot);
  lane.in_flight.fetch_sub(1);
}

void KafkaProducer::finish(InFlight* slot, const Status& status) {
  Lane& lane = *slot->lane;
  const AckToken ack = slot->message.ack;
  lane.in_flight_bytes.fetch_sub(slot->message.payload.size());
  releaseSlot(slot);
  reportDelivery(lane, ack, status);
  // Last: once flush() sees 0, every handler call has returned.
  lane.in_flight.fetch_sub(1);
}

void KafkaProducer::expire(InFlight* slot) {
  Lane& lane = *slot->lane;
  const AckToken ack = slot->message.ack;
  const std::string topic = slot->message.topic;
  lane.in_flight_bytes.fetch_sub(slot->message.payload.size());
  releaseSlot(slot);
  lane.expired_warning.report([&] {
    return "a message for Kafka topic \"" + topic +
           "\" expired while it waited for Kafka (Message Expiry Interval); dropped";
  });
  if (lane.handler) lane.handler->onExpired(ack);
  lane.in_flight.fetch_sub(1);
}

// Runs inside rd_kafka_poll: an exception must not unwind through librdkafka's C frames. A
// handler that throws cannot acknowledge the message: the dataflow fails visibly.
void KafkaProducer::reportDelivery(Lane& lane, const AckToken& ack, const Status& status) {
  if (!lane.handler) return;
  std::string why;
  try {
    lane.handler->onDelivery(ack, status);
    return;
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "an exception that is not std::exception";
  }
  lane.handler->onFailure(Status::fatal("the delivery handler failed: " + why));
}

void KafkaProducer::onError(rd_kafka_t* producer, int error, const char* reason, void* opaque) {
  static_cast<KafkaProducer*>(opaque)->clientError(producer, error, reason);
}

void KafkaProducer::clientError(rd_kafka_t* producer, int error, const char* reason) {
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

void KafkaProducer::onLog(const rd_kafka_t* producer, int level, const char* facility,
                             const char* line) {
  auto* self = static_cast<KafkaProducer*>(rd_kafka_opaque(producer));
  runtime::LogFields fields({{"library", std::string("librdkafka")}, {"facility", facility}});
  // A line that repeats a TLS or SASL failure clientError reports clearly stays at debug.
  self->logger_->log(
      self->diagnostics_.repeatsReport(facility, line) ? spdlog::level::debug : spdlogLevel(level),
      "librdkafka {}: {}", facility, self->diagnostics_.scrub(line));
}

// A librdkafka broker thread, during a TLS handshake.
int KafkaProducer::onCertificate(rd_kafka_t*, const char* broker_name, int32_t, int* x509_error,
                                    int, const char*, size_t, char* errstr, size_t errstr_size,
                                    void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  return self->diagnostics_.verifyCertificate(broker_name, *x509_error, errstr, errstr_size) ? 1
                                                                                             : 0;
}

// librdkafka's background thread. The KafkaProducer outlives its librdkafka producer.
void KafkaProducer::onTokenRefresh(rd_kafka_t* producer, const char*, void* opaque) {
  auto* self = static_cast<KafkaProducer*>(opaque);
  refreshOAuthBearerToken(producer, *self->oauthbearer_, *self->logger_);
}

}  // namespace dataflow::kafka

namespace dataflow::kafka {

std::shared_ptr<KafkaProducer> ProducerPool::get(const std::string& key,
                                                 KafkaProducer::Options options) {
  // The lanes bound what a shared producer holds, each its own dataflow's. librdkafka's own
  // queue bound would be one more, shared: a dataflow whose partitions have no leader would fill
  // it and hold back every other dataflow of the endpoint. So it is set out of reach.
  for (const char* name : {"queue.buffering.max.messages", "queue.buffering.max.kbytes"}) {
    std::erase_if(options.config, [&](const ConfigProperty& p) { return p.name == name; });
    options.config.push_back({name, std::to_string(kMaxInt32Property)});
  }
  std::lock_guard lock(mutex_);
  std::erase_if(producers_, [](const auto& entry) { return entry.second.expired(); });
  std::weak_ptr<KafkaProducer>& slot = producers_[key];
  std::shared_ptr<KafkaProducer> producer = slot.lock();
  if (!producer || producer->failed()) {
    producer = std::make_shared<KafkaProducer>(std::move(options));
    slot = producer;
  }
  return producer;
}

size_t ProducerPool::size() const {
  std::lock_guard lock(mutex_);
  size_t count = 0;
  for (const auto& [key, producer] : producers_) count += producer.expired() ? 0 : 1;
  return count;
}

}  // namespace dataflow::kafka
