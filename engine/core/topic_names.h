// Topic name rules of the two destinations. Pure functions, allocation-free, thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace dataflow {

inline constexpr size_t kMaxKafkaTopicLength = 249;

// Kafka's own rule (org.apache.kafka.common.internals.Topic.validate): 1..249 characters from
// [a-zA-Z0-9._-], and not "." or "..".
bool isLegalKafkaTopic(std::string_view topic);

// An MQTT v5 topic name a client may PUBLISH to (§4.7.3, §3.3.2.1): at least one byte, a valid
// MQTT UTF-8 string (no U+0000, <= 65,535 bytes), and no wildcard characters '+' or '#'.
bool isValidMqttTopicName(std::string_view topic);

}  // namespace dataflow
