// MqttSource recovering: broker restarts, engine restarts (kept session), a broker that appears
// only after the source started.
#include <gtest/gtest.h>

#include "tests/integration/mqtt/source_fixture.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/process.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::freeTcpPort;
using dataflow::testing::Mosquitto;
using dataflow::testing::MqttTestClient;

void publishNumbered(const Mosquitto& broker, const std::string& topic, const std::string& prefix,
                     int count) {
  MqttTestClient publisher(broker.address(), randomName("pub-"));
  for (int i = 1; i <= count; ++i) publisher.publish(topic, prefix + std::to_string(i), 1);
}

std::vector<std::string> numbered(const std::string& prefix, int count) {
  std::vector<std::string> out;
  for (int i = 1; i <= count; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

// Restarts `broker` and waits until `source` noticed the loss and is back, subscribed.
void restart(Mosquitto& broker, Source& source) {
  broker.stop();
  ASSERT_TRUE(waitFor([&] { return !source.connected(); }, kWait));
  broker.start();
  ASSERT_TRUE(waitFor([&] { return source.connected(); }, kWait)) << "never reconnected";
}

TEST_F(MqttSourceTest, BrokerRestartWithPersistenceKeepsTheFlowGoing) {
  Mosquitto::Options options;
  options.persistence = true;
  Mosquitto broker(options);
  RecordingHandler handler;
  std::unique_ptr<Source> source = makeSource(broker.address(), randomName("src-"), {topic_});
  startAndWait(*source, handler);
  publishNumbered(broker, topic_, "before-", 3);
  ASSERT_TRUE(waitFor([&] { return handler.count() == 3; }, kWait));

  restart(broker, *source);
  publishNumbered(broker, topic_, "after-", 3);
  ASSERT_TRUE(waitFor([&] { return handler.count() == 6; }, kWait)) << handler.count();
  std::vector<std::string> expected = numbered("before-", 3);
  for (const std::string& p : numbered("after-", 3)) expected.push_back(p);
  EXPECT_EQ(handler.payloads(), expected);
  EXPECT_TRUE(sink_->contains("session resumed")) << "the broker kept the session";
  source->close();
}

TEST_F(MqttSourceTest, RetainedMessagesAreNotReplayedOnResubscribe) {
  Mosquitto::Options options;
  options.persistence = true;
  Mosquitto broker(options);
  {
    MqttTestClient publisher(broker.address(), randomName("pub-"));
    publisher.publish(topic_, "retained", 1, {}, /*retain=*/true);
  }
  RecordingHandler handler;
  std::unique_ptr<Source> source = makeSource(broker.address(), randomName("src-"), {topic_});
  startAndWait(*source, handler);
  ASSERT_TRUE(waitFor([&] { return handler.count() == 1; }, kWait));  // new subscription
  EXPECT_TRUE(handler.messages()[0].retain);

  restart(broker, *source);  // session resumed, resubscribed with Retain Handling 1
  publishNumbered(broker, topic_, "live-", 1);
  ASSERT_TRUE(waitFor([&] { return handler.count() >= 2; }, kWait));
  EXPECT_EQ(handler.payloads(), (std::vector<std::string>{"retained", "live-1"}));
  source->close();
}

TEST_F(MqttSourceTest, BrokerThatLostItsStateGetsTheSubscriptionAgain) {
  Mosquitto broker;  // no persistence: the restart forgets every session and subscription
  RecordingHandler handler;
  std::unique_ptr<Source> source = makeSource(broker.address(), randomName("src-"), {topic_});
  startAndWait(*source, handler);

  restart(broker, *source);
  publishNumbered(broker, topic_, "m", 3);
  ASSERT_TRUE(waitFor([&] { return handler.count() == 3; }, kWait)) << handler.count();
  EXPECT_EQ(handler.payloads(), numbered("m", 3));
  EXPECT_EQ(sink_->countContaining("subscribed to " + topic_), 2u);
  source->close();
}

TEST_F(MqttSourceTest, RestartedEngineGetsWhatWasPublishedWhileItWasAway) {
  Mosquitto broker;
  const std::string client_id = randomName("src-");
  {
    RecordingHandler handler;
    std::unique_ptr<Source> source = makeSource(broker.address(), client_id, {topic_});
    startAndWait(*source, handler);
    source->stopReceiving();
    source->close();
  }
  publishNumbered(broker, topic_, "away-", 5);  // queued by the broker for the kept session

  RecordingHandler handler;
  std::unique_ptr<Source> source = makeSource(broker.address(), client_id, {topic_});
  startAndWait(*source, handler);
  ASSERT_TRUE(waitFor([&] { return handler.count() == 5; }, kWait)) << handler.count();
  EXPECT_EQ(handler.payloads(), numbered("away-", 5));
  source->close();
}

TEST_F(MqttSourceTest, UnreachableBrokerAtStartIsRetriedUntilItAppears) {
  const int port = freeTcpPort();
  RecordingHandler handler;
  std::unique_ptr<Source> source =
      makeSource("127.0.0.1:" + std::to_string(port), randomName("src-"), {topic_});
  ASSERT_TRUE(source->start(handler).isOk());  // not an error: the source retries on its own
  ASSERT_TRUE(waitFor([&] { return sink_->contains("cannot connect"); }, kWait));
  EXPECT_FALSE(source->connected());

  Mosquitto::Options options;
  options.port = port;
  Mosquitto broker(options);
  ASSERT_TRUE(waitFor([&] { return source->connected(); }, kWait)) << "never connected";
  EXPECT_EQ(sink_->countContaining("cannot connect"), 1u) << "failures are rate-limited";
  publishNumbered(broker, topic_, "m", 2);
  ASSERT_TRUE(waitFor([&] { return handler.count() == 2; }, kWait));
  source->close();
}

}  // namespace
}  // namespace dataflow::mqtt::testing
