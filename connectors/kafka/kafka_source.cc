#include "connectors/kafka/kafka_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>

#include "connectors/kafka/kafka_record.h"
#include "engine/core/thread_name.h"
#include "engine/runtime/log_fields.h"

namespace dataflow::kafka {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kPollTimeoutMs = 100;  // how long the consumer thread may sleep in one poll
constexpr auto kWarningInterval = std::chrono::seconds(10);
// How long close() lets the consumer thread give up the assignment after unsubscribing.
constexpr auto kUnsubscribeWait = std::chrono::seconds(5);

const Clock& systemClock() {
  static const SystemClock clock;
  return clock;
}

std::string bootstrapOf(const ConsumerConfig& config) {
  const std::string* servers = findProperty(config, "bootstrap.servers");
  return servers ? *servers : std::string();
}

std::string describePartitions(const rd_kafka_topic_partition_list_t& list) {
  std::string out;
  for (int i = 0; i < list.cnt; ++i) {
    if (!out.empty()) out += ", ";
    out += list.elems[i].topic;
    out += '[' + std::to_string(list.elems[i].partition) + ']';
  }
  return out.empty() ? "none" : out;
}

}  // namespace

KafkaSource::KafkaSource(Options options)
    : config_(std::move(options.config)),
      topics_(std::move(options.topics)),
      bootstrap_servers_(bootstrapOf(config_)),
      logger_(options.logger ? std::move(options.logger) : spdlog::default_logger()),
      oauthbearer_(std::move(options.oauthbearer)),
      clock_(options.clock ? *options.clock : systemClock()),
      commit_interval_(options.commit_interval),
      revoke_ack_wait_(options.revoke_ack_wait),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      error_warning_(clock_, warning_sink_, kWarningInterval),
      ignored_warning_(clock_, warning_sink_, kWarningInterval),
      error_sink_([logger = logger_](std::string_view line) { logger->error("{}", line); }),
      stray_error_(clock_, error_sink_, kWarningInterval),
      diagnostics_(std::move(options.endpoint_name), config_, clock_, warning_sink_) {}

KafkaSource::~KafkaSource() { close(); }

Result<ConfHandle> KafkaSource::makeConsumerConf() {
  // Log lines go to the main queue, which is forwarded to the consumer queue below: the consumer
  // thread's poll serves them like every other callback.
  ClientCallbacks callbacks;
  callbacks.opaque = this;
  callbacks.on_error = &KafkaSource::onError;
  callbacks.on_log = &KafkaSource::onLog;
  callbacks.on_certificate = &KafkaSource::onCertificate;
  Result<ConfHandle> conf = makeClientConf(config_, callbacks);
  if (!conf.isOk()) return conf.status();
  rd_kafka_conf_set_rebalance_cb(conf.value().get(), &KafkaSource::onRebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.value().get(), &KafkaSource::onCommit);
  rd_kafka_conf_set_stats_cb(conf.value().get(), &KafkaSource::onStatistics);
  if (oauthbearer_) enableOAuthBearer(conf.value().get(), &KafkaSource::onTokenRefresh);
  return conf;
}

Status KafkaSource::start(MessageHandler& handler) {
  {
    std::lock_guard close_lock(close_mutex_);
    if (consumer_ || closed_) return Status::fatal("the Kafka source was started twice");
  }
  if (topics_.empty()) return Status::fatal("the Kafka source has no topics to consume");
  Result<ConfHandle> conf = makeConsumerConf();
  if (!conf.isOk()) return conf.status();
  Result<ClientHandle> consumer = newClient(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!consumer.isOk()) return consumer.status();
  if (oauthbearer_) {
    if (Status s = startOAuthBearerRefresh(consumer.value().get()); !s.isOk()) return s;
  }
  consumer_ = std::move(consumer).value();
  rd_kafka_poll_set_consumer(consumer_.get());
  rd_kafka_set_log_queue(consumer_.get(), nullptr);
  dispatch_queue_.reset(rd_kafka_queue_new(consumer_.get()));
  if (Status s = subscribe(); !s.isOk()) {
    dispatch_queue_.reset();
    consumer_.reset();
    return s;
  }
  handler_ = &handler;
  logger_->info("Kafka consumer started: {}", describe(config_));
  if (logger_->should_log(spdlog::level::debug)) {
    logger_->debug("Kafka consumer effective configuration: {}",
                   describe(effectiveConfig(consumer_.get())));
  }
  dispatch_thread_ = std::thread([this] {
    nameThisThread("df-kafka-in");
    dispatchLoop();
  });
  consumer_thread_ = std::thread([this] {
    nameThisThread("df-kafka-poll");
    consumerLoop();
  });
  return Status::ok();
}

