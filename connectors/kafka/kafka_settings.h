// Maps a Kafka endpoint's settings to the librdkafka producer properties that implement them.
// Pure: it reads mounted secrets and ConfigMaps but calls no librdkafka function, so every
// mapping is unit-tested on the generated list. The destination applies the list in order.
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
using ProducerConfig = std::vector<ConfigProperty>;

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

// The producer properties for `settings`, or a fatal Status naming what cannot work: a secret key
// that is missing, an authentication method this build cannot perform, X.509 without TLS.
// `limits` bound the producer queue (the in-flight buffer); `client_id` becomes client.id.
// Secrets are read now: a rotated secret takes effect when the producer is created again.
Result<ProducerConfig> producerConfig(const config::KafkaSettings& settings,
                                      const config::MountedFiles& files,
                                      const runtime::FlightLimits& limits,
                                      std::string_view client_id);

// The value of property `name`, or nullptr when the list does not set it.
const std::string* findProperty(const ProducerConfig& config, std::string_view name);

// Whether the value of property `name` is a credential that must never be logged.
bool isSecretProperty(std::string_view name);

// `config` with every secret value replaced by "[redacted]", for logs.
ProducerConfig redacted(ProducerConfig config);

// "name=value, name=value" of `config` with secrets redacted: the one way to log a config.
std::string describe(const ProducerConfig& config);

}  // namespace dataflow::kafka
