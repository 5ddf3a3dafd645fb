// What happens to messages when something fails: Kafka down, the MQTT broker restarted, the engine
// stopped with SIGTERM or killed with SIGKILL. Every test publishes numbered QoS 1 messages and
// checks, by number, which reached Kafka.
#include <gmock/gmock.h>

#include <fstream>
#include <set>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/load_publisher.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;

class Reliability : public EngineE2E {};

TEST_F(Reliability, KafkaOutageOf30SecondsLosesNothingWithBoundedMemory) {
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine({"--max-in-flight-messages", "500"});
  kafka_->setAllBrokersDown(true);
  const long rss_before = residentKiB(engine_->pid());
  long rss_peak = rss_before;
  constexpr size_t kCount = 3000;  // 100 per second for the 30 s of the outage
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "outage", kCount, 10ms);
  const auto outage_end = std::chrono::steady_clock::now() + 30s;
  waitFor(
      [&] {
        rss_peak = std::max(rss_peak, residentKiB(engine_->pid()));
        return std::chrono::steady_clock::now() >= outage_end;
      },
      35s, 250ms);
  kafka_->setAllBrokersDown(false);
  publisher.join();
  EXPECT_EQ(publisher.acknowledged(), kCount);
  EXPECT_THAT(missing("outage", kCount, 60s), ::testing::IsEmpty());
  std::cout << "[ measure ] Kafka outage 30 s, " << kCount << " messages: engine RSS "
            << rss_before / 1024 << " MiB before, peak " << rss_peak / 1024 << " MiB, "
            << duplicates("outage") << " duplicates\n";
  // Bounded: at most 500 small messages held, whatever the outage length.
  EXPECT_LT(rss_peak - rss_before, 32L * 1024) << "memory grew with the outage";
  EXPECT_EQ(stopEngine(), 0);
}

TEST_F(Reliability, ExpiryCountsTheTimeKafkaWasDownAndExpiredMessagesAreDropped) {
  createTopic(1);
  // One message in flight to Kafka, one unacknowledged MQTT delivery at a time: "first" waits in
  // the producer, "long" waits untransformed in the engine, "filler" in the socket, and "short"
  // at the broker. The expiry of "long" keeps running while it waits; "short" expires.
  writeManifests(FlowSpec().mqtt("    maxInflightMessages: 1\n"));
  startEngine({"--max-in-flight-messages", "1"});
  kafka_->setAllBrokersDown(true);
  publish("plant/m1/data", "first", {"-D", "publish", "message-expiry-interval", "600"});
  const auto long_published_at = std::chrono::steady_clock::now();
  publish("plant/m1/data", "long", {"-D", "publish", "message-expiry-interval", "600"});
  publish("plant/m1/data", "filler");
  publish("plant/m1/data", "short", {"-D", "publish", "message-expiry-interval", "2"});
  const auto down_since = std::chrono::steady_clock::now();
  waitFor([&] { return std::chrono::steady_clock::now() - down_since >= 5s; }, 10s, 100ms);
  kafka_->setAllBrokersDown(false);
  auto records = readRecords(3);
  ASSERT_GE(records.size(), 3u);
  const int64_t waited_s = std::chrono::ceil<std::chrono::seconds>(
                               std::chrono::steady_clock::now() - long_published_at)
                               .count();
  EXPECT_EQ(records[0].value, "first");
  EXPECT_EQ(records[1].value, "long");
  EXPECT_EQ(records[2].value, "filler");
  // Less the 5 s outage at least, and at most the whole time it waited (one second more for a
  // second boundary crossed).
  const int remaining = std::stoi(header(records[1], "Message Expiry Interval").value_or("0"));
  EXPECT_LE(remaining, 595) << "the outage was not subtracted";
  EXPECT_GE(remaining, 600 - waited_s - 1);
  // "short" expired: a marker published after it arrives, and nothing came before the marker.
  publish("plant/m1/data", "marker");
  records.erase(records.begin(), records.begin() + 3);
  while (records.empty() || records.back().value != "marker") {
    std::vector<KafkaRecord> more = reader_->readAtLeast(1, kDeadline);
    ASSERT_FALSE(more.empty()) << "the marker never arrived";
    records.insert(records.end(), more.begin(), more.end());
  }
  ASSERT_EQ(records.size(), 1u) << "the expired message was delivered: " << records[0].value;
}

