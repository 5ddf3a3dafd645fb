// The benchmark's raw-socket MQTT v5 client (bench/harness/mqtt_wire.h) against a real mosquitto,
// and against mosquitto_sub / mosquitto_pub as an independent implementation of the protocol.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/harness/mqtt_wire.h"
#include "tests/support/mosquitto.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::bench {
namespace {

using dataflow::testing::ChildProcess;
using dataflow::testing::Mosquitto;
using dataflow::testing::randomName;
using dataflow::testing::TempDir;
using dataflow::testing::waitFor;
using ::testing::HasSubstr;

constexpr std::chrono::milliseconds kWait{30000};

WireOptions options(const Mosquitto& broker, const std::string& prefix) {
  WireOptions result;
  result.port = broker.port();
  result.client_id = randomName(prefix);
  return result;
}

struct Received {
  std::string topic;
  std::string payload;
  int qos;
};

// Records what a client receives; the handler runs on the client's reader thread, the rest on the
// test thread.
class Inbox {
 public:
  explicit Inbox(MqttWireClient& client) {
    client.onMessage([this](std::string_view topic, std::string_view payload, int qos) {
      std::lock_guard lock(mutex_);
      messages_.push_back(Received{std::string(topic), std::string(payload), qos});
    });
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  std::vector<Received> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::vector<Received> messages_;  // guarded by mutex_
};

TEST(MqttWireClientTest, Qos1RoundTripWithUserPropertiesArrivesInOrder) {
  Mosquitto broker;
  MqttWireClient subscriber(options(broker, "sub-"));
  Inbox inbox(subscriber);
  subscriber.subscribe("t/#", 1);
  MqttWireClient publisher(options(broker, "pub-"));
  std::vector<UserProperty> properties;
  for (int i = 0; i < 8; ++i) properties.push_back({"k" + std::to_string(i), "value"});
  constexpr int kCount = 20'000;
  constexpr int kBatch = 100;
  std::vector<std::string> payloads;
  for (int i = 0; i < kCount; ++i) {
    payloads.push_back(std::to_string(i));
    payloads.back().resize(100, static_cast<char>('a' + i % 26));
  }

  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) {
    publisher.publish("t/load", payloads[i], 1, properties);
    if ((i + 1) % kBatch == 0) publisher.flush();
  }
  ASSERT_TRUE(publisher.waitAllAcked(kWait)) << publisher.lastError();
  ASSERT_TRUE(waitFor([&] { return inbox.size() == kCount; }, kWait)) << inbox.size();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::printf(
      "QoS 1 round trip: %d messages in %.3f s = %.0f messages/s (broker Receive "
      "Maximum %u)\n",
      kCount, elapsed.count(), kCount / elapsed.count(), publisher.serverReceiveMaximum());

  EXPECT_EQ(publisher.published(), static_cast<uint64_t>(kCount));
  EXPECT_EQ(publisher.acked(), static_cast<uint64_t>(kCount));
  EXPECT_EQ(publisher.failedAcks(), 0u);
  EXPECT_EQ(subscriber.received(), static_cast<uint64_t>(kCount));
  const std::vector<Received> got = inbox.messages();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i].payload, payloads[i]) << "message " << i;
    ASSERT_EQ(got[i].topic, "t/load");
    ASSERT_EQ(got[i].qos, 1);
  }
  EXPECT_TRUE(publisher.connected());
  EXPECT_TRUE(subscriber.connected());
}

TEST(MqttWireClientTest, Qos0RoundTripIncludingA64KiBPayload) {
  Mosquitto broker;
  MqttWireClient subscriber(options(broker, "sub-"));
  Inbox inbox(subscriber);
  subscriber.subscribe("t/#", 0);
  MqttWireClient publisher(options(broker, "pub-"));
  constexpr int kCount = 1000;
  constexpr int kLarge = 500;
  std::vector<std::string> payloads;
  for (int i = 0; i < kCount; ++i) payloads.push_back("message " + std::to_string(i));
  payloads[kLarge].clear();
  for (int i = 0; i < 65'536; ++i) payloads[kLarge].push_back(static_cast<char>(i % 251));

  for (int i = 0; i < kCount; ++i) publisher.publish("t/zero", payloads[i], 0);
  publisher.flush();
  ASSERT_TRUE(waitFor([&] { return inbox.size() == kCount; }, kWait)) << inbox.size();

  EXPECT_EQ(publisher.published(), static_cast<uint64_t>(kCount));
  EXPECT_EQ(publisher.acked(), 0u);
  const std::vector<Received> got = inbox.messages();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(got[i].payload, payloads[i]) << "message " << i;
    ASSERT_EQ(got[i].qos, 0);
  }
}

// mosquitto_sub decodes what we encode: user properties in order, duplicates kept.
TEST(MqttWireClientTest, MosquittoSubReadsOurUserProperties) {
  Mosquitto broker;
  TempDir dir;
  const std::string client_id = randomName("mosquitto-sub-");
  ChildProcess sub({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-V",
                    "5", "-i", client_id, "-t", "t/x", "-C", "1", "-F", "%t|%P|%p"},
                   dir.file("mosquitto_sub.log"));
  // mosquitto_sub's own output is block-buffered into the file; the broker logs the subscription.
  ASSERT_TRUE(
      waitFor([&] { return broker.log().find(client_id + " 0 t/x") != std::string::npos; }, kWait))
      << broker.log();
  MqttWireClient publisher(options(broker, "pub-"));
  publisher.publish("t/x", "hello wire", 1, {{"k0", "v0"}, {"dup", "1"}, {"dup", "2"}, {"e", ""}});
  ASSERT_TRUE(publisher.waitAllAcked(kWait)) << publisher.lastError();
  ASSERT_EQ(sub.wait(kWait), 0) << sub.log();
  EXPECT_THAT(sub.log(), HasSubstr("t/x|k0:v0 dup:1 dup:2 e:|hello wire\n"));
}

