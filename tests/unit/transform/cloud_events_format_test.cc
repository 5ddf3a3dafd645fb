// CloudEvents value formats: structured-mode detection, RFC 3339 time, UUID ids.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "engine/transform/cloud_events.h"
#include "tests/unit/transform/cloud_events_support.h"

namespace dataflow::transform {
namespace {

using namespace testing;  // NOLINT: the helpers of this test family

struct StructuredRow {
  const char* content_type;
  bool structured;
};
class TransformCloudEventsStructuredDetection : public ::testing::TestWithParam<StructuredRow> {};
TEST_P(TransformCloudEventsStructuredDetection, PrefixCaseInsensitive) {
  EXPECT_EQ(isStructuredContentType(GetParam().content_type), GetParam().structured);
}
INSTANTIATE_TEST_SUITE_P(
    Rows, TransformCloudEventsStructuredDetection,
    ::testing::Values(StructuredRow{"application/cloudevents+json", true},
                      StructuredRow{"application/cloudevents+json; charset=UTF-8", true},
                      StructuredRow{"Application/CloudEvents+JSON", true},
                      StructuredRow{"application/cloudevents-batch+json", true},
                      StructuredRow{"application/json", false}, StructuredRow{"", false},
                      StructuredRow{"application/cloudevent", false},
                      StructuredRow{"text/application/cloudevents", false}));

struct TimeRow {
  int64_t unix_ms;
  const char* text;
};
class TransformCloudEventsTime : public ::testing::TestWithParam<TimeRow> {};
TEST_P(TransformCloudEventsTime, Rfc3339UtcMilliseconds) {
  EXPECT_EQ(formatRfc3339Millis(GetParam().unix_ms), GetParam().text);
}
INSTANTIATE_TEST_SUITE_P(Rows, TransformCloudEventsTime,
                         ::testing::Values(TimeRow{0, "1970-01-01T00:00:00.000Z"},
                                           TimeRow{1, "1970-01-01T00:00:00.001Z"},
                                           TimeRow{1'522'949'460'000, "2018-04-05T17:31:00.000Z"},
                                           TimeRow{1'709'251'199'999, "2024-02-29T23:59:59.999Z"},
                                           TimeRow{946'684'799'999, "1999-12-31T23:59:59.999Z"},
                                           TimeRow{2'147'483'648'000, "2038-01-19T03:14:08.000Z"},
                                           TimeRow{-1, "1969-12-31T23:59:59.999Z"}));

TEST(TransformCloudEventsId, RandomUuidVersion4LowercaseAndUnique) {
  const std::regex shape("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = newUuid();
    ASSERT_TRUE(std::regex_match(id, shape)) << id;
    seen.insert(std::move(id));
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(TransformCloudEventsId, PipelineUsesLibuuidByDefault) {
  ManualClock clock;
  PipelineEnvironment environment;
  environment.clock = &clock;
  auto built =
      Pipeline::build(cloudEventOptions(Direction::MqttToMqtt, CloudEventsMode::CreateOrRemap),
                      std::move(environment));
  ASSERT_TRUE(built.isOk());
  Message message = mqttMessage(clock, "a/b");
  ASSERT_EQ(built.value()->process(message), Outcome::Forward);
  std::optional<std::string> id = outputAttribute(Direction::MqttToMqtt, message, "id");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->size(), 36u);
}

}  // namespace
}  // namespace dataflow::transform
