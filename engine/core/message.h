// The one neutral message type that crosses a pipeline, from a source through the transform
// stages to a destination. Built once by the source and moved, never copied, through the stages.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dataflow {

// One application property: an MQTT v5 user property or a Kafka header. Both are ordered and
// allow duplicate names, so one ordered list serves both. `value` holds bytes (a Kafka header
// value may be any bytes; MQTT requires UTF-8, which the Kafka->MQTT stage enforces).
struct Property {
  std::string name;
  std::string value;

  friend bool operator==(const Property&, const Property&) = default;
};

// The MQTT v5 PUBLISH properties a dataflow carries. Absent means "not set". Topic Alias and
// Subscription Identifiers are connection-local and never enter a Message.
struct MqttProperties {
  std::optional<uint8_t> payload_format_indicator;
  std::optional<uint32_t> message_expiry_interval;  // seconds
  std::optional<std::string> content_type;
  std::optional<std::string> response_topic;
  std::optional<std::string> correlation_data;  // binary

  friend bool operator==(const MqttProperties&, const MqttProperties&) = default;
};

// What a source needs back to acknowledge a message once its destination has it (or it was
// dropped on purpose). Opaque to the engine: only the source that issued it interprets it.
struct AckToken {
  uint64_t sequence = 0;     // source-assigned, e.g. receive order of an MQTT source
  int32_t topic_index = -1;  // Kafka source: the record's topic, as an index into its own table
  int32_t partition = -1;    // Kafka source: the record's partition
  int64_t offset = -1;       // Kafka source: the record's offset
  // Set by the runner before a message goes to its destination, which hands the token back with
  // the delivery report: the message's receive time, its payload size at sending and how long
  // after receiving it was handed to the destination (microseconds, saturating), for the latency
  // and byte metrics. Not part of the token's identity.
  std::chrono::steady_clock::time_point received_at{};
  uint32_t payload_bytes = 0;
  uint32_t sent_after_us = 0;

  friend bool operator==(const AckToken& a, const AckToken& b) {
    return a.sequence == b.sequence && a.topic_index == b.topic_index &&
           a.partition == b.partition && a.offset == b.offset;
  }
};

struct Message {
  std::string topic;                 // MQTT topic, or Kafka topic of a Kafka source
  std::string payload;               // bytes
  std::optional<std::string> key;    // Kafka record key (null and empty are different)
  std::optional<int32_t> partition;  // Kafka partition (source) or chosen partition (Static)
  int64_t timestamp_ms = 0;          // Kafka timestamp, or wall-clock receive time (ms epoch)
  std::chrono::steady_clock::time_point received_at{};  // for expiry arithmetic
  // Set by the expiry stage for a message that has a Message Expiry Interval: the instant it
  // expires (received_at + interval). A destination that holds a message before it reaches the
  // broker (waiting for a connection, taken back from a producer) calls refreshExpiry()
  // (message_expiry.h) before each send: an expired message is dropped, the others carry what
  // remains.
  std::optional<std::chrono::steady_clock::time_point> expires_at;
  MqttProperties mqtt;
  std::vector<Property> properties;  // user properties / headers, in order
  int qos = 0;
  bool retain = false;
  AckToken ack;
};

}  // namespace dataflow