TEST_F(Reliability, MosquittoRestartLosesNothingForQos1Publishers) {
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine();
  constexpr size_t kCount = 2000;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "restart", kCount, 1ms);
  ASSERT_TRUE(waitFor([&] { return publisher.acknowledged() >= kCount / 3; }, 60s));
  mosquitto_->stop();
  mosquitto_->start();
  publisher.join();
  EXPECT_EQ(publisher.acknowledged(), kCount);
  EXPECT_THAT(missing("restart", kCount, 60s), ::testing::IsEmpty());
  std::cout << "[ measure ] mosquitto restart: " << publisher.retries() << " publisher retries, "
            << duplicates("restart") << " duplicates in Kafka\n";
  EXPECT_EQ(stopEngine(), 0);
}

TEST_F(Reliability, SigtermUnderLoadDeliversEverythingReceived) {
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine();
  constexpr size_t kCount = 5000;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "term", kCount, 0us);
  ASSERT_TRUE(waitFor([&] { return publisher.acknowledged() >= kCount / 4; }, 60s));
  EXPECT_EQ(stopEngine(SIGTERM), 0);
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("everything received was delivered"));
  // Messages published while the engine was stopped wait in its session at the broker.
  startEngine();
  publisher.join();
  EXPECT_THAT(missing("term", kCount, 60s), ::testing::IsEmpty());
  EXPECT_EQ(stopEngine(), 0);
}

// The engine SIGKILLed five times under a full-speed QoS 1 load and started again each time: the
// MQTT source acknowledges a message (PUBACK) only once Kafka has it, so the broker sends
// everything unacknowledged again to the resumed session. Nothing is missing; duplicates are
// allowed (at least once) and counted.
TEST_F(Reliability, SigkillUnderLoadFiveTimesLosesNothing) {
  createTopic(1);
  writeManifests(FlowSpec());
  const std::vector<std::string> args = {"--max-in-flight-messages", "1000"};
  startEngine(args);
  constexpr size_t kCount = 20'000;
  constexpr int kKills = 5;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "kill", kCount, 0us);
  for (int kill = 1; kill <= kKills; ++kill) {
    ASSERT_TRUE(waitFor([&] { return publisher.acknowledged() >= kCount * kill / (kKills + 1); },
                        60s));
    engine_->signal(SIGKILL);
    ASSERT_TRUE(engine_->wait(30s).has_value());
    startEngine(args);
  }
  publisher.join();
  const std::vector<size_t> lost = missing("kill", kCount, 60s);
  std::cout << "[ measure ] " << kKills << " SIGKILLs under load: " << lost.size() << " of "
            << kCount << " QoS 1 messages missing, " << duplicates("kill") << " duplicates\n";
  RecordProperty("sigkill_lost", static_cast<int>(lost.size()));
  RecordProperty("sigkill_duplicates", static_cast<int>(duplicates("kill")));
  EXPECT_THAT(lost, ::testing::IsEmpty());
  EXPECT_EQ(stopEngine(), 0);
}

// A produce request that fails with OUT_OF_ORDER_SEQUENCE_NUMBER makes librdkafka's idempotent
// producer fail for good (an instance-fatal error). The destination re-creates the producer and
// produces again what the old one held: nothing is missing.
TEST_F(Reliability, AFatalProducerErrorIsRecoveredByReCreatingTheProducerWithoutLoss) {
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine();
  publish("plant/m1/data", "warm-up");
  ASSERT_EQ(readRecords(1).at(0).value, "warm-up");
  constexpr int kOutOfOrderSequenceNumber = 45;
  kafka_->failNextProduceRequests({kOutOfOrderSequenceNumber});
  constexpr size_t kCount = 1000;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "fatal", kCount, 1ms);
  publisher.join();
  EXPECT_THAT(missing("fatal", kCount, 60s), ::testing::IsEmpty());
  EXPECT_TRUE(waitFor([&] { return engineLog().find("re-created it (restart 1)") !=
                                   std::string::npos; },
                      kDeadline))
      << engineLog();
  std::cout << "[ measure ] fatal producer error: " << duplicates("fatal") << " duplicates\n";
  EXPECT_EQ(stopEngine(), 0);
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("refused 0"));
}

