// The exact size of the PUBLISH MqttDestination sends (wire::encodedSize of toPublish), field by
// field and across the Remaining Length boundaries (MQTT v5 §1.5.5, §3.3).
#include "connectors/mqtt/mqtt_message.h"

#include <gtest/gtest.h>

#include <string>

namespace dataflow::mqtt {
namespace {

size_t publishPacketSize(const Message& m, int qos) {
  wire::Publish publish = toPublish(Message(m), qos);
  if (qos > 0) publish.packet_id = 1;
  return wire::encodedSize(publish);
}

Message plain(std::string topic, std::string payload) {
  Message m;
  m.topic = std::move(topic);
  m.payload = std::move(payload);
  return m;
}

TEST(MqttPacketTest, PlainMessageAtQos0AndQos1) {
  // Remaining Length = topic (2 + 3) + [packet id 2] + property length (1, zero) + payload 5.
  const Message m = plain("a/b", "hello");
  EXPECT_EQ(publishPacketSize(m, 0), 1u + 1u + 11u);
  EXPECT_EQ(publishPacketSize(m, 1), 1u + 1u + 13u);
}

TEST(MqttPacketTest, EveryPropertyCounts) {
  Message m = plain("t", "");
  const size_t bare = publishPacketSize(m, 1);  // 1 + 1 + (3 + 2 + 1)
  EXPECT_EQ(bare, 8u);
  m.mqtt.payload_format_indicator = 1;  // id + byte
  EXPECT_EQ(publishPacketSize(m, 1), bare + 2);
  m.mqtt.message_expiry_interval = 0xFFFFFFFFu;  // id + 4 bytes
  EXPECT_EQ(publishPacketSize(m, 1), bare + 7);
  m.mqtt.content_type = "json";  // id + 2 + 4
  EXPECT_EQ(publishPacketSize(m, 1), bare + 14);
  m.mqtt.response_topic = "r";  // id + 2 + 1
  EXPECT_EQ(publishPacketSize(m, 1), bare + 18);
  m.mqtt.correlation_data = std::string("\0\1", 2);  // id + 2 + 2
  EXPECT_EQ(publishPacketSize(m, 1), bare + 23);
  m.properties = {{"k", "v"}, {"k", "vv"}};  // each: id + 2 + name + 2 + value
  EXPECT_EQ(publishPacketSize(m, 1), bare + 23 + 7 + 8);
}

TEST(MqttPacketTest, RemainingLengthAndPropertyLengthGrowAtTheirBoundaries) {
  // topic "t" at QoS 0: Remaining Length = 3 + 1 + payload.
  EXPECT_EQ(publishPacketSize(plain("t", std::string(123, 'x')), 0), 1u + 1u + 127u);
  EXPECT_EQ(publishPacketSize(plain("t", std::string(124, 'x')), 0), 1u + 2u + 128u);
  EXPECT_EQ(publishPacketSize(plain("t", std::string(16'379, 'x')), 0), 1u + 2u + 16'383u);
  EXPECT_EQ(publishPacketSize(plain("t", std::string(16'380, 'x')), 0), 1u + 3u + 16'384u);

  // Properties of 127 bytes take a one-byte Property Length, 128 bytes two.
  Message m = plain("t", "");
  m.mqtt.content_type = std::string(124, 'c');  // 1 + 2 + 124 = 127
  const size_t at127 = publishPacketSize(m, 0);
  EXPECT_EQ(at127, 1u + 2u + (3u + 1u + 127u));
  m.mqtt.content_type = std::string(125, 'c');  // 128
  EXPECT_EQ(publishPacketSize(m, 0), at127 + 1 + 1);
}

}  // namespace
}  // namespace dataflow::mqtt
