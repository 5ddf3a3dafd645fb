// Destination topics: TopicTemplate (engine/core) parse/resolve, the Kafka and MQTT topic name
// rules, and the topic stage's drop decisions.
#include <gtest/gtest.h>

#include "engine/core/topic_template.h"
#include "engine/core/topic_names.h"
#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using testing::Harness;
using testing::mqttMessage;
using testing::optionsFor;

struct ResolveRow {
  const char* template_text;
  const char* input_topic;
  const char* expected;  // nullptr: cannot be resolved
};
void PrintTo(const ResolveRow& row, std::ostream* os) {
  *os << row.template_text << " <- " << row.input_topic;
}

class TransformTopicTemplateResolve : public ::testing::TestWithParam<ResolveRow> {};
TEST_P(TransformTopicTemplateResolve, Resolves) {
  const ResolveRow& row = GetParam();
  TopicTemplate parsed;
  std::string error;
  ASSERT_TRUE(TopicTemplate::parse(row.template_text, parsed, error)) << error;
  std::string out = "garbage from before";
  const bool resolved = parsed.resolve(row.input_topic, out);
  if (row.expected == nullptr) {
    EXPECT_FALSE(resolved) << out;
  } else {
    ASSERT_TRUE(resolved);
    EXPECT_EQ(out, row.expected);
  }
}
INSTANTIATE_TEST_SUITE_P(
    Rows, TransformTopicTemplateResolve,
    ::testing::Values(
        // AIO destinationSettings example.
        ResolveRow{"processed/factory/${inputTopic.2}", "factory/1/data", "processed/factory/1"},
        ResolveRow{"${inputTopic}", "factory/1/data", "factory/1/data"},
        ResolveRow{"copy/${inputTopic}", "/a/b/", "copy//a/b/"},
        ResolveRow{"${inputTopic.1}", "factory/1/data", "factory"},
        ResolveRow{"${inputTopic.3}", "factory/1/data", "data"},
        ResolveRow{"${inputTopic.4}", "factory/1/data", nullptr},
        ResolveRow{"x/${inputTopic.5}", "a/b/c", nullptr},
        // Leading and trailing slashes are ignored when counting levels.
        ResolveRow{"${inputTopic.1}", "/factory/1/", "factory"},
        ResolveRow{"${inputTopic.2}", "//factory/1//", "1"},
        ResolveRow{"${inputTopic.3}", "/factory/1/", nullptr},
        ResolveRow{"${inputTopic.1}", "/", nullptr}, ResolveRow{"${inputTopic.1}", "", nullptr},
        // An empty level in the middle is a level.
        ResolveRow{"${inputTopic.2}", "a//c", ""}, ResolveRow{"${inputTopic.3}", "a//c", "c"},
        ResolveRow{"${inputTopic.2}-${inputTopic.1}", "a/b", "b-a"},
        ResolveRow{"${inputTopic.1}${inputTopic.1}", "ab", "abab"},
        // Without braces it is literal text.
        ResolveRow{"factory/$inputTopic.2", "a/b", "factory/$inputTopic.2"},
        ResolveRow{"static", "anything", "static"}, ResolveRow{"cost$5", "a", "cost$5"},
        ResolveRow{"${inputTopic.1}", "telemetry", "telemetry"}));

struct ParseErrorRow {
  const char* template_text;
};
class TransformTopicTemplateParseError : public ::testing::TestWithParam<ParseErrorRow> {};
TEST_P(TransformTopicTemplateParseError, Refused) {
  TopicTemplate parsed;
  std::string error;
  EXPECT_FALSE(TopicTemplate::parse(GetParam().template_text, parsed, error));
  EXPECT_FALSE(error.empty());
}
INSTANTIATE_TEST_SUITE_P(
    Rows, TransformTopicTemplateParseError,
    ::testing::Values(ParseErrorRow{"${inputTopic.0}"}, ParseErrorRow{"${inputTopic.01}"},
                      ParseErrorRow{"${inputTopic.}"}, ParseErrorRow{"${inputTopic.x}"},
                      ParseErrorRow{"${inputTopic.-1}"}, ParseErrorRow{"${inputTopic.99999999999}"},
                      ParseErrorRow{"${outputTopic}"}, ParseErrorRow{"${}"},
                      ParseErrorRow{"a/${inputTopic"}));

TEST(TransformTopicTemplate, StaticnessAndText) {
  TopicTemplate parsed;
  std::string error;
  ASSERT_TRUE(TopicTemplate::parse("a/${inputTopic}", parsed, error));
  EXPECT_FALSE(parsed.isStatic());
  EXPECT_EQ(parsed.text(), "a/${inputTopic}");
  ASSERT_TRUE(TopicTemplate::parse("a/$inputTopic", parsed, error));
  EXPECT_TRUE(parsed.isStatic());
}

