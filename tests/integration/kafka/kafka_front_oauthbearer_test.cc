// The TLS/SASL front's OAUTHBEARER side, checked with a plain librdkafka client (no engine code)
// that hands it tokens through rd_kafka_oauthbearer_set_token, the way a token provider does: an
// accepted token logs in, an unknown one is refused through RFC 7628's failure round trip, and a
// session whose token expired is closed at the next request (Kafka's behaviour for clients that
// do not re-authenticate, such as librdkafka 2.0.2), after which the old token is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/kafka/kafka_security_front.h"
#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A producer that logs in with OAUTHBEARER using `token` (valid for librdkafka for a minute).
class OAuthClient {
 public:
  OAuthClient(const std::string& bootstrap, std::string token) : token_(std::move(token)) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{"bootstrap.servers", bootstrap},
                                                          {"security.protocol", "SASL_PLAINTEXT"},
                                                          {"sasl.mechanisms", "OAUTHBEARER"},
                                                          {"reconnect.backoff.ms", "100"}}) {
      EXPECT_EQ(rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error),
                RD_KAFKA_CONF_OK)
          << error;
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, &OAuthClient::refresh);
    rd_kafka_conf_set_error_cb(conf, &OAuthClient::onError);
    client_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error));
    EXPECT_TRUE(client_) << error;
    rd_kafka_poll(client_.get(), 0);  // serves the first token refresh
  }

  // The brokers' "host:port" from a metadata request, or the error's name.
  std::vector<std::string> brokers(std::string* error_name) {
    rd_kafka_poll(client_.get(), 0);
    const rd_kafka_metadata_t* metadata = nullptr;
    const rd_kafka_resp_err_t error = rd_kafka_metadata(client_.get(), 0, nullptr, &metadata, 5000);
    std::vector<std::string> out;
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      *error_name = rd_kafka_err2name(error);
      return out;
    }
    for (int i = 0; i < metadata->broker_cnt; ++i) {
      out.push_back(std::string(metadata->brokers[i].host) + ":" +
                    std::to_string(metadata->brokers[i].port));
    }
    rd_kafka_metadata_destroy(metadata);
    return out;
  }

  std::vector<std::string> errors() {
    rd_kafka_poll(client_.get(), 0);
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  static void refresh(rd_kafka_t* client, const char*, void* opaque) {
    auto* self = static_cast<OAuthClient*>(opaque);
    char error[256];
    const int64_t lifetime_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    (std::chrono::system_clock::now() + 60s).time_since_epoch())
                                    .count();
    if (rd_kafka_oauthbearer_set_token(client, self->token_.c_str(), lifetime_ms, "test-principal",
                                       nullptr, 0, error,
                                       sizeof error) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_oauthbearer_set_token_failure(client, error);
    }
  }
  static void onError(rd_kafka_t*, int error, const char* reason, void* opaque) {
    auto* self = static_cast<OAuthClient*>(opaque);
    std::lock_guard lock(self->mutex_);
    self->errors_.push_back(
        std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error))) + ": " + reason);
  }

  struct Deleter {
    void operator()(rd_kafka_t* client) const { rd_kafka_destroy(client); }
  };
  const std::string token_;
  std::mutex mutex_;
  std::vector<std::string> errors_;  // guarded by mutex_
  std::unique_ptr<rd_kafka_t, Deleter> client_;
};

class KafkaFrontOAuthBearerTest : public ::testing::Test {
 protected:
  // The front re-reads the file at every login.
  void writeTokens(const std::string& tokens) {
    std::ofstream(dir_.file("tokens.txt"), std::ios::trunc) << tokens;
  }
  void startFront(const std::string& tokens) {
    writeTokens(tokens);
    KafkaFrontOptions options;
    options.sasl_mechanisms = {"OAUTHBEARER"};
    options.oauthbearer_tokens_file = dir_.file("tokens.txt");
    front_ = std::make_unique<KafkaSecurityFront>(kafka_.bootstrapServers(), options, dir_.path());
  }
  void TearDown() override {
    if (HasFailure() && front_) std::cerr << "front:\n" << front_->log();
  }

  TempDir dir_{"kafka-front-oauth"};
  MockKafka kafka_{1};
  std::unique_ptr<KafkaSecurityFront> front_;
};

TEST_F(KafkaFrontOAuthBearerTest, AnAcceptedTokenLogsInAndTheClientStaysOnTheFront) {
  startFront("other-token\naccepted-token.payload_1\n");
  OAuthClient client(front_->firstBroker(), "accepted-token.payload_1");
  std::string error;
  EXPECT_EQ(client.brokers(&error), std::vector<std::string>{front_->firstBroker()}) << error;
  ASSERT_EQ(front_->events("authenticated").size(), 1u);
  EXPECT_EQ(front_->events("authenticated").front().at("mechanism"), "OAUTHBEARER");
  EXPECT_THAT(front_->log(), ::testing::Not(HasSubstr("accepted-token.payload_1")));
}

TEST_F(KafkaFrontOAuthBearerTest, AnUnknownTokenIsRefusedWithError58) {
  startFront("accepted-token.payload_1\n");
  OAuthClient client(front_->firstBroker(), "unknown-token.payload_2");
  std::string error;
  EXPECT_TRUE(client.brokers(&error).empty());
  ASSERT_TRUE(waitFor([&] { return !client.errors().empty(); }, 10s));
  EXPECT_THAT(
      client.errors().front(),
      HasSubstr("_AUTHENTICATION: " + std::string("sasl_plaintext://") + front_->firstBroker() +
                "/bootstrap: SASL authentication error: Authentication failed: the "
                "OAUTHBEARER token is not accepted"));
  EXPECT_FALSE(front_->events("auth_failed").empty());
}

TEST_F(KafkaFrontOAuthBearerTest, AnExpiredSessionIsClosedAndItsTokenRefused) {
  startFront("");
  const std::time_t expiry = std::time(nullptr) + 3;
  writeTokens("expiring-token.payload_3 " + std::to_string(expiry) + "\n");
  OAuthClient client(front_->firstBroker(), "expiring-token.payload_3");
  std::string error;
  ASSERT_EQ(client.brokers(&error).size(), 1u) << error;
  ASSERT_TRUE(waitFor([&] { return std::time(nullptr) > expiry; }, 10s));
  EXPECT_TRUE(client.brokers(&error).empty());  // the session is closed, the token refused
  EXPECT_EQ(front_->events("session_expired").size(), 1u);
  ASSERT_TRUE(waitFor([&] { return !front_->events("auth_failed").empty(); }, 10s));
  EXPECT_THAT(front_->events("auth_failed").front().at("reason").get<std::string>(),
              HasSubstr("expired"));
}

}  // namespace
}  // namespace dataflow::testing
