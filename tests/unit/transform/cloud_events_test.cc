// CloudEvents behaviour beyond the table rows: incomplete events, structured mode, binding
// translation in each direction, copyMqttProperties: Disabled, duplicates and extensions.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/transform/cloud_events_support.h"

namespace dataflow::transform {
namespace {

using namespace testing;  // NOLINT: the helpers of this test family

class TransformCloudEvents : public ::testing::TestWithParam<Direction> {};

TEST_P(TransformCloudEvents, PropagateWithoutEveryRequiredAttributePassesUnchanged) {
  const Direction direction = GetParam();
  for (size_t missing = 0; missing < 4; ++missing) {
    Harness h;
    h.build(cloudEventOptions(direction, CloudEventsMode::Propagate));
    auto attributes = required();
    attributes.erase(attributes.begin() + static_cast<ptrdiff_t>(missing));
    attributes.push_back(kSamples[6]);  // datacontenttype
    Message message = sourceMessage(direction, h.clock, attributes);
    Harness plain;  // the same pipeline without CloudEvents
    plain.build(optionsFor(direction, direction == Direction::MqttToKafka ? "out" : "out/topic"));
    Message expected = sourceMessage(direction, plain.clock, attributes);
    ASSERT_EQ(h.process(message), Outcome::Forward);
    ASSERT_EQ(plain.process(expected), Outcome::Forward);
    EXPECT_EQ(message.properties, expected.properties) << "missing " << kSamples[missing].first;
    EXPECT_EQ(message.mqtt, expected.mqtt);
    EXPECT_EQ(h.counters().cloud_events_propagated, 0u);
  }
}

TEST_P(TransformCloudEvents, CreateOrRemapOnAPlainMessageGeneratesEverything) {
  const Direction direction = GetParam();
  Harness h;
  h.clock.setWallMs(kNowMs + 7);
  h.build(cloudEventOptions(direction, CloudEventsMode::CreateOrRemap));
  Message message = sourceMessage(direction, h.clock, {}, {{"plain", "p"}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(outputAttribute(direction, message, "specversion"), "1.0");
  EXPECT_EQ(outputAttribute(direction, message, "type"), "ms.aio-dataflow.telemetry");
  EXPECT_EQ(outputAttribute(direction, message, "source"), "aio://target");
  EXPECT_EQ(outputAttribute(direction, message, "id"), "id-1");
  EXPECT_EQ(outputAttribute(direction, message, "subject"), message.topic);
  EXPECT_EQ(outputAttribute(direction, message, "time"), "2018-04-05T17:31:00.007Z");
  EXPECT_EQ(outputAttribute(direction, message, "dataschema"), std::nullopt);  // no registry
  EXPECT_EQ(outputAttribute(direction, message, kContentType), std::nullopt);
  EXPECT_EQ(h.counters().cloud_events_created, 1u);
  // The ordinary property is still there.
  bool plain = false;
  for (const Property& p : message.properties) plain |= p.name == "plain" && p.value == "p";
  EXPECT_TRUE(plain);
}

TEST_P(TransformCloudEvents, EachMessageGetsItsOwnId) {
  const Direction direction = GetParam();
  Harness h;
  h.build(cloudEventOptions(direction, CloudEventsMode::CreateOrRemap));
  Message first = sourceMessage(direction, h.clock, {});
  Message second = sourceMessage(direction, h.clock, {});
  h.process(first);
  h.process(second);
  EXPECT_EQ(outputAttribute(direction, first, "id"), "id-1");
  EXPECT_EQ(outputAttribute(direction, second, "id"), "id-2");
}

TEST_P(TransformCloudEvents, StructuredModeIsUntouched) {
  const Direction direction = GetParam();
  for (CloudEventsMode mode : {CloudEventsMode::Propagate, CloudEventsMode::CreateOrRemap}) {
    Harness h;
    PipelineOptions options = cloudEventOptions(direction, mode);
    options.output_schema = "sr://x";
    h.build(std::move(options));
    // Attributes also present as properties (allowed in structured mode) are left alone.
    Message message = sourceMessage(
        direction, h.clock, {{kContentType, "application/cloudevents+json; charset=UTF-8"}},
        {{direction == Direction::KafkaToMqtt ? "ce_id" : "id", "in-payload"}});
    const std::string payload = message.payload;
    ASSERT_EQ(h.process(message), Outcome::Forward);
    EXPECT_EQ(message.payload, payload);
    // The content type is where the destination binding expects it: it marks the mode.
    EXPECT_EQ(outputAttribute(direction, message, kContentType),
              "application/cloudevents+json; charset=UTF-8");
    // The id property keeps its source-binding name: it is neither prefixed nor stripped.
    const Property untouched{direction == Direction::KafkaToMqtt ? "ce_id" : "id", "in-payload"};
    EXPECT_NE(std::find(message.properties.begin(), message.properties.end(), untouched),
              message.properties.end());
    EXPECT_EQ(h.counters().cloud_events_structured, 1u);
    EXPECT_EQ(h.counters().cloud_events_created, 0u);
    EXPECT_EQ(h.counters().cloud_events_propagated, 0u);
  }
}

TEST_P(TransformCloudEvents, PropagateDoesNotRestampTime) {
  const Direction direction = GetParam();
  Harness h;
  h.clock.setWallMs(kNowMs + 86'400'000);
  h.build(cloudEventOptions(direction, CloudEventsMode::CreateOrRemap));
  auto attributes = required();
  attributes.push_back({"time", "2000-01-01T00:00:00Z"});
  Message message = sourceMessage(direction, h.clock, attributes);
  h.process(message);
  EXPECT_EQ(outputAttribute(direction, message, "time"), "2000-01-01T00:00:00Z");
}

INSTANTIATE_TEST_SUITE_P(Directions, TransformCloudEvents,
                         ::testing::Values(Direction::MqttToKafka, Direction::MqttToMqtt,
                                           Direction::KafkaToMqtt),
                         [](const auto& info) { return directionName(info.param); });

TEST(TransformCloudEventsKafka, HeadersUseTheKafkaBindingPrefixNotTheHttpOne) {
  Harness h;
  h.build(cloudEventOptions(Direction::MqttToKafka, CloudEventsMode::CreateOrRemap));
  Message message = mqttMessage(h.clock, "a/b");
  message.mqtt.content_type = "application/json";
  ASSERT_EQ(h.process(message), Outcome::Forward);
  // CloudEvents headers appended after the copied MQTT properties, in attribute order.
  std::vector<std::string> names;
  for (const Property& p : message.properties) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ce_specversion", "ce_type", "ce_source", "ce_id",
                                             "ce_subject", "ce_time", "content-type"}));
  for (const std::string& name : names) EXPECT_EQ(name.find("ce-"), std::string::npos);
}

TEST(TransformCloudEventsKafka, ContentTypeMovesAndIsNotCopiedTwice) {
  Harness h;
  h.build(cloudEventOptions(Direction::MqttToKafka, CloudEventsMode::Propagate));
  Message message = sourceMessage(Direction::MqttToKafka, h.clock, required(), {{"u", "1"}});
  message.mqtt.content_type = "application/json";
  message.mqtt.message_expiry_interval = 50;
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties, (Properties{{"Message Expiry Interval", "50"},
                                            {"u", "1"},
                                            {"ce_specversion", "1.0"},
                                            {"ce_type", "ms.aio.telemetry"},
                                            {"ce_source", "aio://mycluster/myoven"},
                                            {"ce_id", "A234-1234-1234"},
                                            {"content-type", "application/json"}}));
}

