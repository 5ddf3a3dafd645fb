// MQTT v5 properties -> Kafka headers (AIO "Copy MQTT properties", Kafka endpoint is a
// destination).
// copyMqttProperties Enabled: each set built-in becomes a header named as in the AIO table
// ("Payload Format Indicator" = "0"/"1", "Response Topic", "Message Expiry Interval" = remaining
// seconds in decimal, "Correlation Data" byte for byte, "Content Type"), emitted first in that
// order, followed by the user properties in their order, duplicates kept.
// Name collision (AIO leaves it undefined): when a built-in is set, a user property with exactly
// its header name is dropped and counted in properties_shadowed, so the header name carries one
// value, the built-in's. When the built-in is not set, such a user property is copied as is.
// copyMqttProperties Disabled: no header at all (the CloudEvents emit stage, if configured, still
// adds its headers afterwards).
// Either way Message::mqtt is left empty: a Kafka destination reads headers from properties only.
#pragma once

#include "engine/transform/counters.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

class MqttToKafkaStage final : public Stage {
 public:
  // `counters` outlives the stage.
  MqttToKafkaStage(bool copy_mqtt_properties, PipelineCounters& counters)
      : copy_(copy_mqtt_properties), counters_(counters) {}
  std::string_view name() const override { return "mqtt-to-kafka"; }
  Outcome apply(Message& message, StageContext& context) const override;

 private:
  bool copy_;
  PipelineCounters& counters_;
};

}  // namespace dataflow::transform
