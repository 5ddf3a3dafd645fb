// Kafka -> MQTT (AIO "Kafka endpoint is a dataflow source", "UTF-8 / Binary Mismatches",
// ">=64KB property mismatches", the Event Hubs AMQP case).
#include <gtest/gtest.h>

#include "engine/transform/kafka_to_mqtt_stage.h"
#include "engine/core/utf8.h"
#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using testing::Harness;
using testing::kafkaMessage;
using testing::optionsFor;
using testing::Properties;
using namespace std::string_literals;

class TransformKafkaToMqtt : public ::testing::Test {
 protected:
  void SetUp() override { h.build(optionsFor(Direction::KafkaToMqtt, "from-kafka")); }
  Harness h;
};

TEST_F(TransformKafkaToMqtt, SeedTableKeyAndTimestamp) {
  Message record = kafkaMessage("telemetry", {}, "device-7", 1'712'345'678'901);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Key", "device-7"}, {"Timestamp", "1712345678901"}}));
  EXPECT_FALSE(record.key.has_value());  // moved into the property
  EXPECT_EQ(record.topic, "from-kafka");
  EXPECT_EQ(record.payload, "payload");
}

TEST_F(TransformKafkaToMqtt, NoKeyGivesNoKeyProperty) {
  Message record = kafkaMessage("t", {}, std::nullopt, 5);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Timestamp", "5"}}));
}

TEST_F(TransformKafkaToMqtt, EmptyKeyIsAKey) {
  Message record = kafkaMessage("t", {}, "", 5);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Key", ""}, {"Timestamp", "5"}}));
}

TEST_F(TransformKafkaToMqtt, TimestampZeroIsWrittenAndMinusOneMeansNone) {
  Message epoch = kafkaMessage("t", {}, std::nullopt, 0);
  ASSERT_EQ(h.process(epoch), Outcome::Forward);
  EXPECT_EQ(epoch.properties, (Properties{{"Timestamp", "0"}}));
  Message none = kafkaMessage("t", {}, std::nullopt, -1);
  ASSERT_EQ(h.process(none), Outcome::Forward);
  EXPECT_TRUE(none.properties.empty());
}

TEST_F(TransformKafkaToMqtt, HeadersFollowInOrderWithDuplicates) {
  Properties headers{{"b", "1"}, {"a", "x"}, {"b", "2"}, {"b", "1"}, {"", ""}, {"e", ""}};
  Message record = kafkaMessage("t", headers, "k", 9);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  Properties expected{{"Key", "k"}, {"Timestamp", "9"}};
  expected.insert(expected.end(), headers.begin(), headers.end());
  EXPECT_EQ(record.properties, expected);
}

TEST_F(TransformKafkaToMqtt, EventHubsAmqpStringIsRemovedAndTheRestGoesOn) {
  // Azure.Messaging.EventHubs Properties {"foo", "bar"} arrives as foo = A1 03 'b' 'a' 'r'.
  Message record = kafkaMessage("t",
                                {{"before", "1"},
                                 {"foo",
                                  "\xa1\x03"
                                  "bar"},
                                 {"after", "2"}},
                                std::nullopt, 1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Timestamp", "1"}, {"before", "1"}, {"after", "2"}}));
  EXPECT_EQ(h.counters().properties_removed_invalid_utf8, 1u);
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_NE(h.warnings[0].find("not a valid MQTT UTF-8 string"), std::string::npos);
}

TEST_F(TransformKafkaToMqtt, EventHubsAmqpDoubleIsRemovedAndTheMessageStillGoes) {
  // {"float-value", 11.9}: AMQP double 0x82 + IEEE 754. AIO says it "discards packets that
  // contain" it; the issue (and AIO's general rule) remove the header only.
  Message record = kafkaMessage(
      "t", {{"float-value", "\x82\x40\x27\xcc\xcc\xcc\xcc\xcc\xcd"}, {"ok", "1"}}, std::nullopt, 1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Timestamp", "1"}, {"ok", "1"}}));
}

TEST_F(TransformKafkaToMqtt, UserWrittenUtf8HeaderGoesThrough) {
  Message record = kafkaMessage("t", {{"foo", "bar"}, {"caf\xc3\xa9", "\xe2\x82\xac"}}, "", 1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties,
            (Properties{
                {"Key", ""}, {"Timestamp", "1"}, {"foo", "bar"}, {"caf\xc3\xa9", "\xe2\x82\xac"}}));
}

struct BadHeaderRow {
  const char* label;
  Property header;
  bool too_long;  // else: invalid UTF-8
};
void PrintTo(const BadHeaderRow& row, std::ostream* os) { *os << row.label; }

class TransformKafkaToMqttBadHeaders : public ::testing::TestWithParam<BadHeaderRow> {};

TEST_P(TransformKafkaToMqttBadHeaders, RemovedAndCounted) {
  Harness h;
  h.build(optionsFor(Direction::KafkaToMqtt, "from-kafka"));
  Message record =
      kafkaMessage("t", {{"first", "1"}, GetParam().header, {"last", "2"}}, std::nullopt, -1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"first", "1"}, {"last", "2"}}));
  EXPECT_EQ(h.counters().properties_removed_too_long, GetParam().too_long ? 1u : 0u);
  EXPECT_EQ(h.counters().properties_removed_invalid_utf8, GetParam().too_long ? 0u : 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Rows, TransformKafkaToMqttBadHeaders,
    ::testing::Values(BadHeaderRow{"value ill-formed", {"h", "\xff"}, false},
                      BadHeaderRow{"name ill-formed", {"\xc3", "v"}, false},
                      BadHeaderRow{"value overlong '/'", {"h", "\xc0\xaf"}, false},
                      BadHeaderRow{"value overlong 3-byte", {"h", "\xe0\x80\xaf"}, false},
                      BadHeaderRow{"value surrogate U+D800", {"h", "\xed\xa0\x80"}, false},
                      BadHeaderRow{"name surrogate U+DFFF", {"\xed\xbf\xbf", "v"}, false},
                      BadHeaderRow{"value above U+10FFFF", {"h", "\xf4\x90\x80\x80"}, false},
                      BadHeaderRow{"value U+0000", {"h", "a\0b"s}, false},
                      BadHeaderRow{"name U+0000", {"\0"s, "v"}, false},
                      BadHeaderRow{"value truncated sequence", {"h", "ok\xe2\x82"}, false},
                      BadHeaderRow{"value 65,536 bytes", {"h", std::string(65536, 'v')}, true},
                      BadHeaderRow{"name 65,536 bytes", {std::string(65536, 'n'), "v"}, true},
                      BadHeaderRow{"value 1 MB", {"h", std::string(1 << 20, 'v')}, true},
                      BadHeaderRow{"too long and ill-formed counts as too long",
                                   {"h", std::string(70000, '\xff')},
                                   true}));

