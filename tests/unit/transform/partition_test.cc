// Kafka destination partitionStrategy (AIO "Partition handling strategy").
#include <gtest/gtest.h>

#include "engine/core/murmur2.h"
#include "engine/transform/partition_stage.h"
#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using testing::Harness;
using testing::mqttMessage;
using testing::optionsFor;
using testing::Properties;

PipelineOptions withStrategy(PartitionStrategy strategy, std::string key_property = {},
                             uint32_t ordinal = 0) {
  PipelineOptions options = optionsFor(Direction::MqttToKafka, "out");
  options.partition_strategy = strategy;
  options.partition_key_property = std::move(key_property);
  options.instance_ordinal = ordinal;
  return options;
}

TEST(TransformPartition, DefaultHasNoKeyNoPartitionAndNoStage) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Default));
  Message message = mqttMessage(h.clock, "factory/1", {{"device-id", "d1"}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_FALSE(message.key.has_value());
  EXPECT_FALSE(message.partition.has_value());
  EXPECT_EQ(h.pipeline->stageNames(),
            (std::vector<std::string_view>{"expiry", "topic", "mqtt-to-kafka"}));
}

TEST(TransformPartition, TopicKeyIsTheSourceTopicNotTheDestination) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Topic));
  Message message = mqttMessage(h.clock, "factory/1/data");
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.key, "factory/1/data");
  EXPECT_EQ(message.topic, "out");
  EXPECT_FALSE(message.partition.has_value());
}

TEST(TransformPartition, SameTopicSameKeySamePartition) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Topic));
  Message a = mqttMessage(h.clock, "factory/1/data");
  Message b = mqttMessage(h.clock, "factory/1/data");
  h.process(a);
  h.process(b);
  EXPECT_EQ(partitionForKey(*a.key, 12), partitionForKey(*b.key, 12));
}

TEST(TransformPartition, PropertyKeyFromUserPropertyFirstOccurrence) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Property, "device-id"));
  Message message =
      mqttMessage(h.clock, "t", {{"x", "1"}, {"device-id", "oven-1"}, {"device-id", "oven-2"}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.key, "oven-1");
  // The property is still copied as a header.
  EXPECT_EQ(message.properties,
            (Properties{{"x", "1"}, {"device-id", "oven-1"}, {"device-id", "oven-2"}}));
  EXPECT_EQ(h.counters().partition_key_fallbacks, 0u);
}

TEST(TransformPartition, PropertyKeyEmptyValueIsAKey) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Property, "device-id"));
  Message message = mqttMessage(h.clock, "t", {{"device-id", ""}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  ASSERT_TRUE(message.key.has_value());
  EXPECT_EQ(*message.key, "");
  EXPECT_EQ(h.counters().partition_key_fallbacks, 0u);
}

TEST(TransformPartition, PropertyAbsentFallsBackToDefaultCountedAndWarned) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Property, "device-id"));
  for (int i = 0; i < 3; ++i) {
    Message message = mqttMessage(h.clock, "t", {{"Device-Id", "case differs"}});
    ASSERT_EQ(h.process(message), Outcome::Forward);  // not dropped
    EXPECT_FALSE(message.key.has_value());
    EXPECT_FALSE(message.partition.has_value());
  }
  EXPECT_EQ(h.counters().partition_key_fallbacks, 3u);
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_NE(h.warnings[0].find("'device-id'"), std::string::npos);
}

struct BuiltInKeyRow {
  const char* property;
  std::function<void(MqttProperties&)> set;
  const char* expected_key;
};
void PrintTo(const BuiltInKeyRow& row, std::ostream* os) { *os << row.property; }
class TransformPartitionBuiltInKey : public ::testing::TestWithParam<BuiltInKeyRow> {};
TEST_P(TransformPartitionBuiltInKey, KeyFromBuiltIn) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Property, GetParam().property));
  // A user property of the same name loses to the set built-in, as in header copying.
  Message message = mqttMessage(h.clock, "t", {{GetParam().property, "user"}});
  GetParam().set(message.mqtt);
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.key, GetParam().expected_key);
}
INSTANTIATE_TEST_SUITE_P(
    Rows, TransformPartitionBuiltInKey,
    ::testing::Values(
        BuiltInKeyRow{"Content Type", [](MqttProperties& m) { m.content_type = "text/csv"; },
                      "text/csv"},
        BuiltInKeyRow{"Response Topic", [](MqttProperties& m) { m.response_topic = "r/1"; }, "r/1"},
        BuiltInKeyRow{"Correlation Data", [](MqttProperties& m) { m.correlation_data = "c"; }, "c"},
        BuiltInKeyRow{"Payload Format Indicator",
                      [](MqttProperties& m) { m.payload_format_indicator = 1; }, "1"},
        BuiltInKeyRow{"Message Expiry Interval",
                      [](MqttProperties& m) { m.message_expiry_interval = 90; }, "90"},
        BuiltInKeyRow{"Content Type", [](MqttProperties&) {}, "user"}));

TEST(TransformPartition, StaticSetsTheOrdinalForTheDestinationToReduce) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Static, {}, 5));
  Message message = mqttMessage(h.clock, "t", {{"device-id", "d"}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_FALSE(message.key.has_value());
  ASSERT_TRUE(message.partition.has_value());
  EXPECT_EQ(*message.partition, 5);
  EXPECT_EQ(staticPartition(static_cast<uint32_t>(*message.partition), 4), 1);
}

TEST(TransformPartition, SourcePartitionNeverLeaksThrough) {
  Harness h;
  h.build(withStrategy(PartitionStrategy::Topic));
  Message message = mqttMessage(h.clock, "t");
  message.partition = 9;
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_FALSE(message.partition.has_value());
}

}  // namespace
}  // namespace dataflow::transform
