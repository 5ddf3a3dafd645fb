// Kafka helpers for the integration and e2e tests: librdkafka's mock cluster in the test process
// (the DevCluster that `dataflow dev-kafka` runs), an independent reader of what reached it and
// an independent writer of records for a Kafka source to consume.
// Failures to set up throw std::runtime_error: a test cannot go on without its cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/dev_cluster.h"

struct rd_kafka_s;

namespace dataflow::testing {

class MockKafka {
 public:
  explicit MockKafka(int brokers = 3);
  ~MockKafka();

  const std::string& bootstrapServers() const { return cluster_->bootstrapServers(); }
  kafka::DevCluster& cluster() { return *cluster_; }

  void createTopic(const std::string& name, int partitions);
  void setBrokerDown(int32_t broker_id, bool down);
  void setAllBrokersDown(bool down);
  void setPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);
  // The next produce requests fail with these Kafka error codes, one per request.
  void failNextProduceRequests(const std::vector<int>& kafka_error_codes);

  // The sum of the log end offsets (high watermarks) of every partition of `topic`: how many
  // records it holds. Waits up to `timeout` for the topic and each answer.
  int64_t endOffsets(const std::string& topic,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The sum of the offsets consumer group `group` has committed for the partitions of `topic`
  // (a partition without a commit counts 0): how many records the group has marked consumed.
  int64_t committedOffsets(const std::string& group, const std::string& topic,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct ClientDeleter {
    void operator()(rd_kafka_s* client) const;
  };

  std::unique_ptr<kafka::DevCluster> cluster_;
  std::unique_ptr<rd_kafka_s, ClientDeleter> client_;  // for metadata and watermarks; lazy
};

struct KafkaRecord {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;  // nullopt: null key
  std::string value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;  // in order
  int64_t timestamp_ms = -1;
  int timestamp_type = 0;  // rd_kafka_timestamp_type_t: 1 = CreateTime, 2 = LogAppendTime
};

// Produces records exactly as described, for tests of a Kafka source. A plain librdkafka producer
// (acks=all, not idempotent, no batching delay), independent of the engine's destination.
// Failures throw std::runtime_error.
class KafkaWriter {
 public:
  explicit KafkaWriter(std::string bootstrap_servers);
  ~KafkaWriter();

  // Produces each record and waits until every one is acknowledged by the cluster or `timeout`
  // passes (then throws). Per record: topic; partition when >= 0, else librdkafka's partitioner
  // (consistent_random: by key hash, random for a null key); key (nullopt = null key, "" = empty
  // key); value; headers in order, duplicates kept, a nullopt value produced as a NULL header
  // value; timestamp_ms as CreateTime when >= 0, else the producer's clock. Returns the records
  // in the same order with partition and offset as written. Records to one partition keep their
  // order.
  std::vector<KafkaRecord> write(std::vector<KafkaRecord> records,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  KafkaRecord write(KafkaRecord record,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct ClientDeleter {
    void operator()(rd_kafka_s* client) const;
  };

  std::unique_ptr<rd_kafka_s, ClientDeleter> producer_;
};

// Reads one topic from the beginning of every partition, without a consumer group (partitions
// are assigned, offsets never committed). Successive calls return only records not returned yet.
class KafkaReader {
 public:
  KafkaReader(std::string bootstrap_servers, std::string topic);
  ~KafkaReader();

  // Waits until `count` new records have arrived or `timeout` passes, and returns the new ones
  // (fewer than `count` on timeout). The topic need not exist yet: until it does, the call waits
  // for it within the same timeout.
  std::vector<KafkaRecord> readAtLeast(size_t count, std::chrono::milliseconds timeout);

 private:
  struct ClientDeleter {
    void operator()(rd_kafka_s* client) const;
  };

  bool assign(std::chrono::steady_clock::time_point deadline);

  std::string topic_;
  std::unique_ptr<rd_kafka_s, ClientDeleter> consumer_;
  bool assigned_ = false;
};

}  // namespace dataflow::testing
