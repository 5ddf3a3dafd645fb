// Kafka record -> MQTT v5 user properties (AIO "Kafka endpoint is a dataflow source").
// Output order: "Key" (the record key, when the record has one; an empty key gives an empty
// value), "Timestamp" (ms since the Unix epoch in decimal, when >= 0; Kafka's -1 means none), then
// every header in its order, duplicates kept.
// A header (or the key) whose name or value is longer than 65,535 bytes, or is not a valid MQTT
// UTF-8 string (utf8.h), is removed and counted (properties_removed_too_long, checked first, then
// properties_removed_invalid_utf8); the rest of the message goes on. A header named "Key" or
// "Timestamp" is dropped when the record's own key or timestamp is emitted (properties_shadowed),
// the same rule as MQTT -> Kafka built-ins.
// Message::key is moved into the "Key" property and left empty.
#pragma once

#include <string>
#include <utility>

#include "engine/transform/counters.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

class KafkaToMqttStage final : public Stage {
 public:
  // `counters` and `removed_warning` outlive the stage.
  KafkaToMqttStage(std::string dataflow_name, PipelineCounters& counters,
                   RateLimitedWarning& removed_warning)
      : dataflow_name_(std::move(dataflow_name)),
        counters_(counters),
        removed_warning_(removed_warning) {}
  std::string_view name() const override { return "kafka-to-mqtt"; }
  Outcome apply(Message& message, StageContext& context) const override;

 private:
  // Counts and warns when `property` cannot be an MQTT user property; true when it can.
  bool admit(const Property& property) const;

  std::string dataflow_name_;
  PipelineCounters& counters_;
  RateLimitedWarning& removed_warning_;
};

}  // namespace dataflow::transform
