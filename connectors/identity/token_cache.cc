#include "connectors/identity/token_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/runtime/logging.h"

namespace dataflow::identity {

namespace {
constexpr int64_t kLongLivedMs = 2 * 3600 * 1000;
}  // namespace

TokenCache::TokenCache(std::unique_ptr<TokenSource> source, Options options)
    : source_(std::move(source)),
      options_(std::move(options)),
      logger_(options_.logger ? options_.logger : runtime::logger("identity")) {}

int64_t TokenCache::refreshTime(const AccessToken& token, int64_t fetched_ms) const {
  if (token.refresh_on_ms) return std::min(*token.refresh_on_ms, token.expires_on_ms);
  const int64_t lifetime = token.expires_on_ms - fetched_ms;
  if (lifetime >= kLongLivedMs) return fetched_ms + lifetime / 2;
  return token.expires_on_ms - std::min<int64_t>(options_.early_refresh.count(), lifetime / 2);
}

void TokenCache::fetchInto(const std::string& scope, Entry& entry,
                           std::unique_lock<std::mutex>& lock) {
  entry.fetching = true;
  lock.unlock();
  Result<AccessToken> fetched = source_->fetch(scope);
  lock.lock();
  entry.fetching = false;
  const int64_t at = now();
  if (fetched.isOk() && fetched.value().expires_on_ms <= at) {
    fetched = Status::retriable(source_->describe() + " returned a token that has already expired");
  }
  if (fetched.isOk()) {
    const bool first = !entry.token;
    entry.token = std::move(fetched).value();
    entry.refresh_at_ms = refreshTime(*entry.token, at);
    entry.backoff = std::chrono::milliseconds(0);
    entry.next_attempt_ms = 0;
    entry.last_error = Status::ok();
    const auto level = first ? spdlog::level::info : spdlog::level::debug;
    logger_->log(level, "got a token for {} from {} (principal {}, expires in {} s)", scope,
                 source_->describe(), entry.token->principal,
                 (entry.token->expires_on_ms - at) / 1000);
  } else {
    entry.backoff = entry.backoff.count() == 0 ? options_.retry_min
                                               : std::min(options_.retry_max, entry.backoff * 2);
    entry.next_attempt_ms = at + entry.backoff.count();
    entry.last_error = fetched.status();
    const bool keeps = valid(entry);
    logger_->warn(
        "cannot get a token for {}: {}; {}, next attempt in {} s", scope,
        fetched.status().message(),
        keeps ? "the current token stays in use until it expires" : "no valid token is held",
        entry.backoff.count() / 1000);
  }
  fetched_.notify_all();
}

Result<AccessToken> TokenCache::get(const std::string& scope) {
  std::unique_lock lock(mutex_);
  Entry& entry = entries_[scope];
  for (;;) {
    const int64_t t = now();
    if (valid(entry) && (t < entry.refresh_at_ms || entry.fetching || t < entry.next_attempt_ms)) {
      return *entry.token;
    }
    if (entry.fetching) {
      fetched_.wait(lock, [&] { return !entry.fetching; });
      continue;
    }
    if (t < entry.next_attempt_ms) return entry.last_error;
    fetchInto(scope, entry, lock);
    if (valid(entry)) return *entry.token;
    return entry.last_error;
  }
}

}  // namespace dataflow::identity
