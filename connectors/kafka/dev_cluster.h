// A Kafka cluster for development and tests: librdkafka's mock cluster, in this process, on
// loopback. It is NOT a broker: one thread serves every mock broker, data lives in memory only
// (at most 5 MiB or 100,000 batches per partition, the oldest dropped), no SASL, no TLS, no
// admin API (topics are created here or automatically with 4 partitions). Used by
// `dataflow dev-kafka` and by the tests: one implementation for both.
//
// This header names no librdkafka type, so the command-line code (cli/) can include it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/status.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace dataflow::kafka {

class DevCluster {
 public:
  // Receives librdkafka's log lines about the cluster (syslog level, facility, text). Called from
  // librdkafka's threads until the cluster is destroyed; may be empty to drop them.
  using LogSink = std::function<void(int level, const char* facility, const char* line)>;

  // Starts `broker_count` (>= 1) brokers, ids 1 .. broker_count, each listening on 127.0.0.1 at
  // an ephemeral port. Fatal when librdkafka cannot create the cluster.
  static Result<std::unique_ptr<DevCluster>> start(int broker_count, LogSink log = {});

  ~DevCluster();
  DevCluster(const DevCluster&) = delete;
  DevCluster& operator=(const DevCluster&) = delete;

  // "127.0.0.1:PORT,127.0.0.1:PORT,...": what a client puts in bootstrap.servers.
  const std::string& bootstrapServers() const { return bootstrap_servers_; }
  int brokerCount() const { return broker_count_; }

  // Creates `name` with `partitions` partitions (replication factor min(3, brokers)). Fatal if
  // the mock refuses (e.g. the topic exists).
  Status createTopic(const std::string& name, int partitions);

  // Disconnects a broker (by id) or all of them and refuses connections until set up again.
  // Leadership does not move.
  Status setBrokerDown(int32_t broker_id, bool down);
  Status setAllBrokersDown(bool down);
  // Makes `broker_id` the leader of the topic's partition (the topic must exist).
  Status setPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);

  // The next produce requests fail with these Kafka protocol error codes, one per request
  // (e.g. 10 = MESSAGE_TOO_LARGE), for fault injection in tests.
  Status failNextProduceRequests(const std::vector<int>& kafka_error_codes);

 private:
  struct ClientDeleter {
    void operator()(rd_kafka_s* client) const;
  };
  struct ClusterDeleter {
    void operator()(rd_kafka_mock_cluster_s* cluster) const;
  };

  DevCluster() = default;

  int broker_count_ = 0;
  std::string bootstrap_servers_;
  LogSink log_;  // outlives client_, whose threads call it
  // librdkafka needs a client handle for its bookkeeping; it connects to nothing.
  std::unique_ptr<rd_kafka_s, ClientDeleter> client_;
  std::unique_ptr<rd_kafka_mock_cluster_s, ClusterDeleter> cluster_;  // destroyed before client_
};

}  // namespace dataflow::kafka
