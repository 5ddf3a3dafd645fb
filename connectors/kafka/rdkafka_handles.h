// RAII owners for librdkafka's C handles, so that each handle is owned on the line it appears,
// and the two steps every client shares: applying a property list and creating the client.
#pragma once

#include <librdkafka/rdkafka.h>
#include <spdlog/common.h>

#include <memory>
#include <string>

#include "connectors/kafka/kafka_settings.h"
#include "engine/core/status.h"

namespace dataflow::kafka {

struct ClientDeleter {
  void operator()(rd_kafka_t* client) const { rd_kafka_destroy(client); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* headers) const { rd_kafka_headers_destroy(headers); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* metadata) const {
    rd_kafka_metadata_destroy(metadata);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};

using ClientHandle = std::unique_ptr<rd_kafka_t, ClientDeleter>;
using ConfHandle = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using TopicHandle = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using HeadersHandle = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using MetadataHandle = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using MessageHandle = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using QueueHandle = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using PartitionListHandle = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// A new configuration holding `config` in order. Fatal names the property librdkafka refused and
// its reason, never the value (it may be a password).
Result<ConfHandle> makeConf(const ProducerConfig& config);

// The error and log callbacks every client of the engine installs.
struct ClientCallbacks {
  void* opaque = nullptr;  // rd_kafka_opaque(): the connector object
  void (*on_error)(rd_kafka_t*, int error, const char* reason, void* opaque) = nullptr;
  void (*on_log)(const rd_kafka_t*, int level, const char* facility, const char* line) = nullptr;
  // librdkafka's ssl.certificate.verify_cb, installed when security.protocol is SSL or SASL_SSL.
  int (*on_certificate)(rd_kafka_t*, const char* broker_name, int32_t broker_id, int* x509_error,
                        int depth, const char* der, size_t der_size, char* errstr,
                        size_t errstr_size, void* opaque) = nullptr;
};

// makeConf(`config`) plus what every client sets: log lines go to the main queue (so the thread
// that polls the client runs the log callback too, never a librdkafka internal thread), and
// `callbacks`. The caller adds its own callbacks (delivery reports, rebalances) to the result.
Result<ConfHandle> makeClientConf(const ProducerConfig& config, const ClientCallbacks& callbacks);

// The spdlog level of a librdkafka log line (librdkafka logs with syslog levels).
spdlog::level::level_enum spdlogLevel(int syslog_level);

// rd_kafka_new: takes `conf` on success; on failure the Status carries librdkafka's reason.
Result<ClientHandle> newClient(rd_kafka_type_t type, ConfHandle conf);

// The metadata of one topic (`topic` may be a handle of another client of the same cluster),
// or of the brokers only when `topic` is null. Blocks up to `timeout_ms`.
Result<MetadataHandle> fetchMetadata(rd_kafka_t* client, rd_kafka_topic_t* topic, int timeout_ms);

// The configuration `client` runs with, read back from librdkafka: every global property and then
// every default topic property, defaults and librdkafka's own adjustments included, under their
// canonical names (linger.ms shows as queue.buffering.max.ms). Secrets are NOT redacted here.
ProducerConfig effectiveConfig(rd_kafka_t* client);

}  // namespace dataflow::kafka
