#include "connectors/mqtt/mqtt_message.h"

#include <MQTTProperties.h>

#include <string>
#include <utility>

namespace dataflow::mqtt {

namespace {

std::string bytes(const MQTTLenString& s) {
  return s.data == nullptr ? std::string() : std::string(s.data, static_cast<size_t>(s.len));
}

// Reads the C property array directly: one pass, in wire order, no per-property allocation
// beyond the strings the Message keeps.
void copyProperties(const MQTTProperties& props, Message& out) {
  size_t user_properties = 0;
  for (int i = 0; i < props.count; ++i) {
    if (props.array[i].identifier == MQTTPROPERTY_CODE_USER_PROPERTY) ++user_properties;
  }
  out.properties.reserve(user_properties + kSparePropertySlots);
  for (int i = 0; i < props.count; ++i) {
    const MQTTProperty& p = props.array[i];
    switch (p.identifier) {
      case MQTTPROPERTY_CODE_USER_PROPERTY:
        out.properties.push_back(Property{bytes(p.value.data), bytes(p.value.value)});
        break;
      case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
        out.mqtt.payload_format_indicator = p.value.byte;
        break;
      case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL:
        out.mqtt.message_expiry_interval = p.value.integer4;
        break;
      case MQTTPROPERTY_CODE_CONTENT_TYPE:
        out.mqtt.content_type = bytes(p.value.data);
        break;
      case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
        out.mqtt.response_topic = bytes(p.value.data);
        break;
      case MQTTPROPERTY_CODE_CORRELATION_DATA:
        out.mqtt.correlation_data = bytes(p.value.data);
        break;
      default:  // Topic Alias, Subscription Identifier: connection-local, never forwarded.
        break;
    }
  }
}

}  // namespace

Message fromPaho(const ::mqtt::message& in, const Clock& clock, uint64_t sequence) {
  Message out;
  out.topic = in.get_topic();
  out.payload = in.get_payload();
  out.qos = in.get_qos();
  out.retain = in.is_retained();
  out.timestamp_ms = clock.wallNowMs();
  out.received_at = clock.steadyNow();
  out.ack.sequence = sequence;
  copyProperties(in.get_properties().c_struct(), out);
  return out;
}

::mqtt::message_ptr toPaho(Message&& message, int qos) {
  using ::mqtt::property;
  ::mqtt::properties props;
  const MqttProperties& p = message.mqtt;
  if (p.payload_format_indicator) {
    props.add(property(property::PAYLOAD_FORMAT_INDICATOR,
                       static_cast<int32_t>(*p.payload_format_indicator)));
  }
  if (p.message_expiry_interval) {
    // paho stores the four bytes as given: the cast keeps values above INT32_MAX intact.
    props.add(property(property::MESSAGE_EXPIRY_INTERVAL,
                       static_cast<int32_t>(*p.message_expiry_interval)));
  }
  if (p.content_type) props.add(property(property::CONTENT_TYPE, *p.content_type));
  if (p.response_topic) props.add(property(property::RESPONSE_TOPIC, *p.response_topic));
  if (p.correlation_data) props.add(property(property::CORRELATION_DATA, *p.correlation_data));
  for (const Property& user : message.properties) {
    props.add(property(property::USER_PROPERTY, user.name, user.value));
  }
  ::mqtt::message_ptr out = ::mqtt::make_message(std::move(message.topic),
                                                 std::move(message.payload), qos, message.retain);
  out->set_properties(std::move(props));
  return out;
}

::mqtt::message_ptr withExpiryInterval(const ::mqtt::message& publish, uint32_t seconds) {
  using ::mqtt::property;
  ::mqtt::properties props;
  const MQTTProperties& in = publish.get_properties().c_struct();
  for (int i = 0; i < in.count; ++i) {
    if (in.array[i].identifier == MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL) {
      props.add(property(property::MESSAGE_EXPIRY_INTERVAL, static_cast<int32_t>(seconds)));
    } else {
      props.add(property(in.array[i]));
    }
  }
  ::mqtt::message_ptr out = ::mqtt::make_message(publish.get_topic(), publish.get_payload(),
                                                 publish.get_qos(), publish.is_retained());
  out->set_properties(std::move(props));
  return out;
}

}  // namespace dataflow::mqtt
