// MqttDestination against a real mosquitto: what a subscriber receives, QoS, retain, the broker's
// Maximum Packet Size, the in-flight bound, close() with messages stuck.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "connectors/mqtt/mqtt_message.h"
#include "tests/integration/mqtt/destination_fixture.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::freeTcpPort;
using dataflow::testing::Mosquitto;
using dataflow::testing::MqttTestClient;
using ::testing::HasSubstr;

// The exact size of the PUBLISH the destination sends for `m` (the codec's, as the client's).
size_t publishPacketSize(const Message& m, int qos) {
  wire::Publish publish = toPublish(Message(m), qos);
  if (qos > 0) publish.packet_id = 1;
  return wire::encodedSize(publish);
}

std::string bytes(const MQTTLenString& s) {
  return std::string(s.data, static_cast<size_t>(s.len));
}

TEST_F(MqttDestinationTest, EveryPropertyAndUserPropertyArrivesInOrderWithDuplicates) {
  Mosquitto broker;
  MqttTestClient subscriber(broker.address(), randomName("sub-"));
  subscriber.subscribe(topic_, 1);
  RecordingDelivery delivery;
  std::unique_ptr<MqttDestination> destination =
      makeDestination(broker.address(), randomName("dst-"));
  ASSERT_TRUE(destination->start(delivery).isOk());

  Message m = message(topic_, std::string("\x00bin\xff", 5), 7);
  m.mqtt.payload_format_indicator = 1;
  m.mqtt.message_expiry_interval = 3600;
  m.mqtt.content_type = "application/json";
  m.mqtt.response_topic = "replies/x";
  m.mqtt.correlation_data = std::string("\x00\x01\xfe\xff", 4);
  m.properties = {{"z", "1"}, {"a", "2"}, {"z", "3"}};
  const auto sent_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(destination->send(Message(m)).isOk());
  ASSERT_EQ(destination->flush(kWait), 0u);
  EXPECT_EQ(delivery.ok(), 1u);

  const std::vector<::mqtt::const_message_ptr> got = subscriber.receive(1, kWait);
  ASSERT_EQ(got.size(), 1u);
  const int64_t waited_s =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - sent_at).count();
  EXPECT_EQ(got[0]->get_payload(), m.payload);
  EXPECT_EQ(got[0]->get_qos(), 1);
  const MQTTProperties& props = got[0]->get_properties().c_struct();
  std::vector<Property> users;
  for (int i = 0; i < props.count; ++i) {
    const MQTTProperty& p = props.array[i];
    switch (p.identifier) {
      case MQTTPROPERTY_CODE_PAYLOAD_FORMAT_INDICATOR:
        EXPECT_EQ(p.value.byte, 1);
        break;
      case MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL:
        // Less at most the whole seconds it waited (one more for a second boundary crossed).
        EXPECT_LE(p.value.integer4, 3600u);
        EXPECT_GE(int64_t{p.value.integer4}, 3600 - waited_s - 1);
        break;
      case MQTTPROPERTY_CODE_CONTENT_TYPE:
        EXPECT_EQ(bytes(p.value.data), "application/json");
        break;
      case MQTTPROPERTY_CODE_RESPONSE_TOPIC:
        EXPECT_EQ(bytes(p.value.data), "replies/x");
        break;
      case MQTTPROPERTY_CODE_CORRELATION_DATA:
        EXPECT_EQ(bytes(p.value.data), *m.mqtt.correlation_data);
        break;
      case MQTTPROPERTY_CODE_USER_PROPERTY:
        users.push_back(Property{bytes(p.value.data), bytes(p.value.value)});
        break;
      default:
        ADD_FAILURE() << "unexpected property " << p.identifier;
    }
  }
  EXPECT_EQ(props.count, 8);
  EXPECT_EQ(users, m.properties);
  destination->close();
}