TEST(TransformCloudEventsKafka, CopyDisabledKeepsOnlyTheCloudEventHeaders) {
  Harness h;
  PipelineOptions options = cloudEventOptions(Direction::MqttToKafka, CloudEventsMode::Propagate);
  options.copy_mqtt_properties = false;
  h.build(std::move(options));
  Message message = sourceMessage(Direction::MqttToKafka, h.clock, required(), {{"u", "1"}});
  message.mqtt.content_type = "text/plain";
  message.mqtt.response_topic = "r";
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties, (Properties{{"ce_specversion", "1.0"},
                                            {"ce_type", "ms.aio.telemetry"},
                                            {"ce_source", "aio://mycluster/myoven"},
                                            {"ce_id", "A234-1234-1234"},
                                            {"content-type", "text/plain"}}));
  EXPECT_EQ(message.mqtt, MqttProperties{});
  EXPECT_EQ(h.pipeline->stageNames(),
            (std::vector<std::string_view>{"expiry", "topic", "cloud-events", "mqtt-to-kafka",
                                           "cloud-events-emit"}));
}

TEST(TransformCloudEventsKafka, CopyDisabledAndNotACloudEventSendsNothing) {
  Harness h;
  PipelineOptions options = cloudEventOptions(Direction::MqttToKafka, CloudEventsMode::Propagate);
  options.copy_mqtt_properties = false;
  h.build(std::move(options));
  Message message = sourceMessage(Direction::MqttToKafka, h.clock, {{"id", "x"}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_TRUE(message.properties.empty());
}

TEST(TransformCloudEventsKafka, DuplicateAttributeFirstWinsLaterStaysPlain) {
  Harness h;
  h.build(cloudEventOptions(Direction::MqttToKafka, CloudEventsMode::Propagate));
  Message message = sourceMessage(Direction::MqttToKafka, h.clock, required(), {{"id", "second"}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(outputAttribute(Direction::MqttToKafka, message, "id"), "A234-1234-1234");
  EXPECT_EQ(message.properties.front(), (Property{"id", "second"}));
}

TEST(TransformCloudEventsMqtt, KafkaExtensionsLoseTheirPrefixAndOrderIsKept) {
  Harness h;
  h.build(cloudEventOptions(Direction::KafkaToMqtt, CloudEventsMode::Propagate));
  Message record = kafkaMessage("telemetry",
                                {{"ce_traceparent", "00-abc-01"},
                                 {"ce_specversion", "1.0"},
                                 {"plain", "p"},
                                 {"ce_type", "t"},
                                 {"content-type", "application/json"},
                                 {"ce_source", "s"},
                                 {"ce_id", "i"},
                                 {"ce_", "not an attribute"}},
                                "k", 1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Key", "k"},
                                           {"Timestamp", "1"},
                                           {"traceparent", "00-abc-01"},
                                           {"specversion", "1.0"},
                                           {"plain", "p"},
                                           {"type", "t"},
                                           {"source", "s"},
                                           {"id", "i"},
                                           {"ce_", "not an attribute"}}));
  EXPECT_EQ(record.mqtt.content_type, "application/json");
}

TEST(TransformCloudEventsMqtt, InvalidAttributeHeadersAreRemovedBeforeTheCheck) {
  // ce_id is not UTF-8: removed (counted), so the event is incomplete and CreateOrRemap makes a
  // new id rather than forwarding a broken one.
  Harness h;
  h.build(cloudEventOptions(Direction::KafkaToMqtt, CloudEventsMode::CreateOrRemap));
  Message record = kafkaMessage(
      "t", {{"ce_specversion", "1.0"}, {"ce_type", "t"}, {"ce_source", "s"}, {"ce_id", "\xff"}},
      std::nullopt, -1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(outputAttribute(Direction::KafkaToMqtt, record, "id"), "id-1");
  EXPECT_EQ(h.counters().properties_removed_invalid_utf8, 1u);
}

TEST(TransformCloudEventsMqtt, InPlaceKeepsUserPropertyOrder) {
  Harness h;
  PipelineOptions options = cloudEventOptions(Direction::MqttToMqtt, CloudEventsMode::Propagate);
  options.output_schema = "sr://new";
  h.build(std::move(options));
  Message message = mqttMessage(h.clock, "a/b",
                                {{"x", "1"},
                                 {"id", "i"},
                                 {"dataschema", "sr://old"},
                                 {"specversion", "1.0"},
                                 {"type", "t"},
                                 {"source", "s"}});
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.properties, (Properties{{"x", "1"},
                                            {"id", "i"},
                                            {"dataschema", "sr://new"},
                                            {"specversion", "1.0"},
                                            {"type", "t"},
                                            {"source", "s"}}));
}
}  // namespace
}  // namespace dataflow::transform
