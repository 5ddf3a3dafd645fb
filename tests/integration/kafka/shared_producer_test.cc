// One KafkaProducer shared by several destinations (the engine's way: one producer per endpoint),
// against librdkafka's mock cluster: each destination gets exactly its own reports, flushes and
// leaves on its own without touching the others' messages, and a producer restart re-sends for
// every destination it served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "connectors/kafka/kafka_destination.h"
#include "connectors/kafka/kafka_producer.h"
#include "tests/integration/kafka/kafka_fixture.h"

namespace dataflow::testing {
namespace {

class SharedProducerTest : public KafkaDestinationTest {
 protected:
  std::shared_ptr<kafka::KafkaProducer> producer(const std::string& key = "endpoint") {
    Result<kafka::ProducerConfig> config = kafka::producerConfig(
        settings(), config::MountedFiles(), runtime::FlightLimits{}, "shared-producer-test");
    EXPECT_TRUE(config.isOk()) << config.status().message();
    return pool_.get(key, kafka::KafkaProducer::Options{std::move(config).value(), logger_,
                                                        &clock_, "kafka-test", nullptr});
  }
  std::unique_ptr<kafka::KafkaDestination> lane(std::shared_ptr<kafka::KafkaProducer> producer,
                                                Recorder& recorder,
                                                runtime::FlightLimits limits = {}) {
    auto destination =
        std::make_unique<kafka::KafkaDestination>(std::move(producer), limits, logger_);
    Status started = destination->start(recorder);
    EXPECT_TRUE(started.isOk()) << started.message();
    return destination;
  }
  static std::set<uint64_t> sequences(const Recorder& recorder) {
    std::set<uint64_t> out;
    for (const Delivery& d : recorder.deliveries()) {
      EXPECT_TRUE(d.status.isOk()) << d.status.message();
      out.insert(d.token.sequence);
    }
    return out;
  }
  static std::set<uint64_t> range(uint64_t from, uint64_t to) {
    std::set<uint64_t> out;
    for (uint64_t i = from; i < to; ++i) out.insert(i);
    return out;
  }

  // Two lanes of one producer on a one-partition topic, the first with one message delivered.
  void startTwoLanesWarm() {
    kafka_.createTopic(topic_, 1);
    shared_ = producer();
    first_ = lane(shared_, first_recorder_);
    second_ = lane(shared_, second_recorder_);
    ASSERT_TRUE(first_->send(message("warm-up", 0)).isOk());
    ASSERT_TRUE(first_recorder_.waitFor(1));
  }

