#include "connectors/kafka/dev_cluster.h"

// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>  // must follow rdkafka.h
// clang-format on

#include <algorithm>
#include <utility>

#include "connectors/kafka/rdkafka_handles.h"

namespace dataflow::kafka {

namespace {

constexpr int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of Produce
constexpr int kMaxReplicationFactor = 3;

Status mockStatus(rd_kafka_resp_err_t error, const std::string& what) {
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();
  return Status::fatal(what + ": " + rd_kafka_err2str(error));
}

}  // namespace

void DevCluster::ClientDeleter::operator()(rd_kafka_s* client) const { rd_kafka_destroy(client); }

void DevCluster::ClusterDeleter::operator()(rd_kafka_mock_cluster_s* cluster) const {
  rd_kafka_mock_cluster_destroy(cluster);
}

Result<std::unique_ptr<DevCluster>> DevCluster::start(int broker_count, LogSink log) {
  if (broker_count < 1) return Status::fatal("a Kafka dev cluster needs at least one broker");
  std::unique_ptr<DevCluster> cluster(new DevCluster());
  cluster->log_ = std::move(log);
  // The bookkeeping client has no bootstrap.servers: it connects to nothing. Warnings and worse
  // only: at info level it would announce that it cannot connect.
  Result<ConfHandle> conf = makeConf({{"client.id", "dataflow-dev-cluster"}, {"log_level", "4"}});
  if (!conf.isOk()) return conf.status();
  rd_kafka_conf_set_opaque(conf.value().get(), cluster.get());
  rd_kafka_conf_set_log_cb(conf.value().get(), [](const rd_kafka_t* client, int level,
                                                  const char* facility, const char* line) {
    const auto* self = static_cast<const DevCluster*>(rd_kafka_opaque(client));
    if (self->log_) self->log_(level, facility, line);
  });
  Result<ClientHandle> client = newClient(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!client.isOk()) return client.status();
  cluster->client_.reset(client.value().release());
  cluster->cluster_.reset(rd_kafka_mock_cluster_new(cluster->client_.get(), broker_count));
  if (!cluster->cluster_) return Status::fatal("librdkafka could not start a mock Kafka cluster");
  cluster->broker_count_ = broker_count;
  cluster->bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(cluster->cluster_.get());
  return cluster;
}

DevCluster::~DevCluster() = default;

Status DevCluster::createTopic(const std::string& name, int partitions) {
  const int replication = std::min(broker_count_, kMaxReplicationFactor);
  return mockStatus(
      rd_kafka_mock_topic_create(cluster_.get(), name.c_str(), partitions, replication),
      "cannot create topic \"" + name + "\"");
}

Status DevCluster::setBrokerDown(int32_t broker_id, bool down) {
  rd_kafka_resp_err_t error = down ? rd_kafka_mock_broker_set_down(cluster_.get(), broker_id)
                                   : rd_kafka_mock_broker_set_up(cluster_.get(), broker_id);
  return mockStatus(error,
                    "cannot set broker " + std::to_string(broker_id) + (down ? " down" : " up"));
}

Status DevCluster::setAllBrokersDown(bool down) { return setBrokerDown(-1, down); }

Status DevCluster::setPartitionLeader(const std::string& topic, int32_t partition,
                                      int32_t broker_id) {
  return mockStatus(
      rd_kafka_mock_partition_set_leader(cluster_.get(), topic.c_str(), partition, broker_id),
      "cannot make broker " + std::to_string(broker_id) + " the leader of " + topic + "[" +
          std::to_string(partition) + "]");
}

Status DevCluster::failNextProduceRequests(const std::vector<int>& kafka_error_codes) {
  std::vector<rd_kafka_resp_err_t> errors;
  errors.reserve(kafka_error_codes.size());
  for (int code : kafka_error_codes) errors.push_back(static_cast<rd_kafka_resp_err_t>(code));
  rd_kafka_mock_push_request_errors_array(cluster_.get(), kProduceApiKey, errors.size(),
                                          errors.data());
  return Status::ok();
}

}  // namespace dataflow::kafka