TEST_F(MqttDestinationTest, QosAndRetainAreAsGiven) {
  Mosquitto broker;
  MqttTestClient subscriber(broker.address(), randomName("sub-"));
  subscriber.subscribe(topic_ + "/#", 1);
  RecordingDelivery delivery;
  DestinationOptions at_most_once;
  at_most_once.qos = 0;
  std::unique_ptr<MqttDestination> qos0 =
      makeDestination(broker.address(), randomName("dst0-"), at_most_once);
  std::unique_ptr<MqttDestination> qos1 = makeDestination(broker.address(), randomName("dst1-"));
  ASSERT_TRUE(qos0->start(delivery).isOk());
  ASSERT_TRUE(qos1->start(delivery).isOk());

  Message kept = message(topic_ + "/kept", "r");
  kept.retain = true;
  ASSERT_TRUE(qos0->send(message(topic_ + "/q0", "zero")).isOk());
  ASSERT_TRUE(qos1->send(std::move(kept)).isOk());
  ASSERT_TRUE(qos1->send(message(topic_ + "/cleared", "c")).isOk());
  ASSERT_EQ(qos0->flush(kWait), 0u);
  ASSERT_EQ(qos1->flush(kWait), 0u);
  EXPECT_EQ(delivery.ok(), 3u);

  std::map<std::string, int> qos_by_topic;
  for (const ::mqtt::const_message_ptr& m : subscriber.receive(3, kWait)) {
    qos_by_topic[m->get_topic()] = m->get_qos();
  }
  EXPECT_EQ(qos_by_topic[topic_ + "/q0"], 0);
  EXPECT_EQ(qos_by_topic[topic_ + "/kept"], 1);
  EXPECT_EQ(qos_by_topic[topic_ + "/cleared"], 1);

  // A new subscription gets only the message sent with retain set, flagged as retained.
  MqttTestClient late(broker.address(), randomName("late-"));
  late.subscribe(topic_ + "/#", 1);
  const std::vector<::mqtt::const_message_ptr> retained =
      late.receive(2, std::chrono::milliseconds(1500));
  ASSERT_EQ(retained.size(), 1u);
  EXPECT_EQ(retained[0]->get_topic(), topic_ + "/kept");
  EXPECT_TRUE(retained[0]->is_retained());
  qos0->close();
  qos1->close();
}

TEST_F(MqttDestinationTest, MessageOverTheBrokersMaximumPacketSizeIsRefusedAndTheRestFlows) {
  constexpr size_t kMax = 300;
  Mosquitto::Options options;
  options.extra_config = "max_packet_size " + std::to_string(kMax);
  Mosquitto broker(options);
  MqttTestClient subscriber(broker.address(), randomName("sub-"));
  subscriber.subscribe(topic_, 1);
  RecordingDelivery delivery;
  std::unique_ptr<MqttDestination> destination =
      makeDestination(broker.address(), randomName("dst-"));
  ASSERT_TRUE(destination->start(delivery).isOk());
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kWait));

  // Exactly at the limit (with properties, so every part of the size counts), then one byte over.
  Message fits = message(topic_, "", 1);
  fits.mqtt.content_type = "text/plain";
  fits.properties = {{"k", "v"}};
  fits.payload.assign(kMax - publishPacketSize(fits, 1), 'x');
  while (publishPacketSize(fits, 1) > kMax) fits.payload.pop_back();  // Remaining Length grew
  ASSERT_EQ(publishPacketSize(fits, 1), kMax);
  const size_t fits_payload = fits.payload.size();
  Message over = fits;
  over.ack.sequence = 2;
  over.payload += 'y';
  ASSERT_TRUE(destination->send(std::move(fits)).isOk());
  ASSERT_TRUE(destination->send(std::move(over)).isOk());
  ASSERT_TRUE(destination->send(message(topic_, "after", 3)).isOk());
  ASSERT_EQ(destination->flush(kWait), 0u);

  EXPECT_EQ(delivery.ok(), 2u);
  ASSERT_EQ(delivery.refused(), 1u);
  EXPECT_THAT(delivery.refusals()[0], HasSubstr(std::to_string(kMax + 1) +
                                                " bytes exceeds the broker's Maximum Packet "
                                                "Size " +
                                                std::to_string(kMax)));
  const std::vector<::mqtt::const_message_ptr> got = subscriber.receive(2, kWait);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]->get_payload().size(), fits_payload);
  EXPECT_EQ(got[1]->get_payload(), "after");
  EXPECT_TRUE(destination->connected());
  EXPECT_EQ(sink_->countContaining("MQTT destination: connected to"), 1u) << "no reconnect";
  EXPECT_TRUE(sink_->contains("refused"));
  destination->close();
}

