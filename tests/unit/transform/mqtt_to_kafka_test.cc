// MQTT -> Kafka (AIO "Copy MQTT properties", Kafka endpoint is a destination): one test per row
// of the table, then user properties, the collision policy and copyMqttProperties: Disabled.
#include <gtest/gtest.h>

#include <functional>

#include "engine/transform/mqtt_to_kafka_stage.h"
#include "engine/core/property_names.h"
#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using testing::Harness;
using testing::mqttMessage;
using testing::optionsFor;
using testing::Properties;
using namespace std::string_literals;

struct BuiltInRow {
  const char* label;
  std::function<void(MqttProperties&)> set;
  Property expected_header;
};
void PrintTo(const BuiltInRow& row, std::ostream* os) { *os << row.label; }

class TransformMqttToKafkaBuiltIns : public ::testing::TestWithParam<BuiltInRow> {};

TEST_P(TransformMqttToKafkaBuiltIns, BecomesNamedHeader) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  Message message = mqttMessage(h.clock, "factory/1/data", {{"subject", "oven-1"}});
  GetParam().set(message.mqtt);
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties,
            (Properties{GetParam().expected_header, Property{"subject", "oven-1"}}));
  EXPECT_EQ(message.mqtt, MqttProperties{});  // a Kafka destination reads headers only
  EXPECT_EQ(message.topic, "out");
  EXPECT_FALSE(message.key.has_value());
  EXPECT_FALSE(message.partition.has_value());
}

INSTANTIATE_TEST_SUITE_P(
    SeedTable, TransformMqttToKafkaBuiltIns,
    ::testing::Values(BuiltInRow{"Payload Format Indicator 0 (bytes)",
                                 [](MqttProperties& m) { m.payload_format_indicator = 0; },
                                 {"Payload Format Indicator", "0"}},
                      BuiltInRow{"Payload Format Indicator 1 (UTF-8)",
                                 [](MqttProperties& m) { m.payload_format_indicator = 1; },
                                 {"Payload Format Indicator", "1"}},
                      BuiltInRow{"Response Topic copied",
                                 [](MqttProperties& m) { m.response_topic = "replies/oven-1"; },
                                 {"Response Topic", "replies/oven-1"}},
                      BuiltInRow{"Message Expiry Interval in decimal seconds",
                                 [](MqttProperties& m) { m.message_expiry_interval = 3600; },
                                 {"Message Expiry Interval", "3600"}},
                      BuiltInRow{"Correlation Data, arbitrary bytes copied byte for byte",
                                 [](MqttProperties& m) {
                                   m.correlation_data =
                                       "\x00\xff\xa1\x03"
                                       "bar\x80"s;
                                 },
                                 {"Correlation Data",
                                  "\x00\xff\xa1\x03"
                                  "bar\x80"s}},
                      BuiltInRow{"Correlation Data empty",
                                 [](MqttProperties& m) { m.correlation_data = ""; },
                                 {"Correlation Data", ""}},
                      BuiltInRow{"Content Type copied",
                                 [](MqttProperties& m) { m.content_type = "application/json"; },
                                 {"Content Type", "application/json"}}));

TEST(TransformMqttToKafka, AllBuiltInsInTableOrderThenUserPropertiesInOrder) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  Message message = mqttMessage(h.clock, "t", {{"b", "1"}, {"a", "2"}, {"b", "3"}, {"", ""}});
  message.mqtt.content_type = "text/plain";
  message.mqtt.correlation_data = "c";
  message.mqtt.message_expiry_interval = 10;
  message.mqtt.response_topic = "r";
  message.mqtt.payload_format_indicator = 1;
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties, (Properties{{"Payload Format Indicator", "1"},
                                            {"Response Topic", "r"},
                                            {"Message Expiry Interval", "10"},
                                            {"Correlation Data", "c"},
                                            {"Content Type", "text/plain"},
                                            {"b", "1"},
                                            {"a", "2"},
                                            {"b", "3"},
                                            {"", ""}}));
  EXPECT_EQ(message.payload, R"({"temperature":21.5})");
}

