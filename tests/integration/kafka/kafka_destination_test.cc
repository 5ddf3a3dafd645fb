// KafkaDestination against librdkafka's mock cluster in this process: what reaches Kafka, byte for
// byte, where it lands, and what happens when Kafka is down, refuses, or the runtime stops.
#include <gmock/gmock.h>

#include <future>
#include <set>

#include "engine/core/murmur2.h"
#include "tests/integration/kafka/kafka_fixture.h"

namespace dataflow::testing {
namespace {

using ::testing::HasSubstr;

std::string allBytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}

TEST_F(KafkaDestinationTest, KeyPayloadHeadersAndTimestampArriveByteForByte) {
  kafka_.createTopic(topic_, 1);  // one partition: records keep the send order
  auto destination = startDestination();
  Message keyed = message(allBytes(), 1);
  keyed.key = std::string("device-\0-1", 10);
  keyed.properties = {{"a", "1"},
                      {"dup", "x"},
                      {"dup", "y"},
                      {"binary", std::string("\0\xff\x01", 3)},
                      {"empty", ""}};
  Message null_key = message("", 2);  // empty payload, no key, no headers
  Message empty_key = message("payload", 3);
  empty_key.key = "";
  for (Message* m : {&keyed, &null_key, &empty_key}) {
    ASSERT_TRUE(destination->send(std::move(*m)).isOk());
  }
  ASSERT_TRUE(recorder_.waitFor(3));
  std::set<uint64_t> acknowledged;
  for (const Delivery& d : recorder_.deliveries()) {
    EXPECT_TRUE(d.status.isOk()) << d.status.message();
    acknowledged.insert(d.token.sequence);
  }
  EXPECT_EQ(acknowledged, (std::set<uint64_t>{1, 2, 3}));

  std::vector<KafkaRecord> records =
      KafkaReader(kafka_.bootstrapServers(), topic_).readAtLeast(3, kDeadline);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].key, std::string("device-\0-1", 10));
  EXPECT_EQ(records[0].value, allBytes());
  const std::vector<std::pair<std::string, std::optional<std::string>>> headers = {
      {"a", "1"},
      {"dup", "x"},
      {"dup", "y"},
      {"binary", std::string("\0\xff\x01", 3)},
      {"empty", ""}};
  EXPECT_EQ(records[0].headers, headers);
  EXPECT_EQ(records[0].timestamp_ms, 1'700'000'000'001);
  EXPECT_EQ(records[0].timestamp_type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
  EXPECT_FALSE(records[1].key.has_value());
  EXPECT_EQ(records[1].value, "");
  EXPECT_TRUE(records[1].headers.empty());
  EXPECT_EQ(records[1].timestamp_ms, 1'700'000'000'002);
  ASSERT_TRUE(records[2].key.has_value());
  EXPECT_EQ(*records[2].key, "");
  EXPECT_EQ(records[2].value, "payload");
}

TEST_F(KafkaDestinationTest, StaticOrdinalIsReducedWithTheTopicsPartitionCount) {
  kafka_.createTopic(topic_, 3);
  auto destination = startDestination();
  for (uint64_t i = 0; i < 6; ++i) {
    Message m = message("static-" + std::to_string(i), i);
    m.partition = i < 3 ? 4 : 2;  // instance ordinals 4 and 2
    ASSERT_TRUE(destination->send(std::move(m)).isOk());
  }
  ASSERT_TRUE(recorder_.waitFor(6));
  std::vector<KafkaRecord> records =
      KafkaReader(kafka_.bootstrapServers(), topic_).readAtLeast(6, kDeadline);
  ASSERT_EQ(records.size(), 6u);
  for (const KafkaRecord& r : records) {
    const int i = r.value.back() - '0';
    EXPECT_EQ(r.partition, i < 3 ? 1 : 2) << r.value;  // 4 % 3 and 2 % 3
    EXPECT_EQ(r.partition, staticPartition(i < 3 ? 4 : 2, 3));
    EXPECT_FALSE(r.key.has_value());
  }
}

TEST_F(KafkaDestinationTest, KeysLandWhereTheJavaPartitionerPutsThem) {
  constexpr int kPartitions = 5;
  kafka_.createTopic(topic_, kPartitions);
  auto destination = startDestination();
  constexpr int kKeys = 20;
  for (int i = 0; i < kKeys; ++i) {
    Message m = message("keyed", static_cast<uint64_t>(i));
    m.key = i == 0 ? std::string() : "sensor/" + std::to_string(i);
    ASSERT_TRUE(destination->send(std::move(m)).isOk());
  }
  ASSERT_TRUE(recorder_.waitFor(kKeys));
  std::vector<KafkaRecord> records =
      KafkaReader(kafka_.bootstrapServers(), topic_).readAtLeast(kKeys, kDeadline);
  ASSERT_EQ(records.size(), static_cast<size_t>(kKeys));
  std::set<int32_t> used;
  for (const KafkaRecord& r : records) {
    ASSERT_TRUE(r.key.has_value());
    EXPECT_EQ(r.partition, partitionForKey(*r.key, kPartitions)) << *r.key;
    used.insert(r.partition);
  }
  EXPECT_GT(used.size(), 1u);
}

