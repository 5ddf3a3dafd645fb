// Kafka SASL/OAUTHBEARER end to end inside the test process: a producer and a consumer configured
// by the engine's mapping (kafka_settings) and its refresh callback (oauthbearer.h) get their
// token from the fake token server and send it in SaslAuthenticate to a listener that captures
// the bytes. Proves the callback is served for both client kinds, that the token reaches the
// wire in RFC 7628 form, that a failed fetch recovers, and that no log line carries the token.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "connectors/identity/imds_source.h"
#include "connectors/identity/scopes.h"
#include "connectors/kafka/kafka_destination.h"
#include "connectors/kafka/kafka_source.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/identity/fake_token_server.h"
#include "tests/support/identity/sasl_capture_broker.h"
#include "tests/support/random_name.h"

namespace dataflow::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr auto kDeadline = 30s;

std::string clientInitialResponse(const std::string& token) {
  return "n,,\x01"
         "auth=Bearer " +
         token + "\x01\x01";
}

class NullDelivery final : public DeliveryHandler {
 public:
  void onDelivery(const AckToken&, const Status&) override {}
  void onExpired(const AckToken&) override {}
  void onFailure(const Status&) override {}
};

class NullMessages final : public MessageHandler {
 public:
  void onMessage(Message&&) override {}
  void onFailure(const Status&) override {}
};

class KafkaOAuthBearerTest : public ::testing::Test {
 protected:
  KafkaOAuthBearerTest() {
    settings_.host = broker_.bootstrap();
    settings_.authentication.method = config::AuthMethod::SystemAssignedManagedIdentity;
    settings_.authentication.system_assigned = config::SystemAssignedManagedIdentitySettings{};
    settings_.tls.mode = config::OperationalMode::Disabled;
    settings_.kafka_acks = config::KafkaAcks::All;
    settings_.consumer_group_id = testing::randomName("group-");
    logger_->set_level(spdlog::level::debug);
  }

  std::shared_ptr<const OAuthBearerTokens> tokens(std::chrono::milliseconds retry_min = 30s) {
    identity::ImdsSource::Options options;
    options.base_url = server_.baseUrl();
    options.http = identity::makeCurlHttpClient();
    options.clock = &clock_;
    identity::TokenCache::Options cache_options;
    cache_options.clock = &clock_;
    cache_options.logger = logger_;
    cache_options.retry_min = retry_min;
    auto cache = std::make_shared<identity::TokenCache>(
        std::move(identity::ImdsSource::create(std::move(options))).value(), cache_options);
    return std::make_shared<OAuthBearerTokens>(OAuthBearerTokens{
        cache, identity::kafkaScope(settings_.authentication, settings_.host).value()});
  }

  void expectNoTokenInLogs() {
    const auto issued = server_.issuedTokens();
    ASSERT_FALSE(issued.empty());
    for (const std::string& line : sink_->lines()) {
      for (const std::string& token : issued) EXPECT_EQ(line.find(token), std::string::npos);
    }
  }

  testing::FakeTokenServer server_;
  testing::SaslCaptureBroker broker_;
  config::KafkaSettings settings_;
  SystemClock clock_;
  std::shared_ptr<testing::CapturingSink> sink_ = std::make_shared<testing::CapturingSink>();
  std::shared_ptr<spdlog::logger> logger_ = std::make_shared<spdlog::logger>("oauth", sink_);
};

TEST_F(KafkaOAuthBearerTest, MappingSelectsSaslOAuthBearer) {
  Result<ProducerConfig> plain = producerConfig(settings_, {}, {}, "client");
  ASSERT_TRUE(plain.isOk()) << plain.status().message();
  EXPECT_EQ(*findProperty(plain.value(), "security.protocol"), "SASL_PLAINTEXT");
  EXPECT_EQ(*findProperty(plain.value(), "sasl.mechanisms"), "OAUTHBEARER");
  settings_.tls.mode = config::OperationalMode::Enabled;
  settings_.authentication.method = config::AuthMethod::UserAssignedManagedIdentity;
  settings_.authentication.user_assigned =
      config::UserAssignedManagedIdentitySettings{"client", "tenant", std::nullopt};
  Result<ConsumerConfig> tls = consumerConfig(settings_, {}, "client");
  ASSERT_TRUE(tls.isOk()) << tls.status().message();
  EXPECT_EQ(*findProperty(tls.value(), "security.protocol"), "SASL_SSL");
  EXPECT_EQ(*findProperty(tls.value(), "sasl.mechanisms"), "OAUTHBEARER");
}