Status KafkaSource::subscribe() {
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(topics_.size())));
  std::string names;
  for (const std::string& topic : topics_) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    names += (names.empty() ? "" : ", ") + topic;
  }
  const rd_kafka_resp_err_t error = rd_kafka_subscribe(consumer_.get(), list.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::fatal("cannot subscribe to Kafka topics " + names + ": " +
                         rd_kafka_err2str(error));
  }
  logger_->info("subscribed to Kafka topics {} at {}", names, bootstrap_servers_);
  return Status::ok();
}

void KafkaSource::ack(const AckToken& token) {
  bool accepted = false;
  {
    std::lock_guard lock(mutex_);
    accepted =
        tracker_.acknowledge(token.sequence, {token.topic_index, token.partition}, token.offset);
  }
  if (accepted) {
    changed_.notify_all();
    return;
  }
  ignored_warning_.report([&] {
    return "ignored the acknowledgement of a Kafka record (partition " +
           std::to_string(token.partition) + ", offset " + std::to_string(token.offset) +
           ") that was revoked or reassigned since; its new owner replays it";
  });
}

void KafkaSource::stopReceiving() {
  {
    std::lock_guard lock(mutex_);
    receiving_ = false;
  }
  changed_.notify_all();
}

size_t KafkaSource::drainReceived(steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [&] { return !in_handler_; });
  return 0;
}

void KafkaSource::close() {
  std::lock_guard close_lock(close_mutex_);
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard lock(mutex_);
    receiving_ = false;
    closing_ = true;  // ends the dispatch thread; a revoke no longer waits for acknowledgements
    stopHandingOver(nullptr);
  }
  changed_.notify_all();
  if (dispatch_thread_.joinable()) dispatch_thread_.join();
  if (consumer_thread_.joinable()) {
    // The assignment is given up on the consumer thread (its revoke commits synchronously), not in
    // the revoke that rd_kafka_consumer_close would run: in librdkafka 2.0.2 a revoke callback
    // inside rd_kafka_consumer_close can hang in rd_kafka_assign (librdkafka issues #4041, #4884;
    // seen here with paused partitions).
    if (const rd_kafka_resp_err_t error = rd_kafka_unsubscribe(consumer_.get()); error) {
      logger_->warn("unsubscribing the Kafka consumer failed: {}", rd_kafka_err2str(error));
    }
    {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, kUnsubscribeWait, [&] { return !assigned_.load(); });
      stopping_ = true;
    }
    changed_.notify_all();
    consumer_thread_.join();
  }
  if (!consumer_) return;
  commit(uncommitted(nullptr), true);
  if (const rd_kafka_resp_err_t error = rd_kafka_consumer_close(consumer_.get()); error) {
    logger_->warn("leaving the Kafka consumer group failed: {}", rd_kafka_err2str(error));
  }
  dispatch_queue_.reset();
  consumer_.reset();
  handler_ = nullptr;
  assigned_.store(false);
}

bool KafkaSource::connected() const { return assigned_.load(); }

ConnectionHealth KafkaSource::health() const {
  ConnectionHealth h = diagnostics_.health(connected());
  statistics_.addCounters(h);
  return h;
}