// We decode what mosquitto_pub encodes, skipping PUBLISH properties of several types.
TEST(MqttWireClientTest, ReceivesAMosquittoPubMessageWithProperties) {
  Mosquitto broker;
  TempDir dir;
  MqttWireClient subscriber(options(broker, "sub-"));
  Inbox inbox(subscriber);
  subscriber.subscribe("t/#", 1);
  ChildProcess pub({"mosquitto_pub",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    std::to_string(broker.port()),
                    "-V",
                    "5",
                    "-q",
                    "1",
                    "-t",
                    "t/from-pub",
                    "-m",
                    "from mosquitto_pub",
                    "-D",
                    "publish",
                    "user-property",
                    "a",
                    "b",
                    "-D",
                    "publish",
                    "content-type",
                    "text/plain",
                    "-D",
                    "publish",
                    "message-expiry-interval",
                    "600",
                    "-D",
                    "publish",
                    "correlation-data",
                    "xyz",
                    "-D",
                    "publish",
                    "payload-format-indicator",
                    "1"},
                   dir.file("mosquitto_pub.log"));
  ASSERT_EQ(pub.wait(kWait), 0) << pub.log();
  ASSERT_TRUE(waitFor([&] { return inbox.size() == 1; }, kWait));

  const std::vector<Received> got = inbox.messages();
  EXPECT_EQ(got[0].topic, "t/from-pub");
  EXPECT_EQ(got[0].payload, "from mosquitto_pub");
  EXPECT_EQ(got[0].qos, 1);
  EXPECT_EQ(subscriber.received(), 1u);
  EXPECT_TRUE(subscriber.connected()) << subscriber.lastError();
}

TEST(MqttWireClientTest, Qos1PublishBlocksAtTheInflightBound) {
  Mosquitto broker;
  MqttWireClient publisher(options(broker, "pub-"));
  publisher.setMaxInflight(5);
  broker.signal(SIGSTOP);
  std::thread thread;
  struct Resume {  // resumes the broker and joins the publisher even when an assertion fails
    Mosquitto& broker;
    std::thread& thread;
    ~Resume() {
      broker.signal(SIGCONT);
      if (thread.joinable()) thread.join();
    }
  } resume{broker, thread};
  // The sixth publish can only return once a PUBACK freed room, i.e. after the broker resumed:
  // checked by order, not by waiting to see that nothing happens.
  std::atomic<bool> resumed{false};
  std::atomic<bool> sixth_returned_after_resume{false};
  thread = std::thread([&] {
    for (int i = 0; i < 10; ++i) {
      publisher.publish("t/bound", "m" + std::to_string(i), 1);
      if (i == 5) sixth_returned_after_resume.store(resumed.load());
    }
    publisher.flush();
  });

  ASSERT_TRUE(waitFor([&] { return publisher.published() == 5; }, kWait));
  EXPECT_EQ(publisher.published() - publisher.acked(), 5u);

  resumed.store(true);
  broker.signal(SIGCONT);
  thread.join();
  EXPECT_TRUE(sixth_returned_after_resume.load()) << "a sixth QoS 1 PUBLISH went out unbounded";
  ASSERT_TRUE(publisher.waitAllAcked(kWait)) << publisher.lastError();
  EXPECT_EQ(publisher.published(), 10u);
  EXPECT_EQ(publisher.acked(), 10u);
  EXPECT_EQ(publisher.failedAcks(), 0u);  // 0x10 "no matching subscribers" is a success
}

TEST(MqttWireClientTest, RefusedConnackThrowsWithTheReasonCode) {
  Mosquitto::Options refuse;
  refuse.extra_config = "allow_anonymous false";
  Mosquitto broker(refuse);
  try {
    MqttWireClient client(options(broker, "refused-"));
    FAIL() << "connected although anonymous clients are refused";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("CONNACK refused with reason code 0x8"));
  }
}

// The broker's Server Keep Alive (10 s, the least mosquitto allows) replaces our 60 s: an idle
// client sends PINGREQ after 5 s and takes the PINGRESP.
TEST(MqttWireClientTest, PingsAtTheBrokersKeepAlive) {
  Mosquitto::Options short_keep_alive;
  short_keep_alive.extra_config = "max_keepalive 10\nlog_type debug";
  Mosquitto broker(short_keep_alive);
  const WireOptions idle = options(broker, "idle-");
  MqttWireClient client(idle);
  ASSERT_TRUE(waitFor(
      [&] {
        return broker.log().find("Sending PINGRESP to " + idle.client_id) != std::string::npos;
      },
      kWait));
  EXPECT_TRUE(client.connected()) << client.lastError();
  client.publish("t/after-idle", "still here", 1);
  EXPECT_TRUE(client.waitAllAcked(kWait)) << client.lastError();
}

TEST(MqttWireClientTest, NoticesTheBrokerGoingAway) {
  Mosquitto broker;
  MqttWireClient client(options(broker, "gone-"));
  EXPECT_TRUE(client.connected());
  broker.kill();
  ASSERT_TRUE(waitFor([&] { return !client.connected(); }, kWait));
  EXPECT_THAT(client.lastError(), HasSubstr("closed by the broker"));
  client.publish("t/after", "dropped", 1);  // dropped at once, without waiting for room
  EXPECT_EQ(client.published(), 0u);
}

}  // namespace
}  // namespace dataflow::bench
