// The generic credential contract of MqttConnection (mqtt_credential.h), with a CredentialSource
// of the test's own, as the Azure token providers will plug in for Event Grid: OAUTH2-JWT in the
// CONNECT through mqtt_auth_front.py, renewal at renew_at, renewal when the source signals a
// change (and none when it signals without one), and a failing source retried with backoff.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "connectors/identity/http_client.h"
#include "connectors/identity/imds_source.h"
#include "connectors/identity/scopes.h"
#include "connectors/mqtt/managed_identity_credential.h"
#include "connectors/mqtt/mqtt_source.h"
#include "tests/integration/mqtt/security_fixture.h"
#include "tests/support/identity/fake_token_server.h"
#include "tests/support/protocol_fronts.h"

namespace dataflow::mqtt::testing {
namespace {

using dataflow::testing::MqttAuthFront;
using namespace std::chrono_literals;

// A credential the test sets; fetch() hands out the current one, or an error.
class TestCredentials final : public CredentialSource {
 public:
  void set(std::string token, std::optional<std::chrono::system_clock::time_point> renew_at = {}) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
    renew_at_ = renew_at;
    error_.clear();
  }
  void fail(std::string error) {
    std::lock_guard lock(mutex_);
    error_ = std::move(error);
  }
  // Tells the connection to look again, as a provider does after fetching a new token.
  void signal() {
    std::function<void()> changed;
    {
      std::lock_guard lock(mutex_);
      changed = changed_;
    }
    if (changed) changed();
  }
  Result<Credential> fetch() override {
    std::lock_guard lock(mutex_);
    ++fetches_;
    if (!error_.empty()) return Status::retriable(error_);
    return Credential{"OAUTH2-JWT", token_, renew_at_};
  }
  Status watch(std::function<void()> changed) override {
    std::lock_guard lock(mutex_);
    changed_ = std::move(changed);
    return Status::ok();
  }
  std::string describe() const override { return "the test's token provider"; }
  int fetches() {
    std::lock_guard lock(mutex_);
    return fetches_;
  }

 private:
  std::mutex mutex_;
  std::string token_;                                              // guarded by mutex_
  std::optional<std::chrono::system_clock::time_point> renew_at_;  // guarded by mutex_
  std::string error_;                                              // guarded by mutex_
  std::function<void()> changed_;                                  // guarded by mutex_
  int fetches_ = 0;                                                // guarded by mutex_
};

class MqttCredentialSourceTest : public MqttSecurityTest {
 protected:
  MqttCredentialSourceTest()
      : front_(broker_.port(), "OAUTH2-JWT"), credentials_(std::make_shared<TestCredentials>()) {}

  std::unique_ptr<MqttSource> source(const std::string& client_id,
                                     std::shared_ptr<CredentialSource> credentials = nullptr) {
    ClientSettings settings;
    settings.endpoint = "event-grid";
    settings.server_uri = "tcp://" + front_.address();
    settings.client_id = client_id;
    settings.session_expiry_seconds = 600;
    settings.credentials = credentials ? std::move(credentials) : credentials_;
    Result<std::unique_ptr<MqttSource>> created =
        MqttSource::create(std::move(settings), {topic_}, clock_, logger_);
    EXPECT_TRUE(created.isOk()) << created.status().message();
    return created.isOk() ? std::move(created).value() : nullptr;
  }

  size_t accepted(const std::string& label) { return front_.count("accepted", label); }

