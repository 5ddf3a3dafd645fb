// MQTT -> MQTT across two brokers through the built binary (AIO's most common dataflow: a local
// broker bridged to another): mosquitto_pub publishes to the first, an independent mosquitto_sub
// on the second checks properties, expiry and the retain flag.
#include <gmock/gmock.h>

#include <algorithm>
#include <set>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/load_publisher.h"
#include "tests/e2e/mqtt_watcher.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using ::testing::ElementsAre;
using namespace std::chrono_literals;

class MqttToMqtt : public EngineE2E {
 protected:
  std::unique_ptr<MqttWatcher> watchSecondBroker(const std::string& name = "watch") {
    return std::make_unique<MqttWatcher>(broker("mqtt2").port(), "bridged/#",
                                         dir_->file(name + ".log"));
  }
};

TEST_F(MqttToMqtt, PropertiesAreForwardedAndExpiryRewritten) {
  writeManifests(FlowSpec().into("mqtt2", "bridged/${inputTopic.2}"));
  auto watcher = watchSecondBroker();
  startEngine();
  const auto published_at = std::chrono::steady_clock::now();
  publish("plant/m1/data", "reading \x01 bytes",
          {"-D",         "publish", "payload-format-indicator",
           "0",  //
           "-D",         "publish", "content-type",
           "text/plain",  //
           "-D",         "publish", "response-topic",
           "reply/here",  //
           "-D",         "publish", "correlation-data",
           "corr-1",  //
           "-D",         "publish", "message-expiry-interval",
           "3600",  //
           "-D",         "publish", "user-property",
           "a",          "1",  //
           "-D",         "publish", "user-property",
           "b",          "2",  //
           "-D",         "publish", "user-property",
           "a",          "3"});
  auto messages = watcher->waitFor(1, kDeadline);
  ASSERT_EQ(messages.size(), 1u) << watcher->log();
  const int64_t waited_s =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - published_at)
          .count();
  const ObservedMessage& m = messages[0];
  EXPECT_EQ(m.topic, "bridged/m1");
  EXPECT_EQ(m.payload, "reading \x01 bytes");
  EXPECT_EQ(m.qos, 1);
  EXPECT_EQ(m.content_type, "text/plain");
  EXPECT_EQ(m.response_topic, "reply/here");
  EXPECT_EQ(m.correlation_data, "corr-1");
  EXPECT_EQ(m.payload_format, "0");
  ASSERT_TRUE(m.expiry.has_value());
  // Less at most the whole seconds it took (one more for a second boundary crossed).
  EXPECT_LE(*m.expiry, 3600u);
  EXPECT_GE(int64_t{*m.expiry}, 3600 - waited_s - 1);
  // MQTT -> MQTT carries user properties as they are: no built-in headers are added.
  EXPECT_THAT(m.propertyList(), ElementsAre("a=1", "b=2", "a=3"));
  EXPECT_EQ(stopEngine(), 0);
}

