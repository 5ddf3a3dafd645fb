// Helpers shared by the transform unit tests: message builders, a pipeline factory with a manual
// clock, and printers so that failures show properties readably.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/clock.h"
#include "engine/core/message.h"
#include "engine/transform/pipeline.h"

namespace dataflow {

// Properties print as {"name"="value"} with non-printable bytes escaped.
inline std::string escapeBytes(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (out.size() > 80) out = out.substr(0, 60) + "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

inline void PrintTo(const Property& property, std::ostream* os) {
  *os << "{\"" << escapeBytes(property.name) << "\"=\"" << escapeBytes(property.value) << "\"}";
}

}  // namespace dataflow

namespace dataflow::transform::testing {

using Properties = std::vector<Property>;

// A pipeline with its own manual clock, a recorded warning sink and a counter-based event id.
struct Harness {
  ManualClock clock;
  std::vector<std::string> warnings;
  int next_id = 0;
  std::unique_ptr<Pipeline> pipeline;

  // Builds `options`; fails the test (and leaves `pipeline` null) when the build fails.
  void build(PipelineOptions options) {
    PipelineEnvironment environment;
    environment.clock = &clock;
    environment.warning_sink = [this](std::string_view line) { warnings.emplace_back(line); };
    environment.new_event_id = [this] { return "id-" + std::to_string(++next_id); };
    Result<std::unique_ptr<Pipeline>> result =
        Pipeline::build(std::move(options), std::move(environment));
    ASSERT_TRUE(result.isOk()) << result.status().message();
    pipeline = std::move(result).value();
  }
  Outcome process(Message& message) { return pipeline->process(message); }
  CounterSnapshot counters() const { return pipeline->counters(); }
};

inline TopicTemplate topicTemplate(std::string_view text) {
  TopicTemplate parsed;
  std::string error;
  EXPECT_TRUE(TopicTemplate::parse(text, parsed, error)) << error;
  return parsed;
}

inline PipelineOptions optionsFor(Direction direction, std::string_view topic = "out") {
  PipelineOptions options;
  options.dataflow_name = "df";
  options.direction = direction;
  options.destination_endpoint_name = "target";
  options.destination_topic = topicTemplate(topic);
  return options;
}

// An MQTT message as an MQTT source delivers it, received "now" on `clock`.
inline Message mqttMessage(const Clock& clock, std::string topic = "factory/1/data",
                           Properties properties = {}) {
  Message message;
  message.topic = std::move(topic);
  message.payload = R"({"temperature":21.5})";
  message.received_at = clock.steadyNow();
  message.timestamp_ms = clock.wallNowMs();
  message.properties = std::move(properties);
  message.qos = 1;
  return message;
}

// A Kafka record as a Kafka source delivers it.
inline Message kafkaMessage(std::string topic = "telemetry", Properties headers = {},
                            std::optional<std::string> key = std::nullopt,
                            int64_t timestamp_ms = 1'700'000'000'123) {
  Message message;
  message.topic = std::move(topic);
  message.payload = "payload";
  message.key = std::move(key);
  message.partition = 3;
  message.timestamp_ms = timestamp_ms;
  message.properties = std::move(headers);
  return message;
}

}  // namespace dataflow::transform::testing
