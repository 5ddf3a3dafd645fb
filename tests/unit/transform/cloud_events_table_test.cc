// CloudEvents, the AIO tables row by row (Propagate; CreateOrRemap), each row in each direction:
// MQTT -> Kafka (ce_ headers and content-type), MQTT -> MQTT and Kafka -> MQTT (bare user
// properties and Content Type).
#include <gtest/gtest.h>

#include <map>

#include "tests/unit/transform/cloud_events_support.h"

namespace dataflow::transform {
namespace {

using namespace testing;  // NOLINT: the helpers of this test family

class TransformCloudEventsPropagate : public ::testing::TestWithParam<AttributeRow> {};

TEST_P(TransformCloudEventsPropagate, PassedThroughAsIs) {
  const auto [direction, index] = GetParam();
  Harness h;
  h.build(cloudEventOptions(direction, CloudEventsMode::Propagate));
  auto attributes = required();
  if (index >= 4) attributes.push_back(kSamples[index]);
  Message message = sourceMessage(direction, h.clock, attributes);
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(outputAttribute(direction, message, kSamples[index].first), kSamples[index].second);
  EXPECT_EQ(h.counters().cloud_events_propagated, 1u);
  // Nothing was generated.
  for (const auto& [name, value] : kSamples) {
    bool given = false;
    for (const auto& a : attributes) given |= a.first == name;
    if (!given) {
      EXPECT_EQ(outputAttribute(direction, message, name), std::nullopt) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SeedTable, TransformCloudEventsPropagate, ::testing::ValuesIn(rows()),
                         rowName);

class TransformCloudEventsPropagateOutput : public ::testing::TestWithParam<AttributeRow> {};

TEST_P(TransformCloudEventsPropagateOutput, FollowsOutputContentTypeAndSchema) {
  const auto [direction, index] = GetParam();
  const std::string& name = kSamples[index].first;
  Harness h;
  PipelineOptions options = cloudEventOptions(direction, CloudEventsMode::Propagate);
  options.output_content_type = "application/avro";
  options.output_schema = "sr://out#2";
  h.build(std::move(options));
  auto attributes = required();
  attributes.push_back(kSamples[index]);
  Message message = sourceMessage(direction, h.clock, attributes);
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(outputAttribute(direction, message, name),
            name == kContentType ? "application/avro" : "sr://out#2");
}

INSTANTIATE_TEST_SUITE_P(SeedTable, TransformCloudEventsPropagateOutput,
                         ::testing::ValuesIn(rows(Which::FollowOutput)), rowName);

// CreateOrRemap table: the attribute is missing and is generated (or set from the output).
class TransformCloudEventsCreate : public ::testing::TestWithParam<AttributeRow> {};

TEST_P(TransformCloudEventsCreate, GeneratedWhenMissing) {
  const auto [direction, index] = GetParam();
  const std::string& name = kSamples[index].first;
  Harness h;
  h.clock.setWallMs(kNowMs);
  PipelineOptions options = cloudEventOptions(direction, CloudEventsMode::CreateOrRemap);
  options.output_content_type = "application/json";
  options.output_schema = "sr://registry/out#1";
  h.build(std::move(options));
  std::vector<std::pair<std::string, std::string>> attributes;
  for (size_t i = 0; i < 4; ++i) {
    if (i != index) attributes.push_back(kSamples[i]);
  }
  Message message = sourceMessage(direction, h.clock, attributes);
  ASSERT_EQ(h.process(message), Outcome::Forward);
  const std::map<std::string, std::string> generated = {{"specversion", "1.0"},
                                                        {"type", "ms.aio-dataflow.telemetry"},
                                                        {"source", "aio://target"},
                                                        {"id", "id-1"},
                                                        {"subject", message.topic},
                                                        {"time", "2018-04-05T17:31:00.000Z"},
                                                        {"datacontenttype", "application/json"},
                                                        {"dataschema", "sr://registry/out#1"}};
  EXPECT_EQ(outputAttribute(direction, message, name), generated.at(name));
  EXPECT_EQ(h.counters().cloud_events_created, index < 4 ? 1u : 0u);
  EXPECT_EQ(h.counters().cloud_events_propagated, index < 4 ? 0u : 1u);
}

INSTANTIATE_TEST_SUITE_P(SeedTable, TransformCloudEventsCreate, ::testing::ValuesIn(rows()),
                         rowName);

class TransformCloudEventsCreateKeeps : public ::testing::TestWithParam<AttributeRow> {};

TEST_P(TransformCloudEventsCreateKeeps, PresentValuesAreKept) {
  const auto [direction, index] = GetParam();
  const std::string& name = kSamples[index].first;
  Harness h;
  h.build(cloudEventOptions(direction, CloudEventsMode::CreateOrRemap));
  auto attributes = required();
  if (index >= 4) attributes.push_back(kSamples[index]);
  Message message = sourceMessage(direction, h.clock, attributes);
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(outputAttribute(direction, message, name), kSamples[index].second);
}

INSTANTIATE_TEST_SUITE_P(SeedTable, TransformCloudEventsCreateKeeps,
                         ::testing::ValuesIn(rows(Which::PassThrough)), rowName);

}  // namespace
}  // namespace dataflow::transform
