#include "tests/support/kafka/kafka_test_support.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "connectors/kafka/rdkafka_handles.h"

namespace dataflow::testing {

namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using namespace std::chrono_literals;

// Pause between two metadata requests while a topic does not exist yet.
constexpr auto kMetadataRetryInterval = 50ms;

void check(const Status& status) {
  if (!status.isOk()) throw std::runtime_error(status.message());
}

int remainingMs(steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// `group`: the group.id, by default one of its own. It is needed by rd_kafka_assign and
// rd_kafka_committed only; the group is never joined (no subscribe) and no offset is ever
// committed.
kafka::ClientHandle newConsumer(const std::string& bootstrap_servers, const std::string& name,
                                const std::string& group = {}) {
  static std::atomic<int> serial{0};
  const std::string id = name + "-" + std::to_string(serial.fetch_add(1));
  Result<kafka::ConfHandle> conf = kafka::makeConf({{"bootstrap.servers", bootstrap_servers},
                                                    {"client.id", id},
                                                    {"group.id", group.empty() ? id : group},
                                                    {"enable.auto.commit", "false"},
                                                    {"enable.auto.offset.store", "false"}});
  check(conf.status());
  Result<kafka::ClientHandle> client = kafka::newClient(RD_KAFKA_CONSUMER, std::move(conf).value());
  check(client.status());
  return std::move(client).value();
}

// The partition ids of `topic` once the cluster knows it, or nullopt at the deadline. Asks for
// the metadata of all topics: a request naming the topic would create it on a broker that
// auto-creates topics (the mock does, with 4 partitions, answering Metadata v0..v2 only).
std::optional<std::vector<int32_t>> partitionsOf(rd_kafka_t* client, const std::string& topic,
                                                 steady_clock::time_point deadline) {
  while (true) {
    const rd_kafka_metadata_t* raw = nullptr;
    const rd_kafka_resp_err_t error =
        rd_kafka_metadata(client, 1, nullptr, &raw, std::max(remainingMs(deadline), 1));
    kafka::MetadataHandle metadata(raw);
    for (int i = 0; error == RD_KAFKA_RESP_ERR_NO_ERROR && i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = metadata->topics[i];
      if (topic != t.topic || t.err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partition_cnt <= 0) {
        continue;
      }
      std::vector<int32_t> ids;
      for (int p = 0; p < t.partition_cnt; ++p) ids.push_back(t.partitions[p].id);
      return ids;
    }
    if (steady_clock::now() + kMetadataRetryInterval >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kMetadataRetryInterval);  // retry interval, not a synchronisation
  }
}

KafkaRecord toRecord(const rd_kafka_message_t& message) {
  KafkaRecord record;
  record.topic = rd_kafka_topic_name(message.rkt);
  record.partition = message.partition;
  record.offset = message.offset;
  if (message.key) record.key.emplace(static_cast<const char*>(message.key), message.key_len);
  if (message.payload) record.value.assign(static_cast<const char*>(message.payload), message.len);
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  record.timestamp_ms = rd_kafka_message_timestamp(&message, &type);
  record.timestamp_type = static_cast<int>(type);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      std::optional<std::string> bytes;
      if (value) bytes.emplace(static_cast<const char*>(value), size);
      record.headers.emplace_back(name, std::move(bytes));
    }
  }
  return record;
}

// The delivery report of one record written by KafkaWriter::write.
struct WriteSlot {
  KafkaRecord* record = nullptr;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR__IN_PROGRESS;
};

void onWriteDelivered(rd_kafka_t*, const rd_kafka_message_t* report, void*) {
  auto* slot = static_cast<WriteSlot*>(report->_private);
  slot->error = report->err;
  slot->record->partition = report->partition;
  slot->record->offset = report->offset;
}

