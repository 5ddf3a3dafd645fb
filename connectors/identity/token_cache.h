// Tokens of one source, cached per scope and refreshed before they expire.
//
// Refresh rule (the Azure SDKs', see docs in the reference): a token is served until its refresh
// time, which is the server's refresh_in when given, else half its lifetime when it lives 2 h or
// more, else its expiry minus min(5 min, half its lifetime). After that the next get() fetches a
// new one; while a fetch is running, other callers keep getting the old token if it is still
// valid (else they wait for that fetch). A failed fetch keeps the old token while it is valid,
// and the next attempt waits with backoff (retry_min, doubling up to retry_max; 30 s .. 5 min in
// production). Each failed attempt is logged once as a warning; that is at most one line per
// retry_min per scope. No log line or Status ever contains a token.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "connectors/identity/token_source.h"
#include "engine/core/clock.h"

namespace dataflow::identity {

class TokenCache {
 public:
  struct Options {
    std::chrono::milliseconds retry_min{std::chrono::seconds(30)};
    std::chrono::milliseconds retry_max{std::chrono::minutes(5)};
    std::chrono::milliseconds early_refresh{std::chrono::minutes(5)};
    const Clock* clock = nullptr;            // required; outlives the cache
    std::shared_ptr<spdlog::logger> logger;  // null: runtime::logger("identity")
  };

  TokenCache(std::unique_ptr<TokenSource> source, Options options);

  // A valid token for `scope` (an Entra v2 scope ending in /.default), fetching one when none is
  // cached or the cached one is due for refresh. Blocks for at most one fetch (the HTTP client's
  // timeouts). Thread-safe. When no valid token can be had: the last fetch's Status (no new
  // fetch happens before the backoff has passed).
  Result<AccessToken> get(const std::string& scope);

  // The source's description, for logs.
  std::string describe() const { return source_->describe(); }

 private:
  struct Entry {
    std::optional<AccessToken> token;
    int64_t refresh_at_ms = 0;
    int64_t next_attempt_ms = 0;  // after a failure: no fetch before this
    std::chrono::milliseconds backoff{0};
    Status last_error;
    bool fetching = false;
  };

  int64_t now() const { return options_.clock->wallNowMs(); }
  bool valid(const Entry& entry) const { return entry.token && now() < entry.token->expires_on_ms; }
  int64_t refreshTime(const AccessToken& token, int64_t fetched_ms) const;
  // Runs one fetch with mutex_ released; records its outcome in `entry`.
  void fetchInto(const std::string& scope, Entry& entry, std::unique_lock<std::mutex>& lock);

  const std::unique_ptr<TokenSource> source_;
  const Options options_;
  const std::shared_ptr<spdlog::logger> logger_;
  std::mutex mutex_;
  std::condition_variable fetched_;
  std::map<std::string, Entry> entries_;  // guarded by mutex_; entries are never erased
};

}  // namespace dataflow::identity
