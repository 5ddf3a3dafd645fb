// Kafka -> MQTT at-least-once through the built binary: numbered records produced with kcat must
// all reach an independent persistent-session subscriber (mosquitto_sub) while the MQTT broker
// restarts, the engine is killed, or a second instance joins and leaves the consumer group.
// Duplicates are allowed and reported; a missing number fails the test.
#include <gmock/gmock.h>

#include <regex>
#include <set>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/mqtt_watcher.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;

class KafkaReliability : public EngineE2E {
 protected:
  // Produces "n-<first>" .. "n-<first + count - 1>".
  void produceNumbered(size_t first, size_t count) {
    std::vector<std::string> values;
    values.reserve(count);
    for (size_t i = first; i < first + count; ++i) values.push_back("n-" + std::to_string(i));
    produce(values);
  }

  // Waits until the watcher has every number below `count` (or `timeout`); returns the missing
  // ones and prints a measure line with the duplicates.
  std::vector<size_t> missing(const MqttWatcher& watcher, size_t count,
                              std::chrono::milliseconds timeout, const std::string& what) {
    std::set<std::string> seen;
    size_t received = 0;
    waitFor(
        [&] {
          seen.clear();
          const std::vector<ObservedMessage> messages = watcher.messages();
          received = messages.size();
          for (const ObservedMessage& m : messages) seen.insert(m.payload);
          return seen.size() >= count;
        },
        timeout, 500ms);
    std::vector<size_t> out;
    for (size_t i = 0; i < count; ++i) {
      if (!seen.count("n-" + std::to_string(i))) out.push_back(i);
    }
    std::cout << "[ measure ] " << what << ": " << out.size() << " of " << count
              << " records missing, " << received - seen.size() << " duplicates\n";
    return out;
  }
};

TEST_F(KafkaReliability, TenThousandRecordsWhileTheMqttBrokerRestartsTwice) {
  createTopic(3);
  writeManifests(FlowSpec().from("kafka").into("mqtt", "out/${inputTopic}"));
  MqttWatcher watcher(mosquitto_->port(), "out/#", dir_->file("watch.log"), "watcher");
  startEngine();
  constexpr size_t kCount = 10'000;
  constexpr size_t kBatch = 1'000;
  for (size_t batch = 0; batch < kCount / kBatch; ++batch) {
    produceNumbered(batch * kBatch, kBatch);
    if (batch == 2 || batch == 6) {
      // SIGTERM: mosquitto writes its database, so the subscriber's session and queue survive
      // (a SIGKILLed mosquitto would lose what it had acknowledged: the broker's loss, not ours).
      mosquitto_->stop();
      produceNumbered((batch + 1) * kBatch, kBatch);
      std::this_thread::sleep_for(2s);  // the outage itself: the broker stays down this long
      mosquitto_->start();
      ++batch;
    }
  }
  EXPECT_THAT(missing(watcher, kCount, 120s, "Kafka -> MQTT, MQTT broker restarted twice"),
              ::testing::IsEmpty());
  EXPECT_EQ(stopEngine(), 0);
}

TEST_F(KafkaReliability, SigkillMidStreamReplaysEverythingAfterTheLastCommit) {
  createTopic(3);
  writeManifests(FlowSpec().from("kafka").into("mqtt", "out/${inputTopic}"));
  MqttWatcher watcher(mosquitto_->port(), "out/#", dir_->file("watch.log"), "watcher");
  constexpr size_t kFirst = 4'000;
  constexpr size_t kCount = 10'000;
  // A first part that is delivered and committed (commits run every second)...
  produceNumbered(0, kFirst);
  startEngine();
  ASSERT_TRUE(waitFor(
      [&] {
        return kafka_->committedOffsets("flow-group", topic()) == static_cast<int64_t>(kFirst);
      },
      60s, 200ms));
  // ...then the kill in the middle of the rest.
  produceNumbered(kFirst, kCount - kFirst);
  ASSERT_TRUE(waitFor([&] { return watcher.messages().size() >= kFirst + 1'000; }, 60s, 20ms));
  engine_->signal(SIGKILL);
  ASSERT_TRUE(engine_->wait(30s).has_value());
  const size_t before_restart = watcher.messages().size();
  startEngine();
  EXPECT_THAT(missing(watcher, kCount, 120s, "Kafka -> MQTT, engine SIGKILLed mid-stream"),
              ::testing::IsEmpty());
  const size_t replayed = watcher.messages().size() - kCount;
  std::cout << "[ measure ] " << before_restart << " delivered before the kill, " << replayed
            << " replayed after the restart\n";
  // The restart resumed from a commit, not from the beginning of the topic.
  EXPECT_LT(replayed, before_restart - kFirst / 2);
  EXPECT_EQ(stopEngine(), 0);
}

TEST_F(KafkaReliability, ASecondInstanceJoinsAndLeavesTheGroupMidStream) {
  createTopic(4);
  writeManifests(FlowSpec().from("kafka").into("mqtt", "out/${inputTopic}").instances(2));
  MqttWatcher watcher(mosquitto_->port(), "out/#", dir_->file("watch.log"), "watcher");
  startEngine({"--instance-id", "0"});
  constexpr size_t kCount = 10'000;
  constexpr size_t kBatch = 100;
  size_t next = 0;
  // One batch every 200 ms, so records keep arriving through both rebalances.
  auto produceBatch = [&] {
    if (next >= kCount) return;
    produceNumbered(next, kBatch);
    next += kBatch;
    std::this_thread::sleep_for(200ms);
  };
  for (int i = 0; i < 5; ++i) produceBatch();
  std::unique_ptr<ChildProcess> second = startAnotherEngine({"--instance-id", "1"});
  ASSERT_TRUE(waitFor(
      [&] {
        produceBatch();
        return second->log().find("Kafka partitions assigned") != std::string::npos;
      },
      60s, 0ms))
      << second->log();
  for (int i = 0; i < 5; ++i) produceBatch();
  second->signal(SIGTERM);
  ASSERT_EQ(second->wait(30s), 0) << second->log();
  while (next < kCount) produceBatch();
  EXPECT_THAT(missing(watcher, kCount, 120s, "Kafka -> MQTT, second instance joined and left"),
              ::testing::IsEmpty());
  // The second instance did take part: it delivered records of its own.
  std::smatch received;
  const std::string second_log = second->log();
  ASSERT_TRUE(std::regex_search(second_log, received, std::regex("stopped: received (\\d+)")))
      << second_log;
  std::cout << "[ measure ] the second instance delivered " << received[1] << " records\n";
  EXPECT_GT(std::stoul(received[1]), 0u);
  EXPECT_EQ(stopEngine(), 0);
}

}  // namespace
}  // namespace dataflow::testing
