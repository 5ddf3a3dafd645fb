#include "engine/transform/mqtt_to_kafka_stage.h"

#include <array>
#include <iterator>
#include <utility>

#include "engine/transform/built_in_properties.h"

namespace dataflow::transform {

Outcome MqttToKafkaStage::apply(Message& message, StageContext& /*context*/) const {
  if (!copy_) {
    message.properties.clear();
    message.mqtt = MqttProperties{};
    return Outcome::Forward;
  }
  std::array<BuiltInProperty, kBuiltInPropertyCount> set;
  size_t set_count = 0;
  for (size_t i = 0; i < kBuiltInPropertyCount; ++i) {
    const auto property = static_cast<BuiltInProperty>(i);
    if (isSet(message.mqtt, property)) set[set_count++] = property;
  }
  if (set_count == 0) return Outcome::Forward;

  // Drop the user properties a set built-in shadows, keeping the order of the others.
  auto shadowed = [&](const std::string& name) {
    for (size_t i = 0; i < set_count; ++i) {
      if (name == headerName(set[i])) return true;
    }
    return false;
  };
  std::vector<Property>& properties = message.properties;
  size_t kept = 0;
  for (size_t i = 0; i < properties.size(); ++i) {
    if (shadowed(properties[i].name)) {
      PipelineCounters::add(counters_.properties_shadowed);
      continue;
    }
    if (kept != i) properties[kept] = std::move(properties[i]);
    ++kept;
  }
  properties.resize(kept);

  std::array<Property, kBuiltInPropertyCount> headers;
  for (size_t i = 0; i < set_count; ++i) {
    headers[i].name = headerName(set[i]);
    headers[i].value = takeHeaderValue(message.mqtt, set[i]);
  }
  properties.insert(properties.begin(), std::make_move_iterator(headers.begin()),
                    std::make_move_iterator(headers.begin() + set_count));
  message.mqtt = MqttProperties{};
  return Outcome::Forward;
}

}  // namespace dataflow::transform