  Mosquitto broker_;
  MqttAuthFront front_;
  std::shared_ptr<TestCredentials> credentials_;
};

TEST_F(MqttCredentialSourceTest, RenewsAtRenewAtAndWhenTheSourceSignalsAChange) {
  front_.setTokens({{"a", "jwt-a"}, {"b", "jwt-b"}});
  credentials_->set("jwt-a", std::chrono::system_clock::now() + 2s);
  RecordingHandler handler;
  std::unique_ptr<MqttSource> mqtt = source(randomName("eg-"));
  ASSERT_NE(mqtt, nullptr);
  startAndWait(*mqtt, handler);
  // renew_at passed: a reconnect with a freshly fetched credential.
  ASSERT_TRUE(waitFor([&] { return accepted("a") >= 2; }, kWait));
  EXPECT_TRUE(sink_->contains("due for renewal"));

  // A signal without a change: no reconnect. Then a real change: reconnect with the new token.
  const int fetches = credentials_->fetches();
  credentials_->signal();
  ASSERT_TRUE(waitFor([&] { return credentials_->fetches() > fetches; }, kWait));
  credentials_->set("jwt-b");
  credentials_->signal();
  ASSERT_TRUE(waitFor([&] { return accepted("b") == 1; }, kWait));
  EXPECT_EQ(accepted("a"), 2u);
  EXPECT_TRUE(sink_->contains("the test's token provider changed"));
  EXPECT_TRUE(waitFor([&] { return mqtt->connected(); }, kWait));
  mqtt->close();
  expectNotLogged("jwt-a");
  expectNotLogged("jwt-b");
}

TEST_F(MqttCredentialSourceTest, AFailingSourceIsLoggedWithTheEndpointAndRetried) {
  front_.setTokens({{"a", "jwt-a"}});
  credentials_->fail("the token service is unreachable");
  RecordingHandler handler;
  std::unique_ptr<MqttSource> mqtt = source(randomName("eg-"));
  ASSERT_NE(mqtt, nullptr);
  ASSERT_TRUE(mqtt->start(handler).isOk());
  ASSERT_TRUE(waitFor([&] { return credentials_->fetches() >= 3; }, kWait));
  EXPECT_EQ(sink_->countContaining("endpoint \"event-grid\""), 1u);
  EXPECT_TRUE(sink_->contains("the token service is unreachable"));
  EXPECT_EQ(front_.events().size(), 0u);  // no CONNECT without a credential
  credentials_->set("jwt-a");
  EXPECT_TRUE(waitFor([&] { return mqtt->connected(); }, 40s));
  mqtt->close();
}

// The managed-identity credential end to end below the engine: tokens from IMDS (the fake token
// server) through the shared cache, OAUTH2-JWT checked by the auth front. The token lives 20 s, so
// the connection renews at half its life with the token the cache has refreshed meanwhile.
TEST_F(MqttCredentialSourceTest, AManagedIdentityConnectsWithItsTokenAndRenewsBeforeItExpires) {
  dataflow::testing::FakeTokenServer server;
  server.setLifetime(20s);
  identity::ImdsSource::Options imds;
  imds.base_url = server.baseUrl();
  imds.http = identity::makeCurlHttpClient();
  imds.clock = &clock_;
  identity::TokenCache::Options options;
  options.clock = &clock_;
  options.retry_min = 100ms;
  auto cache = std::make_shared<identity::TokenCache>(
      std::move(identity::ImdsSource::create(std::move(imds))).value(), options);
  const std::string scope(identity::kEventGridScope);
  // The front accepts what the token server has issued so far (first the token fetched here).
  ASSERT_TRUE(cache->get(scope).isOk());
  auto accept_issued = [&] {
    std::vector<MqttAuthFront::Token> tokens;
    for (const std::string& t : server.issuedTokens()) {
      tokens.push_back({"t" + std::to_string(tokens.size() + 1), t});
    }
    front_.setTokens(tokens);
  };
  accept_issued();
  RecordingHandler handler;
  std::unique_ptr<MqttSource> mqtt =
      source(randomName("eg-"), std::make_shared<ManagedIdentityCredentialSource>(cache, scope));
  ASSERT_NE(mqtt, nullptr);
  startAndWait(*mqtt, handler);
  EXPECT_EQ(accepted("t1"), 1u);
  // At half the token's life the connection asks again; the cache fetches a second token.
  ASSERT_TRUE(waitFor([&] { return server.issuedTokens().size() >= 2; }, 40s));
  accept_issued();
  ASSERT_TRUE(waitFor([&] { return accepted("t2") >= 1; }, 40s)) << sink_->lines().size();
  EXPECT_TRUE(waitFor([&] { return mqtt->connected(); }, kWait));
  EXPECT_EQ(server.requests().at(0).query.at("resource"), "https://eventgrid.azure.net");
  mqtt->close();
  for (const std::string& t : server.issuedTokens()) expectNotLogged(t);
}

}  // namespace
}  // namespace dataflow::mqtt::testing
