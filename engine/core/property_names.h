// Names the transform gives to things that have no name on the other side: the Kafka headers that
// carry MQTT v5 built-in properties (AIO "Copy MQTT properties" table), the MQTT user properties
// that carry a Kafka record's key and timestamp, and the CloudEvents binding names.
#pragma once

#include <string_view>

namespace dataflow {

// MQTT -> Kafka: header names of the MQTT v5 built-in properties, in the order they are emitted.
inline constexpr std::string_view kPayloadFormatIndicatorHeader = "Payload Format Indicator";
inline constexpr std::string_view kResponseTopicHeader = "Response Topic";
inline constexpr std::string_view kMessageExpiryIntervalHeader = "Message Expiry Interval";
inline constexpr std::string_view kCorrelationDataHeader = "Correlation Data";
inline constexpr std::string_view kContentTypeHeader = "Content Type";

// Kafka -> MQTT: user property names of the record key and timestamp.
inline constexpr std::string_view kKeyProperty = "Key";
inline constexpr std::string_view kTimestampProperty = "Timestamp";

// CloudEvents Kafka binding (binary mode): attribute `x` travels in header `ce_x`, except
// datacontenttype, which is the `content-type` header. The AIO table writes `ce-`, which is the
// HTTP binding's prefix; we follow the Kafka binding (docs/transform.md).
inline constexpr std::string_view kCloudEventsKafkaPrefix = "ce_";
inline constexpr std::string_view kCloudEventsKafkaContentType = "content-type";

}  // namespace dataflow
