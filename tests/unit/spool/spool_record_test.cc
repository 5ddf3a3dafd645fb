// A Message through the spool's record format: every field back, expiry kept in wall-clock terms
// across a restart, and malformed records refused without a crash.
#include "engine/spool/spool_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dataflow::spool {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

Message fullMessage(const Clock& clock) {
  Message m;
  m.topic = "plant/line1";
  m.payload = std::string("\x00payload\xff", 9);
  m.key = "";  // empty, not absent
  m.partition = -1;
  m.timestamp_ms = 1'700'000'000'123;
  m.received_at = clock.steadyNow() - 2s;
  m.expires_at = clock.steadyNow() + 58s;
  m.mqtt.payload_format_indicator = 1;
  m.mqtt.message_expiry_interval = 60;
  m.mqtt.content_type = "application/json";
  m.mqtt.response_topic = "replies/1";
  m.mqtt.correlation_data = std::string("\x00\x01", 2);
  m.properties = {{"b", "1"}, {"a", ""}, {"b", "3"}};
  m.qos = 1;
  m.retain = true;
  return m;
}

TEST(SpoolRecordTest, EveryFieldComesBack) {
  ManualClock clock;
  const Message in = fullMessage(clock);
  std::string record;
  encodeRecord(in, clock, record);
  Result<Message> out = decodeRecord(record, clock);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  const Message& m = out.value();
  EXPECT_EQ(m.topic, in.topic);
  EXPECT_EQ(m.payload, in.payload);
  EXPECT_EQ(m.key, in.key);
  EXPECT_EQ(m.partition, in.partition);
  EXPECT_EQ(m.timestamp_ms, in.timestamp_ms);
  EXPECT_EQ(m.received_at, in.received_at);
  EXPECT_EQ(m.expires_at, in.expires_at);
  EXPECT_EQ(m.mqtt, in.mqtt);
  EXPECT_EQ(m.properties, in.properties);
  EXPECT_EQ(m.qos, 1);
  EXPECT_TRUE(m.retain);
}

TEST(SpoolRecordTest, AbsentFieldsStayAbsent) {
  ManualClock clock;
  Message in;
  in.topic = "t";
  std::string record;
  encodeRecord(in, clock, record);
  Result<Message> out = decodeRecord(record, clock);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  EXPECT_FALSE(out.value().key.has_value());
  EXPECT_FALSE(out.value().partition.has_value());
  EXPECT_FALSE(out.value().expires_at.has_value());
  EXPECT_EQ(out.value().mqtt, MqttProperties{});
  EXPECT_TRUE(out.value().properties.empty());
}

// Written before a restart, read 20 s (wall clock) later by a process whose steady clock started
// anew: the message expires at the same wall-clock instant, 38 s after the read.
TEST(SpoolRecordTest, ExpiryIsKeptInWallClockTermsAcrossARestart) {
  ManualClock before;
  before.setWallMs(1'000'000);
  std::string record;
  encodeRecord(fullMessage(before), before, record);

  ManualClock after;  // another steady timeline
  after.setWallMs(1'000'000 + 20'000);
  Result<Message> out = decodeRecord(record, after);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_TRUE(out.value().expires_at.has_value());
  EXPECT_EQ(*out.value().expires_at - after.steadyNow(), 38s);
  EXPECT_EQ(after.steadyNow() - out.value().received_at, 22s);
}

// What `dataflow spool inspect` shows: the instants as stored, with no clock to put them on.
TEST(SpoolRecordTest, TheStoredInstantsAreReadWithoutAClock) {
  ManualClock clock;
  clock.setWallMs(1'000'000);
  std::string record;
  encodeRecord(fullMessage(clock), clock, record);
  Result<StoredRecord> stored = decodeStoredRecord(record);
  ASSERT_TRUE(stored.isOk()) << stored.status().message();
  EXPECT_EQ(stored.value().received_ms, 1'000'000 - 2'000);
  EXPECT_EQ(stored.value().expires_ms, 1'000'000 + 58'000);
  EXPECT_EQ(stored.value().message.topic, "plant/line1");
  EXPECT_EQ(stored.value().message.qos, 1);
  EXPECT_FALSE(decodeStoredRecord(std::string_view(record).substr(0, 5)).isOk());
}

TEST(SpoolRecordTest, EveryTruncationAndAnUnknownVersionAreRefused) {
  ManualClock clock;
  std::string record;
  encodeRecord(fullMessage(clock), clock, record);
  for (size_t n = 0; n < record.size(); ++n) {
    EXPECT_FALSE(decodeRecord(std::string_view(record).substr(0, n), clock).isOk()) << n;
  }
  EXPECT_THAT(decodeRecord(record + "x", clock).status().message(), HasSubstr("after its end"));
  std::string other = record;
  other[0] = 9;
  EXPECT_THAT(decodeRecord(other, clock).status().message(), HasSubstr("unknown version 9"));
}

TEST(SpoolRecordTest, ArbitraryBytesNeverCrash) {
  ManualClock clock;
  std::string record;
  encodeRecord(fullMessage(clock), clock, record);
  // Every single-byte change is refused, or decodes to a message that goes through the format
  // again unchanged.
  for (size_t i = 0; i < record.size(); ++i) {
    for (int v : {0x00, 0x01, 0x7F, 0x80, 0xFF}) {
      std::string changed = record;
      changed[i] = static_cast<char>(v);
      Result<Message> decoded = decodeRecord(changed, clock);
      if (!decoded.isOk()) continue;
      std::string again;
      encodeRecord(decoded.value(), clock, again);
      Result<Message> twice = decodeRecord(again, clock);
      ASSERT_TRUE(twice.isOk()) << i << ": " << twice.status().message();
      EXPECT_EQ(twice.value().topic, decoded.value().topic);
      EXPECT_EQ(twice.value().payload, decoded.value().payload);
      EXPECT_EQ(twice.value().properties, decoded.value().properties);
      EXPECT_EQ(twice.value().mqtt, decoded.value().mqtt);
    }
  }
  EXPECT_FALSE(decodeRecord(std::string(64, '\xFF'), clock).isOk());
}

}  // namespace
}  // namespace dataflow::spool