void KafkaSource::consumerLoop() {
  auto next_commit = clock_.steadyNow() + commit_interval_;
  try {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) break;
      }
      MessageHandle event(rd_kafka_consumer_poll(consumer_.get(), kPollTimeoutMs));
      if (event && event->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        strayRecord(*event);
      } else if (event) {
        consumerError(*event);
      }
      bool receiving = false;
      {
        std::lock_guard lock(mutex_);
        receiving = receiving_;
      }
      if (!receiving && !paused_) pause(nullptr);  // stopReceiving(): stop fetching
      if (clock_.steadyNow() >= next_commit) {
        commit(uncommitted(nullptr), false);
        next_commit = clock_.steadyNow() + commit_interval_;
      }
    }
  } catch (const std::exception& e) {
    handler_->onFailure(
        Status::fatal(std::string("the Kafka consumer thread stopped: ") + e.what()));
  }
}

void KafkaSource::dispatchLoop() {
  try {
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        // After stopReceiving() nothing more is taken: what librdkafka holds stays unconsumed.
        changed_.wait(lock, [&] { return closing_ || receiving_; });
        if (closing_) return;
      }
      MessageHandle record(rd_kafka_consume_queue(dispatch_queue_.get(), kPollTimeoutMs));
      if (!record) continue;
      if (record->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        consumerError(*record);
        continue;
      }
      std::optional<Message> message = take(*record);
      record.reset();
      if (!message) continue;
      // A handler that throws fails the dataflow: the record stays unacknowledged (replayed by
      // the group's next consumer), and nothing after it is committed.
      try {
        handler_->onMessage(std::move(*message));
      } catch (const std::exception& e) {
        handler_->onFailure(Status::fatal(std::string("the message handler failed: ") + e.what()));
      } catch (...) {
        handler_->onFailure(Status::fatal(
            "the message handler failed with an exception that is not std::exception"));
      }
      {
        std::lock_guard lock(mutex_);
        in_handler_ = false;
      }
      changed_.notify_all();
    }
  } catch (const std::exception& e) {
    handler_->onFailure(
        Status::fatal(std::string("the Kafka dispatch thread stopped: ") + e.what()));
  }
}

// Hands the record over (in_handler_ set) when the source still receives and its partition is
// assigned and not being revoked; otherwise it stays unacknowledged and is replayed later.
std::optional<Message> KafkaSource::take(const rd_kafka_message_t& record) {
  const auto received_at = clock_.steadyNow();
  TopicPartition tp;
  std::optional<uint64_t> generation;
  {
    std::lock_guard lock(mutex_);
    if (!receiving_ || closing_) return std::nullopt;
    tp = {topicIndex(rd_kafka_topic_name(record.rkt)), record.partition};
    generation = tracker_.received(tp, record.offset);
    if (generation) in_handler_ = true;
  }
  if (!generation) {
    logger_->debug("left a Kafka record of {}[{}] at offset {} unconsumed: not assigned now",
                   rd_kafka_topic_name(record.rkt), tp.partition, record.offset);
    return std::nullopt;
  }
  return toMessage(record, tp.topic_index, *generation, received_at);
}

// A record on the consumer queue: its partition's queue was not forwarded in time (it should
// have been, before the assignment). Forward it now and fetch the record again from there.
void KafkaSource::strayRecord(const rd_kafka_message_t& record) {
  const char* topic = rd_kafka_topic_name(record.rkt);
  logger_->debug("a Kafka record of {}[{}] reached the consumer queue; fetching it again", topic,
                 record.partition);
  // Each failure below can repeat for every record of the partition: one line per interval.
  if (!forwardToDispatch(topic, record.partition)) {
    stray_error_.report([&] {
      return "no librdkafka queue for Kafka partition " + std::string(topic) + "[" +
             std::to_string(record.partition) + "]";
    });
    return;
  }
  PartitionListHandle list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic, record.partition)->offset = record.offset;
  rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer_.get(), list.get(), kPollTimeoutMs);
  if (error) {
    stray_error_.report([&] {
      return "cannot fetch the Kafka record of " + std::string(topic) + "[" +
             std::to_string(record.partition) + "] at offset " + std::to_string(record.offset) +
             " again: " + rd_kafka_error_string(error);
    });
    rd_kafka_error_destroy(error);
  }
}

