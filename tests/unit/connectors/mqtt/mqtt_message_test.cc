// The codec's PUBLISH <-> the engine's Message, both ways, and through the wire. No network.
#include "connectors/mqtt/mqtt_message.h"

#include <gtest/gtest.h>

#include <string>

namespace dataflow::mqtt {
namespace {

wire::Publish fullPublish(const std::string& payload, const std::string& correlation) {
  wire::Publish in;
  in.topic = "plant/line1";
  in.payload = payload;
  in.qos = 1;
  in.packet_id = 7;
  in.retain = true;
  in.properties.payload_format_indicator = 1;
  in.properties.message_expiry_interval = 3600;
  in.properties.content_type = "application/json";
  in.properties.response_topic = "replies/1";
  in.properties.correlation_data = correlation;
  in.topic_alias = 3;
  in.subscription_identifiers = {9};
  in.user_properties = {{"b", "1"}, {"a", "2"}, {"b", "3"}};
  return in;
}

TEST(MqttMessageTest, CarriesEveryBuiltInAndTheUserPropertiesInOrderWithDuplicates) {
  const std::string correlation("\x00\x01\xff\x00zz", 6);
  const std::string payload("\x00payload\xff", 9);
  ManualClock clock;
  const Message out = fromPublish(fullPublish(payload, correlation), clock, 42);

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
  wire::Publish in;
  in.topic = "t";
  ManualClock clock;
  const Message out = fromPublish(std::move(in), clock, 0);
  EXPECT_EQ(out.mqtt, MqttProperties{});
  EXPECT_TRUE(out.properties.empty());
  EXPECT_GE(out.properties.capacity(), kSparePropertySlots);
  EXPECT_EQ(out.qos, 0);
  EXPECT_FALSE(out.retain);
  EXPECT_EQ(out.payload, "");
}

TEST(MqttMessageTest, EmptyUserPropertyNamesAndValuesAreKept) {
  wire::Publish in;
  in.topic = "t";
  in.payload = "x";
  in.user_properties = {{"", ""}, {"k", ""}};
  ManualClock clock;
  EXPECT_EQ(fromPublish(std::move(in), clock, 1).properties,
            (std::vector<Property>{{"", ""}, {"k", ""}}));
}

TEST(MqttMessageTest, ToPublishCarriesEveryBuiltInAndTheUserPropertiesAcrossTheWire) {
  Message m;
  m.topic = "out/line1";
  m.payload = std::string("\x00pay\xff", 5);
  m.retain = true;
  m.qos = 0;  // the destination's qos decides, not the received one
  m.mqtt.payload_format_indicator = 1;
  m.mqtt.message_expiry_interval = 0xFFFFFFFEu;
  m.mqtt.content_type = "application/json";
  m.mqtt.response_topic = "replies/1";
  m.mqtt.correlation_data = std::string("\x00\x01\xff\x00", 4);
  m.properties = {{"b", "1"}, {"a", "2"}, {"b", "3"}};

  wire::Publish out = toPublish(Message(m), 1);
  EXPECT_EQ(out.topic, "out/line1");
  EXPECT_EQ(out.payload, m.payload);
  EXPECT_EQ(out.qos, 1);
  EXPECT_TRUE(out.retain);
  EXPECT_FALSE(out.topic_alias.has_value());
  EXPECT_EQ(out.properties, m.mqtt);
  EXPECT_EQ(out.user_properties, m.properties);

  // Encoded and decoded as the broker would, then back to a Message: the same content.
  out.packet_id = 1;
  std::string bytes;
  wire::encode(out, bytes);
  wire::Decoded decoded = wire::decode(bytes, wire::Direction::FromClient);
  ASSERT_TRUE(decoded.packet.has_value()) << decoded.error.what;
  ManualClock clock;
  Message back = fromPublish(std::get<wire::Publish>(std::move(*decoded.packet)), clock, 0);
  EXPECT_EQ(back.mqtt, m.mqtt);
  EXPECT_EQ(back.properties, m.properties);
  EXPECT_EQ(back.payload, m.payload);
}

TEST(MqttMessageTest, ToPublishLeavesUnsetPropertiesOutAndKeepsRetainCleared) {
  Message m;
  m.topic = "t";
  m.payload = "p";
  const wire::Publish out = toPublish(Message(m), 0);
  EXPECT_EQ(out.qos, 0);
  EXPECT_FALSE(out.retain);
  EXPECT_EQ(out.properties, MqttProperties{});
  EXPECT_TRUE(out.user_properties.empty());
}

}  // namespace
}  // namespace dataflow::mqtt