// The retain flag can only be observed by a subscriber that arrives after the publish (a live
// delivery has it cleared by the broker), so each test checks what the second broker retained: a
// new subscriber gets every retained message right after its SUBACK, so a live marker published
// once it has subscribed comes after all of them. What arrived before the marker is returned.
std::vector<ObservedMessage> retainedOn(Mosquitto& broker, const std::string& log) {
  MqttWatcher watcher(broker.port(), "bridged/#", log);
  const std::string marker = randomName("marker-");
  ChildProcess pub({"/usr/bin/mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p",
                    std::to_string(broker.port()), "-q", "1", "-t", "bridged/marker", "-m", marker},
                   log + ".pub");
  EXPECT_EQ(pub.wait(std::chrono::seconds(30)), 0) << pub.log();
  std::vector<ObservedMessage> seen;
  auto markerAt = [&] {
    return std::find_if(seen.begin(), seen.end(),
                        [&](const ObservedMessage& m) { return m.payload == marker; });
  };
  const bool arrived = waitFor(
      [&] {
        seen = watcher.messages();
        return markerAt() != seen.end();
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(arrived) << "the marker never arrived: " << watcher.log();
  return std::vector<ObservedMessage>(seen.begin(), markerAt());
}

TEST_F(MqttToMqtt, RetainKeepCopiesTheRetainFlag) {
  writeManifests(FlowSpec().into("mqtt2", "bridged/${inputTopic.2}").mqtt2("    retain: Keep\n"));
  auto watcher = watchSecondBroker();
  startEngine();
  publish("plant/m1/data", "retained reading", {"-r"});
  publish("plant/m2/data", "plain reading");
  ASSERT_EQ(watcher->waitFor(2, kDeadline).size(), 2u) << watcher->log();
  auto retained = retainedOn(broker("mqtt2"), dir_->file("retained.log"));
  ASSERT_EQ(retained.size(), 1u);
  EXPECT_TRUE(retained[0].retain);
  EXPECT_EQ(retained[0].payload, "retained reading");
  EXPECT_EQ(stopEngine(), 0);
}

TEST_F(MqttToMqtt, RetainNeverClearsTheRetainFlag) {
  writeManifests(FlowSpec().into("mqtt2", "bridged/${inputTopic.2}").mqtt2("    retain: Never\n"));
  auto watcher = watchSecondBroker();
  startEngine();
  publish("plant/m1/data", "retained reading", {"-r"});
  auto live = watcher->waitFor(1, kDeadline);
  ASSERT_EQ(live.size(), 1u) << watcher->log();
  EXPECT_EQ(live[0].payload, "retained reading");
  EXPECT_TRUE(retainedOn(broker("mqtt2"), dir_->file("retained.log")).empty())
      << "retain: Never must not leave a retained message on the destination broker";
  EXPECT_EQ(stopEngine(), 0);
}

TEST_F(MqttToMqtt, QoS1EndToEndWhileTheDestinationBrokerRestarts) {
  writeManifests(FlowSpec().into("mqtt2", "bridged/${inputTopic.2}"));
  MqttWatcher watcher(broker("mqtt2").port(), "bridged/#", dir_->file("watch.log"), "watcher");
  startEngine();
  constexpr size_t kCount = 2000;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "n", kCount,
                          std::chrono::microseconds(500));
  ASSERT_TRUE(
      waitFor([&] { return publisher.acknowledged() >= kCount / 3; }, std::chrono::seconds(60)));
  broker("mqtt2").stop();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the outage: the broker stays down 1 s
  broker("mqtt2").start();
  publisher.join();
  watcher.waitFor(kCount, std::chrono::seconds(60));
  std::set<std::string> seen;
  size_t received = 0;
  for (const ObservedMessage& m : watcher.messages()) {
    seen.insert(m.payload);
    ++received;
  }
  std::vector<size_t> missing;
  for (size_t i = 0; i < kCount; ++i) {
    if (!seen.count("n-" + std::to_string(i))) missing.push_back(i);
  }
  std::cout << "[ measure ] MQTT -> MQTT, destination broker restarted: " << missing.size()
            << " of " << kCount << " missing, " << received - seen.size() << " duplicates\n";
  EXPECT_THAT(missing, ::testing::IsEmpty());
  EXPECT_EQ(stopEngine(), 0);
}

// The engine SIGKILLed five times while a full-speed QoS 1 load crosses from one broker to the
// other: the source's PUBACK waits for the destination broker's, so nothing is missing after the
// restarts (duplicates allowed and counted).
TEST_F(MqttToMqtt, SigkillUnderLoadFiveTimesLosesNothing) {
  writeManifests(FlowSpec().into("mqtt2", "bridged/${inputTopic.2}"));
  MqttWatcher watcher(broker("mqtt2").port(), "bridged/#", dir_->file("watch.log"), "watcher");
  startEngine();
  constexpr size_t kCount = 20'000;
  constexpr int kKills = 5;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "k", kCount,
                          std::chrono::microseconds(0));
  for (int kill = 1; kill <= kKills; ++kill) {
    ASSERT_TRUE(waitFor([&] { return publisher.acknowledged() >= kCount * kill / (kKills + 1); },
                        std::chrono::seconds(60)));
    engine_->signal(SIGKILL);
    ASSERT_TRUE(engine_->wait(std::chrono::seconds(30)).has_value());
    startEngine();
  }
  publisher.join();
  std::set<std::string> seen;
  size_t received = 0;
  waitFor(
      [&] {
        const std::vector<ObservedMessage> all = watcher.messages();
        received = all.size();
        for (const ObservedMessage& m : all) seen.insert(m.payload);
        return seen.size() >= kCount;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(500));
  std::vector<size_t> missing;
  for (size_t i = 0; i < kCount; ++i) {
    if (!seen.count("k-" + std::to_string(i))) missing.push_back(i);
  }
  std::cout << "[ measure ] MQTT -> MQTT, " << kKills << " SIGKILLs under load: " << missing.size()
            << " of " << kCount << " missing, " << received - seen.size() << " duplicates\n";
  EXPECT_THAT(missing, ::testing::IsEmpty());
  EXPECT_EQ(stopEngine(), 0);
}

// The destination broker down for 5 s while messages with and without a Message Expiry Interval
// wait in the engine's MQTT destination: the one with 2 s is not delivered and is counted as
// expired, the one with 3600 s arrives with what remains, the one without arrives.
TEST_F(MqttToMqtt, ExpiryHoldsForMessagesTheMqttDestinationHoldsDuringAnOutage) {
  writeManifests(FlowSpec().into("mqtt2", "bridged/${inputTopic.2}"));
  MqttWatcher watcher(broker("mqtt2").port(), "bridged/#", dir_->file("watch.log"), "watcher");
  startEngine();
  publish("plant/m1/data", "warm-up");
  ASSERT_EQ(watcher.waitFor(1, kDeadline).size(), 1u);
  broker("mqtt2").stop();
  ASSERT_TRUE(waitFor(
      [&] { return engineLog().find("MQTT destination: connection to") != std::string::npos; },
      kDeadline))
      << engineLog();
  const auto published_at = publishExpiringThroughOutage(5s);
  broker("mqtt2").start();
  publish("plant/m1/data", "marker");
  auto markerSeen = [&] {
    for (const ObservedMessage& m : watcher.messages()) {
      if (m.payload == "marker") return true;
    }
    return false;
  };
  ASSERT_TRUE(waitFor(markerSeen, kDeadline)) << engineLog();
  const int64_t waited_s =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - published_at)
          .count();
  std::vector<ObservedMessage> seen = watcher.messages();
  std::vector<std::string> payloads;
  for (const ObservedMessage& m : seen) payloads.push_back(m.payload);
  ASSERT_THAT(payloads, ElementsAre("warm-up", "long", "plain", "marker"));
  ASSERT_TRUE(seen[1].expiry.has_value());
  EXPECT_LE(int64_t{*seen[1].expiry}, 3600 - 5) << "the outage was not subtracted";
  EXPECT_GE(int64_t{*seen[1].expiry}, 3600 - waited_s - 1);
  EXPECT_FALSE(seen[2].expiry.has_value());
  EXPECT_EQ(stopEngine(), 0);
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("expired while it waited for the broker"));
  EXPECT_THAT(engineLog(), ::testing::HasSubstr("expired while held 1"));
}

}  // namespace
}  // namespace dataflow::testing
