// Pipeline assembly: the chain chosen per direction and options, build-time refusals, counters,
// and concurrent use.
#include "engine/transform/pipeline.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using testing::Harness;
using testing::kafkaMessage;
using testing::mqttMessage;
using testing::optionsFor;
using Names = std::vector<std::string_view>;

struct ChainRow {
  const char* label;
  std::function<PipelineOptions()> options;
  Names stages;
};
void PrintTo(const ChainRow& row, std::ostream* os) { *os << row.label; }

class TransformPipelineChain : public ::testing::TestWithParam<ChainRow> {};
TEST_P(TransformPipelineChain, ChosenOnceAtBuild) {
  Harness h;
  h.build(GetParam().options());
  ASSERT_NE(h.pipeline, nullptr);
  EXPECT_EQ(h.pipeline->stageNames(), GetParam().stages);
}

PipelineOptions everything(Direction direction) {
  PipelineOptions options = optionsFor(direction, "out");
  options.cloud_events = CloudEventsMode::CreateOrRemap;
  options.header_actions = {{HeaderActionType::Remove, "x", ""}};
  options.retain = RetainPolicy::Never;
  if (direction == Direction::MqttToKafka) options.partition_strategy = PartitionStrategy::Topic;
  return options;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, TransformPipelineChain,
    ::testing::Values(ChainRow{"MQTT->Kafka minimal",
                               [] { return optionsFor(Direction::MqttToKafka); },
                               {"expiry", "topic", "mqtt-to-kafka"}},
                      ChainRow{"MQTT->Kafka everything",
                               [] { return everything(Direction::MqttToKafka); },
                               {"expiry", "topic", "partition", "cloud-events", "mqtt-to-kafka",
                                "cloud-events-emit", "header-actions"}},
                      ChainRow{"Kafka->MQTT minimal",
                               [] { return optionsFor(Direction::KafkaToMqtt); },
                               {"topic", "kafka-to-mqtt"}},
                      ChainRow{"Kafka->MQTT everything",
                               [] { return everything(Direction::KafkaToMqtt); },
                               {"topic", "kafka-to-mqtt", "cloud-events", "header-actions"}},
                      ChainRow{"MQTT->MQTT minimal",
                               [] { return optionsFor(Direction::MqttToMqtt); },
                               {"expiry", "topic"}},
                      ChainRow{
                          "MQTT->MQTT everything",
                          [] { return everything(Direction::MqttToMqtt); },
                          {"expiry", "topic", "clear-retain", "cloud-events", "header-actions"}}));

struct RefusalRow {
  const char* label;
  std::function<void(PipelineOptions&)> change;
  Direction direction;
  const char* message_part;
};
void PrintTo(const RefusalRow& row, std::ostream* os) { *os << row.label; }

class TransformPipelineRefused : public ::testing::TestWithParam<RefusalRow> {};
TEST_P(TransformPipelineRefused, BuildFailsWithAnOperatorMessage) {
  ManualClock clock;
  PipelineOptions options = optionsFor(GetParam().direction, "out");
  GetParam().change(options);
  auto result = Pipeline::build(std::move(options), PipelineEnvironment{&clock, {}, {}});
  ASSERT_FALSE(result.isOk());
  EXPECT_TRUE(result.status().isFatal());
  EXPECT_NE(result.status().message().find(GetParam().message_part), std::string::npos)
      << result.status().message();
  EXPECT_EQ(result.status().message().rfind("dataflow df: ", 0), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, TransformPipelineRefused,
    ::testing::Values(
        RefusalRow{"partitioning for an MQTT destination",
                   [](PipelineOptions& o) { o.partition_strategy = PartitionStrategy::Topic; },
                   Direction::KafkaToMqtt, "only to a Kafka destination"},
        RefusalRow{"Property strategy without a property",
                   [](PipelineOptions& o) { o.partition_strategy = PartitionStrategy::Property; },
                   Direction::MqttToKafka, "needs partitionKeyProperty"},
        RefusalRow{"static Kafka topic with a slash",
                   [](PipelineOptions& o) { o.destination_topic = testing::topicTemplate("a/b"); },
                   Direction::MqttToKafka, "not a legal Kafka topic"},
        RefusalRow{"empty topic", [](PipelineOptions& o) { o.destination_topic = TopicTemplate(); },
                   Direction::MqttToMqtt, "not a legal MQTT topic"},
        RefusalRow{"MQTT destination topic with a wildcard",
                   [](PipelineOptions& o) { o.destination_topic = testing::topicTemplate("a/#"); },
                   Direction::KafkaToMqtt, "not a legal MQTT topic"},
        RefusalRow{"header action with an empty key",
                   [](PipelineOptions& o) {
                     o.header_actions = {{HeaderActionType::AddOrReplace, "", "v"}};
                   },
                   Direction::MqttToKafka, "empty key"},
        RefusalRow{"header action value not UTF-8 for MQTT",
                   [](PipelineOptions& o) {
                     o.header_actions = {{HeaderActionType::AddOrReplace, "k", "\xff"}};
                   },
                   Direction::MqttToMqtt, "cannot be an MQTT user property"},
        RefusalRow{"CreateOrRemap without an endpoint name",
                   [](PipelineOptions& o) {
                     o.cloud_events = CloudEventsMode::CreateOrRemap;
                     o.destination_endpoint_name.clear();
                   },
                   Direction::MqttToKafka, "destination endpoint name"},
        RefusalRow{"output content type not UTF-8 for MQTT",
                   [](PipelineOptions& o) {
                     o.cloud_events = CloudEventsMode::Propagate;
                     o.output_content_type = std::string("a\0b", 3);
                   },
                   Direction::KafkaToMqtt, "not a valid MQTT UTF-8 string"}));

TEST(TransformPipeline, BuildNeedsAClock) {
  auto result = Pipeline::build(optionsFor(Direction::MqttToKafka), PipelineEnvironment{});
  ASSERT_FALSE(result.isOk());
  EXPECT_NE(result.status().message().find("clock"), std::string::npos);
}

TEST(TransformPipeline, BinaryHeaderActionValueIsFineForKafka) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::MqttToKafka);
  options.header_actions = {{HeaderActionType::AddOrReplace, "k", std::string("\0\xff", 2)}};
  h.build(std::move(options));
  EXPECT_NE(h.pipeline, nullptr);
}