// Kafka down for 5 s while messages with and without a Message Expiry Interval wait in the
// engine's Kafka destination (accepted, not yet written): the one with 2 s is not delivered and
// is counted as expired, the one with 3600 s arrives with what remains, the one without arrives.
TEST_F(Reliability, ExpiryHoldsForMessagesTheKafkaDestinationHoldsDuringAnOutage) {
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine();
  publish("plant/m1/data", "warm-up");
  ASSERT_EQ(readRecords(1).at(0).value, "warm-up");
  kafka_->setAllBrokersDown(true);
  ASSERT_TRUE(waitFor(
      [&] { return engineLog().find("lost the connection to Kafka") != std::string::npos; },
      kDeadline))
      << engineLog();
  const auto published_at = publishExpiringThroughOutage(5s);
  kafka_->setAllBrokersDown(false);
  publish("plant/m1/data", "marker");
  std::vector<KafkaRecord> records;
  while (records.empty() || records.back().value != "marker") {
    std::vector<KafkaRecord> more = reader_->readAtLeast(1, kDeadline);
    ASSERT_FALSE(more.empty()) << "the marker never arrived\n" << engineLog();
    records.insert(records.end(), more.begin(), more.end());
  }
  const int64_t waited_s =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - published_at)
          .count();
  std::vector<std::string> values;
  for (const KafkaRecord& r : records) values.push_back(r.value);
  EXPECT_THAT(values, ::testing::ElementsAre("long", "plain", "marker"));
  ASSERT_FALSE(records.empty());
  const int remaining = std::stoi(header(records[0], "Message Expiry Interval").value_or("0"));
  EXPECT_LE(remaining, 3600 - 5) << "the outage was not subtracted";
  EXPECT_GE(remaining, 3600 - waited_s - 1);
  EXPECT_FALSE(header(records[1], "Message Expiry Interval").has_value());
  EXPECT_EQ(stopEngine(), 0);
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("expired while it waited for Kafka"));
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("expired while held 1"));
}

// SIGTERM stops 121 dataflows of both directions (61 MQTT -> Kafka, 60 Kafka -> MQTT, each with
// its own clients) within the drain deadline: every source stops first, then all drain against one
// deadline, and the process exits 0. The bound is the engine's contract (the drain deadline plus
// the stop budget of the connections), not a speed figure.
TEST_F(Reliability, SigtermStopsOver100DataflowsOfBothDirectionsWithinTheDrainDeadline) {
  createTopic(4);
  writeManifests(FlowSpec());  // `flow`: MQTT -> Kafka
  constexpr int kPairs = 60;
  {
    std::ofstream out(dir_->path() + "/manifests.yaml", std::ios::app);
    auto dataflow = [&](const std::string& name, const std::string& source,
                        const std::string& filter, const std::string& destination,
                        const std::string& topic) {
      out << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
          << "metadata:\n  name: " << name << "\nspec:\n  operations:\n"
          << "  - operationType: Source\n    sourceSettings:\n      endpointRef: " << source
          << "\n      dataSources: ['" << filter << "']\n"
          << "  - operationType: Destination\n    destinationSettings:\n      endpointRef: "
          << destination << "\n      dataDestination: '" << topic << "'\n";
    };
    for (int i = 0; i < kPairs; ++i) {
      dataflow("to-kafka-" + std::to_string(i), "mqtt", "line/" + std::to_string(i) + "/data",
               "kafka", topic());
      dataflow("to-mqtt-" + std::to_string(i), "kafka", topic(), "mqtt",
               "back/" + std::to_string(i));
    }
  }
  constexpr auto kDrain = 10s;
  startEngine({"--drain-timeout", "10"});
  auto count = [&](const std::string& text) {
    const std::string log = engineLog();
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  };
  ASSERT_TRUE(waitFor([&] { return count("MQTT source: subscribed") >= kPairs + 1u; }, 60s))
      << count("MQTT source: subscribed") << " MQTT sources subscribed";
  ASSERT_TRUE(waitFor([&] { return count("MQTT destination: connected") >= size_t{kPairs}; }, 60s))
      << count("MQTT destination: connected") << " MQTT destinations connected";
  publish("plant/m1/data", "before-stop");
  ASSERT_EQ(readRecords(1).at(0).value, "before-stop");

  const auto signalled = std::chrono::steady_clock::now();
  EXPECT_EQ(stopEngine(SIGTERM), 0);
  const auto took = std::chrono::steady_clock::now() - signalled;
  std::cout << "[ measure ] SIGTERM stopped " << 2 * kPairs + 1 << " dataflows in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  // The drain deadline, plus a margin for stopping the sources and closing every connection.
  EXPECT_LE(took, kDrain + 15s) << "not within the drain deadline";
  EXPECT_EQ(count("stopped: received"), 2 * kPairs + 1u);
}

}  // namespace
}  // namespace dataflow::testing
