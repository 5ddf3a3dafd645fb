// paho message <-> the engine's Message, both ways. No network.
#include "connectors/mqtt/mqtt_message.h"

#include <gtest/gtest.h>
#include <mqtt/message.h>
#include <mqtt/properties.h>

#include <string>

namespace dataflow::mqtt {
namespace {

using ::mqtt::property;

TEST(MqttMessageTest, CarriesEveryBuiltInAndTheUserPropertiesInOrderWithDuplicates) {
  const std::string correlation("\x00\x01\xff\x00zz", 6);
  const std::string payload("\x00payload\xff", 9);
  ::mqtt::message_ptr in = ::mqtt::make_message("plant/line1", payload, 1, true);
  in->set_properties(::mqtt::properties{
      {property::USER_PROPERTY, "b", "1"},
      {property::PAYLOAD_FORMAT_INDICATOR, 1},
      {property::MESSAGE_EXPIRY_INTERVAL, 3600},
      {property::USER_PROPERTY, "a", "2"},
      {property::CONTENT_TYPE, "application/json"},
      {property::RESPONSE_TOPIC, "replies/1"},
      {property::CORRELATION_DATA, correlation},
      {property::TOPIC_ALIAS, 3},
      {property::SUBSCRIPTION_IDENTIFIER, 9},
      {property::USER_PROPERTY, "b", "3"},
  });
  ManualClock clock;
  const Message out = fromPaho(*in, clock, 42);

  EXPECT_EQ(out.topic, "plant/line1");
  EXPECT_EQ(out.payload, payload);
  EXPECT_EQ(out.qos, 1);
  EXPECT_TRUE(out.retain);
  EXPECT_EQ(out.timestamp_ms, clock.wallNowMs());
  EXPECT_EQ(out.received_at, clock.steadyNow());
  EXPECT_EQ(out.ack.sequence, 42u);
  EXPECT_EQ(out.mqtt.payload_format_indicator, 1);
  EXPECT_EQ(out.mqtt.message_expiry_interval, 3600u);
  EXPECT_EQ(out.mqtt.content_type, "application/json");
  EXPECT_EQ(out.mqtt.response_topic, "replies/1");
  EXPECT_EQ(out.mqtt.correlation_data, correlation);
  EXPECT_EQ(out.properties,
            (std::vector<Property>{{"b", "1"}, {"a", "2"}, {"b", "3"}}));  // no alias, no sub id
  EXPECT_GE(out.properties.capacity(), 3 + kSparePropertySlots);
  EXPECT_FALSE(out.key.has_value());
  EXPECT_FALSE(out.partition.has_value());
}

TEST(MqttMessageTest, AbsentBuiltInsStayAbsentAndSpareSlotsAreReserved) {
  ::mqtt::message_ptr in = ::mqtt::make_message("t", "", 0, false);
  ManualClock clock;
  const Message out = fromPaho(*in, clock, 0);
  EXPECT_EQ(out.mqtt, MqttProperties{});
  EXPECT_TRUE(out.properties.empty());
  EXPECT_GE(out.properties.capacity(), kSparePropertySlots);
  EXPECT_EQ(out.qos, 0);
  EXPECT_FALSE(out.retain);
  EXPECT_EQ(out.payload, "");
}

TEST(MqttMessageTest, EmptyUserPropertyNamesAndValuesAreKept) {
  ::mqtt::message_ptr in = ::mqtt::make_message("t", "x", 1, false);
  in->set_properties(
      ::mqtt::properties{{property::USER_PROPERTY, "", ""}, {property::USER_PROPERTY, "k", ""}});
  ManualClock clock;
  EXPECT_EQ(fromPaho(*in, clock, 1).properties, (std::vector<Property>{{"", ""}, {"k", ""}}));
}

std::string bytes(const MQTTLenString& s) {
  return std::string(s.data, static_cast<size_t>(s.len));
}

TEST(MqttMessageTest, ToPahoWritesEveryBuiltInThenTheUserPropertiesInOrderWithDuplicates) {
  Message m;
  m.topic = "out/line1";
  m.payload = std::string("\x00pay\xff", 5);
  m.retain = true;
  m.qos = 0;  // the destination's qos decides, not the received one
  m.mqtt.payload_format_indicator = 1;
  m.mqtt.message_expiry_interval = 0xFFFFFFFEu;  // above INT32_MAX: kept as is
  m.mqtt.content_type = "application/json";
  m.mqtt.response_topic = "replies/1";
  m.mqtt.correlation_data = std::string("\x00\x01\xff\x00", 4);
  m.properties = {{"b", "1"}, {"a", "2"}, {"b", "3"}};

  const ::mqtt::message_ptr out = toPaho(Message(m), 1);
  EXPECT_EQ(out->get_topic(), "out/line1");
  EXPECT_EQ(out->get_payload(), m.payload);
  EXPECT_EQ(out->get_qos(), 1);
  EXPECT_TRUE(out->is_retained());

  const MQTTProperties& props = out->get_properties().c_struct();
  ASSERT_EQ(props.count, 8);
  EXPECT_EQ(props.array[0].identifier, MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR);
  EXPECT_EQ(props.array[0].value.byte, 1);
  EXPECT_EQ(props.array[1].identifier, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
  EXPECT_EQ(props.array[1].value.integer4, 0xFFFFFFFEu);
  EXPECT_EQ(props.array[2].identifier, MQTTPROPERTY_CODE_CONTENT_TYPE);
  EXPECT_EQ(bytes(props.array[2].value.data), "application/json");
  EXPECT_EQ(props.array[3].identifier, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
  EXPECT_EQ(bytes(props.array[3].value.data), "replies/1");
  EXPECT_EQ(props.array[4].identifier, MQTTPROPERTY_CODE_CORRELATION_DATA);
  EXPECT_EQ(bytes(props.array[4].value.data), *m.mqtt.correlation_data);
  const std::pair<const char*, const char*> users[] = {{"b", "1"}, {"a", "2"}, {"b", "3"}};
  for (int i = 0; i < 3; ++i) {
    const MQTTProperty& p = props.array[5 + i];
    EXPECT_EQ(p.identifier, MQTTPROPERTY_CODE_USER_PROPERTY);
    EXPECT_EQ(bytes(p.value.data), users[i].first);
    EXPECT_EQ(bytes(p.value.value), users[i].second);
  }

  // And back: the round trip gives the same message content.
  ManualClock clock;
  Message back = fromPaho(*out, clock, 0);
  EXPECT_EQ(back.mqtt, m.mqtt);
  EXPECT_EQ(back.properties, m.properties);
}

TEST(MqttMessageTest, ToPahoLeavesUnsetPropertiesOutAndKeepsRetainCleared) {
  Message m;
  m.topic = "t";
  m.payload = "p";
  const ::mqtt::message_ptr out = toPaho(Message(m), 0);
  EXPECT_EQ(out->get_qos(), 0);
  EXPECT_FALSE(out->is_retained());
  EXPECT_EQ(out->get_properties().c_struct().count, 0);
}

}  // namespace
}  // namespace dataflow::mqtt
