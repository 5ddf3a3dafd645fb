// A source and a destination in one process, and a source's flow control. Regression tests from
// paho's days (one callback thread per process): a source forwarding into a destination in the
// same process must not deadlock, and a blocked handler must hold back only its own source. Now
// that every client runs on the shared event loop, they check the same for the loop threads.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "connectors/mqtt/mqtt_source.h"
#include "tests/integration/mqtt/destination_fixture.h"
#include "tests/support/process.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::ChildProcess;
using dataflow::testing::Mosquitto;
using dataflow::testing::MqttTestClient;
using dataflow::testing::numbers;
using dataflow::testing::publishLines;
using dataflow::testing::TempDir;

// Like the runtime's DataflowRunner: awaitCapacity, then send; the source's ack on delivery.
class Bridge final : public MessageHandler, public DeliveryHandler {
 public:
  void connect(Source& source, Destination& destination) {
    source_ = &source;
    destination_ = &destination;
  }
  void onMessage(Message&& message) override {
    if (!destination_->awaitCapacity(message.topic.size() + message.payload.size())) return;
    const Status status = destination_->send(std::move(message));
    if (!status.isOk()) failed_.fetch_add(1);
  }
  void onDelivery(const AckToken& token, const Status& status) override {
    if (!status.isOk()) failed_.fetch_add(1);
    source_->ack(token);
  }
  void onExpired(const AckToken& token) override {
    failed_.fetch_add(1);
    source_->ack(token);
  }
  void onFailure(const Status& reason) override {
    ADD_FAILURE() << "a connector failed: " << reason.message();
    failed_.fetch_add(1);
  }
  uint64_t failed() const { return failed_.load(); }

 private:
  Source* source_ = nullptr;
  Destination* destination_ = nullptr;
  std::atomic<uint64_t> failed_{0};
};

TEST_F(MqttDestinationTest, SourceForwardingIntoDestinationInOneProcessMovesEverything) {
  Mosquitto broker_a;
  Mosquitto broker_b;
  TempDir dir;
  MqttTestClient subscriber(broker_b.address(), randomName("sub-"));
  subscriber.subscribe(topic_, 1);

  Bridge bridge;
  DestinationOptions tiny;
  tiny.max_messages = 5;  // the bridge's handler blocks in awaitCapacity most of the time
  std::unique_ptr<MqttDestination> destination =
      makeDestination(broker_b.address(), randomName("dst-"), tiny);
  std::unique_ptr<Source> source = makeSource(broker_a.address(), randomName("src-"), {topic_});
  bridge.connect(*source, *destination);
  ASSERT_TRUE(destination->start(bridge).isOk());
  startAndWait(*source, bridge);

  constexpr int kCount = 3000;
  const auto began = std::chrono::steady_clock::now();
  std::unique_ptr<ChildProcess> publisher = publishLines(broker_a, topic_, kCount, dir);
  const std::vector<std::string> got = receiveDistinct(subscriber, kCount, 30s);
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(publisher->wait(kWait), 0) << publisher->log();
  const std::set<std::string> distinct(got.begin(), got.end());
  const std::vector<std::string> expected = numbers(kCount);
  EXPECT_EQ(distinct, std::set<std::string>(expected.begin(), expected.end()));
  EXPECT_EQ(destination->flush(kWait), 0u);
  EXPECT_EQ(bridge.failed(), 0u);
  std::cout << kCount << " messages A -> B through one process in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms, "
            << got.size() - distinct.size() << " duplicate(s), hand-off queue at most "
            << dynamic_cast<MqttSource&>(*source).maxQueuedCount() << ", "
            << dynamic_cast<MqttSource&>(*source).pauseCount() << " pause(s)\n";
  source->stopReceiving();
  EXPECT_EQ(source->drainReceived(std::chrono::steady_clock::now() + kWait), 0u);
  destination->close();
  source->close();
}

TEST_F(MqttDestinationTest, BlockedHandlerDoesNotHoldBackAnotherSourceInTheProcess) {
  Mosquitto broker;
  RecordingHandler blocked, free;
  std::unique_ptr<Source> first =
      makeSource(broker.address(), randomName("src-"), {topic_ + "/blocked"});
  std::unique_ptr<Source> second =
      makeSource(broker.address(), randomName("src-"), {topic_ + "/free"});
  startAndWait(*first, blocked);
  startAndWait(*second, free);
  blocked.block();

  // Published from this process: its paho client shares the callback thread too.
  MqttTestClient publisher(broker.address(), randomName("pub-"));
  for (int i = 1; i <= 5; ++i) publisher.publish(topic_ + "/blocked", std::to_string(i), 1);
  ASSERT_TRUE(waitFor([&] { return blocked.entered() == 1; }, kWait));
  for (int i = 1; i <= 5; ++i) publisher.publish(topic_ + "/free", std::to_string(i), 1);
  ASSERT_TRUE(waitFor([&] { return free.count() == 5; }, kWait)) << free.count();
  EXPECT_EQ(blocked.count(), 0u);

  blocked.unblock();
  ASSERT_TRUE(waitFor([&] { return blocked.count() == 5; }, kWait));
  EXPECT_EQ(blocked.payloads(), numbers(5));
  first->close();
  second->close();
}

