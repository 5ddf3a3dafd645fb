#include "engine/transform/built_in_properties.h"

#include <charconv>
#include <utility>

namespace dataflow::transform {

namespace {

std::string decimal(uint64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  (void)ec;  // 24 bytes hold any uint64_t
  return std::string(buffer, end);
}

// The string member behind a string-valued property, const or not as `Mqtt` is.
template <class Mqtt>
auto& stringSlot(Mqtt& mqtt, BuiltInProperty property) {
  switch (property) {
    case BuiltInProperty::ResponseTopic:
      return *mqtt.response_topic;
    case BuiltInProperty::CorrelationData:
      return *mqtt.correlation_data;
    default:
      return *mqtt.content_type;
  }
}

}  // namespace

std::optional<BuiltInProperty> builtInPropertyNamed(std::string_view name) {
  for (size_t i = 0; i < kBuiltInPropertyCount; ++i) {
    auto property = static_cast<BuiltInProperty>(i);
    if (headerName(property) == name) return property;
  }
  return std::nullopt;
}

bool isSet(const MqttProperties& mqtt, BuiltInProperty property) {
  switch (property) {
    case BuiltInProperty::PayloadFormatIndicator:
      return mqtt.payload_format_indicator.has_value();
    case BuiltInProperty::ResponseTopic:
      return mqtt.response_topic.has_value();
    case BuiltInProperty::MessageExpiryInterval:
      return mqtt.message_expiry_interval.has_value();
    case BuiltInProperty::CorrelationData:
      return mqtt.correlation_data.has_value();
    case BuiltInProperty::ContentType:
      return mqtt.content_type.has_value();
  }
  return false;
}

std::string headerValue(const MqttProperties& mqtt, BuiltInProperty property) {
  switch (property) {
    case BuiltInProperty::PayloadFormatIndicator:
      return decimal(*mqtt.payload_format_indicator);
    case BuiltInProperty::MessageExpiryInterval:
      return decimal(*mqtt.message_expiry_interval);
    default:
      return stringSlot(mqtt, property);
  }
}

std::string takeHeaderValue(MqttProperties& mqtt, BuiltInProperty property) {
  switch (property) {
    case BuiltInProperty::PayloadFormatIndicator:
    case BuiltInProperty::MessageExpiryInterval:
      return headerValue(mqtt, property);
    default:
      return std::move(stringSlot(mqtt, property));
  }
}

}  // namespace dataflow::transform