  kafka::ProducerPool pool_;
  std::shared_ptr<kafka::KafkaProducer> shared_;
  Recorder first_recorder_, second_recorder_;
  std::unique_ptr<kafka::KafkaDestination> first_, second_;
};

TEST_F(SharedProducerTest, ThePoolGivesOneProducerPerKeyWhileItIsHeld) {
  auto a = producer("one");
  auto b = producer("one");
  auto c = producer("two");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(pool_.size(), 2u);
  a.reset();
  b.reset();
  EXPECT_EQ(pool_.size(), 1u);  // nobody holds "one" any more: it is gone
  auto again = producer("one");
  EXPECT_EQ(pool_.size(), 2u);
}

TEST_F(SharedProducerTest, EachDestinationGetsExactlyItsOwnReports) {
  kafka_.createTopic(topic_, 3);
  auto shared = producer();
  Recorder first_recorder, second_recorder;
  auto first = lane(shared, first_recorder);
  auto second = lane(shared, second_recorder);
  EXPECT_EQ(shared->laneCount(), 2u);
  constexpr uint64_t kCount = 500;
  std::thread other([&] {
    for (uint64_t i = kCount; i < 2 * kCount; ++i) {
      ASSERT_TRUE(second->send(message("b-" + std::to_string(i), i)).isOk());
    }
  });
  for (uint64_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(first->send(message("a-" + std::to_string(i), i)).isOk());
  }
  other.join();
  EXPECT_EQ(first->flush(kDeadline), 0u);
  EXPECT_EQ(second->flush(kDeadline), 0u);
  EXPECT_EQ(sequences(first_recorder), range(0, kCount));
  EXPECT_EQ(sequences(second_recorder), range(kCount, 2 * kCount));
  EXPECT_EQ(first_recorder.deliveries().size(), kCount);
  EXPECT_EQ(second_recorder.deliveries().size(), kCount);
  EXPECT_EQ(KafkaReader(kafka_.bootstrapServers(), topic_).readAtLeast(2 * kCount, kDeadline).size(),
            2 * kCount);
}

// A destination that leaves with messages parked (Kafka down) drops only its own: the other one's
// parked messages reach Kafka when it is back, and the one that left gets no report after close().
TEST_F(SharedProducerTest, ADestinationThatLeavesTakesNothingFromTheOthers) {
  startTwoLanesWarm();
  auto& staying = first_;
  auto& leaving = second_;
  kafka_.setAllBrokersDown(true);
  ASSERT_TRUE(waitFor([&] { return !staying->connected(); }, kDeadline));
  constexpr uint64_t kCount = 50;
  for (uint64_t i = 1; i <= kCount; ++i) {
    ASSERT_TRUE(staying->send(message("stay-" + std::to_string(i), i)).isOk());
    ASSERT_TRUE(leaving->send(message("leave-" + std::to_string(i), 1000 + i)).isOk());
  }
  leaving->close();
  EXPECT_EQ(shared_->laneCount(), 1u);
  const size_t leaving_reports = second_recorder_.deliveries().size();
  kafka_.setAllBrokersDown(false);
  ASSERT_TRUE(first_recorder_.waitFor(kCount + 1));
  EXPECT_EQ(staying->flush(kDeadline), 0u);
  EXPECT_EQ(sequences(first_recorder_), range(0, kCount + 1));
  EXPECT_EQ(second_recorder_.deliveries().size(), leaving_reports);
  EXPECT_TRUE(leaving->send(message("after close", 9999)).isRetriable());
}

// An instance-fatal error of the shared producer: it is re-created once and every destination's
// messages are produced again; none is refused or missing.
TEST_F(SharedProducerTest, AProducerRestartResendsForEveryDestination) {
  startTwoLanesWarm();
  auto& first = first_;
  auto& second = second_;
  Recorder& first_recorder = first_recorder_;
  Recorder& second_recorder = second_recorder_;
  auto& shared = shared_;
  constexpr int kOutOfOrderSequenceNumber = 45;
  kafka_.failNextProduceRequests({kOutOfOrderSequenceNumber});
  constexpr uint64_t kCount = 200;
  for (uint64_t i = 1; i <= kCount; ++i) {
    ASSERT_TRUE(first->send(message("a-" + std::to_string(i), i)).isOk());
    ASSERT_TRUE(second->send(message("b-" + std::to_string(i), 1000 + i)).isOk());
  }
  ASSERT_TRUE(first_recorder.waitFor(kCount + 1));
  ASSERT_TRUE(second_recorder.waitFor(kCount));
  EXPECT_EQ(sequences(first_recorder), range(0, kCount + 1));
  EXPECT_EQ(sequences(second_recorder), range(1001, 1001 + kCount));
  EXPECT_THAT(first_recorder.failures(), ::testing::IsEmpty());
  EXPECT_THAT(second_recorder.failures(), ::testing::IsEmpty());
  EXPECT_EQ(shared->restartCount(), 1u);
  std::set<std::string> values;
  for (const KafkaRecord& r : KafkaReader(kafka_.bootstrapServers(), topic_)
                                  .readAtLeast(2 * kCount + 1, kDeadline)) {
    values.insert(r.value);
  }
  EXPECT_EQ(values.size(), 2 * kCount + 1);
}

// Each destination is held to its own bound: one that is full waits while another sends.
TEST_F(SharedProducerTest, TheInFlightBoundIsPerDestination) {
  kafka_.createTopic(topic_, 1);
  auto shared = producer();
  Recorder full_recorder, free_recorder;
  auto full = lane(shared, full_recorder, runtime::FlightLimits{2, 1u << 20});
  auto free = lane(shared, free_recorder);
  kafka_.setAllBrokersDown(true);
  ASSERT_TRUE(waitFor([&] { return !full->connected(); }, kDeadline));
  ASSERT_TRUE(full->send(message("one", 1)).isOk());
  ASSERT_TRUE(full->send(message("two", 2)).isOk());
  std::atomic<bool> third_sent{false};
  std::thread blocked([&] {
    EXPECT_TRUE(full->send(message("three", 3)).isOk());
    third_sent = true;
  });
  for (uint64_t i = 10; i < 30; ++i) ASSERT_TRUE(free->send(message("f", i)).isOk());
  kafka_.setAllBrokersDown(false);
  blocked.join();
  EXPECT_TRUE(third_sent);
  ASSERT_TRUE(full_recorder.waitFor(3));
  ASSERT_TRUE(free_recorder.waitFor(20));
}

// A dataflow whose topic has no reachable leader keeps its messages in librdkafka (retried, up to
// its own bound): the other dataflows of the shared producer still get theirs through, since the
// producer's own queue is not a shared bound.
TEST_F(SharedProducerTest, ADataflowWhosePartitionsAreUnreachableDoesNotHoldBackTheOthers) {
  const std::string stuck_topic = topic_ + "-stuck";
  kafka_.createTopic(stuck_topic, 1);
  kafka_.createTopic(topic_, 1);
  kafka_.setPartitionLeader(stuck_topic, 0, 1);
  kafka_.setPartitionLeader(topic_, 0, 2);
  // Small bounds: the configuration's queue would be full with the stuck lane's messages alone.
  Result<kafka::ProducerConfig> config = kafka::producerConfig(
      settings(), config::MountedFiles(), runtime::FlightLimits{20, 1u << 20}, "shared-test");
  ASSERT_TRUE(config.isOk());
  auto shared = pool_.get("small", kafka::KafkaProducer::Options{std::move(config).value(), logger_,
                                                                  &clock_, "kafka-test", nullptr});
  Recorder stuck_recorder, flowing_recorder;
  auto stuck = lane(shared, stuck_recorder, runtime::FlightLimits{20, 1u << 20});
  auto flowing = lane(shared, flowing_recorder, runtime::FlightLimits{20, 1u << 20});
  ASSERT_TRUE(flowing->send(message("warm-up", 0)).isOk());
  ASSERT_TRUE(flowing_recorder.waitFor(1));
  kafka_.setBrokerDown(1, true);
  for (uint64_t i = 1; i <= 20; ++i) {
    Message m = message("stuck", 100 + i);
    m.topic = stuck_topic;
    ASSERT_TRUE(stuck->send(std::move(m)).isOk());
  }
  std::thread sender([&] {
    for (uint64_t i = 1; i <= 10; ++i) EXPECT_TRUE(flowing->send(message("f", i)).isOk());
  });
  const bool delivered = flowing_recorder.waitFor(11);
  kafka_.setBrokerDown(1, false);  // lets everything finish either way
  sender.join();
  EXPECT_TRUE(delivered);
  EXPECT_EQ(sequences(flowing_recorder), range(0, 11));
  ASSERT_TRUE(stuck_recorder.waitFor(20));
  EXPECT_EQ(sequences(stuck_recorder), range(101, 121));
}

}  // namespace
}  // namespace dataflow::testing