// The hand-off queue's watermarks of the two tests below, low enough to reach with 1,000 messages.
constexpr QueueLimits kWatermarks{100, 8u << 20, 20, 4u << 20};

// A source's settings for `broker`: a persistent session, Receive Maximum 10, QoS `qos`.
ClientSettings sourceSettings(const Mosquitto& broker, int qos) {
  ClientSettings settings;
  settings.server_uri = "tcp://" + broker.address();
  settings.client_id = randomName("src-");
  settings.session_expiry_seconds = 600;
  settings.receive_maximum = 10;
  settings.subscription_qos = qos;
  return settings;
}

// QoS 1: the broker's in-flight window is the backpressure. A blocked handler acknowledges
// nothing, so the broker stops at our Receive Maximum and keeps the rest; the connection stays up
// (no reconnect), and after the handler resumes everything arrives once, in order. While PUBACKs
// flow, mosquitto 2.0.11 sends well beyond the Receive Maximum (measured: 150 unacknowledged at a
// Receive Maximum of 10), so there the source's high watermark is the bound: it stops reading.
TEST_F(MqttDestinationTest, TheBrokersWindowHoldsBackWhileTheHandlerIsBlockedAndCatchesUpAfter) {
  Mosquitto broker;
  TempDir dir;
  const ClientSettings settings = sourceSettings(broker, /*qos=*/1);
  std::unique_ptr<MqttSource> created = watermarkedSource(settings, kWatermarks);
  ASSERT_NE(created, nullptr);
  MqttSource& source = *created;
  RecordingHandler handler;
  startAndWait(source, handler);
  handler.block();

  constexpr int kCount = 1000;
  std::unique_ptr<ChildProcess> publisher = publishLines(broker, topic_, kCount, dir);
  EXPECT_EQ(publisher->wait(kWait), 0) << publisher->log();  // the broker queues the rest
  // One message in the blocked handler, the rest of the window queued: 10 unacknowledged.
  ASSERT_TRUE(waitFor([&] { return source.queuedCount() == 9; }, kWait)) << source.queuedCount();
  EXPECT_LE(source.maxQueuedCount(), settings.receive_maximum);  // 10 before the first is taken
  EXPECT_EQ(source.pauseCount(), 0u);
  EXPECT_TRUE(source.connected());

  handler.unblock();
  ASSERT_TRUE(waitFor([&] { return handler.count() == kCount; }, kWait)) << handler.count();
  EXPECT_EQ(handler.payloads(), numbers(kCount));  // once each, in order: nothing was resent
  EXPECT_LE(source.maxQueuedCount(), kWatermarks.high_messages);
  EXPECT_EQ(source.health().disconnects, 0u);
  EXPECT_EQ(broker.log().find(settings.client_id + " disconnected"), std::string::npos);
  source.close();
}

// QoS 0 has no window: at the high watermark the source stops reading its socket (the broker and
// TCP hold the rest, the connection stays up) and reads again at the low one.
TEST_F(MqttDestinationTest, AtQos0TheSourceStopsReadingWhileTheHandlerIsBlocked) {
  Mosquitto broker;
  TempDir dir;
  std::unique_ptr<MqttSource> created = watermarkedSource(sourceSettings(broker, /*qos=*/0), kWatermarks);
  ASSERT_NE(created, nullptr);
  MqttSource& source = *created;
  RecordingHandler handler;
  startAndWait(source, handler);
  handler.block();

  constexpr int kCount = 1000;
  std::unique_ptr<ChildProcess> publisher = publishLines(broker, topic_, kCount, dir, 0);
  EXPECT_EQ(publisher->wait(kWait), 0) << publisher->log();
  ASSERT_TRUE(waitFor([&] { return source.pauseCount() >= 1; }, kWait));
  EXPECT_TRUE(sink_->contains("pausing"));
  EXPECT_TRUE(source.connected()) << "not reading on purpose is not a fault";
  // Bounded exactly: reading stops before the next message already read is handed over.
  EXPECT_EQ(source.maxQueuedCount(), kWatermarks.high_messages);

  handler.unblock();
  ASSERT_TRUE(waitFor([&] { return handler.count() == kCount; }, kWait)) << handler.count();
  EXPECT_EQ(handler.payloads(), numbers(kCount));
  EXPECT_TRUE(sink_->contains("resuming"));
  EXPECT_EQ(source.health().disconnects, 0u);
  source.close();
}

}  // namespace
}  // namespace dataflow::mqtt::testing