TEST(TransformPipeline, OutcomesAndCountersAddUp) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka, "x-${inputTopic.2}"));
  Message ok = mqttMessage(h.clock, "a/b");
  Message unresolved = mqttMessage(h.clock, "a");
  Message invalid = mqttMessage(h.clock, "a/b c");
  Message expired = mqttMessage(h.clock, "a/b");
  expired.mqtt.message_expiry_interval = 0;
  EXPECT_EQ(h.process(ok), Outcome::Forward);
  EXPECT_EQ(h.process(unresolved), Outcome::DropUnresolvedTopic);
  EXPECT_EQ(h.process(invalid), Outcome::DropInvalidTopic);
  EXPECT_EQ(h.process(expired), Outcome::DropExpired);
  CounterSnapshot expected;
  expected.forwarded = 1;
  expected.unresolved_topic = 1;
  expected.invalid_topic = 1;
  expected.expired = 1;
  EXPECT_EQ(h.counters(), expected);
  EXPECT_EQ(toString(Outcome::DropExpired), "expired");
  EXPECT_EQ(toString(Outcome::Forward), "forward");
}

TEST(TransformPipeline, ExpiryIsCheckedBeforeTheTopic) {
  // An expired message is acked as expired even when its topic would not resolve.
  Harness h;
  h.build(optionsFor(Direction::MqttToMqtt, "${inputTopic.9}"));
  Message message = mqttMessage(h.clock, "a");
  message.mqtt.message_expiry_interval = 1;
  h.clock.advance(std::chrono::seconds(2));
  EXPECT_EQ(h.process(message), Outcome::DropExpired);
}

TEST(TransformPipeline, NoWarningSinkIsFine) {
  ManualClock clock;
  auto result = Pipeline::build(optionsFor(Direction::MqttToMqtt, "${inputTopic.9}"),
                                PipelineEnvironment{&clock, {}, {}});
  ASSERT_TRUE(result.isOk());
  Message message = mqttMessage(clock, "a");
  EXPECT_EQ(result.value()->process(message), Outcome::DropUnresolvedTopic);
}

TEST(TransformPipeline, ConcurrentProcessingCountsEveryMessage) {
  Harness h;
  h.build(optionsFor(Direction::KafkaToMqtt, "out/${inputTopic}"));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        Message record = kafkaMessage("t", {{"bad", "\xff"}, {"good", "1"}}, "k", i);
        if (h.pipeline->process(record) != Outcome::Forward || record.properties.size() != 3) {
          ADD_FAILURE() << "unexpected result";
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(h.counters().forwarded, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(h.counters().properties_removed_invalid_utf8,
            static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(h.warnings.size(), 1u);  // the clock does not move: one warning in all
}

}  // namespace
}  // namespace dataflow::transform
