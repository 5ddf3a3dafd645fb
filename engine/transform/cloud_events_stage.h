// CloudEvents (destination endpoint `cloudEventAttributes`; AIO "CloudEvents", CloudEvents v1.0
// Kafka and MQTT bindings). A message is a CloudEvent in binary mode when it carries the REQUIRED
// attributes (specversion, type, source, id) in its source binding:
//   MQTT v5  user properties named exactly as the attribute (first one of each name), and the
//            Content Type property for datacontenttype;
//   Kafka    headers `ce_<attribute>` (first one of each name), `content-type` for datacontenttype.
// Propagate:      a CloudEvent is re-expressed in the destination binding, optional attributes
//                 included; anything else passes unchanged.
// CreateOrRemap:  as Propagate, and a message lacking required attributes gets the missing ones
//                 generated: specversion 1.0, type ms.aio-dataflow.telemetry, source
//                 aio://<destination endpoint>, id a random UUID; subject (the output topic) and
//                 time (now, RFC 3339 UTC, milliseconds) when missing.
// In both modes, for a CloudEvent: dataschema := the output schema when the dataflow names one;
// datacontenttype := the output content type when one is set (else the source's is kept).
// Structured mode (content type application/cloudevents...) is never altered, except that the
// content type moves to where the destination binding expects it (Content Type <-> content-type),
// since that is what marks the mode.
// Kafka -> MQTT renames every `ce_x` header to `x` (extensions included) in place. MQTT -> MQTT
// works in place. MQTT -> Kafka moves the attributes into StageContext::cloud_event; the
// CloudEventsEmitStage appends them as headers after the MQTT properties were copied or dropped,
// so copyMqttProperties: Disabled does not remove them.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "engine/core/clock.h"
#include "engine/transform/counters.h"
#include "engine/transform/options.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

struct CloudEventsSettings {
  CloudEventsMode mode = CloudEventsMode::Propagate;
  std::string destination_endpoint_name;
  std::optional<std::string> output_schema;
  std::optional<std::string> output_content_type;
};

class CloudEventsStage final : public Stage {
 public:
  // `clock` and `counters` outlive the stage. `new_id` returns a fresh event id per call and may
  // be called from several threads at once.
  CloudEventsStage(Direction direction, CloudEventsSettings settings, const Clock& clock,
                   std::function<std::string()> new_id, PipelineCounters& counters);
  std::string_view name() const override { return "cloud-events"; }
  Outcome apply(Message& message, StageContext& context) const override;

 private:
  static constexpr size_t kAbsent = static_cast<size_t>(-1);
  using Positions = std::array<size_t, kCloudEventAttributeCount>;

  // Index of the first property carrying each attribute in the source binding, or kAbsent.
  Positions locate(const std::vector<Property>& properties) const;
  // Counts the message and returns false when it is to pass unchanged (Propagate, incomplete).
  bool admit(const Positions& positions) const;
  // The value to write for `attribute`, or nullopt to leave it as it is.
  std::optional<std::string> replacement(CloudEventAttribute attribute, bool present,
                                         const Message& message) const;

  Outcome toMqttInPlace(Message& message) const;
  Outcome mqttToKafka(Message& message, StageContext& context) const;

  Direction direction_;
  CloudEventsSettings settings_;
  std::string source_;  // aio://<destination endpoint>
  const Clock& clock_;
  std::function<std::string()> new_id_;
  PipelineCounters& counters_;
};

// MQTT -> Kafka only: appends StageContext::cloud_event as `ce_<attribute>` headers in attribute
// order, then `content-type`.
class CloudEventsEmitStage final : public Stage {
 public:
  std::string_view name() const override { return "cloud-events-emit"; }
  Outcome apply(Message& message, StageContext& context) const override;
};

}  // namespace dataflow::transform