struct NameRow {
  std::string topic;
  bool kafka_legal;
  bool mqtt_valid;
};
void PrintTo(const NameRow& row, std::ostream* os) { *os << '"' << escapeBytes(row.topic) << '"'; }
class TransformTopicNames : public ::testing::TestWithParam<NameRow> {};
TEST_P(TransformTopicNames, Rules) {
  EXPECT_EQ(isLegalKafkaTopic(GetParam().topic), GetParam().kafka_legal);
  EXPECT_EQ(isValidMqttTopicName(GetParam().topic), GetParam().mqtt_valid);
}
using namespace std::string_literals;
INSTANTIATE_TEST_SUITE_P(
    Rows, TransformTopicNames,
    ::testing::Values(NameRow{"telemetry", true, true}, NameRow{"a.b_c-D9", true, true},
                      NameRow{"", false, false}, NameRow{".", false, true},
                      NameRow{"..", false, true}, NameRow{"...", true, true},
                      NameRow{"factory/1", false, true}, NameRow{"with space", false, true},
                      NameRow{std::string(249, 'k'), true, true},
                      NameRow{std::string(250, 'k'), false, true},
                      NameRow{"caf\xc3\xa9", false, true}, NameRow{"a/+/b", false, false},
                      NameRow{"a/#", false, false}, NameRow{"a\0b"s, false, false},
                      NameRow{"bad\xff", false, false}, NameRow{"/", false, true},
                      NameRow{std::string(65535, 'm'), false, true},
                      NameRow{std::string(65536, 'm'), false, false}));

TEST(TransformTopicStage, UnresolvedVariableDropsWithRateLimitedWarning) {
  Harness h;
  PipelineOptions options = optionsFor(Direction::MqttToMqtt, "out/${inputTopic.4}");
  options.warning_interval = std::chrono::seconds(10);
  h.build(std::move(options));
  for (int i = 0; i < 5; ++i) {
    Message message = mqttMessage(h.clock, "a/b/c");
    EXPECT_EQ(h.process(message), Outcome::DropUnresolvedTopic);
  }
  EXPECT_EQ(h.counters().unresolved_topic, 5u);
  EXPECT_EQ(h.counters().forwarded, 0u);
  ASSERT_EQ(h.warnings.size(), 1u);  // first occurrence only
  EXPECT_NE(h.warnings[0].find("out/${inputTopic.4}"), std::string::npos);
  EXPECT_NE(h.warnings[0].find("'a/b/c'"), std::string::npos);

  h.clock.advance(std::chrono::seconds(9));
  Message early = mqttMessage(h.clock, "x");
  h.process(early);
  EXPECT_EQ(h.warnings.size(), 1u);
  h.clock.advance(std::chrono::seconds(1));
  Message later = mqttMessage(h.clock, "x");
  h.process(later);
  ASSERT_EQ(h.warnings.size(), 2u);  // once per interval, with the count in between
  EXPECT_NE(h.warnings[1].find("(5 more since the last report)"), std::string::npos);
  // A message that resolves is not affected.
  Message good = mqttMessage(h.clock, "a/b/c/d");
  EXPECT_EQ(h.process(good), Outcome::Forward);
  EXPECT_EQ(good.topic, "out/d");
}

TEST(TransformTopicStage, TemplatedKafkaTopicMustBeLegal) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka, "${inputTopic.2}"));
  Message legal = mqttMessage(h.clock, "factory/line-1.a/data");
  EXPECT_EQ(h.process(legal), Outcome::Forward);
  EXPECT_EQ(legal.topic, "line-1.a");
  Message illegal = mqttMessage(h.clock, "factory/line 1/data");
  EXPECT_EQ(h.process(illegal), Outcome::DropInvalidTopic);
  Message whole = mqttMessage(h.clock, "factory/line/data");
  Harness h2;
  h2.build(optionsFor(Direction::MqttToKafka, "${inputTopic}"));
  EXPECT_EQ(h2.process(whole), Outcome::DropInvalidTopic);  // '/' is not legal in Kafka
  EXPECT_EQ(h.counters().invalid_topic, 1u);
  EXPECT_EQ(h2.counters().invalid_topic, 1u);
  EXPECT_EQ(h.warnings.size(), 1u);
}

TEST(TransformTopicStage, TemplatedMqttTopicMustBeValid) {
  Harness h;
  h.build(optionsFor(Direction::MqttToMqtt, "${inputTopic.2}"));
  Message empty_level = mqttMessage(h.clock, "a//c");
  EXPECT_EQ(h.process(empty_level), Outcome::DropInvalidTopic);  // "" is not a topic name
  EXPECT_EQ(h.counters().invalid_topic, 1u);
}

TEST(TransformTopicStage, KafkaSourceTopicFeedsTheTemplate) {
  Harness h;
  h.build(optionsFor(Direction::KafkaToMqtt, "from-kafka/${inputTopic}"));
  Message record = testing::kafkaMessage("orders");
  EXPECT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.topic, "from-kafka/orders");
  Harness h2;
  h2.build(optionsFor(Direction::KafkaToMqtt, "x/${inputTopic.2}"));
  Message record2 = testing::kafkaMessage("orders");
  EXPECT_EQ(h2.process(record2), Outcome::DropUnresolvedTopic);  // Kafka topics have one level
}

}  // namespace
}  // namespace dataflow::transform
