// Helpers for the CloudEvents tests: the AIO table's sample values, messages in a direction's
// source binding, and reading an attribute back from the destination binding.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/transform/test_support.h"

namespace dataflow::transform::testing {

inline constexpr const char* kContentType = "datacontenttype";
// 2018-04-05T17:31:00.000Z, the sample `time` of the AIO table, as the manual clock's wall time.
inline constexpr int64_t kNowMs = 1'522'949'460'000;

inline const std::vector<std::pair<std::string, std::string>> kSamples = {
    {"specversion", "1.0"},
    {"type", "ms.aio.telemetry"},
    {"source", "aio://mycluster/myoven"},
    {"id", "A234-1234-1234"},
    {"subject", "aio/myoven/telemetry/temperature"},
    {"time", "2018-04-05T17:31:00Z"},
    {"datacontenttype", "application/json"},
    {"dataschema", "sr://fabrikam-schemas/123123123234234234234234#1.0.0"}};

inline const char* directionName(Direction direction) {
  switch (direction) {
    case Direction::MqttToKafka:
      return "MqttToKafka";
    case Direction::KafkaToMqtt:
      return "KafkaToMqtt";
    case Direction::MqttToMqtt:
      return "MqttToMqtt";
  }
  return "?";
}

// A message in the source binding of `direction` carrying `attributes`.
inline Message sourceMessage(Direction direction, const Clock& clock,
                             const std::vector<std::pair<std::string, std::string>>& attributes,
                             Properties extra = {}) {
  const bool kafka_source = direction == Direction::KafkaToMqtt;
  Message message =
      kafka_source ? kafkaMessage("telemetry", {}, std::nullopt, -1) : mqttMessage(clock, "a/b");
  for (const auto& [name, value] : attributes) {
    if (name == kContentType) {
      if (kafka_source) {
        message.properties.push_back({"content-type", value});
      } else {
        message.mqtt.content_type = value;
      }
    } else {
      message.properties.push_back({kafka_source ? "ce_" + name : name, value});
    }
  }
  message.properties.insert(message.properties.end(), extra.begin(), extra.end());
  return message;
}

// The attribute `name` as the destination binding of `direction` carries it, or nullopt.
inline std::optional<std::string> outputAttribute(Direction direction, const Message& message,
                                                  const std::string& name) {
  const bool kafka_destination = direction == Direction::MqttToKafka;
  if (name == kContentType && !kafka_destination) return message.mqtt.content_type;
  const std::string wanted =
      name == kContentType ? "content-type" : (kafka_destination ? "ce_" : "") + name;
  std::optional<std::string> found;
  for (const Property& property : message.properties) {
    if (property.name != wanted) continue;
    EXPECT_FALSE(found.has_value()) << "attribute " << wanted << " emitted twice";
    found = property.value;
  }
  return found;
}

inline std::vector<std::pair<std::string, std::string>> required() {
  return {kSamples.begin(), kSamples.begin() + 4};
}

inline PipelineOptions cloudEventOptions(Direction direction, CloudEventsMode mode) {
  PipelineOptions options = optionsFor(direction, "out/topic");
  if (direction == Direction::MqttToKafka)
    options.destination_topic = testing::topicTemplate("out");
  options.cloud_events = mode;
  return options;
}

struct AttributeRow {
  Direction direction;
  size_t sample;  // index into kSamples
};
inline std::string rowName(const ::testing::TestParamInfo<AttributeRow>& info) {
  return std::string(directionName(info.param.direction)) + "_" + kSamples[info.param.sample].first;
}
// Every (direction, attribute) pair, or only those whose attribute does / does not follow the
// output (datacontenttype and dataschema are set from the dataflow, not passed through).
enum class Which { All, FollowOutput, PassThrough };
inline std::vector<AttributeRow> rows(Which which = Which::All) {
  std::vector<AttributeRow> rows;
  for (Direction d : {Direction::MqttToKafka, Direction::MqttToMqtt, Direction::KafkaToMqtt}) {
    for (size_t i = 0; i < kSamples.size(); ++i) {
      const bool follows = kSamples[i].first == kContentType || kSamples[i].first == "dataschema";
      if (which == Which::All || follows == (which == Which::FollowOutput)) rows.push_back({d, i});
    }
  }
  return rows;
}

// Propagate table: each attribute of a complete event is passed through as is, under its

}  // namespace dataflow::transform::testing
