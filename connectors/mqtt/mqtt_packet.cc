#include "connectors/mqtt/mqtt_packet.h"

namespace dataflow::mqtt {

namespace {

// A UTF-8 string or binary data field: two length bytes, then the bytes.
size_t field(size_t bytes) { return 2 + bytes; }

size_t propertiesSize(const Message& message) {
  const MqttProperties& p = message.mqtt;
  size_t size = 0;
  if (p.payload_format_indicator) size += 1 + 1;
  if (p.message_expiry_interval) size += 1 + 4;
  if (p.content_type) size += 1 + field(p.content_type->size());
  if (p.response_topic) size += 1 + field(p.response_topic->size());
  if (p.correlation_data) size += 1 + field(p.correlation_data->size());
  for (const Property& user : message.properties) {
    size += 1 + field(user.name.size()) + field(user.value.size());
  }
  return size;
}

}  // namespace

size_t variableByteIntegerSize(size_t value) {
  if (value < 128) return 1;
  if (value < 16'384) return 2;
  if (value < 2'097'152) return 3;
  if (value < 268'435'456) return 4;
  return 5;
}

size_t publishPacketSize(const Message& message, int qos) {
  const size_t properties = propertiesSize(message);
  const size_t remaining = field(message.topic.size()) + (qos > 0 ? 2 : 0) +
                           variableByteIntegerSize(properties) + properties +
                           message.payload.size();
  return 1 + variableByteIntegerSize(remaining) + remaining;
}

}  // namespace dataflow::mqtt
