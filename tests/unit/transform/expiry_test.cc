// Message Expiry Interval (AIO "The Message Expiry Interval property"), driven by a manual clock.
#include <gtest/gtest.h>

#include "engine/core/message_expiry.h"
#include "engine/transform/expiry_stage.h"
#include "engine/core/property_names.h"
#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

using std::chrono::milliseconds;
using testing::Harness;
using testing::mqttMessage;
using testing::optionsFor;

struct ExpiryRow {
  const char* label;
  uint32_t interval;
  milliseconds waited;
  std::optional<uint32_t> remaining;  // nullopt: expired
};
void PrintTo(const ExpiryRow& row, std::ostream* os) { *os << row.label; }

class TransformExpiryTable : public ::testing::TestWithParam<ExpiryRow> {};

TEST_P(TransformExpiryTable, RemainingIsIntervalMinusWholeSecondsWaited) {
  const ExpiryRow& row = GetParam();
  const auto received = std::chrono::steady_clock::time_point(std::chrono::hours(5));
  EXPECT_EQ(remainingExpiry(row.interval, received, received + row.waited), row.remaining);
}

// Through the whole MQTT -> MQTT and MQTT -> Kafka pipelines: the destination sees the rewritten
// interval (property or header), or the message is dropped, counted and must be acked.
// A destination that held the message applies the same rule again from Message::expires_at.
TEST_P(TransformExpiryTable, RemainingSecondsFromTheDeadlineAgreeWithTheStage) {
  const ExpiryRow& row = GetParam();
  const auto received = std::chrono::steady_clock::time_point(std::chrono::hours(5));
  EXPECT_EQ(remainingSeconds(received + std::chrono::seconds(row.interval), received + row.waited),
            row.remaining);
}

TEST_P(TransformExpiryTable, PipelinesRewriteOrDrop) {
  const ExpiryRow& row = GetParam();
  for (Direction direction : {Direction::MqttToMqtt, Direction::MqttToKafka}) {
    Harness h;
    h.build(optionsFor(direction));
    Message message = mqttMessage(h.clock);
    message.mqtt.message_expiry_interval = row.interval;
    h.clock.advance(row.waited);
    const Outcome outcome = h.process(message);
    if (!row.remaining) {
      EXPECT_EQ(outcome, Outcome::DropExpired);
      EXPECT_EQ(h.counters().expired, 1u);
      EXPECT_EQ(h.counters().forwarded, 0u);
      continue;
    }
    ASSERT_EQ(outcome, Outcome::Forward);
    EXPECT_EQ(h.counters().expired, 0u);
    if (direction == Direction::MqttToMqtt) {
      EXPECT_EQ(message.mqtt.message_expiry_interval, row.remaining);
    } else {
      EXPECT_FALSE(message.mqtt.message_expiry_interval.has_value());
      ASSERT_EQ(message.properties.size(), 1u);
      EXPECT_EQ(message.properties[0].name, kMessageExpiryIntervalHeader);
      EXPECT_EQ(message.properties[0].value, std::to_string(*row.remaining));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Rows, TransformExpiryTable,
    ::testing::Values(
        // The two AIO examples.
        ExpiryRow{"seed: 3600 s, destination back after 1000 s -> 2600", 3600,
                  milliseconds(1'000'000), 2600u},
        ExpiryRow{"seed: 3600 s, destination back after 4000 s -> dropped", 3600,
                  milliseconds(4'000'000), std::nullopt},
        // Boundaries: remaining 1 is sent, 0 is dropped.
        ExpiryRow{"remaining exactly 1", 3600, milliseconds(3'599'000), 1u},
        ExpiryRow{"remaining exactly 0", 3600, milliseconds(3'600'000), std::nullopt},
        ExpiryRow{"only whole seconds count (3599.999 s)", 3600, milliseconds(3'599'999), 1u},
        ExpiryRow{"not queued at all", 60, milliseconds(0), 60u},
        ExpiryRow{"999 ms do not count", 1, milliseconds(999), 1u},
        ExpiryRow{"interval 1 after 1 s", 1, milliseconds(1000), std::nullopt},
        ExpiryRow{"interval 0 is already expired", 0, milliseconds(0), std::nullopt},
        ExpiryRow{"largest interval", 4294967295u, milliseconds(0), 4294967295u},
        ExpiryRow{"largest interval after 1 s", 4294967295u, milliseconds(1000), 4294967294u},
        ExpiryRow{"far past the interval", 10, milliseconds(86'400'000), std::nullopt}));

TEST(TransformExpiry, ClockBehindReceiveTimeCountsAsNoWait) {
  const auto received = std::chrono::steady_clock::time_point(std::chrono::hours(5));
  EXPECT_EQ(remainingExpiry(30, received, received - std::chrono::seconds(10)), 30u);
}

TEST(TransformExpiry, MessageWithoutExpiryNeverExpires) {
  Harness h;
  h.build(optionsFor(Direction::MqttToMqtt));
  Message message = mqttMessage(h.clock);
  h.clock.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(h.process(message), Outcome::Forward);
  EXPECT_FALSE(message.mqtt.message_expiry_interval.has_value());
}

TEST(TransformExpiry, TheStageSetsTheDeadlineAndRefreshRewritesTheMqttProperty) {
  Harness h;
  h.build(optionsFor(Direction::MqttToMqtt));
  Message message = mqttMessage(h.clock);
  message.mqtt.message_expiry_interval = 60;
  message.properties = {{std::string(kMessageExpiryIntervalHeader), "publisher's own"}};
  h.clock.advance(std::chrono::milliseconds(1500));
  ASSERT_EQ(h.process(message), Outcome::Forward);
  EXPECT_EQ(message.mqtt.message_expiry_interval, 59u);
  ASSERT_TRUE(message.expires_at.has_value());
  EXPECT_EQ(*message.expires_at, message.received_at + std::chrono::seconds(60));
  h.clock.advance(std::chrono::seconds(20));  // waiting in a destination
  EXPECT_TRUE(refreshExpiry(message, h.clock.steadyNow()));
  EXPECT_EQ(message.mqtt.message_expiry_interval, 39u);
  EXPECT_EQ(message.properties[0].value, "publisher's own") << "a user property is not ours";
  h.clock.advance(std::chrono::seconds(39));
  EXPECT_FALSE(refreshExpiry(message, h.clock.steadyNow()));
}

TEST(TransformExpiry, RefreshRewritesTheKafkaHeaderMadeFromTheProperty) {
  Harness h;
  h.build(optionsFor(Direction::MqttToKafka));
  Message message = mqttMessage(h.clock);
  message.mqtt.message_expiry_interval = 3600;
  ASSERT_EQ(h.process(message), Outcome::Forward);
  h.clock.advance(std::chrono::seconds(5));
  EXPECT_TRUE(refreshExpiry(message, h.clock.steadyNow()));
  bool found = false;
  for (const Property& p : message.properties) {
    if (p.name == kMessageExpiryIntervalHeader) {
      EXPECT_EQ(p.value, "3595");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(TransformExpiry, RefreshLeavesAMessageWithoutDeadlineAlone) {
  Message message;
  message.properties = {{std::string(kMessageExpiryIntervalHeader), "10"}};
  EXPECT_TRUE(refreshExpiry(message, std::chrono::steady_clock::now()));
  EXPECT_EQ(message.properties[0].value, "10");
}

}  // namespace
}  // namespace dataflow::transform