bool KafkaSource::forwardToDispatch(const char* topic, int32_t partition) {
  QueueHandle queue(rd_kafka_queue_get_partition(consumer_.get(), topic, partition));
  if (!queue) return false;
  rd_kafka_queue_forward(queue.get(), dispatch_queue_.get());
  return true;
}

void KafkaSource::consumerError(const rd_kafka_message_t& record) {
  const rd_kafka_resp_err_t error = record.err;
  if (error == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
  const std::string topic = record.rkt ? rd_kafka_topic_name(record.rkt) : "";
  if ((error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
       error == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) &&
      !topic.empty()) {
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      first = missing_topics_.insert(topic).second;
    }
    if (first) {
      logger_->warn(
          "Kafka topic \"{}\" does not exist at {}; the other topics are consumed meanwhile and "
          "it is consumed once it is created",
          topic, bootstrap_servers_);
    }
    return;
  }
  error_warning_.report([&] {
    return "Kafka consumer error" +
           (topic.empty() ? std::string() : " on topic \"" + topic + "\"") + ": " +
           rd_kafka_message_errstr(&record);
  });
}

// Pauses `partitions` (the whole assignment when null): librdkafka stops fetching them. Only
// after stopReceiving(), which is final.
void KafkaSource::pause(const rd_kafka_topic_partition_list_t* partitions) {
  PartitionListHandle assignment;
  if (!partitions) {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(consumer_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    assignment.reset(raw);
    partitions = assignment.get();
  }
  if (partitions->cnt == 0) return;  // nothing assigned yet; assigned() pauses what comes
  paused_ = true;
  // The function takes a non-const list only to write each partition's result into it.
  auto* list = const_cast<rd_kafka_topic_partition_list_t*>(partitions);
  if (const rd_kafka_resp_err_t error = rd_kafka_pause_partitions(consumer_.get(), list); error) {
    logger_->warn("cannot pause Kafka partitions: {}", rd_kafka_err2str(error));
  }
  logger_->debug("paused Kafka partitions {}", describePartitions(*partitions));
}

void KafkaSource::onRebalance(rd_kafka_t*, rd_kafka_resp_err_t error,
                              rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  try {
    if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      self->assigned(partitions);
    } else {
      self->revoked(partitions, error != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ||
                                    rd_kafka_assignment_lost(self->consumer_.get()));
    }
  } catch (const std::exception& e) {
    // librdkafka's C frames must not be unwound; the assignment is cleared so nothing is
    // consumed that the source does not track.
    self->logger_->error("the Kafka rebalance failed: {}", e.what());
    rd_kafka_assign(self->consumer_.get(), nullptr);
  }
}

void KafkaSource::assigned(rd_kafka_topic_partition_list_t* partitions) {
  const std::vector<TopicPartition> tps = topicPartitions(*partitions);
  bool receiving = false;
  {
    std::lock_guard lock(mutex_);
    tracker_.beginGeneration();
    for (const TopicPartition& tp : tps) tracker_.addPartition(tp);
    receiving = receiving_;
  }
  // Before the assignment, so that no record of these partitions reaches the consumer queue.
  for (int i = 0; i < partitions->cnt; ++i) {
    if (!forwardToDispatch(partitions->elems[i].topic, partitions->elems[i].partition)) {
      logger_->error("no librdkafka queue for Kafka partition {}[{}]", partitions->elems[i].topic,
                     partitions->elems[i].partition);
    }
  }
  if (const rd_kafka_resp_err_t error = rd_kafka_assign(consumer_.get(), partitions); error) {
    logger_->error("cannot take the Kafka partitions assigned to this consumer: {}",
                   rd_kafka_err2str(error));
    return;
  }
  if (!receiving) pause(partitions);
  assigned_.store(true);
  diagnostics_.clearProblem();
  logger_->info("Kafka partitions assigned: {}", describePartitions(*partitions));
}