kafka::HeadersHandle makeHeaders(const KafkaRecord& record) {
  if (record.headers.empty()) return nullptr;
  kafka::HeadersHandle headers(rd_kafka_headers_new(record.headers.size()));
  for (const auto& [name, value] : record.headers) {
    rd_kafka_header_add(headers.get(), name.data(), static_cast<ssize_t>(name.size()),
                        value ? value->data() : nullptr,
                        value ? static_cast<ssize_t>(value->size()) : 0);
  }
  return headers;
}

}  // namespace

void KafkaWriter::ClientDeleter::operator()(rd_kafka_s* client) const { rd_kafka_destroy(client); }

KafkaWriter::KafkaWriter(std::string bootstrap_servers) {
  static std::atomic<int> serial{0};
  Result<kafka::ConfHandle> conf =
      kafka::makeConf({{"bootstrap.servers", bootstrap_servers},
                       {"client.id", "kafka-writer-" + std::to_string(serial.fetch_add(1))},
                       {"acks", "all"},
                       {"enable.idempotence", "false"},
                       {"linger.ms", "0"}});
  check(conf.status());
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &onWriteDelivered);
  Result<kafka::ClientHandle> client = kafka::newClient(RD_KAFKA_PRODUCER, std::move(conf).value());
  check(client.status());
  producer_.reset(std::move(client).value().release());
}

KafkaWriter::~KafkaWriter() = default;

KafkaRecord KafkaWriter::write(KafkaRecord record, milliseconds timeout) {
  std::vector<KafkaRecord> records;
  records.push_back(std::move(record));
  return std::move(write(std::move(records), timeout).front());
}

std::vector<KafkaRecord> KafkaWriter::write(std::vector<KafkaRecord> records,
                                            milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  std::vector<WriteSlot> slots(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    KafkaRecord& record = records[i];
    slots[i].record = &record;
    kafka::HeadersHandle headers = makeHeaders(record);
    const void* key = record.key ? record.key->data() : nullptr;  // data() of "" is non-null
    const size_t key_size = record.key ? record.key->size() : 0;
    const int32_t partition = record.partition >= 0 ? record.partition : RD_KAFKA_PARTITION_UA;
    const int64_t timestamp = record.timestamp_ms >= 0 ? record.timestamp_ms : 0;
    const rd_kafka_resp_err_t error = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_TIMESTAMP(timestamp),
        RD_KAFKA_V_HEADERS(headers.get()), RD_KAFKA_V_OPAQUE(&slots[i]), RD_KAFKA_V_END);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_flush(producer_.get(), std::max(remainingMs(deadline), 1));  // keep slots valid
      throw std::runtime_error("cannot produce to " + record.topic + ": " +
                               rd_kafka_err2str(error));
    }
    (void)headers.release();  // librdkafka owns them now
  }
  const rd_kafka_resp_err_t flushed =
      rd_kafka_flush(producer_.get(), std::max(remainingMs(deadline), 1));
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer_.get(), 1000);  // serves the purged reports while slots are valid
    throw std::runtime_error("records not acknowledged in time: " +
                             std::string(rd_kafka_err2str(flushed)));
  }
  for (const WriteSlot& slot : slots) {
    if (slot.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("writing to " + slot.record->topic +
                               " failed: " + rd_kafka_err2str(slot.error));
    }
  }
  return records;
}

void MockKafka::ClientDeleter::operator()(rd_kafka_s* client) const { rd_kafka_destroy(client); }
void KafkaReader::ClientDeleter::operator()(rd_kafka_s* client) const { rd_kafka_destroy(client); }

MockKafka::MockKafka(int brokers) {
  Result<std::unique_ptr<kafka::DevCluster>> cluster = kafka::DevCluster::start(brokers);
  check(cluster.status());
  cluster_ = std::move(cluster).value();
}

MockKafka::~MockKafka() { client_.reset(); }

void MockKafka::createTopic(const std::string& name, int partitions) {
  check(cluster_->createTopic(name, partitions));
}

void MockKafka::setBrokerDown(int32_t broker_id, bool down) {
  check(cluster_->setBrokerDown(broker_id, down));
}

