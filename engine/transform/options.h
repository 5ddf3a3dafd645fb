// What a Dataflow needs from the transform, as plain data. The config loader fills one per
// Dataflow from its manifests; buildPipeline() turns it once into a fixed chain of stages. No
// dependency on the config code: every field is already validated and typed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/topic_template.h"

namespace dataflow::transform {

// Kafka -> Kafka is refused by the config validator and has no value here.
enum class Direction { MqttToKafka, KafkaToMqtt, MqttToMqtt };

// Destination endpoint `cloudEventAttributes`.
enum class CloudEventsMode { Propagate, CreateOrRemap };

// Kafka destination endpoint `kafkaSettings.partitionStrategy`.
enum class PartitionStrategy { Default, Static, Topic, Property };

// MQTT destination endpoint `mqttSettings.retain` (applies to MQTT -> MQTT only).
enum class RetainPolicy { Keep, Never };

// Dataflow destination `headers[]`, applied last, to Message::properties (Kafka headers or MQTT
// user properties), names compared exactly (case-sensitive).
enum class HeaderActionType { AddIfNotPresent, AddOrReplace, Remove };
struct HeaderAction {
  HeaderActionType type = HeaderActionType::AddIfNotPresent;
  std::string key;
  std::string value;  // unused by Remove
};

struct PipelineOptions {
  std::string dataflow_name;  // used in warnings only
  Direction direction = Direction::MqttToKafka;

  // Kafka endpoint `copyMqttProperties` (default Enabled). Used by MQTT -> Kafka only: the API
  // says it has no effect when the Kafka endpoint is the source, so Kafka -> MQTT always
  // translates headers (docs/transform.md).
  bool copy_mqtt_properties = true;

  // Destination endpoint `cloudEventAttributes`; absent = CloudEvents untouched.
  std::optional<CloudEventsMode> cloud_events;
  std::string destination_endpoint_name;           // CloudEvents `source` = aio://<name>
  std::optional<std::string> output_schema;        // CloudEvents `dataschema` when set
  std::optional<std::string> output_content_type;  // CloudEvents `datacontenttype` when set

  // Kafka destinations only (MQTT -> Kafka); must stay Default otherwise.
  PartitionStrategy partition_strategy = PartitionStrategy::Default;
  std::string partition_key_property;  // Property: a user property or built-in name
  uint32_t instance_ordinal = 0;       // Static

  TopicTemplate destination_topic;  // Dataflow destination `dataDestination`, parsed
  std::vector<HeaderAction> header_actions;
  RetainPolicy retain = RetainPolicy::Keep;

  // A warning about dropped messages is logged at its first occurrence, then at most once per
  // interval per reason, with the number of occurrences in between.
  std::chrono::milliseconds warning_interval{std::chrono::seconds(10)};
};

}  // namespace dataflow::transform
