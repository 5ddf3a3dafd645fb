// TokenCache: refresh times, keeping the old token when a refresh fails, backoff between failed
// attempts, per-scope entries, and log lines without tokens. A scripted source and a manual
// clock: no network, no sleeping.
#include "connectors/identity/token_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/support/identity/fake_token_server.h"

namespace dataflow::identity {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

// Answers fetch() from a script: a lifetime (a fresh token) or a Status (a failure).
class ScriptedSource final : public TokenSource {
 public:
  explicit ScriptedSource(const ManualClock& clock) : clock_(clock) {}
  void succeed(seconds lifetime, std::optional<seconds> refresh_in = std::nullopt) {
    script_.push_back(Step{lifetime, refresh_in, Status::ok()});
  }
  void fail(Status status) { script_.push_back(Step{seconds(0), std::nullopt, status}); }

  Result<AccessToken> fetch(const std::string& scope) override {
    scopes.push_back(scope);
    if (script_.empty()) return Status::retriable("script exhausted");
    Step step = script_.front();
    script_.pop_front();
    if (!step.status.isOk()) return step.status;
    AccessToken t;
    t.expires_on_ms = clock_.wallNowMs() + step.lifetime.count() * 1000;
    t.token = testing::makeTestJwt(t.expires_on_ms / 1000, "oid", ++serial_);
    if (step.refresh_in) t.refresh_on_ms = clock_.wallNowMs() + step.refresh_in->count() * 1000;
    t.principal = principalOf(t.token);
    issued.push_back(t.token);
    return t;
  }
  std::string describe() const override { return "scripted source"; }

  std::vector<std::string> scopes;
  std::vector<std::string> issued;