TEST(TransformMqttToKafka, UserPropertiesOnlyKeepOrderAndDuplicates) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  Properties user{{"subject", "oven"}, {"x", "1"}, {"x", "2"}, {"x", "1"}, {"y", "\xc3\xa9"}};
  Message message = mqttMessage(h.clock, "t", user);
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties, user);
  EXPECT_EQ(h.counters().properties_shadowed, 0u);
}

TEST(TransformMqttToKafka, CollisionBuiltInWinsAndShadowedUserPropertyIsCounted) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  Message message = mqttMessage(h.clock, "t",
                                {{"Correlation Data", "user-1"},
                                 {"keep", "k"},
                                 {"Content Type", "user-2"},
                                 {"Correlation Data", "user-3"}});
  message.mqtt.correlation_data = "builtin";
  ASSERT_EQ(h.process(message), Outcome::Forward);
  // "Content Type" is not set as a built-in, so that user property is an ordinary header.
  EXPECT_EQ(
      message.properties,
      (Properties{{"Correlation Data", "builtin"}, {"keep", "k"}, {"Content Type", "user-2"}}));
  EXPECT_EQ(h.counters().properties_shadowed, 2u);
}

TEST(TransformMqttToKafka, CollisionIsCaseSensitive) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  Message message = mqttMessage(h.clock, "t", {{"content type", "user"}});
  message.mqtt.content_type = "builtin";
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties,
            (Properties{{"Content Type", "builtin"}, {"content type", "user"}}));
}

TEST(TransformMqttToKafka, DisabledSendsOnlyThePayload) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::MqttToKafka);
  options.copy_mqtt_properties = false;
  options.partition_strategy = PartitionStrategy::Topic;
  h.build(std::move(options));
  Message message = mqttMessage(h.clock, "factory/1", {{"a", "1"}, {"b", "2"}});
  message.mqtt.content_type = "application/json";
  message.mqtt.message_expiry_interval = 60;
  message.mqtt.payload_format_indicator = 1;
  message.mqtt.correlation_data = "c";
  message.mqtt.response_topic = "r";
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_TRUE(message.properties.empty());
  EXPECT_EQ(message.mqtt, MqttProperties{});
  EXPECT_EQ(message.key, "factory/1");  // key and partition still go across
  EXPECT_EQ(message.payload, R"({"temperature":21.5})");
}

TEST(TransformMqttToKafka, DisabledStillDropsExpiredMessages) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::MqttToKafka);
  options.copy_mqtt_properties = false;
  h.build(std::move(options));
  Message message = mqttMessage(h.clock);
  message.mqtt.message_expiry_interval = 5;
  h.clock.advance(std::chrono::seconds(5));
  EXPECT_EQ(h.process(message), Outcome::DropExpired);
}

TEST(TransformMqttToKafka, LargeValuesAreNotLimitedOnTheKafkaSide) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  const std::string big(65535, 'v');
  Message message = mqttMessage(h.clock, "t", {{"big", big}});
  message.mqtt.correlation_data = big;
  ASSERT_EQ(h.process(message), Outcome::Forward);
  ASSERT_EQ(message.properties.size(), 2u);
  EXPECT_EQ(message.properties[0].value.size(), 65535u);
  EXPECT_EQ(message.properties[1].value.size(), 65535u);
}

TEST(TransformMqttToKafka, PayloadFormatIndicatorOutOfRangeIsWrittenInDecimal) {
  // MQTT allows only 0 and 1; a source should never deliver more, but the mapping stays total.
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  Message message = mqttMessage(h.clock);
  message.mqtt.payload_format_indicator = 255;
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties, (Properties{{"Payload Format Indicator", "255"}}));
}

}  // namespace
}  // namespace dataflow::transform
