// Parsing of IMDS, Arc and Entra v2 token responses (reference item 6) and JWT principals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "connectors/identity/access_token.h"
#include "tests/support/identity/fake_token_server.h"

namespace dataflow::identity {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNowMs = 1'700'000'000'000;
const std::string kToken = testing::makeTestJwt(1'700'003'600, "object-1", 1);

AccessToken parsed(const std::string& body) {
  Result<AccessToken> token = parseTokenResponse(body, kNowMs);
  EXPECT_TRUE(token.isOk()) << token.status().message();
  return token.isOk() ? token.value() : AccessToken{};
}

std::string failure(const std::string& body) {
  Result<AccessToken> token = parseTokenResponse(body, kNowMs);
  EXPECT_FALSE(token.isOk());
  return token.isOk() ? "" : token.status().message();
}

TEST(TokenResponseTest, EntraExpiresInNumber) {
  AccessToken t =
      parsed(R"({"token_type":"Bearer","expires_in":3599,"access_token":")" + kToken + R"("})");
  EXPECT_EQ(t.token, kToken);
  EXPECT_EQ(t.expires_on_ms, kNowMs + 3'599'000);
  EXPECT_FALSE(t.refresh_on_ms);
  EXPECT_EQ(t.principal, "object-1");
}

TEST(TokenResponseTest, ImdsStringsPreferExpiresIn) {
  AccessToken t =
      parsed(R"({"access_token":")" + kToken +
             R"(","expires_in":"3599","expires_on":"1506484173","token_type":"Bearer"})");
  EXPECT_EQ(t.expires_on_ms, kNowMs + 3'599'000);
}

TEST(TokenResponseTest, ExpiresOnForms) {
  const std::string prefix = R"({"access_token":")" + kToken + R"(","expires_on":)";
  EXPECT_EQ(parsed(prefix + "1700003600}").expires_on_ms, 1'700'003'600'000);
  EXPECT_EQ(parsed(prefix + R"("1700003600"})").expires_on_ms, 1'700'003'600'000);
  EXPECT_EQ(parsed(prefix + R"("2023-11-14T23:13:20Z"})").expires_on_ms, 1'700'003'600'000);
  EXPECT_EQ(parsed(prefix + R"("2023-11-14T23:13:20.1234567+00:00"})").expires_on_ms,
            1'700'003'600'000);
  EXPECT_EQ(parsed(prefix + R"("2023-11-15T00:13:20+01:00"})").expires_on_ms, 1'700'003'600'000);
  EXPECT_EQ(parsed(prefix + R"("Tue, 14 Nov 2023 23:13:20 GMT"})").expires_on_ms,
            1'700'003'600'000);
}

TEST(TokenResponseTest, RefreshInIsKept) {
  AccessToken t =
      parsed(R"({"access_token":")" + kToken + R"(","expires_in":86400,"refresh_in":"43200"})");
  ASSERT_TRUE(t.refresh_on_ms);
  EXPECT_EQ(*t.refresh_on_ms, kNowMs + 43'200'000);
}

TEST(TokenResponseTest, ErrorsNeverQuoteTheBody) {
  EXPECT_THAT(failure("not json"), HasSubstr("not a JSON object"));
  EXPECT_THAT(failure(R"({"expires_in":10})"), HasSubstr("no access_token"));
  const std::string no_expiry = failure(R"({"access_token":")" + kToken + R"("})");
  EXPECT_THAT(no_expiry, HasSubstr("neither expires_in nor expires_on"));
  EXPECT_THAT(no_expiry, Not(HasSubstr(kToken)));
  const std::string bad_time =
      failure(R"({"access_token":")" + kToken + R"(","expires_on":"tomorrow"})");
  EXPECT_THAT(bad_time, HasSubstr("expires_on"));
  EXPECT_THAT(bad_time, Not(HasSubstr(kToken)));
  EXPECT_THAT(failure(R"({"access_token":")" + kToken + R"(","expires_in":"soon"})"),
              Not(HasSubstr(kToken)));
}

TEST(TokenResponseTest, PrincipalIsOidElseSubNeverEmpty) {
  EXPECT_EQ(principalOf(kToken), "object-1");
  // {"sub":"subject-2"} as base64url
  EXPECT_EQ(principalOf("e30.eyJzdWIiOiJzdWJqZWN0LTIifQ.c2ln"), "subject-2");
  EXPECT_EQ(principalOf("e30.e30.c2ln"), kUnknownPrincipal);
  EXPECT_EQ(principalOf("opaque-token"), kUnknownPrincipal);
  EXPECT_EQ(principalOf("a.!!!.b"), kUnknownPrincipal);
}

TEST(TokenResponseTest, ErrorBodies) {
  EXPECT_EQ(describeErrorBody(R"({"error":"invalid_client","error_description":"AADSTS7000215"})"),
            "invalid_client: AADSTS7000215");
  EXPECT_EQ(describeErrorBody(R"({"error":"bad_request_102"})"), "bad_request_102");
  EXPECT_EQ(describeErrorBody("<html>"), "");
}

TEST(TokenResponseTest, TestTokensUseOnlyKafkaTokenCharacters) {
  for (const char c : kToken) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
        << c;
  }
}

}  // namespace
}  // namespace dataflow::identity
