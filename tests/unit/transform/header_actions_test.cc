// Dataflow destination `headers[]`: AddIfNotPresent, AddOrReplace, Remove, applied last.
#include <gtest/gtest.h>

#include "engine/transform/header_actions_stage.h"
#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using testing::Harness;
using testing::kafkaMessage;
using testing::mqttMessage;
using testing::optionsFor;
using testing::Properties;

struct ActionRow {
  const char* label;
  std::vector<HeaderAction> actions;
  Properties before;
  Properties after;
};
void PrintTo(const ActionRow& row, std::ostream* os) { *os << row.label; }

class TransformHeaderActions : public ::testing::TestWithParam<ActionRow> {};

TEST_P(TransformHeaderActions, Apply) {
  HeaderActionsStage stage(GetParam().actions);
  Message message;
  message.properties = GetParam().before;
  StageContext context;
  ASSERT_EQ(stage.apply(message, context), Outcome::Forward);
  EXPECT_EQ(message.properties, GetParam().after);
}

constexpr auto kAdd = HeaderActionType::AddIfNotPresent;
constexpr auto kReplace = HeaderActionType::AddOrReplace;
constexpr auto kRemove = HeaderActionType::Remove;

INSTANTIATE_TEST_SUITE_P(
    Rows, TransformHeaderActions,
    ::testing::Values(
        ActionRow{"AddIfNotPresent adds when absent",
                  {{kAdd, "site", "berlin"}},
                  {{"a", "1"}},
                  {{"a", "1"}, {"site", "berlin"}}},
        ActionRow{"AddIfNotPresent leaves a present one",
                  {{kAdd, "site", "berlin"}},
                  {{"site", "paris"}, {"a", "1"}},
                  {{"site", "paris"}, {"a", "1"}}},
        ActionRow{"AddIfNotPresent is case-sensitive",
                  {{kAdd, "site", "berlin"}},
                  {{"Site", "paris"}},
                  {{"Site", "paris"}, {"site", "berlin"}}},
        ActionRow{"AddOrReplace adds when absent",
                  {{kReplace, "site", "berlin"}},
                  {},
                  {{"site", "berlin"}}},
        ActionRow{"AddOrReplace replaces in place",
                  {{kReplace, "site", "berlin"}},
                  {{"a", "1"}, {"site", "paris"}, {"b", "2"}},
                  {{"a", "1"}, {"site", "berlin"}, {"b", "2"}}},
        ActionRow{"AddOrReplace leaves one of duplicates",
                  {{kReplace, "site", "berlin"}},
                  {{"site", "x"}, {"a", "1"}, {"site", "y"}, {"site", "z"}},
                  {{"site", "berlin"}, {"a", "1"}}},
        ActionRow{"Remove removes every one",
                  {{kRemove, "site", ""}},
                  {{"site", "x"}, {"a", "1"}, {"site", "y"}},
                  {{"a", "1"}}},
        ActionRow{"Remove of an absent one", {{kRemove, "site", ""}}, {{"a", "1"}}, {{"a", "1"}}},
        ActionRow{"Remove then AddIfNotPresent",
                  {{kRemove, "s", ""}, {kAdd, "s", "new"}},
                  {{"s", "old"}},
                  {{"s", "new"}}},
        ActionRow{"AddIfNotPresent then Remove", {{kAdd, "s", "new"}, {kRemove, "s", ""}}, {}, {}},
        ActionRow{"two AddIfNotPresent: the first wins",
                  {{kAdd, "s", "1"}, {kAdd, "s", "2"}},
                  {},
                  {{"s", "1"}}}));

TEST(TransformHeaderActionsPipeline, AppliedLastToKafkaHeadersIncludingBuiltIns) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::MqttToKafka);
  options.header_actions = {{kRemove, "Content Type", ""}, {kAdd, "origin", "edge"}};
  h.build(std::move(options));
  Message message = mqttMessage(h.clock, "t", {{"u", "1"}});
  message.mqtt.content_type = "application/json";
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties, (Properties{{"u", "1"}, {"origin", "edge"}}));
  EXPECT_EQ(h.pipeline->stageNames().back(), "header-actions");
}

TEST(TransformHeaderActionsPipeline, AppliedLastToMqttUserProperties) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::KafkaToMqtt);
  options.header_actions = {{kRemove, "Timestamp", ""}, {kReplace, "Key", "fixed"}};
  h.build(std::move(options));
  Message record = kafkaMessage("t", {{"h", "1"}}, std::nullopt, 99);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"h", "1"}, {"Key", "fixed"}}));
}

}  // namespace
}  // namespace dataflow::transform
