// The three token sources over libcurl against the in-process fake token server: request shapes
// (headers, resource versus scope, Arc's key-file challenge, the assertion re-read per request),
// response variants, server errors, and the cache refreshing against the server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "connectors/identity/arc_source.h"
#include "connectors/identity/imds_source.h"
#include "connectors/identity/token_cache.h"
#include "connectors/identity/workload_identity_source.h"
#include "tests/support/identity/fake_token_server.h"
#include "tests/support/random_name.h"

namespace dataflow::identity {
namespace {

using testing::FakeTokenServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kScope = "https://ns.servicebus.windows.net/.default";
constexpr const char* kResource = "https://ns.servicebus.windows.net";

class TokenSourcesTest : public ::testing::Test {
 protected:
  TokenSourcesTest()
      : dir_(std::filesystem::temp_directory_path() / testing::randomName("identity-test")) {
    std::filesystem::create_directories(dir_ / "tokens");
  }
  ~TokenSourcesTest() override { std::filesystem::remove_all(dir_); }

  void write(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  std::unique_ptr<TokenSource> imds(std::optional<std::string> client_id = std::nullopt) {
    ImdsSource::Options options;
    options.base_url = server_.baseUrl();
    options.client_id = client_id;
    options.http = http_;
    options.clock = &clock_;
    return std::move(ImdsSource::create(std::move(options))).value();
  }

  std::unique_ptr<TokenSource> arc() {
    AzureArcSource::Options options;
    options.identity_endpoint = server_.arcEndpoint();
    options.key_directory = (dir_ / "tokens").string();
    options.http = http_;
    options.clock = &clock_;
    return std::move(AzureArcSource::create(std::move(options))).value();
  }

  std::unique_ptr<TokenSource> workload() {
    WorkloadIdentitySource::Options options;
    options.authority_host = server_.baseUrl();
    options.tenant_id = "tenant-1";
    options.client_id = "client-1";
    options.token_file = (dir_ / "assertion").string();
    options.http = http_;
    options.clock = &clock_;
    return std::move(WorkloadIdentitySource::create(std::move(options))).value();
  }

  AccessToken fetched(TokenSource& source) {
    Result<AccessToken> t = source.fetch(kScope);
    EXPECT_TRUE(t.isOk()) << t.status().message();
    return t.isOk() ? t.value() : AccessToken{};
  }

  std::string failure(TokenSource& source) {
    Result<AccessToken> t = source.fetch(kScope);
    EXPECT_FALSE(t.isOk());
    return t.isOk() ? "" : t.status().message();
  }

  std::filesystem::path dir_;
  FakeTokenServer server_;
  SystemClock clock_;
  std::shared_ptr<HttpClient> http_ = makeCurlHttpClient();
};

TEST_F(TokenSourcesTest, ImdsSystemAssignedRequestShape) {
  std::unique_ptr<TokenSource> source = imds();
  const AccessToken t = fetched(*source);
  ASSERT_EQ(server_.issuedTokens().size(), 1u);
  EXPECT_EQ(t.token, server_.issuedTokens()[0]);
  EXPECT_EQ(t.principal, "oid-system");
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/metadata/identity/oauth2/token");
  EXPECT_EQ(requests[0].headers.at("metadata"), "true");
  EXPECT_EQ(requests[0].query.at("api-version"), "2018-02-01");
  EXPECT_EQ(requests[0].query.at("resource"), kResource);
  EXPECT_EQ(requests[0].query.count("client_id"), 0u);
  EXPECT_NEAR(static_cast<double>(t.expires_on_ms - clock_.wallNowMs()), 3'600'000.0, 5'000.0);
}

TEST_F(TokenSourcesTest, ImdsUserAssignedSendsClientId) {
  std::unique_ptr<TokenSource> source = imds("client-7");
  EXPECT_EQ(fetched(*source).principal, "oid-of-client-7");
  EXPECT_EQ(server_.requests()[0].query.at("client_id"), "client-7");
}

TEST_F(TokenSourcesTest, EveryExpiryFormatParses) {
  std::unique_ptr<TokenSource> source = imds();
  for (auto format : {FakeTokenServer::ExpiryFormat::ExpiresInNumber,
                      FakeTokenServer::ExpiryFormat::ExpiresInString,
                      FakeTokenServer::ExpiryFormat::ExpiresOnEpochString,
                      FakeTokenServer::ExpiryFormat::ExpiresOnRfc3339,
                      FakeTokenServer::ExpiryFormat::ExpiresOnRfc1123}) {
    server_.setExpiryFormat(format);
    const AccessToken t = fetched(*source);
    EXPECT_NEAR(static_cast<double>(t.expires_on_ms - clock_.wallNowMs()), 3'600'000.0, 5'000.0)
        << static_cast<int>(format);
  }
}

TEST_F(TokenSourcesTest, ArcAnswersTheKeyFileChallenge) {
  const auto key_file = dir_ / "tokens" / "machine.key";
  write(key_file, "secret-arc-key");
  server_.setArcKey(key_file.string(), "secret-arc-key");
  std::unique_ptr<TokenSource> source = arc();
  const AccessToken t = fetched(*source);
  EXPECT_EQ(t.token, server_.issuedTokens().at(0));
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].headers.count("authorization"), 0u);
  EXPECT_EQ(requests[0].query.at("resource"), kResource);
  EXPECT_EQ(requests[0].query.at("api-version"), "2020-06-01");
  EXPECT_EQ(requests[1].headers.at("authorization"), "Basic secret-arc-key");
  EXPECT_EQ(requests[1].headers.at("metadata"), "true");
}

TEST_F(TokenSourcesTest, ArcRefusesKeyFilesOutsideItsDirectoryOrTooLarge) {
  write(dir_ / "elsewhere.key", "secret-arc-key");
  server_.setArcKey((dir_ / "elsewhere.key").string(), "secret-arc-key");
  std::unique_ptr<TokenSource> source = arc();
  std::string message = failure(*source);
  EXPECT_THAT(message, HasSubstr("not a .key file in"));
  EXPECT_THAT(message, Not(HasSubstr("secret-arc-key")));
  server_.setArcKey((dir_ / "tokens" / ".." / "elsewhere.key").string(), "secret-arc-key");
  EXPECT_THAT(failure(*source), HasSubstr("not a .key file in"));
  write(dir_ / "tokens" / "machine.txt", "secret-arc-key");
  server_.setArcKey((dir_ / "tokens" / "machine.txt").string(), "secret-arc-key");
  EXPECT_THAT(failure(*source), HasSubstr("not a .key file in"));
  write(dir_ / "tokens" / "big.key", std::string(kArcMaxKeyBytes + 1, 'k'));
  server_.setArcKey((dir_ / "tokens" / "big.key").string(), "k");
  EXPECT_THAT(failure(*source), HasSubstr("larger than 4096 bytes"));
  EXPECT_TRUE(server_.issuedTokens().empty());
}

TEST_F(TokenSourcesTest, WorkloadIdentityPostsTheAssertionReadAgainEachTime) {
  write(dir_ / "assertion", "assertion-one\n");
  std::unique_ptr<TokenSource> source = workload();
  const AccessToken first = fetched(*source);
  write(dir_ / "assertion", "assertion-two");
  const AccessToken second = fetched(*source);
  EXPECT_NE(first.token, second.token);
  EXPECT_EQ(first.principal, "oid-of-client-1");
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/tenant-1/oauth2/v2.0/token");
  EXPECT_EQ(requests[0].headers.at("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(requests[0].form.at("grant_type"), "client_credentials");
  EXPECT_EQ(requests[0].form.at("client_assertion_type"),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  EXPECT_EQ(requests[0].form.at("client_id"), "client-1");
  EXPECT_EQ(requests[0].form.at("scope"), kScope);
  EXPECT_EQ(requests[0].form.at("client_assertion"), "assertion-one");
  EXPECT_EQ(requests[1].form.at("client_assertion"), "assertion-two");
}

TEST_F(TokenSourcesTest, WorkloadIdentityMissingAssertionNamesTheFileNotItsContents) {
  std::unique_ptr<TokenSource> source = workload();
  EXPECT_THAT(failure(*source), HasSubstr("AZURE_FEDERATED_TOKEN_FILE"));
  EXPECT_EQ(server_.requestCount(), 0u);
}

TEST_F(TokenSourcesTest, ServerErrorsAreReportedWithoutSecrets) {
  write(dir_ / "assertion", "assertion-secret");
  std::unique_ptr<TokenSource> source = workload();
  server_.failNext(500, "{}");
  Result<AccessToken> t = source->fetch(kScope);
  ASSERT_FALSE(t.isOk());
  EXPECT_TRUE(t.status().isRetriable());
  EXPECT_THAT(t.status().message(), HasSubstr("HTTP 500"));
  server_.failNext(400, R"({"error":"invalid_scope","error_description":"AADSTS70011: bad"})");
  t = source->fetch(kScope);
  ASSERT_FALSE(t.isOk());
  EXPECT_TRUE(t.status().isFatal());
  EXPECT_THAT(t.status().message(), HasSubstr("invalid_scope: AADSTS70011"));
  EXPECT_THAT(t.status().message(), Not(HasSubstr("assertion-secret")));
}

TEST_F(TokenSourcesTest, ImdsWithoutMetadataHeaderWouldBeRefused) {
  // Cross-check of the fake with an independent client: curl's own request without the header.
  HttpRequest request;
  request.url = server_.baseUrl() +
                "/metadata/identity/oauth2/token?api-version=2018-02-01"
                "&resource=x";
  Result<HttpResponse> response = http_->send(request);
  ASSERT_TRUE(response.isOk());
  EXPECT_EQ(response.value().status, 400);
  EXPECT_EQ(describeErrorBody(response.value().body),
            "bad_request_102: Required metadata header not specified");
}

TEST_F(TokenSourcesTest, UnreachableServerIsRetriableAndNamesTheUrlWithoutQuery) {
  ImdsSource::Options options;
  options.base_url = "http://127.0.0.1:1";
  options.http = http_;
  options.clock = &clock_;
  auto source = std::move(ImdsSource::create(std::move(options))).value();
  Result<AccessToken> t = source->fetch(kScope);
  ASSERT_FALSE(t.isOk());
  EXPECT_TRUE(t.status().isRetriable());
  EXPECT_THAT(t.status().message(),
              HasSubstr("GET http://127.0.0.1:1/metadata/identity/oauth2/token failed"));
}

TEST_F(TokenSourcesTest, LoopbackIsNeverReachedThroughAProxy) {
  ASSERT_EQ(::setenv("http_proxy", "http://127.0.0.1:1", 1), 0);
  ASSERT_EQ(::setenv("NO_PROXY", "example.com", 1), 0);
  http_ = makeCurlHttpClient();
  std::unique_ptr<TokenSource> source = imds();
  Result<AccessToken> t = source->fetch(kScope);
  ::unsetenv("http_proxy");
  ::unsetenv("NO_PROXY");
  ASSERT_TRUE(t.isOk()) << t.status().message();
  EXPECT_EQ(t.value().token, server_.issuedTokens().at(0));
}

TEST_F(TokenSourcesTest, CacheRefreshesAgainstTheServerAndSurvivesAnOutage) {
  ManualClock clock;
  clock.setWallMs(clock_.wallNowMs());
  ImdsSource::Options options;
  options.base_url = server_.baseUrl();
  options.http = http_;
  options.clock = &clock;
  TokenCache::Options cache_options;
  cache_options.clock = &clock;
  TokenCache cache(std::move(ImdsSource::create(std::move(options))).value(), cache_options);
  server_.setLifetime(std::chrono::seconds(60));
  server_.setExpiryFormat(FakeTokenServer::ExpiryFormat::ExpiresInNumber);
  const std::string first = cache.get(kScope).value().token;
  clock.advance(std::chrono::seconds(31));  // past half of the 60 s lifetime
  const std::string second = cache.get(kScope).value().token;
  EXPECT_NE(second, first);
  server_.failNext(503, R"({"error":"temporarily_unavailable"})");
  clock.advance(std::chrono::seconds(31));
  EXPECT_EQ(cache.get(kScope).value().token, second);  // kept while valid
  clock.advance(std::chrono::seconds(30));             // backoff passed, server recovered
  const std::string third = cache.get(kScope).value().token;
  EXPECT_NE(third, second);
  EXPECT_EQ(server_.issuedTokens(), (std::vector<std::string>{first, second, third}));
  EXPECT_EQ(server_.requestCount(), 4u);
}

}  // namespace
}  // namespace dataflow::identity