TEST_F(MqttDestinationTest, UnacknowledgedPublishesNeverExceedMaxInflightMessages) {
  Mosquitto broker;
  RecordingDelivery delivery;
  DestinationOptions options;
  options.max_inflight = 5;
  std::unique_ptr<MqttDestination> destination =
      makeDestination(broker.address(), randomName("dst-"), options);
  ASSERT_TRUE(destination->start(delivery).isOk());
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kWait));

  broker.signal(SIGSTOP);  // no PUBACK while frozen; its socket stays open
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(destination->send(message(topic_, std::to_string(i), i)).isOk());
  }
  ASSERT_TRUE(waitFor([&] { return destination->maxOnWire() == 5; }, kWait));
  EXPECT_EQ(destination->flush(std::chrono::milliseconds(300)), size_t{kCount});
  EXPECT_EQ(destination->maxOnWire(), 5u);
  broker.signal(SIGCONT);
  ASSERT_EQ(destination->flush(kWait), 0u);
  EXPECT_EQ(delivery.ok(), size_t{kCount});
  EXPECT_EQ(destination->maxOnWire(), 5u);
  destination->close();
}

TEST_F(MqttDestinationTest, BrokersReceiveMaximumLowersTheBound) {
  Mosquitto::Options broker_options;
  broker_options.extra_config = "max_inflight_messages 3";  // sent as Receive Maximum
  Mosquitto broker(broker_options);
  RecordingDelivery delivery;
  DestinationOptions options;
  options.max_inflight = 20;
  std::unique_ptr<MqttDestination> destination =
      makeDestination(broker.address(), randomName("dst-"), options);
  ASSERT_TRUE(destination->start(delivery).isOk());
  ASSERT_TRUE(waitFor([&] { return destination->connected(); }, kWait));
  broker.signal(SIGSTOP);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(destination->send(message(topic_, "m", i)).isOk());
  ASSERT_TRUE(waitFor([&] { return destination->maxOnWire() == 3; }, kWait));
  EXPECT_EQ(destination->flush(std::chrono::milliseconds(300)), 20u);  // a stopped broker acks none
  broker.signal(SIGCONT);
  ASSERT_EQ(destination->flush(kWait), 0u);
  // The most ever on the wire, over the whole run: all 20 were sent, never more than 3 at once.
  EXPECT_EQ(destination->maxOnWire(), 3u);
  destination->close();
}

TEST_F(MqttDestinationTest, CloseWithMessagesStuckReleasesABlockedSendAndReportsThemUnreported) {
  RecordingDelivery delivery;
  DestinationOptions options;
  options.max_messages = 10;
  std::unique_ptr<MqttDestination> destination =
      makeDestination("127.0.0.1:" + std::to_string(freeTcpPort()), randomName("dst-"), options);
  ASSERT_TRUE(destination->start(delivery).isOk());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(destination->send(message(topic_, "m", i)).isOk());  // kept while disconnected
  }
  EXPECT_FALSE(destination->connected());
  EXPECT_EQ(destination->flush(std::chrono::milliseconds(200)), 10u);

  // An eleventh send waits for room; close() releases it without taking the message.
  Status blocked_send;
  std::thread sender([&] { blocked_send = destination->send(message(topic_, "late", 11)); });
  destination->close();
  sender.join();
  EXPECT_TRUE(blocked_send.isRetriable()) << blocked_send.message();
  EXPECT_FALSE(destination->awaitCapacity(1));
  EXPECT_EQ(delivery.ok() + delivery.refused(), 0u);
  EXPECT_TRUE(sink_->contains("10 message(s) not yet acknowledged"));
}

TEST_F(MqttDestinationTest, InvalidTopicIsRefusedAtSend) {
  RecordingDelivery delivery;
  std::unique_ptr<MqttDestination> destination =
      makeDestination("127.0.0.1:" + std::to_string(freeTcpPort()), randomName("dst-"));
  ASSERT_TRUE(destination->start(delivery).isOk());
  for (const std::string& bad :
       std::vector<std::string>{"", "a/+/b", "a/#", std::string("a\0b", 3)}) {
    const Status status = destination->send(message(bad, "p"));
    EXPECT_TRUE(status.isFatal()) << bad;
    EXPECT_THAT(status.message(), HasSubstr("not a valid MQTT topic name"));
  }
  EXPECT_EQ(destination->flush(std::chrono::milliseconds(0)), 0u);
  destination->close();
}

}  // namespace
}  // namespace dataflow::mqtt::testing
