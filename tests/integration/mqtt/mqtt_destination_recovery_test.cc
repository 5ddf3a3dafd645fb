// MqttDestination recovering: a broker restart mid-stream (at least once, each message reported
// once), a broker that lost its session, a broker that appears only after the destination started.
#include <gtest/gtest.h>

#include <set>

#include "tests/integration/mqtt/destination_fixture.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::freeTcpPort;
using dataflow::testing::Mosquitto;
using dataflow::testing::MqttTestClient;

// Sends `count` QoS 1 messages numbered from 1 while `broker` is restarted once, after about a
// third were acknowledged; returns what a persistent-session subscriber then receives.
std::vector<std::string> streamAcrossRestart(Mosquitto& broker, MqttDestination& destination,
                                             RecordingDelivery& delivery, const std::string& topic,
                                             int count) {
  const std::string subscriber_id = randomName("sub-");
  {
    // Creates the session and its subscription; the broker queues for it from here on.
    MqttTestClient subscriber(broker.address(), subscriber_id, /*clean_start=*/false, 600);
    subscriber.subscribe(topic, 1);
  }
  int sent = 0;
  for (; sent < count / 3; ++sent) {
    EXPECT_TRUE(destination.send(message(topic, std::to_string(sent + 1), sent + 1)).isOk());
  }
  EXPECT_TRUE(waitFor([&] { return delivery.ok() >= static_cast<size_t>(count / 6); }, kWait));
  broker.stop();  // mid-stream: some messages are on the wire, some wait
  for (; sent < 2 * count / 3; ++sent) {
    EXPECT_TRUE(destination.send(message(topic, std::to_string(sent + 1), sent + 1)).isOk());
  }
  broker.start();
  for (; sent < count; ++sent) {
    EXPECT_TRUE(destination.send(message(topic, std::to_string(sent + 1), sent + 1)).isOk());
  }
  EXPECT_EQ(destination.flush(std::chrono::milliseconds(30'000)), 0u);
  MqttTestClient subscriber(broker.address(), subscriber_id, /*clean_start=*/false, 600);
  return receiveDistinct(subscriber, static_cast<size_t>(count), kWait);
}

std::set<std::string> numbers(int count) {
  std::set<std::string> out;
  for (int i = 1; i <= count; ++i) out.insert(std::to_string(i));
  return out;
}

TEST_F(MqttDestinationTest, BrokerRestartMidStreamLosesNothing) {
  Mosquitto::Options options;
  options.persistence = true;
  Mosquitto broker(options);
  RecordingDelivery delivery;
  std::unique_ptr<MqttDestination> destination =
      makeDestination(broker.address(), randomName("dst-"));
  ASSERT_TRUE(destination->start(delivery).isOk());

  constexpr int kCount = 3000;
  const std::vector<std::string> got =
      streamAcrossRestart(broker, *destination, delivery, topic_, kCount);
  const std::set<std::string> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct, numbers(kCount));
  EXPECT_EQ(delivery.ok(), size_t{kCount});
  EXPECT_EQ(delivery.reportedTwice(), 0u);
  EXPECT_TRUE(sink_->contains("session resumed"));
  std::cout << "restart with a kept session: " << got.size() - distinct.size() << " duplicate(s), "
            << destination->republishedCount() << " republished by the destination\n";
  destination->close();
}

TEST_F(MqttDestinationTest, BrokerThatLostTheSessionGetsTheUnacknowledgedAgain) {
  Mosquitto broker;  // no persistence: the restart forgets the destination's session
  RecordingDelivery delivery;
  DestinationOptions options;
  options.max_inflight = 20;
  std::unique_ptr<MqttDestination> destination =
      makeDestination(broker.address(), randomName("dst-"), options);
  ASSERT_TRUE(destination->start(delivery).isOk());
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kWait));

  broker.signal(SIGSTOP);  // 20 publishes go on the wire and stay unacknowledged
  for (int i = 1; i <= 50; ++i) {
    // Retained, one topic each, so that a subscriber arriving after the destination still sees
    // every one.
    Message m = message(topic_ + "/" + std::to_string(i), std::to_string(i), i);
    m.retain = true;
    ASSERT_TRUE(destination->send(std::move(m)).isOk());
  }
  ASSERT_TRUE(waitFor([&] { return destination->maxOnWire() == 20; }, kWait));
  broker.kill();  // SIGKILL works on a stopped process
  broker.start();
  ASSERT_EQ(destination->flush(kWait), 0u);
  MqttTestClient subscriber(broker.address(), randomName("sub-"));
  subscriber.subscribe(topic_ + "/#", 1);
  EXPECT_EQ(delivery.ok(), 50u);
  EXPECT_EQ(delivery.reportedTwice(), 0u);
  const std::vector<std::string> got = receiveDistinct(subscriber, 50, kWait);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), numbers(50));
  std::cout << "restart without a session: " << destination->republishedCount()
            << " republished by the destination\n";
  destination->close();
}

TEST_F(MqttDestinationTest, BrokerDownAtStartThenUpGetsEverything) {
  const int port = freeTcpPort();
  RecordingDelivery delivery;
  std::unique_ptr<MqttDestination> destination =
      makeDestination("127.0.0.1:" + std::to_string(port), randomName("dst-"));
  ASSERT_TRUE(destination->start(delivery).isOk());
  for (int i = 1; i <= 3; ++i) {
    Message m = message(topic_ + "/" + std::to_string(i), std::to_string(i), i);
    m.retain = true;  // so that a subscriber arriving later still sees each one
    ASSERT_TRUE(destination->send(std::move(m)).isOk());
  }
  ASSERT_TRUE(waitFor([&] { return sink_->contains("cannot connect"); }, kWait));
  EXPECT_EQ(destination->flush(std::chrono::milliseconds(0)), 3u);

  Mosquitto::Options options;
  options.port = port;
  Mosquitto broker(options);
  ASSERT_EQ(destination->flush(kWait), 0u);
  EXPECT_EQ(delivery.ok(), 3u);
  MqttTestClient subscriber(broker.address(), randomName("sub-"));
  subscriber.subscribe(topic_ + "/#", 1);
  EXPECT_EQ(subscriber.receive(3, kWait).size(), 3u);
  destination->close();
}

}  // namespace
}  // namespace dataflow::mqtt::testing