TEST_F(KafkaDestinationTest, SendBlocksWhileKafkaIsDownAndNothingIsLost) {
  kafka_.createTopic(topic_, 2);
  auto destination = startDestination({.max_messages = 5, .max_bytes = 1 << 20});
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kDeadline));
  kafka_.setAllBrokersDown(true);
  ASSERT_TRUE(waitFor([&] { return !destination->connected(); }, kDeadline));

  constexpr uint64_t kCount = 50;
  std::atomic<uint64_t> accepted{0};
  std::atomic<bool> kafka_back{false};
  std::atomic<bool> sixth_returned_after_kafka_came_back{false};
  auto sender = std::async(std::launch::async, [&] {
    for (uint64_t i = 0; i < kCount; ++i) {
      if (!destination->send(message("held-" + std::to_string(i), i)).isOk()) return;
      if (i == 5) sixth_returned_after_kafka_came_back.store(kafka_back.load());
      accepted.fetch_add(1);
    }
  });
  // The producer queue takes 5; the sixth send waits for space that an outage never frees, so it
  // returns only after Kafka is back (checked below, by order, not by a timeout).
  ASSERT_TRUE(waitFor([&] { return accepted.load() == 5; }, kDeadline));
  EXPECT_TRUE(recorder_.deliveries().empty());

  kafka_back.store(true);
  kafka_.setAllBrokersDown(false);
  ASSERT_EQ(sender.wait_for(kDeadline), std::future_status::ready);
  EXPECT_TRUE(sixth_returned_after_kafka_came_back.load())
      << "the sixth send returned while Kafka was down";
  ASSERT_TRUE(recorder_.waitFor(kCount));
  for (const Delivery& d : recorder_.deliveries()) EXPECT_TRUE(d.status.isOk());
  EXPECT_TRUE(waitFor([&] { return destination->connected(); }, kDeadline));
  EXPECT_EQ(kafka_.endOffsets(topic_), static_cast<int64_t>(kCount));
  std::set<std::string> values;
  for (const KafkaRecord& r :
       KafkaReader(kafka_.bootstrapServers(), topic_).readAtLeast(kCount, kDeadline)) {
    values.insert(r.value);
  }
  EXPECT_EQ(values.size(), kCount);
  EXPECT_EQ(logLinesContaining("lost the connection to Kafka"), 1u);
}

TEST_F(KafkaDestinationTest, AwaitCapacityWaitsForRoomAndCloseReleasesIt) {
  kafka_.createTopic(topic_, 1);
  auto destination = startDestination({.max_messages = 2, .max_bytes = 1 << 20});
  ASSERT_TRUE(destination->awaitCapacity(100));
  kafka_.setAllBrokersDown(true);
  ASSERT_TRUE(destination->send(message("one", 1)).isOk());
  ASSERT_TRUE(destination->send(message("two", 2)).isOk());
  // Both wait: Kafka is down, so nothing frees room. Only close() releases them: each returns
  // after close() began (checked by order, not by a timeout), awaitCapacity with false and the
  // send refused without taking the message.
  std::atomic<int> calling{0};
  std::atomic<bool> closing{false};
  auto waiter = std::async(std::launch::async, [&] {
    calling.fetch_add(1);
    const bool room = destination->awaitCapacity(100);
    return std::pair{room, closing.load()};
  });
  auto blocked_send = std::async(std::launch::async, [&] {
    calling.fetch_add(1);
    Status status = destination->send(message("three", 3));
    return std::pair{status, closing.load()};
  });
  ASSERT_TRUE(waitFor([&] { return calling.load() == 2; }, kDeadline));

  closing.store(true);
  destination->close();
  const auto [room, waited_for_close] = waiter.get();
  EXPECT_FALSE(room);
  EXPECT_TRUE(waited_for_close) << "awaitCapacity returned before close()";
  const auto [refused, send_waited_for_close] = blocked_send.get();
  EXPECT_TRUE(send_waited_for_close) << "send returned before close()";
  EXPECT_TRUE(refused.isRetriable()) << refused.message();
  EXPECT_TRUE(recorder_.deliveries().empty()) << "abandoned messages are not reported";
  EXPECT_TRUE(destination->send(message("after", 4)).isRetriable());
  destination->close();  // idempotent
}

