// K8S-SAT: MQTT v5 CONNECT with Authentication Method "K8S-SAT" and the projected service
// account token as Authentication Data, through mqtt_auth_front.py (the AIO broker's check) in
// front of mosquitto. The token is read from <--sat-token-dir>/<audience> at every connect, and a
// rotated token (the kubelet's `..data` swap) re-authenticates the connection (AUTH) before the old
// one expires, losing nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "connectors/mqtt/mqtt_destination.h"
#include "tests/integration/mqtt/security_fixture.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/protocol_fronts.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::MqttAuthFront;
using dataflow::testing::MqttTestClient;
using dataflow::testing::numbers;
using dataflow::testing::publishLines;
using ::testing::HasSubstr;

constexpr const char* kAudience = "aio-internal";
// Long enough for a few backoff steps (100 ms doubling) after failures.
constexpr std::chrono::milliseconds kRetryWait = 40s;

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// base64url without padding, for building unsigned JWTs in the tests.
std::string base64Url(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

class MqttSatTest : public MqttSecurityTest {
 protected:
  MqttSatTest() : front_(broker_.port(), "K8S-SAT") {}

  // An endpoint "broker" for the front with ServiceAccountToken (audience aio-internal).
  config::DataflowEndpoint& satEndpoint() {
    config::DataflowEndpoint& endpoint = addEndpoint("broker", front_.address(), 1, 100);
    useServiceAccountToken(endpoint, kAudience);
    return endpoint;
  }

  size_t acceptedFor(const std::string& client_id, const std::string& label) {
    size_t n = 0;
    for (const auto& e : front_.events()) {
      n += e.event == "accepted" && e.client_id == client_id && e.label == label ? 1 : 0;
    }
    return n;
  }

  Mosquitto broker_;
  MqttAuthFront front_;
};

TEST_F(MqttSatTest, SourceAndDestinationConnectWithTheProjectedToken) {
  const std::string token = "sat-token-" + randomName("");
  projectToken(kAudience, token);
  front_.setTokens({{"first", token}});
  config::DataflowEndpoint& endpoint = satEndpoint();

  RecordingHandler handler;
  std::unique_ptr<Source> source = sourceFor(endpoint, randomName("src-"), {topic_});
  ASSERT_NE(source, nullptr);
  startAndWait(*source, handler);
  std::unique_ptr<Destination> destination = destinationFor(endpoint, randomName("dst-"));
  ASSERT_NE(destination, nullptr);
  RecordingDelivery delivery;
  ASSERT_TRUE(destination->start(delivery).isOk());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(destination->send(message(topic_, std::to_string(i), i)).isOk());
  }
  EXPECT_TRUE(waitFor([&] { return handler.count() == 20; }, kWait));
  EXPECT_TRUE(waitFor([&] { return delivery.ok() == 20; }, kWait));
  EXPECT_EQ(front_.count("accepted", "first"), 2u);
  destination->close();
  source->close();
  expectNotLogged(token);
}

TEST_F(MqttSatTest, AWrongTokenIsLoggedOnceWithoutTheTokenAndRetried) {
  const std::string token = "wrong-token-" + randomName("");
  projectToken(kAudience, token);
  front_.setTokens({{"other", "the-right-token"}});
  RecordingHandler handler;
  std::unique_ptr<Source> source = sourceFor(satEndpoint(), randomName("src-"), {topic_});
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->start(handler).isOk());
  ASSERT_TRUE(waitFor([&] { return front_.count("not_authorized") >= 2; }, kWait));
  EXPECT_EQ(sink_->countContaining("endpoint \"broker\""), 1u);
  EXPECT_TRUE(sink_->contains("Not authorized")) << ::testing::PrintToString(sink_->lines());
  EXPECT_FALSE(source->connected());
  // The next attempt reads the file again: a corrected token gets through.
  front_.setTokens({{"right", token}});
  EXPECT_TRUE(waitFor([&] { return source->connected(); }, kRetryWait));
  source->close();
  expectNotLogged(token);
}

TEST_F(MqttSatTest, AMissingTokenFileNamesThePathAndIsRetriedUntilItAppears) {
  front_.setTokens({{"late", "late-token"}});
  RecordingHandler handler;
  std::unique_ptr<Source> source = sourceFor(satEndpoint(), randomName("src-"), {topic_});
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->start(handler).isOk());
  const std::string path = mounts_.file("tokens") + "/" + kAudience;
  ASSERT_TRUE(waitFor([&] { return sink_->contains(path); }, kWait));
  EXPECT_TRUE(sink_->contains("endpoint \"broker\""));
  projectToken(kAudience, "late-token");
  EXPECT_TRUE(waitFor([&] { return source->connected(); }, kRetryWait));
  source->close();
  expectNotLogged("late-token");
}

