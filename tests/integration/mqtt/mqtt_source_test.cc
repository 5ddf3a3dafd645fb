// MqttSource against a real mosquitto: what arrives in a Message, backpressure, stopping while the
// handler is blocked, shared subscriptions.
#include "connectors/mqtt/mqtt_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mqtt/properties.h>

#include <algorithm>
#include <set>

#include "tests/integration/mqtt/source_fixture.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/process.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::ChildProcess;
using dataflow::testing::Mosquitto;
using dataflow::testing::MqttTestClient;
using dataflow::testing::numbers;
using dataflow::testing::publishLines;
using dataflow::testing::TempDir;
using ::mqtt::property;

TEST_F(MqttSourceTest, EveryBuiltInAndUserPropertyArrivesInTheMessage) {
  Mosquitto broker;
  RecordingHandler handler;
  // Two filters: one SUBSCRIBE with a list of options (the single-filter path is covered by
  // RetainedMessagesAreNotReplayedOnResubscribe).
  std::unique_ptr<Source> source =
      makeSource(broker.address(), randomName("src-"), {topic_ + "/a", topic_ + "/b"});
  startAndWait(*source, handler);

  const std::string correlation("\x00\x01\xfe\xff", 4);
  MqttTestClient publisher(broker.address(), randomName("pub-"));
  const auto published_at = std::chrono::steady_clock::now();
  publisher.publish(topic_ + "/a", std::string("\x00bin\xff", 5), 1,
                    ::mqtt::properties{{property::PAYLOAD_FORMAT_INDICATOR, 0},
                                       {property::MESSAGE_EXPIRY_INTERVAL, 3600},
                                       {property::CONTENT_TYPE, "application/octet-stream"},
                                       {property::RESPONSE_TOPIC, "replies/x"},
                                       {property::CORRELATION_DATA, correlation},
                                       {property::USER_PROPERTY, "z", "1"},
                                       {property::USER_PROPERTY, "a", "2"},
                                       {property::USER_PROPERTY, "z", "3"}});
  publisher.publish(topic_ + "/b", "plain", 0, {}, /*retain=*/true);
  ASSERT_TRUE(waitFor([&] { return handler.count() == 2; }, kWait));
  const int64_t waited_s =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - published_at)
          .count();

  const std::vector<Message> got = handler.messages();
  const Message& m = got[0];
  EXPECT_EQ(m.topic, topic_ + "/a");
  EXPECT_EQ(m.payload, std::string("\x00bin\xff", 5));
  EXPECT_EQ(m.qos, 1);
  EXPECT_FALSE(m.retain);
  EXPECT_EQ(m.mqtt.payload_format_indicator, 0);
  ASSERT_TRUE(m.mqtt.message_expiry_interval.has_value());
  // The broker may subtract the whole seconds the message waited in it, and no more (one more for
  // a second boundary crossed).
  EXPECT_LE(*m.mqtt.message_expiry_interval, 3600u);
  EXPECT_GE(int64_t{*m.mqtt.message_expiry_interval}, 3600 - waited_s - 1);
  EXPECT_EQ(m.mqtt.content_type, "application/octet-stream");
  EXPECT_EQ(m.mqtt.response_topic, "replies/x");
  EXPECT_EQ(m.mqtt.correlation_data, correlation);
  EXPECT_EQ(m.properties, (std::vector<Property>{{"z", "1"}, {"a", "2"}, {"z", "3"}}));
  EXPECT_GE(handler.capacities()[0], 3u + 5u);  // spare slots for the MQTT->Kafka stage
  EXPECT_GT(m.timestamp_ms, 0);
  EXPECT_EQ(m.ack.sequence, 0u);

  const Message& plain = got[1];
  EXPECT_EQ(plain.payload, "plain");
  EXPECT_EQ(plain.qos, 0);
  EXPECT_TRUE(plain.retain);  // Retain As Published: the publisher's flag survives
  EXPECT_EQ(plain.mqtt, MqttProperties{});
  EXPECT_TRUE(plain.properties.empty());
  EXPECT_EQ(plain.ack.sequence, 1u);
  EXPECT_GE(plain.received_at, m.received_at);

  // The handler acknowledged both, as the runtime does.
  EXPECT_TRUE(
      waitFor([&] { return dynamic_cast<MqttSource&>(*source).ackedCount() == 2u; }, kWait));
  source->close();
}

