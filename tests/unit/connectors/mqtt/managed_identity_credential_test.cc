// ManagedIdentityCredentialSource without a network: the Event Grid credential is OAUTH2-JWT with
// the cache's token, renewed before the token expires; a failure is retriable and never shows a
// token.
#include "connectors/mqtt/managed_identity_credential.h"

#include <gmock/gmock.h>

#include "engine/core/clock.h"

namespace dataflow::mqtt {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Hands out "token-<n>" living `lifetime`, or fails with `failure` when set.
class CountingSource final : public identity::TokenSource {
 public:
  Result<identity::AccessToken> fetch(const std::string& scope) override {
    scopes.push_back(scope);
    if (!failure.isOk()) return failure;
    identity::AccessToken token;
    token.token = "token-" + std::to_string(scopes.size());
    token.expires_on_ms = nowMs() + lifetime.count();
    token.principal = "oid";
    return token;
  }
  std::string describe() const override { return "counting source"; }

  std::chrono::milliseconds lifetime = 1h;
  Status failure;
  std::vector<std::string> scopes;
};

class ManagedIdentityCredentialTest : public ::testing::Test {
 protected:
  ManagedIdentityCredentialTest() {
    auto owned = std::make_unique<CountingSource>();
    source_ = owned.get();
    identity::TokenCache::Options options;
    options.clock = &clock_;
    cache_ = std::make_shared<identity::TokenCache>(std::move(owned), options);
  }
  SystemClock clock_;
  CountingSource* source_ = nullptr;
  std::shared_ptr<identity::TokenCache> cache_;
};

TEST_F(ManagedIdentityCredentialTest, AnOAuth2JwtCredentialRenewedFiveMinutesBeforeExpiry) {
  ManagedIdentityCredentialSource credentials(cache_, "https://eventgrid.azure.net/.default");
  const int64_t before = nowMs();
  Result<Credential> credential = credentials.fetch();
  ASSERT_TRUE(credential.isOk()) << credential.status().message();
  EXPECT_EQ(credential.value().method, "OAUTH2-JWT");
  EXPECT_EQ(credential.value().data, "token-1");
  EXPECT_EQ(source_->scopes, std::vector<std::string>{"https://eventgrid.azure.net/.default"});
  ASSERT_TRUE(credential.value().renew_at.has_value());
  const int64_t renew_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               credential.value().renew_at->time_since_epoch())
                               .count();
  EXPECT_GE(renew_ms, before + 55 * 60'000);
  EXPECT_LE(renew_ms, nowMs() + 55 * 60'000 + 1000);
  // A second CONNECT before the renewal time reuses the cached token.
  EXPECT_EQ(credentials.fetch().value().data, "token-1");
}

TEST_F(ManagedIdentityCredentialTest, AShortLivedTokenIsRenewedAtHalfItsLife) {
  source_->lifetime = 4min;
  ManagedIdentityCredentialSource credentials(cache_, "s/.default");
  const int64_t before = nowMs();
  Result<Credential> credential = credentials.fetch();
  ASSERT_TRUE(credential.isOk());
  const int64_t renew_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               credential.value().renew_at->time_since_epoch())
                               .count();
  EXPECT_GE(renew_ms, before + 2 * 60'000 - 1000);
  EXPECT_LE(renew_ms, nowMs() + 2 * 60'000 + 1000);
}

TEST_F(ManagedIdentityCredentialTest, NoTokenIsRetriableAndNamesTheScopeAndSource) {
  source_->failure = Status::retriable("IMDS answered 500");
  ManagedIdentityCredentialSource credentials(cache_, "https://eventgrid.azure.net/.default");
  Result<Credential> credential = credentials.fetch();
  ASSERT_FALSE(credential.isOk());
  EXPECT_TRUE(credential.status().isRetriable());
  EXPECT_THAT(credential.status().message(), HasSubstr("https://eventgrid.azure.net/.default"));
  EXPECT_THAT(credential.status().message(), HasSubstr("counting source"));
  EXPECT_THAT(credentials.describe(), Not(HasSubstr("token-")));
}

}  // namespace
}  // namespace dataflow::mqtt