// The kubelet rotates the token while messages flow both ways: the source and the destination
// re-authenticate (AUTH 0x19) with the new token on their live connections (the front sees both)
// before the old one expires (the front never had to cut a connection), then the old token is
// revoked. Every message arrives (at least once).
TEST_F(MqttSatTest, ARotatedTokenRenewsTheConnectionsAndNothingIsLost) {
  const std::string old_token = "old-token-" + randomName("");
  const std::string new_token = "new-token-" + randomName("");
  projectToken(kAudience, old_token);
  front_.setTokens({{"old", old_token, unixNow() + 60}});
  config::DataflowEndpoint& endpoint = satEndpoint();
  const std::string source_id = randomName("src-");
  const std::string destination_id = randomName("dst-");

  RecordingHandler handler;
  std::unique_ptr<Source> source = sourceFor(endpoint, source_id, {topic_ + "/in"});
  ASSERT_NE(source, nullptr);
  startAndWait(*source, handler);
  std::unique_ptr<Destination> destination = destinationFor(endpoint, destination_id);
  ASSERT_NE(destination, nullptr);
  RecordingDelivery delivery;
  ASSERT_TRUE(destination->start(delivery).isOk());
  MqttTestClient watcher(broker_.address(), randomName("watch-"));
  watcher.subscribe(topic_ + "/out", 1);

  constexpr int kCount = 3000;
  TempDir dir("publisher");
  auto publisher = publishLines(broker_, topic_ + "/in", kCount, dir);
  for (int i = 1; i <= kCount; ++i) {
    ASSERT_TRUE(destination->send(message(topic_ + "/out", std::to_string(i), i)).isOk());
    if (i == kCount / 3) {
      front_.setTokens({{"old", old_token, unixNow() + 60}, {"new", new_token}});
      projectToken(kAudience, new_token);
    }
  }
  ASSERT_TRUE(waitFor(
      [&] { return acceptedFor(source_id, "new") >= 1 && acceptedFor(destination_id, "new") >= 1; },
      kWait))
      << "the connections did not renew";
  front_.setTokens({{"new", new_token}});  // the old token is revoked

  auto distinct = [&] {
    const std::vector<std::string> payloads = handler.payloads();
    return std::set<std::string>(payloads.begin(), payloads.end()).size();
  };
  ASSERT_TRUE(waitFor([&] { return distinct() == size_t{kCount}; }, kRetryWait))
      << distinct() << " distinct received";
  const std::vector<std::string> out = receiveDistinct(watcher, kCount, kRetryWait);
  EXPECT_EQ(std::set<std::string>(out.begin(), out.end()).size(), size_t{kCount});
  EXPECT_TRUE(waitFor([&] { return delivery.ok() == kCount; }, kWait));
  EXPECT_EQ(delivery.reportedTwice(), 0u);
  EXPECT_EQ(front_.count("expired"), 0u);
  EXPECT_TRUE(sink_->contains("re-authenticating"));
  destination->close();
  source->close();
  expectNotLogged(old_token);
  expectNotLogged(new_token);
}

// A JWT token renews itself before its exp claim even when no rotation is seen: the front
// accepts it again before it would cut it off.
TEST_F(MqttSatTest, AJwtIsRenewedBeforeItsExpiry) {
  const int64_t exp = static_cast<int64_t>(unixNow()) + 12;
  const std::string jwt = base64Url(R"({"alg":"RS256","typ":"JWT"})") + "." +
                          base64Url(R"({"aud":["aio-internal"],"exp":)" + std::to_string(exp) +
                                    R"(,"sub":"system:serviceaccount:x:y"})") +
                          ".c2lnbmF0dXJl";
  projectToken(kAudience, jwt);
  front_.setTokens({{"jwt", jwt, static_cast<double>(exp)}});
  const std::string client_id = randomName("src-");
  RecordingHandler handler;
  std::unique_ptr<Source> source = sourceFor(satEndpoint(), client_id, {topic_});
  ASSERT_NE(source, nullptr);
  startAndWait(*source, handler);
  EXPECT_TRUE(waitFor([&] { return acceptedFor(client_id, "jwt") >= 2; }, kWait));
  EXPECT_EQ(front_.count("expired"), 0u);  // renewed while the token was still valid
  EXPECT_TRUE(sink_->contains("due for renewal"));
  source->close();
  expectNotLogged(jwt);
}

}  // namespace
}  // namespace dataflow::mqtt::testing