void KafkaSource::revoked(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  const std::vector<TopicPartition> tps = topicPartitions(*partitions);
  std::vector<CommitPosition> positions;
  size_t unacknowledged = 0;
  bool closing = false;
  {
    std::unique_lock lock(mutex_);
    closing = closing_;
    stopHandingOver(&tps);
    auto settled = [&] {
      return stopping_ || closing_ ||
             std::all_of(tps.begin(), tps.end(), [&](auto& tp) { return tracker_.settled(tp); });
    };
    if (!lost) changed_.wait_for(lock, revoke_ack_wait_, settled);
    for (const TopicPartition& tp : tps) unacknowledged += tracker_.settled(tp) ? 0 : 1;
    if (!lost) positions = tracker_.uncommitted(&tps);
    for (const TopicPartition& tp : tps) tracker_.removePartition(tp);
    tracker_.beginGeneration();
  }
  if (lost) {
    logger_->warn(
        "Kafka partitions lost (another consumer owns them now): {}; nothing committed, "
        "their unacknowledged records are replayed",
        describePartitions(*partitions));
  } else {
    if (unacknowledged > 0 && !closing) {
      logger_->warn(
          "{} revoked Kafka partition(s) still had unacknowledged records after {} ms; "
          "committed up to the first of them, the next owner replays the rest",
          unacknowledged, revoke_ack_wait_.count());
    }
    commit(positions, true);
    logger_->info("Kafka partitions revoked: {}", describePartitions(*partitions));
  }
  // Partitions are only paused after stopReceiving(), which is final: they are never resumed
  // (rd_kafka_resume_partitions inside the revoke that rd_kafka_consumer_close runs never returns
  // in librdkafka 2.0.2), and a later assignment is paused again in assigned().
  rd_kafka_assign(consumer_.get(), nullptr);
  {
    std::lock_guard lock(mutex_);
    assigned_.store(false);
  }
  changed_.notify_all();  // close() waits for this after unsubscribing
}

void KafkaSource::stopHandingOver(const std::vector<TopicPartition>* partitions) {
  const std::vector<TopicPartition> all =
      partitions ? std::vector<TopicPartition>() : tracker_.partitions();
  // Everything after the last record handed over stays with Kafka: nothing is received any more.
  for (const TopicPartition& tp : partitions ? *partitions : all) {
    tracker_.abandonFrom(tp, INT64_MAX);
  }
}

std::vector<CommitPosition> KafkaSource::uncommitted(
    const std::vector<TopicPartition>* partitions) {
  std::lock_guard lock(mutex_);
  return tracker_.uncommitted(partitions);
}

void KafkaSource::commit(const std::vector<CommitPosition>& positions, bool synchronous) {
  if (positions.empty()) return;
  PartitionListHandle list(rd_kafka_topic_partition_list_new(static_cast<int>(positions.size())));
  {
    std::lock_guard lock(mutex_);
    for (const CommitPosition& position : positions) {
      const std::string& topic = topic_names_.at(position.topic_partition.topic_index);
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(),
                                        position.topic_partition.partition)
          ->offset = position.offset;
    }
  }
  const rd_kafka_resp_err_t error = rd_kafka_commit(consumer_.get(), list.get(), !synchronous);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error_warning_.report([&] {
      return std::string("committing Kafka offsets failed: ") + rd_kafka_err2str(error) +
             "; retried at the next commit";
    });
    return;
  }
  if (synchronous) commitResults(*list);
}

void KafkaSource::onCommit(rd_kafka_t*, rd_kafka_resp_err_t error,
                           rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  if (error == RD_KAFKA_RESP_ERR__NO_OFFSET || !offsets) return;  // nothing was to be committed
  try {
    self->commitResults(*offsets);
  } catch (const std::exception& e) {
    self->logger_->error("handling a Kafka commit result failed: {}", e.what());
  }
}

