#include "connectors/identity/shared_token_cache.h"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>

#include "engine/runtime/logging.h"

namespace dataflow::identity {

Result<std::shared_ptr<TokenCache>> sharedTokenCache(const ManagedIdentity& identity) {
  static const SystemClock clock;
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<TokenCache>> caches;  // guarded by mutex
  std::lock_guard lock(mutex);
  const std::string key = identity.describe();
  if (auto it = caches.find(key); it != caches.end()) return it->second;
  SourceDependencies dependencies;
  dependencies.http = std::shared_ptr<HttpClient>(makeCurlHttpClient());
  dependencies.clock = &clock;
  Result<std::unique_ptr<TokenSource>> source =
      selectTokenSource(identity, processEnvironment(), dependencies);
  if (!source.isOk()) return source.status();
  std::shared_ptr<spdlog::logger> logger = runtime::logger("identity");
  logger->info("managed identity {}: tokens from {}", key, source.value()->describe());
  TokenCache::Options options;
  options.clock = &clock;
  options.logger = std::move(logger);
  auto cache = std::make_shared<TokenCache>(std::move(source).value(), std::move(options));
  caches.emplace(key, cache);
  return cache;
}

}  // namespace dataflow::identity
