// Maps a Kafka endpoint's settings to the librdkafka properties that implement them: one shared
// connection part (bootstrap servers, TLS and its CA, SASL, X.509, refusals of what this build
// cannot do) followed by the producer part (batching, compression, acks, partitioning,
// idempotence, queue bounds) or the consumer part (group, offsets, fetch bound).
// Pure: it reads mounted secrets and ConfigMaps but calls no librdkafka function, so every
// mapping is unit-tested on the generated list. The clients apply the list in order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/manifest.h"
#include "engine/config/mounted_files.h"
#include "engine/core/status.h"
#include "engine/runtime/connector_factory.h"

namespace dataflow::kafka {

// One librdkafka configuration property (CONFIGURATION.md of librdkafka 2.0.2).
struct ConfigProperty {
  std::string name;
  std::string value;

  friend bool operator==(const ConfigProperty&, const ConfigProperty&) = default;
};
// A property list in the order it is applied (a later entry for the same name wins).
using ClientConfig = std::vector<ConfigProperty>;
using ProducerConfig = ClientConfig;
using ConsumerConfig = ClientConfig;

// librdkafka 2.0.2 ranges the mapping clamps to (rd_kafka_conf_properties_show).
inline constexpr int64_t kMaxBatchMessages = 1'000'000;      // batch.num.messages: 1 .. 1000000
inline constexpr int64_t kMaxInt32Property = 2'147'483'647;  // batch.size, queue.buffering.*
// message.max.bytes: librdkafka's default, set explicitly because the producer queue must be
// able to hold one message of this size (see queue.buffering.max.kbytes in producerConfig).
inline constexpr int64_t kMessageMaxBytes = 1'000'000;
// Broker reconnects: librdkafka doubles the wait from the first value up to the second and
// jitters each wait by -25% .. +50%.
inline constexpr int64_t kReconnectBackoffMs = 100;
inline constexpr int64_t kReconnectBackoffMaxMs = 10'000;
// queued.max.messages.kbytes of the consumer: what librdkafka may prefetch and hold across the
// assigned partitions (its default, 64 MiB, is a lot for an edge device).
inline constexpr int64_t kConsumerPrefetchKbytes = 16'384;
// queued.min.messages of the consumer: the messages librdkafka tries to keep prefetched per
// partition (its default, 100,000). The kbytes bound above counts wire bytes only; each
// prefetched message also costs librdkafka's own structures (a few hundred bytes, more with
// headers), so with small records and a backlog in Kafka the count is what bounds memory.
// 10,000 halved the throughput against the mock cluster, which holds every fetch that finds no
// data for the whole fetch.wait.max.ms; 25,000 did not. (The benchmark's closed loop keeps at
// most 20,000 records in flight, so it does not show the memory this saves.)
inline constexpr int64_t kConsumerPrefetchMessages = 25'000;
// fetch.wait.max.ms of the consumer: how long a broker may hold a fetch that finds no data. Kafka
// answers early when records arrive, so this only sets the idle fetch rate there; librdkafka's
// mock cluster (`dataflow dev-kafka`) always holds the whole wait, which put up to 500 ms (the
// default) on Kafka -> MQTT latency.
inline constexpr int64_t kConsumerFetchWaitMs = 100;
// statistics.interval.ms of every client: how often the consumer lag per partition and the
// connection counters (metrics) are measured.
inline constexpr int kStatisticsIntervalMs = 5000;
// session.timeout.ms of the consumer: how long a crashed instance keeps its partitions.
inline constexpr int64_t kConsumerSessionTimeoutMs = 10'000;

// The producer properties for `settings`, or a fatal Status naming what cannot work: a secret key
// that is missing, an authentication method this build cannot perform, X.509 without TLS.
// `limits` bound the producer queue (the in-flight buffer); `client_id` becomes client.id.
// Secrets are read now: a rotated secret takes effect when the producer is created again.
Result<ProducerConfig> producerConfig(const config::KafkaSettings& settings,
                                      const config::MountedFiles& files,
                                      const runtime::FlightLimits& limits,
                                      std::string_view client_id);

// The consumer properties for `settings`: the same connection part as producerConfig, then
// group.id = consumerGroupId (fatal when absent or empty: a Kafka source needs a group),
// offsets committed only by the source (enable.auto.commit=false, enable.auto.offset.store=false),
// a new group starting at the earliest offset (auto.offset.reset=earliest: nothing already in the
// topic is skipped when a dataflow is first deployed), the eager round-robin assignor, and a
// bounded prefetch. None of the producer-only settings is applied.
Result<ConsumerConfig> consumerConfig(const config::KafkaSettings& settings,
                                      const config::MountedFiles& files,
                                      std::string_view client_id);

// The value of property `name`, or nullptr when the list does not set it.
const std::string* findProperty(const ClientConfig& config, std::string_view name);

// Whether the value of property `name` is a credential that must never be logged.
bool isSecretProperty(std::string_view name);

// `config` with every secret value replaced by "[redacted]", for logs.
ClientConfig redacted(ClientConfig config);

// "name=value, name=value" of `config` with secrets redacted: the one way to log a config.
std::string describe(const ClientConfig& config);

}  // namespace dataflow::kafka
