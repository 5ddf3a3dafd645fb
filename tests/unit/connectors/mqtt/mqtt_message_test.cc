// A message received by paho -> the engine's Message. No network.
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

}  // namespace
}  // namespace dataflow::mqtt