void KafkaSource::commitResults(const rd_kafka_topic_partition_list_t& offsets) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < offsets.cnt; ++i) {
    const rd_kafka_topic_partition_t& p = offsets.elems[i];
    auto index = topic_indexes_.find(p.topic);
    if (index == topic_indexes_.end()) continue;
    if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      tracker_.committed({index->second, p.partition}, p.offset);
    } else {
      error_warning_.report([&] {
        return "committing the Kafka offset of " + std::string(p.topic) + "[" +
               std::to_string(p.partition) + "] failed: " + rd_kafka_err2str(p.err) +
               "; retried at the next commit";
      });
    }
  }
}

void KafkaSource::onError(rd_kafka_t* consumer, int error, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  switch (static_cast<rd_kafka_resp_err_t>(error)) {
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      self->error_warning_.report([&] {
        return "cannot reach Kafka at " + self->bootstrap_servers_ + " (" + reason + "); retrying";
      });
      return;
    case RD_KAFKA_RESP_ERR__FATAL: {
      char fatal_reason[512];
      rd_kafka_fatal_error(consumer, fatal_reason, sizeof fatal_reason);
      // A consumer's fatal error (static membership fenced by another instance) cannot be
      // recovered by this client: the dataflow stops visibly; what it had not committed is
      // replayed by the group.
      self->handler_->onFailure(
          Status::fatal(std::string("the Kafka consumer failed for good: ") + fatal_reason));
      return;
    }
    default:
      // TLS and SASL failures: one clear line per kind. Other broker failures (disconnects, ...):
      // librdkafka logs them itself (onLog).
      if (self->diagnostics_.report(error, reason)) return;
      self->logger_->debug("librdkafka error {}: {}",
                           rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error)),
                           self->diagnostics_.scrub(reason));
  }
}

void KafkaSource::onLog(const rd_kafka_t* consumer, int level, const char* facility,
                        const char* line) {
  auto* self = static_cast<KafkaSource*>(rd_kafka_opaque(consumer));
  runtime::LogFields fields({{"library", std::string("librdkafka")}, {"facility", facility}});
  // A line that repeats a TLS or SASL failure onError reports clearly stays at debug.
  self->logger_->log(
      self->diagnostics_.repeatsReport(facility, line) ? spdlog::level::debug : spdlogLevel(level),
      "librdkafka {}: {}", facility, self->diagnostics_.scrub(line));
}

// A librdkafka broker thread, during a TLS handshake.
int KafkaSource::onCertificate(rd_kafka_t*, const char* broker_name, int32_t, int* x509_error, int,
                               const char*, size_t, char* errstr, size_t errstr_size,
                               void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  return self->diagnostics_.verifyCertificate(broker_name, *x509_error, errstr, errstr_size) ? 1
                                                                                             : 0;
}

int32_t KafkaSource::topicIndex(const char* name) {
  auto [it, inserted] = topic_indexes_.try_emplace(name, static_cast<int32_t>(topic_names_.size()));
  if (inserted) topic_names_.push_back(name);
  return it->second;
}

std::vector<TopicPartition> KafkaSource::topicPartitions(
    const rd_kafka_topic_partition_list_t& list) {
  std::vector<TopicPartition> out;
  out.reserve(static_cast<size_t>(list.cnt));
  std::lock_guard lock(mutex_);
  for (int i = 0; i < list.cnt; ++i) {
    out.push_back({topicIndex(list.elems[i].topic), list.elems[i].partition});
  }
  return out;
}

// librdkafka's background thread. The source outlives its consumer (close() destroys it).
int KafkaSource::onStatistics(rd_kafka_t*, char* json, size_t json_length, void* opaque) {
  static_cast<KafkaSource*>(opaque)->statistics_.update(std::string_view(json, json_length));
  return 0;  // librdkafka frees the document
}

void KafkaSource::onTokenRefresh(rd_kafka_t* consumer, const char*, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  refreshOAuthBearerToken(consumer, *self->oauthbearer_, *self->logger_);
}

}  // namespace dataflow::kafka