TEST_F(KafkaDestinationTest, OversizedMessageIsRefusedAtOnceAndTheFlowContinues) {
  kafka_.createTopic(topic_, 1);
  auto destination = startDestination();
  Message huge = message(std::string(kafka::kMessageMaxBytes + 1, 'x'), 1);
  const Status status = destination->send(std::move(huge));
  ASSERT_TRUE(status.isFatal());
  EXPECT_THAT(status.message(), HasSubstr("exceeds message.max.bytes"));
  EXPECT_THAT(status.message(), HasSubstr(topic_));
  EXPECT_EQ(huge.payload.size(), kafka::kMessageMaxBytes + 1) << "a refused message is not taken";

  ASSERT_TRUE(destination->send(message("small", 2)).isOk());
  ASSERT_TRUE(recorder_.waitFor(1));
  EXPECT_EQ(recorder_.deliveries()[0].token.sequence, 2u);
  EXPECT_TRUE(recorder_.deliveries()[0].status.isOk());
}

TEST_F(KafkaDestinationTest, BrokerRefusalIsReportedFatalLoggedOnceAndTheFlowContinues) {
  kafka_.createTopic(topic_, 1);
  auto destination = startDestination();
  constexpr int kMessageTooLarge = 10;  // Kafka protocol error MESSAGE_TOO_LARGE
  kafka_.failNextProduceRequests({kMessageTooLarge, kMessageTooLarge});
  ASSERT_TRUE(destination->send(message("refused-1", 1)).isOk());
  ASSERT_TRUE(recorder_.waitFor(1));
  ASSERT_TRUE(destination->send(message("refused-2", 2)).isOk());
  ASSERT_TRUE(recorder_.waitFor(2));
  for (const Delivery& d : recorder_.deliveries()) {
    ASSERT_TRUE(d.status.isFatal());
    EXPECT_THAT(d.status.message(), HasSubstr("topic \"" + topic_ + "\""));
    EXPECT_THAT(d.status.message(), HasSubstr("too large"));
  }
  EXPECT_EQ(logLinesContaining("Kafka refused the message for topic"), 1u)
      << "rate-limited: the second refusal within 10 s is only counted";

  ASSERT_TRUE(destination->send(message("accepted", 3)).isOk());
  ASSERT_TRUE(recorder_.waitFor(3));
  EXPECT_TRUE(recorder_.deliveries()[2].status.isOk());
  EXPECT_EQ(recorder_.deliveries()[2].token.sequence, 3u);
}

TEST_F(KafkaDestinationTest, FlushSendsLingeringBatchesAndReportsWhatIsLeft) {
  kafka_.createTopic(topic_, 1);
  config::KafkaSettings s = settings();
  s.batching.latency_ms = 60'000;  // only flush() makes these leave before a minute
  auto destination = makeDestination(s);
  ASSERT_TRUE(destination->start(recorder_).isOk());
  for (uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(destination->send(message("linger-" + std::to_string(i), i)).isOk());
  }
  EXPECT_EQ(destination->flush(kDeadline), 0u);
  EXPECT_EQ(recorder_.deliveries().size(), 20u) << "every report is made before flush returns";

  kafka_.setAllBrokersDown(true);
  for (uint64_t i = 20; i < 23; ++i) ASSERT_TRUE(destination->send(message("x", i)).isOk());
  EXPECT_EQ(destination->flush(200ms), 3u);
  destination->close();
  EXPECT_EQ(recorder_.deliveries().size(), 20u);
}

TEST_F(KafkaDestinationTest, ConnectedFollowsTheBrokersAndLogsEachChange) {
  auto destination = startDestination();
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kDeadline));
  kafka_.setAllBrokersDown(true);
  ASSERT_TRUE(waitFor([&] { return !destination->connected(); }, kDeadline));
  kafka_.setAllBrokersDown(false);
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kDeadline));
  EXPECT_EQ(logLinesContaining("connected to Kafka at " + kafka_.bootstrapServers()), 2u);
  EXPECT_EQ(logLinesContaining("lost the connection to Kafka"), 1u);
}

TEST_F(KafkaDestinationTest, TheLoggedConfigurationHidesNothingButSecrets) {
  auto destination = startDestination();
  EXPECT_EQ(logLinesContaining("Kafka producer started: client.id=kafka-destination-test"), 1u);
  // Read back from librdkafka (debug level): canonical names, librdkafka's own values.
  EXPECT_EQ(logLinesContaining("Kafka producer effective configuration:"), 1u);
  EXPECT_EQ(logLinesContaining("request.required.acks=-1"), 1u);
  EXPECT_EQ(logLinesContaining("enable.idempotence=true"), 2u);
}

