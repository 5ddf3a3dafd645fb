#include "connectors/mqtt/mqtt_message.h"

#include <utility>

namespace dataflow::mqtt {

Message fromPublish(wire::Publish&& in, const Clock& clock, uint64_t sequence) {
  Message out;
  out.topic = std::move(in.topic);
  out.payload = std::move(in.payload);
  out.qos = in.qos;
  out.retain = in.retain;
  out.timestamp_ms = clock.wallNowMs();
  out.received_at = clock.steadyNow();
  out.ack.sequence = sequence;
  out.mqtt = std::move(in.properties);
  out.properties = std::move(in.user_properties);
  out.properties.reserve(out.properties.size() + kSparePropertySlots);
  return out;
}

wire::Publish toPublish(Message&& message, int qos) {
  wire::Publish out;
  out.qos = static_cast<uint8_t>(qos);
  out.retain = message.retain;
  out.topic = std::move(message.topic);
  out.payload = std::move(message.payload);
  out.properties = std::move(message.mqtt);
  out.user_properties = std::move(message.properties);
  return out;
}

}  // namespace dataflow::mqtt