TEST_F(TransformKafkaToMqtt, Exactly65535BytesIsKept) {
  const std::string name(65535, 'n');
  const std::string value(65535, 'v');
  Message record = kafkaMessage("t", {{name, value}}, std::nullopt, -1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  ASSERT_EQ(record.properties.size(), 1u);
  EXPECT_EQ(record.properties[0].name.size(), 65535u);
  EXPECT_EQ(record.properties[0].value.size(), 65535u);
}

TEST_F(TransformKafkaToMqtt, MultiByteValueAtTheLimit) {
  // 21,845 three-byte characters = 65,535 bytes: kept; one more byte: removed.
  std::string value;
  for (int i = 0; i < 21845; ++i) value += "\xe2\x82\xac";
  Message at_limit = kafkaMessage("t", {{"euro", value}}, std::nullopt, -1);
  ASSERT_EQ(h.process(at_limit), Outcome::Forward);
  EXPECT_EQ(at_limit.properties.size(), 1u);
  Message over = kafkaMessage("t", {{"euro", value + "!"}}, std::nullopt, -1);
  ASSERT_EQ(h.process(over), Outcome::Forward);
  EXPECT_TRUE(over.properties.empty());
}

TEST_F(TransformKafkaToMqtt, BinaryKeyIsRemovedLikeAHeader) {
  Message record = kafkaMessage("t", {{"a", "1"}}, "\x00\x01\x02"s, 7);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Timestamp", "7"}, {"a", "1"}}));
  EXPECT_EQ(h.counters().properties_removed_invalid_utf8, 1u);
  EXPECT_FALSE(record.key.has_value());
}

TEST_F(TransformKafkaToMqtt, HeadersNamedKeyOrTimestampAreShadowedByTheRecordsOwn) {
  Message record = kafkaMessage(
      "t", {{"Key", "header-key"}, {"x", "1"}, {"Timestamp", "header-ts"}}, "record-key", 42);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties,
            (Properties{{"Key", "record-key"}, {"Timestamp", "42"}, {"x", "1"}}));
  EXPECT_EQ(h.counters().properties_shadowed, 2u);
}

TEST_F(TransformKafkaToMqtt, HeaderNamedKeyStaysWhenTheRecordHasNoKey) {
  Message record = kafkaMessage("t", {{"Key", "header-key"}, {"Timestamp", "x"}}, std::nullopt, -1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_EQ(record.properties, (Properties{{"Key", "header-key"}, {"Timestamp", "x"}}));
  EXPECT_EQ(h.counters().properties_shadowed, 0u);
}

TEST_F(TransformKafkaToMqtt, ManyBadHeadersOneWarningManyCounts) {
  Properties headers;
  for (int i = 0; i < 10; ++i) headers.push_back({"bad" + std::to_string(i), "\xff"});
  Message record = kafkaMessage("t", headers, std::nullopt, -1);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  EXPECT_TRUE(record.properties.empty());
  EXPECT_EQ(h.counters().properties_removed_invalid_utf8, 10u);
  EXPECT_EQ(h.warnings.size(), 1u);
  EXPECT_EQ(h.counters().forwarded, 1u);
}

TEST_F(TransformKafkaToMqtt, OutputAlwaysObeysMqttStringRules) {
  Message record = kafkaMessage("t",
                                {{"a", "\xed\xa0\x80"},
                                 {"b", "ok"},
                                 {"\xf8", "x"},
                                 {"c", std::string(65536, 'c')},
                                 {"d", "\xf0\x9f\x98\x80"}},
                                "\xc0\x80", 3);
  ASSERT_EQ(h.process(record), Outcome::Forward);
  for (const Property& property : record.properties) {
    EXPECT_TRUE(isValidMqttString(property.name));
    EXPECT_TRUE(isValidMqttString(property.value));
  }
  EXPECT_EQ(record.properties.size(), 3u);  // Timestamp, b, d
}

}  // namespace
}  // namespace dataflow::transform