// librdkafka's idempotent producer fails for good (an instance-fatal error) when a produce request
// fails with OUT_OF_ORDER_SEQUENCE_NUMBER. The destination re-creates the producer and produces
// again what the old one held; nothing is refused, nothing is missing.
TEST_F(KafkaDestinationTest, AFatalProducerErrorReCreatesTheProducerAndLosesNothing) {
  kafka_.createTopic(topic_, 1);
  auto destination = startDestination();
  ASSERT_TRUE(destination->send(message("before", 0)).isOk());
  ASSERT_TRUE(recorder_.waitFor(1));
  constexpr int kOutOfOrderSequenceNumber = 45;
  kafka_.failNextProduceRequests({kOutOfOrderSequenceNumber});
  constexpr uint64_t kCount = 300;
  for (uint64_t i = 1; i <= kCount; ++i) {
    ASSERT_TRUE(destination->send(message("m-" + std::to_string(i), i)).isOk());
  }
  ASSERT_TRUE(recorder_.waitFor(kCount + 1));
  for (const Delivery& d : recorder_.deliveries()) EXPECT_TRUE(d.status.isOk()) << d.status.message();
  EXPECT_THAT(recorder_.failures(), ::testing::IsEmpty());
  EXPECT_EQ(destination->restartCount(), 1u);
  EXPECT_GE(destination->resentCount(), 1u);
  const ConnectionHealth health = destination->health();
  EXPECT_EQ(health.client_restarts, 1u);
  EXPECT_EQ(health.messages_resent, destination->resentCount());
  std::set<std::string> values;
  for (const KafkaRecord& r :
       KafkaReader(kafka_.bootstrapServers(), topic_).readAtLeast(kCount + 1, kDeadline)) {
    values.insert(r.value);
  }
  EXPECT_EQ(values.size(), kCount + 1);
  EXPECT_EQ(logLinesContaining("re-created it (restart 1)"), 1u);
}

// Messages the destination holds during an outage keep their expiry running (a manual clock moves
// 5 s): the one with 2 s is reported expired while Kafka is still down, the one with 3600 s is
// produced with its header rewritten to what remains, the one without is produced as it was.
TEST_F(KafkaDestinationTest, MessagesHeldDuringAnOutageExpireOrCarryWhatRemains) {
  kafka_.createTopic(topic_, 1);
  ManualClock manual;
  auto destination = makeDestination(settings(), {}, &manual);
  ASSERT_TRUE(destination->start(recorder_).isOk());
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kDeadline));
  kafka_.setAllBrokersDown(true);
  ASSERT_TRUE(waitFor([&] { return !destination->connected(); }, kDeadline));

  auto expiring = [&](std::string payload, uint64_t sequence, uint32_t seconds) {
    Message m = message(std::move(payload), sequence);
    m.expires_at = manual.steadyNow() + std::chrono::seconds(seconds);
    m.properties = {{"Message Expiry Interval", std::to_string(seconds)}, {"a", "1"}};
    return m;
  };
  ASSERT_TRUE(destination->send(expiring("short", 1, 2)).isOk());
  ASSERT_TRUE(destination->send(expiring("long", 2, 3600)).isOk());
  ASSERT_TRUE(destination->send(message("plain", 3)).isOk());
  manual.advance(5s);
  ASSERT_TRUE(waitFor([&] { return recorder_.expired().size() == 1; }, kDeadline));
  EXPECT_EQ(recorder_.expired()[0].sequence, 1u);
  EXPECT_TRUE(recorder_.deliveries().empty()) << "Kafka is still down";

  kafka_.setAllBrokersDown(false);
  ASSERT_TRUE(recorder_.waitFor(2));
  for (const Delivery& d : recorder_.deliveries()) EXPECT_TRUE(d.status.isOk());
  std::vector<KafkaRecord> records =
      KafkaReader(kafka_.bootstrapServers(), topic_).readAtLeast(2, kDeadline);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].value, "long");
  using Header = std::pair<std::string, std::optional<std::string>>;
  EXPECT_THAT(records[0].headers,
              ::testing::ElementsAre(Header{"Message Expiry Interval", "3595"}, Header{"a", "1"}));
  EXPECT_EQ(records[1].value, "plain");
  EXPECT_TRUE(records[1].headers.empty());
  EXPECT_EQ(destination->resentCount(), 2u);
  EXPECT_EQ(logLinesContaining("expired while it waited for Kafka"), 1u);
}

}  // namespace
}  // namespace dataflow::testing