 private:
  struct Step {
    seconds lifetime;
    std::optional<seconds> refresh_in;
    Status status;
  };
  const ManualClock& clock_;
  std::deque<Step> script_;
  int serial_ = 0;
};

class TokenCacheTest : public ::testing::Test {
 protected:
  TokenCacheTest() {
    auto owned = std::make_unique<ScriptedSource>(clock_);
    source_ = owned.get();
    TokenCache::Options options;
    options.clock = &clock_;
    options.logger = std::make_shared<spdlog::logger>(
        "token-cache-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
    options.logger->set_level(spdlog::level::debug);
    cache_ = std::make_unique<TokenCache>(std::move(owned), options);
  }

  std::string token(const std::string& scope = kScope) {
    Result<AccessToken> t = cache_->get(scope);
    EXPECT_TRUE(t.isOk()) << t.status().message();
    return t.isOk() ? t.value().token : "";
  }

  static constexpr const char* kScope = "https://ns.servicebus.windows.net/.default";
  ManualClock clock_;
  std::ostringstream log_;
  ScriptedSource* source_ = nullptr;
  std::unique_ptr<TokenCache> cache_;
};

TEST_F(TokenCacheTest, OneHourTokenIsServedUntilFiveMinutesBeforeExpiry) {
  source_->succeed(minutes(60));
  source_->succeed(minutes(60));
  const std::string first = token();
  clock_.advance(minutes(54));
  EXPECT_EQ(token(), first);
  EXPECT_EQ(source_->issued.size(), 1u);
  clock_.advance(minutes(1) + seconds(1));  // 4:59 left
  EXPECT_NE(token(), first);
  EXPECT_EQ(source_->issued.size(), 2u);
}

TEST_F(TokenCacheTest, LongLivedTokenRefreshesAtHalfLife) {
  source_->succeed(std::chrono::hours(24));
  source_->succeed(std::chrono::hours(24));
  const std::string first = token();
  clock_.advance(std::chrono::hours(12) - seconds(1));
  EXPECT_EQ(token(), first);
  clock_.advance(seconds(1));
  EXPECT_NE(token(), first);
}

TEST_F(TokenCacheTest, ServerRefreshInWins) {
  source_->succeed(std::chrono::hours(24), minutes(10));
  source_->succeed(std::chrono::hours(24));
  const std::string first = token();
  clock_.advance(minutes(10) - seconds(1));
  EXPECT_EQ(token(), first);
  clock_.advance(seconds(1));
  EXPECT_NE(token(), first);
}

TEST_F(TokenCacheTest, ShortTokenRefreshesAtHalfLife) {
  source_->succeed(seconds(60));
  source_->succeed(seconds(60));
  const std::string first = token();
  clock_.advance(seconds(29));
  EXPECT_EQ(token(), first);
  clock_.advance(seconds(1));
  EXPECT_NE(token(), first);
}

TEST_F(TokenCacheTest, FailedRefreshKeepsTheOldTokenThenRecovers) {
  source_->succeed(minutes(60));
  source_->fail(Status::retriable("IMDS answered HTTP 500"));
  source_->fail(Status::retriable("IMDS answered HTTP 503"));
  source_->succeed(minutes(60));
  const std::string first = token();
  clock_.advance(minutes(56));  // due for refresh, 4 min left
  EXPECT_EQ(token(), first);    // the refresh failed: the old token stays
  EXPECT_EQ(source_->scopes.size(), 2u);
  clock_.advance(seconds(29));  // within the 30 s backoff: no new attempt
  EXPECT_EQ(token(), first);
  EXPECT_EQ(source_->scopes.size(), 2u);
  clock_.advance(seconds(1));  // 30 s: second attempt fails, backoff doubles to 60 s
  EXPECT_EQ(token(), first);
  EXPECT_EQ(source_->scopes.size(), 3u);
  clock_.advance(seconds(59));
  EXPECT_EQ(token(), first);
  EXPECT_EQ(source_->scopes.size(), 3u);
  clock_.advance(seconds(1));
  const std::string second = token();
  EXPECT_NE(second, first);
  EXPECT_EQ(source_->scopes.size(), 4u);
  EXPECT_THAT(log_.str(), HasSubstr("HTTP 500"));
  EXPECT_THAT(log_.str(), HasSubstr("the current token stays in use"));
}

TEST_F(TokenCacheTest, NoValidTokenReturnsTheErrorWithoutRetryingBeforeBackoff) {
  source_->fail(Status::fatal("IMDS answered HTTP 400 (invalid_resource)"));
  source_->succeed(minutes(60));
  Result<AccessToken> t = cache_->get(kScope);
  ASSERT_FALSE(t.isOk());
  EXPECT_THAT(t.status().message(), HasSubstr("invalid_resource"));
  clock_.advance(seconds(10));
  EXPECT_FALSE(cache_->get(kScope).isOk());
  EXPECT_EQ(source_->scopes.size(), 1u);
  clock_.advance(seconds(20));
  EXPECT_FALSE(token().empty());
}

TEST_F(TokenCacheTest, ExpiredOldTokenIsNeverServed) {
  source_->succeed(minutes(60));
  source_->fail(Status::retriable("timeout"));
  token();
  clock_.advance(minutes(61));
  EXPECT_FALSE(cache_->get(kScope).isOk());
}

TEST_F(TokenCacheTest, ScopesAreCachedApart) {
  source_->succeed(minutes(60));
  source_->succeed(minutes(60));
  const std::string a = token("https://a/.default");
  const std::string b = token("https://b/.default");
  EXPECT_NE(a, b);
  EXPECT_EQ(token("https://a/.default"), a);
  EXPECT_EQ(source_->scopes,
            (std::vector<std::string>{"https://a/.default", "https://b/.default"}));
}

TEST_F(TokenCacheTest, LogLinesNeverContainATokenAndNamePrincipal) {
  source_->succeed(seconds(60));
  source_->succeed(seconds(60));
  source_->fail(Status::retriable("HTTP 500"));
  token();
  clock_.advance(seconds(30));
  token();
  clock_.advance(seconds(30));  // due again; this refresh fails
  token();
  EXPECT_THAT(log_.str(), HasSubstr("HTTP 500"));
  ASSERT_EQ(source_->issued.size(), 2u);
  for (const std::string& t : source_->issued) EXPECT_THAT(log_.str(), Not(HasSubstr(t)));
  EXPECT_THAT(log_.str(), HasSubstr("principal oid"));
}

// A source whose fetch blocks until released, to see what concurrent callers do meanwhile.
class GatedSource final : public TokenSource {
 public:
  Result<AccessToken> fetch(const std::string&) override {
    std::unique_lock lock(mutex_);
    ++fetches_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    AccessToken t;
    t.token = testing::makeTestJwt(1'900'000'000, "oid", fetches_);
    t.expires_on_ms = 1'900'000'000'000;
    t.principal = "oid";
    return t;
  }
  std::string describe() const override { return "gated source"; }
  bool waitForFetches(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return fetches_ >= n; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  int fetches() {
    std::lock_guard lock(mutex_);
    return fetches_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int fetches_ = 0;
  bool open_ = false;
};

TEST(TokenCacheConcurrencyTest, ConcurrentCallersShareOneFetch) {
  ManualClock clock;
  auto owned = std::make_unique<GatedSource>();
  GatedSource* source = owned.get();
  TokenCache::Options options;
  options.clock = &clock;
  TokenCache cache(std::move(owned), options);
  std::vector<std::string> tokens(4);
  std::vector<std::thread> callers;
  for (size_t i = 0; i < tokens.size(); ++i) {
    callers.emplace_back([&, i] { tokens[i] = cache.get("https://a/.default").value().token; });
  }
  ASSERT_TRUE(source->waitForFetches(1));
  source->open();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(source->fetches(), 1);
  for (const std::string& t : tokens) EXPECT_EQ(t, tokens[0]);
}

}  // namespace
}  // namespace dataflow::identity
