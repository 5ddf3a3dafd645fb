// Regression tests for paho's one callback thread per process: MqttSource must never block it.
// Before the hand-off queue, an MQTT source forwarding into an MQTT destination in the same
// process deadlocked (the destination's PUBACKs are read by the thread the handler blocked), and a
// blocked handler froze every other paho client in the process.
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

TEST_F(MqttDestinationTest, HandOffQueuePausesWhileTheHandlerIsBlockedAndCatchesUpAfter) {
  Mosquitto broker;
  TempDir dir;
  ClientSettings settings;
  settings.server_uri = "tcp://" + broker.address();
  settings.client_id = randomName("src-");
  settings.session_expiry_seconds = 600;
  settings.receive_maximum = 10;
  QueueLimits limits;
  limits.high_messages = 100;
  limits.low_messages = 20;
  Result<std::unique_ptr<MqttSource>> created =
      MqttSource::create(settings, {topic_}, clock_, logger_, limits);
  ASSERT_TRUE(created.isOk()) << created.status().message();
  MqttSource& source = *created.value();
  RecordingHandler handler;
  startAndWait(source, handler);
  handler.block();

  constexpr int kCount = 1000;
  std::unique_ptr<ChildProcess> publisher = publishLines(broker, topic_, kCount, dir);
  EXPECT_EQ(publisher->wait(kWait), 0) << publisher->log();  // the broker queues the rest
  ASSERT_TRUE(waitFor([&] { return source.pauseCount() >= 1; }, kWait));
  EXPECT_TRUE(source.connected()) << "a deliberate pause is not a fault";
  EXPECT_TRUE(sink_->contains("pausing"));
  // Bounded while paused: once the broker has the DISCONNECT, nothing more can reach the source,
  // so the queue has stopped growing and the broker holds the rest. It passes the high watermark
  // by what paho read before the DISCONNECT took effect (paho acknowledges on receipt, so the
  // broker's window keeps moving until then).
  ASSERT_TRUE(waitFor(
      [&] { return broker.log().find(settings.client_id + " disconnected") != std::string::npos; },
      kWait))
      << broker.log();
  EXPECT_GE(source.maxQueuedCount(), limits.high_messages);
  EXPECT_LT(source.maxQueuedCount(), size_t{kCount} / 2);
  const size_t max_while_blocked = source.maxQueuedCount();

  // Every one, in order of first arrival, across the pauses. Duplicates are allowed (at least
  // once): a message whose PUBACK was still unsent when the DISCONNECT went out is redelivered.
  auto firstArrivals = [&] {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const std::string& p : handler.payloads()) {
      if (seen.insert(p).second) out.push_back(p);
    }
    return out;
  };
  handler.unblock();
  ASSERT_TRUE(waitFor([&] { return firstArrivals().size() == kCount; }, kWait)) << handler.count();
  EXPECT_EQ(firstArrivals(), numbers(kCount));
  EXPECT_TRUE(sink_->contains("resuming"));
  std::cout << "hand-off queue (high watermark " << limits.high_messages << "): at most "
            << max_while_blocked << " while blocked, " << source.maxQueuedCount()
            << " while catching up; " << source.pauseCount() << " pause(s), "
            << handler.count() - kCount << " duplicate(s)\n";
  source.close();
}

}  // namespace
}  // namespace dataflow::mqtt::testing