TEST_F(MqttSourceTest, BlockedHandlerHoldsBackAndLosesNothing) {
  Mosquitto broker;
  TempDir dir;
  RecordingHandler handler;
  std::unique_ptr<Source> source = makeSource(broker.address(), randomName("src-"), {topic_});
  startAndWait(*source, handler);
  handler.block();

  constexpr int kCount = 300;  // more than Receive Maximum (100): the broker must queue the rest
  std::unique_ptr<ChildProcess> publisher = publishLines(broker, topic_, kCount, dir);
  EXPECT_EQ(publisher->wait(kWait), 0) << publisher->log();
  // The publisher finished while the handler held the first message: no second call started.
  ASSERT_TRUE(waitFor([&] { return handler.entered() == 1; }, kWait));
  EXPECT_EQ(handler.entered(), 1u);
  EXPECT_EQ(handler.count(), 0u);

  handler.unblock();
  ASSERT_TRUE(waitFor([&] { return handler.count() == kCount; }, kWait)) << handler.count();
  EXPECT_EQ(handler.payloads(), numbers(kCount));  // all of them, in order
  source->close();
}

TEST_F(MqttSourceTest, StopReceivingReturnsWhileTheHandlerIsBlocked) {
  Mosquitto broker;
  TempDir dir;
  RecordingHandler handler;
  const std::string client_id = randomName("src-");
  std::unique_ptr<Source> source = makeSource(broker.address(), client_id, {topic_});
  startAndWait(*source, handler);
  handler.block();
  std::unique_ptr<ChildProcess> publisher = publishLines(broker, topic_, 5, dir);
  ASSERT_EQ(publisher->wait(kWait), 0) << publisher->log();
  ASSERT_TRUE(waitFor([&] { return handler.entered() == 1; }, kWait));

  // stopReceiving() returns although the handler is still blocked: it never waits for it. (How
  // long it takes is the benchmark's business, not this test's.) The connection stays until
  // close(), so that the acknowledgements of what the handler still holds reach the broker.
  source->stopReceiving();
  EXPECT_EQ(handler.entered(), 1u);
  EXPECT_EQ(handler.count(), 0u) << "the handler was released before stopReceiving returned";

  // Once the handler returns, what the source had already read still reaches it; close()
  // disconnects, and nothing is delivered after it.
  handler.unblock();
  source->close();
  ASSERT_TRUE(waitFor(
      [&] { return broker.log().find(client_id + " disconnected") != std::string::npos; }, kWait))
      << broker.log();
  const size_t after_close = handler.count();
  EXPECT_GE(after_close, 1u);
  EXPECT_LE(after_close, 5u);
}

TEST_F(MqttSourceTest, SharedSubscriptionSplitsMessagesBetweenInstances) {
  Mosquitto broker;
  RecordingHandler first_handler, second_handler;
  const std::string shared = "$share/" + randomName("group-") + "/" + topic_ + "/#";
  std::unique_ptr<Source> first = makeSource(broker.address(), randomName("src0-"), {shared});
  std::unique_ptr<Source> second = makeSource(broker.address(), randomName("src1-"), {shared});
  startAndWait(*first, first_handler);
  startAndWait(*second, second_handler);

  constexpr int kCount = 20;
  MqttTestClient publisher(broker.address(), randomName("pub-"));
  for (int i = 1; i <= kCount; ++i) publisher.publish(topic_ + "/x", std::to_string(i), 1);
  ASSERT_TRUE(
      waitFor([&] { return first_handler.count() + second_handler.count() == kCount; }, kWait));

  std::vector<std::string> all = first_handler.payloads();
  const std::vector<std::string> other = second_handler.payloads();
  all.insert(all.end(), other.begin(), other.end());
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), size_t{kCount});  // no dups
  EXPECT_GT(first_handler.count(), 0u);
  EXPECT_GT(second_handler.count(), 0u);
  first->close();
  second->close();
}

}  // namespace
}  // namespace dataflow::mqtt::testing
