#include "engine/transform/cloud_events_stage.h"

#include <utility>

#include "engine/transform/cloud_events.h"
#include "engine/core/property_names.h"

namespace dataflow::transform {

namespace {

constexpr CloudEventAttribute kAttributes[kCloudEventAttributeCount] = {
    CloudEventAttribute::SpecVersion, CloudEventAttribute::Type,    CloudEventAttribute::Source,
    CloudEventAttribute::Id,          CloudEventAttribute::Subject, CloudEventAttribute::Time,
    CloudEventAttribute::DataSchema};

// Index of the first property named `name`, or -1.
ptrdiff_t findProperty(const std::vector<Property>& properties, std::string_view name) {
  for (size_t i = 0; i < properties.size(); ++i) {
    if (properties[i].name == name) return static_cast<ptrdiff_t>(i);
  }
  return -1;
}

}  // namespace

CloudEventsStage::CloudEventsStage(Direction direction, CloudEventsSettings settings,
                                   const Clock& clock, std::function<std::string()> new_id,
                                   PipelineCounters& counters)
    : direction_(direction),
      settings_(std::move(settings)),
      source_(std::string(kGeneratedSourcePrefix) + settings_.destination_endpoint_name),
      clock_(clock),
      new_id_(std::move(new_id)),
      counters_(counters) {}

CloudEventsStage::Positions CloudEventsStage::locate(
    const std::vector<Property>& properties) const {
  Positions positions;
  positions.fill(kAbsent);
  const bool kafka_source = direction_ == Direction::KafkaToMqtt;
  for (size_t i = 0; i < properties.size(); ++i) {
    std::optional<CloudEventAttribute> attribute = kafka_source
                                                       ? attributeFromKafkaName(properties[i].name)
                                                       : attributeFromMqttName(properties[i].name);
    if (!attribute) continue;
    size_t& slot = positions[static_cast<size_t>(*attribute)];
    if (slot == kAbsent) slot = i;
  }
  return positions;
}

bool CloudEventsStage::admit(const Positions& positions) const {
  bool complete = true;
  for (size_t i = 0; i < kCloudEventRequiredCount; ++i) complete &= positions[i] != kAbsent;
  if (complete) {
    PipelineCounters::add(counters_.cloud_events_propagated);
    return true;
  }
  if (settings_.mode == CloudEventsMode::Propagate) return false;
  PipelineCounters::add(counters_.cloud_events_created);
  return true;
}

std::optional<std::string> CloudEventsStage::replacement(CloudEventAttribute attribute,
                                                         bool present,
                                                         const Message& message) const {
  if (attribute == CloudEventAttribute::DataSchema && settings_.output_schema) {
    return *settings_.output_schema;
  }
  if (present || settings_.mode != CloudEventsMode::CreateOrRemap) return std::nullopt;
  switch (attribute) {
    case CloudEventAttribute::SpecVersion:
      return std::string(kGeneratedSpecVersion);
    case CloudEventAttribute::Type:
      return std::string(kGeneratedType);
    case CloudEventAttribute::Source:
      return source_;
    case CloudEventAttribute::Id:
      return new_id_();
    case CloudEventAttribute::Subject:
      return message.topic;  // the output topic: the topic stage ran first
    case CloudEventAttribute::Time:
      return formatRfc3339Millis(clock_.wallNowMs());
    case CloudEventAttribute::DataSchema:
      return std::nullopt;  // no schema registry here
  }
  return std::nullopt;
}

Outcome CloudEventsStage::apply(Message& message, StageContext& context) const {
  return direction_ == Direction::MqttToKafka ? mqttToKafka(message, context)
                                              : toMqttInPlace(message);
}

Outcome CloudEventsStage::toMqttInPlace(Message& message) const {
  std::vector<Property>& properties = message.properties;
  std::optional<std::string>& content_type = message.mqtt.content_type;
  const bool kafka_source = direction_ == Direction::KafkaToMqtt;
  // Kafka source: the first `content-type` header is datacontenttype; it becomes Content Type
  // for a CloudEvent of either mode, and stays a plain user property otherwise.
  const ptrdiff_t content_type_header =
      kafka_source ? findProperty(properties, kCloudEventsKafkaContentType) : -1;
  auto moveContentTypeHeader = [&] {
    if (content_type_header < 0) return;
    content_type = std::move(properties[content_type_header].value);
    properties.erase(properties.begin() + content_type_header);
  };

  const std::string_view source_content_type =
      content_type_header >= 0 ? std::string_view(properties[content_type_header].value)
      : content_type           ? std::string_view(*content_type)
                               : std::string_view();
  if (isStructuredContentType(source_content_type)) {
    PipelineCounters::add(counters_.cloud_events_structured);
    moveContentTypeHeader();
    return Outcome::Forward;
  }
  const Positions positions = locate(properties);
  if (!admit(positions)) return Outcome::Forward;

  if (kafka_source) {
    for (Property& property : properties) {
      if (property.name.size() > kCloudEventsKafkaPrefix.size() &&
          std::string_view(property.name).substr(0, kCloudEventsKafkaPrefix.size()) ==
              kCloudEventsKafkaPrefix) {
        property.name.erase(0, kCloudEventsKafkaPrefix.size());
      }
    }
  }
  for (CloudEventAttribute attribute : kAttributes) {
    const size_t position = positions[static_cast<size_t>(attribute)];
    std::optional<std::string> value = replacement(attribute, position != kAbsent, message);
    if (!value) continue;
    if (position != kAbsent) {
      properties[position].value = std::move(*value);
    } else {
      properties.push_back(Property{std::string(attributeName(attribute)), std::move(*value)});
    }
  }
  // Erase last: `positions` index the vector as it was before.
  moveContentTypeHeader();
  if (settings_.output_content_type) content_type = *settings_.output_content_type;
  return Outcome::Forward;
}

Outcome CloudEventsStage::mqttToKafka(Message& message, StageContext& context) const {
  CloudEventHeaders& out = context.cloud_event;
  std::optional<std::string>& content_type = message.mqtt.content_type;
  if (content_type && isStructuredContentType(*content_type)) {
    PipelineCounters::add(counters_.cloud_events_structured);
    out.content_type = std::move(content_type);
    content_type.reset();
    out.pending = true;
    return Outcome::Forward;
  }
  std::vector<Property>& properties = message.properties;
  const Positions positions = locate(properties);
  if (!admit(positions)) return Outcome::Forward;

  for (CloudEventAttribute attribute : kAttributes) {
    const size_t index = static_cast<size_t>(attribute);
    const size_t position = positions[index];
    if (position != kAbsent) out.attributes[index] = std::move(properties[position].value);
    std::optional<std::string> value = replacement(attribute, position != kAbsent, message);
    if (value) out.attributes[index] = std::move(value);
  }
  // Remove the attribute properties, keeping the order of the others.
  size_t kept = 0;
  for (size_t i = 0; i < properties.size(); ++i) {
    bool attribute = false;
    for (size_t position : positions) attribute |= position == i;
    if (attribute) continue;
    if (kept != i) properties[kept] = std::move(properties[i]);
    ++kept;
  }
  properties.resize(kept);

  out.content_type =
      settings_.output_content_type ? settings_.output_content_type : std::move(content_type);
  content_type.reset();
  out.pending = true;
  return Outcome::Forward;
}

Outcome CloudEventsEmitStage::apply(Message& message, StageContext& context) const {
  CloudEventHeaders& event = context.cloud_event;
  if (!event.pending) return Outcome::Forward;
  for (CloudEventAttribute attribute : kAttributes) {
    std::optional<std::string>& value = event.attributes[static_cast<size_t>(attribute)];
    if (!value) continue;
    std::string name(kCloudEventsKafkaPrefix);
    name += attributeName(attribute);
    message.properties.push_back(Property{std::move(name), std::move(*value)});
  }
  if (event.content_type) {
    message.properties.push_back(
        Property{std::string(kCloudEventsKafkaContentType), std::move(*event.content_type)});
  }
  event = CloudEventHeaders{};
  return Outcome::Forward;
}

}  // namespace dataflow::transform
