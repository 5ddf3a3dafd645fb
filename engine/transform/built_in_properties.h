// The MQTT v5 built-in PUBLISH properties a Message carries (MqttProperties) and their Kafka header
// form (AIO "Copy MQTT properties" table). Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/message.h"
#include "engine/core/property_names.h"

namespace dataflow::transform {

// In the order their headers are emitted (the order of the AIO table).
enum class BuiltInProperty {
  PayloadFormatIndicator,
  ResponseTopic,
  MessageExpiryInterval,
  CorrelationData,
  ContentType,
};
inline constexpr size_t kBuiltInPropertyCount = 5;

// "Payload Format Indicator", "Response Topic", ... (property_names.h).
constexpr std::string_view headerName(BuiltInProperty property) {
  switch (property) {
    case BuiltInProperty::PayloadFormatIndicator:
      return kPayloadFormatIndicatorHeader;
    case BuiltInProperty::ResponseTopic:
      return kResponseTopicHeader;
    case BuiltInProperty::MessageExpiryInterval:
      return kMessageExpiryIntervalHeader;
    case BuiltInProperty::CorrelationData:
      return kCorrelationDataHeader;
    case BuiltInProperty::ContentType:
      return kContentTypeHeader;
  }
  return {};
}

// The built-in whose header name is exactly `name` (case-sensitive), if any.
std::optional<BuiltInProperty> builtInPropertyNamed(std::string_view name);

bool isSet(const MqttProperties& mqtt, BuiltInProperty property);

// The header value of a set property: strings and Correlation Data byte for byte, Payload Format
// Indicator and Message Expiry Interval in decimal ASCII ("0"/"1", seconds). The first copies;
// the second moves string values out of `mqtt`. Precondition: isSet(mqtt, property).
std::string headerValue(const MqttProperties& mqtt, BuiltInProperty property);
std::string takeHeaderValue(MqttProperties& mqtt, BuiltInProperty property);

}  // namespace dataflow::transform