TEST_F(KafkaOAuthBearerTest, ProducerSendsTheTokenFromTheTokenServer) {
  Result<ProducerConfig> config = producerConfig(settings_, {}, {}, "oauth-producer");
  ASSERT_TRUE(config.isOk()) << config.status().message();
  NullDelivery handler;
  KafkaDestination destination({std::move(config).value(), logger_, nullptr, "event-hubs", tokens()});
  ASSERT_TRUE(destination.start(handler).isOk());
  const auto auth = broker_.waitForAuthentications(1, kDeadline);
  ASSERT_FALSE(auth.empty());
  ASSERT_FALSE(server_.issuedTokens().empty());
  EXPECT_EQ(auth[0], clientInitialResponse(server_.issuedTokens()[0]));
  EXPECT_EQ(broker_.mechanisms().at(0), "OAUTHBEARER");
  const auto request = server_.requests().at(0);
  EXPECT_EQ(request.query.at("resource"), "https://127.0.0.1");
  EXPECT_EQ(request.headers.at("metadata"), "true");
  destination.close();
  expectNoTokenInLogs();
}

TEST_F(KafkaOAuthBearerTest, ConsumerSendsTheTokenFromTheTokenServer) {
  Result<ConsumerConfig> config = consumerConfig(settings_, {}, "oauth-consumer");
  ASSERT_TRUE(config.isOk()) << config.status().message();
  KafkaSource::Options options;
  options.config = std::move(config).value();
  options.topics = {testing::randomName("topic-")};
  options.logger = logger_;
  options.oauthbearer = tokens();
  KafkaSource source(std::move(options));
  NullMessages handler;
  ASSERT_TRUE(source.start(handler).isOk());
  const auto auth = broker_.waitForAuthentications(1, kDeadline);
  ASSERT_FALSE(auth.empty());
  EXPECT_EQ(auth[0], clientInitialResponse(server_.issuedTokens().at(0)));
  source.close();
  expectNoTokenInLogs();
}

TEST_F(KafkaOAuthBearerTest, FailedFetchIsReportedThenRecovers) {
  server_.failNext(500, R"({"error":"server_error"})");
  Result<ProducerConfig> config = producerConfig(settings_, {}, {}, "oauth-retry");
  ASSERT_TRUE(config.isOk());
  NullDelivery handler;
  KafkaDestination destination({std::move(config).value(), logger_, nullptr, "event-hubs", tokens(100ms)});
  ASSERT_TRUE(destination.start(handler).isOk());
  // librdkafka asks again 10 s after rd_kafka_oauthbearer_set_token_failure.
  const auto auth = broker_.waitForAuthentications(1, kDeadline);
  ASSERT_FALSE(auth.empty());
  EXPECT_EQ(auth[0], clientInitialResponse(server_.issuedTokens().at(0)));
  EXPECT_GE(server_.requestCount(), 2u);
  EXPECT_TRUE(sink_->contains("HTTP 500 (server_error)"));
  destination.close();
  expectNoTokenInLogs();
}

// The factory's path: the source is selected from the process environment.
TEST_F(KafkaOAuthBearerTest, EnvironmentSelectsTheOverriddenImds) {
  ASSERT_EQ(::setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", server_.baseUrl().c_str(), 1), 0);
  Result<std::shared_ptr<const OAuthBearerTokens>> tokens = oauthBearerTokensFor(settings_);
  ::unsetenv("AZURE_POD_IDENTITY_AUTHORITY_HOST");
  ASSERT_TRUE(tokens.isOk()) << tokens.status().message();
  ASSERT_TRUE(tokens.value());
  EXPECT_EQ(tokens.value()->cache->describe(), "IMDS at " + server_.baseUrl());
  EXPECT_EQ(tokens.value()->scope, "https://127.0.0.1/.default");
  Result<identity::AccessToken> token = tokens.value()->cache->get(tokens.value()->scope);
  ASSERT_TRUE(token.isOk()) << token.status().message();
  EXPECT_EQ(token.value().token, server_.issuedTokens().at(0));
  settings_.authentication.method = config::AuthMethod::Anonymous;
  EXPECT_FALSE(oauthBearerTokensFor(settings_).value());
}

}  // namespace
}  // namespace dataflow::kafka
