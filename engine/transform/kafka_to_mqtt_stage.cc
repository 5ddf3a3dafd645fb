#include "engine/transform/kafka_to_mqtt_stage.h"

#include <array>
#include <charconv>
#include <iterator>
#include <utility>

#include "engine/core/property_names.h"
#include "engine/core/utf8.h"

namespace dataflow::transform {

bool KafkaToMqttStage::admit(const Property& property) const {
  const char* problem = nullptr;
  if (property.name.size() > kMaxMqttStringBytes || property.value.size() > kMaxMqttStringBytes) {
    PipelineCounters::add(counters_.properties_removed_too_long);
    problem = "is longer than 65,535 bytes";
  } else if (!isValidMqttUtf8(property.name) || !isValidMqttUtf8(property.value)) {
    PipelineCounters::add(counters_.properties_removed_invalid_utf8);
    problem = "is not a valid MQTT UTF-8 string";
  } else {
    return true;
  }
  removed_warning_.report([&] {
    return "dataflow " + dataflow_name_ + ": a Kafka header (name " +
           std::to_string(property.name.size()) + " bytes, value " +
           std::to_string(property.value.size()) + " bytes) was removed: its name or value " +
           problem;
  });
  return false;
}

Outcome KafkaToMqttStage::apply(Message& message, StageContext& /*context*/) const {
  std::array<Property, 2> front;
  size_t front_count = 0;
  if (message.key) {
    Property key{std::string(kKeyProperty), std::move(*message.key)};
    message.key.reset();
    if (admit(key)) front[front_count++] = std::move(key);
  }
  const bool has_key = front_count == 1;
  const bool has_timestamp = message.timestamp_ms >= 0;
  if (has_timestamp) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), message.timestamp_ms);
    (void)ec;  // 24 bytes hold any int64_t
    front[front_count].name = kTimestampProperty;
    front[front_count].value.assign(digits, end);
    ++front_count;
  }

  std::vector<Property>& properties = message.properties;
  size_t kept = 0;
  for (size_t i = 0; i < properties.size(); ++i) {
    const std::string& name = properties[i].name;
    if ((has_key && name == kKeyProperty) || (has_timestamp && name == kTimestampProperty)) {
      PipelineCounters::add(counters_.properties_shadowed);
      continue;
    }
    if (!admit(properties[i])) continue;
    if (kept != i) properties[kept] = std::move(properties[i]);
    ++kept;
  }
  properties.resize(kept);
  properties.insert(properties.begin(), std::make_move_iterator(front.begin()),
                    std::make_move_iterator(front.begin() + front_count));
  return Outcome::Forward;
}

}  // namespace dataflow::transform
