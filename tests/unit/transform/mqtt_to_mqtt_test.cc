// MQTT -> MQTT (broker-to-broker bridge): built-ins and user properties forwarded unaltered
// ([MQTT-3.3.2-4/15/16/17/18/20]), expiry rewritten ([MQTT-3.3.2-6]), retain Keep/Never.
#include <gtest/gtest.h>

#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using testing::Harness;
using testing::mqttMessage;
using testing::optionsFor;
using testing::Properties;

TEST(TransformMqttToMqtt, EverythingButExpiryIsForwardedUnaltered) {
  Harness h;
  h.build(optionsFor(Direction::MqttToMqtt, "bridge/${inputTopic}"));
  const Properties user{{"z", "1"}, {"a", "2"}, {"z", "3"}, {"Content Type", "user"}};
  Message message = mqttMessage(h.clock, "factory/1", user);
  message.mqtt.payload_format_indicator = 1;
  message.mqtt.content_type = "application/json";
  message.mqtt.response_topic = "replies/1";
  message.mqtt.correlation_data = std::string("\x00\x01", 2);
  message.mqtt.message_expiry_interval = 100;
  message.retain = true;
  message.qos = 1;
  MqttProperties expected = message.mqtt;
  expected.message_expiry_interval = 70;
  h.clock.advance(std::chrono::seconds(30));
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.topic, "bridge/factory/1");
  EXPECT_EQ(message.mqtt, expected);
  EXPECT_EQ(message.properties, user);  // same names as built-ins are not an issue here
  EXPECT_TRUE(message.retain);
  EXPECT_EQ(message.qos, 1);
  EXPECT_EQ(h.counters().properties_shadowed, 0u);
  EXPECT_EQ(h.pipeline->stageNames(), (std::vector<std::string_view>{"expiry", "topic"}));
}

TEST(TransformMqttToMqtt, RetainNeverClearsTheFlag) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::MqttToMqtt);
  options.retain = RetainPolicy::Never;
  h.build(std::move(options));
  Message message = mqttMessage(h.clock);
  message.retain = true;
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_FALSE(message.retain);
  EXPECT_EQ(h.pipeline->stageNames(),
            (std::vector<std::string_view>{"expiry", "topic", "clear-retain"}));
}

TEST(TransformMqttToMqtt, RetainKeepKeepsBothValues) {
  Harness h;
  h.build(optionsFor(Direction::MqttToMqtt));
  for (bool retain : {true, false}) {
    Message message = mqttMessage(h.clock);
    message.retain = retain;
    ASSERT_EQ(h.process(message), Outcome::Forward);
    EXPECT_EQ(message.retain, retain);
  }
}

TEST(TransformMqttToMqtt, RetainNeverIsIgnoredForOtherDirections) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::KafkaToMqtt);
  options.retain = RetainPolicy::Never;
  h.build(std::move(options));
  EXPECT_EQ(h.pipeline->stageNames(), (std::vector<std::string_view>{"topic", "kafka-to-mqtt"}));
}

}  // namespace
}  // namespace dataflow::transform