void MockKafka::setAllBrokersDown(bool down) { check(cluster_->setAllBrokersDown(down)); }

void MockKafka::setPartitionLeader(const std::string& topic, int32_t partition,
                                   int32_t broker_id) {
  check(cluster_->setPartitionLeader(topic, partition, broker_id));
}

void MockKafka::failNextProduceRequests(const std::vector<int>& kafka_error_codes) {
  check(cluster_->failNextProduceRequests(kafka_error_codes));
}

int64_t MockKafka::endOffsets(const std::string& topic, milliseconds timeout) {
  if (!client_) client_.reset(newConsumer(bootstrapServers(), "mock-kafka-offsets").release());
  const auto deadline = steady_clock::now() + timeout;
  std::optional<std::vector<int32_t>> partitions = partitionsOf(client_.get(), topic, deadline);
  if (!partitions) throw std::runtime_error("topic " + topic + " does not exist");
  int64_t sum = 0;
  for (int32_t partition : *partitions) {
    int64_t low = 0;
    int64_t high = 0;
    const rd_kafka_resp_err_t error = rd_kafka_query_watermark_offsets(
        client_.get(), topic.c_str(), partition, &low, &high, std::max(remainingMs(deadline), 1));
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("watermarks of " + topic + ": " + rd_kafka_err2str(error));
    }
    sum += high;
  }
  return sum;
}

int64_t MockKafka::committedOffsets(const std::string& group, const std::string& topic,
                                    milliseconds timeout) {
  kafka::ClientHandle client = newConsumer(bootstrapServers(), "mock-kafka-committed", group);
  const auto deadline = steady_clock::now() + timeout;
  std::optional<std::vector<int32_t>> partitions = partitionsOf(client.get(), topic, deadline);
  if (!partitions) throw std::runtime_error("topic " + topic + " does not exist");
  kafka::PartitionListHandle list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions->size())));
  for (int32_t partition : *partitions) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition);
  }
  const rd_kafka_resp_err_t error =
      rd_kafka_committed(client.get(), list.get(), std::max(remainingMs(deadline), 1));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("committed offsets of " + group + ": " + rd_kafka_err2str(error));
  }
  int64_t sum = 0;
  for (int i = 0; i < list->cnt; ++i) sum += std::max<int64_t>(list->elems[i].offset, 0);
  rd_kafka_consumer_close(client.get());
  return sum;
}

KafkaReader::KafkaReader(std::string bootstrap_servers, std::string topic)
    : topic_(std::move(topic)) {
  consumer_.reset(newConsumer(bootstrap_servers, "kafka-reader").release());
  rd_kafka_poll_set_consumer(consumer_.get());  // errors and logs are served by consumer_poll
}

KafkaReader::~KafkaReader() {
  if (consumer_) rd_kafka_consumer_close(consumer_.get());
}

bool KafkaReader::assign(steady_clock::time_point deadline) {
  std::optional<std::vector<int32_t>> partitions = partitionsOf(consumer_.get(), topic_, deadline);
  if (!partitions) return false;
  kafka::PartitionListHandle list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions->size())));
  for (int32_t partition : *partitions) {
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  const rd_kafka_resp_err_t error = rd_kafka_assign(consumer_.get(), list.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("cannot assign " + topic_ + ": " + rd_kafka_err2str(error));
  }
  assigned_ = true;
  return true;
}

std::vector<KafkaRecord> KafkaReader::readAtLeast(size_t count, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  std::vector<KafkaRecord> records;
  if (!assigned_ && !assign(deadline)) return records;
  while (records.size() < count) {
    const int wait_ms = remainingMs(deadline);
    if (wait_ms <= 0) break;
    kafka::MessageHandle message(rd_kafka_consumer_poll(consumer_.get(), wait_ms));
    // No message before the timeout, or an event such as a broker disconnect: nothing to return.
    if (!message || message->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    records.push_back(toRecord(*message));
  }
  return records;
}

}  // namespace dataflow::testing
