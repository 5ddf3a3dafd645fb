#include "connectors/mqtt/managed_identity_credential.h"

#include <algorithm>
#include <chrono>

#include "connectors/identity/scopes.h"
#include "connectors/identity/shared_token_cache.h"

namespace dataflow::mqtt {

namespace {

// When a connection should reconnect with a fresh token: the server's refresh_in when it gave
// one, else the cache's rule for tokens living under 2 h (expiry minus min(5 min, half the
// remaining life)); a token living longer is refreshed by the cache at half its life, so at this
// time the cache already holds the new one.
std::chrono::system_clock::time_point renewalTime(const identity::AccessToken& token) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  if (token.refresh_on_ms) return system_clock::time_point(milliseconds(*token.refresh_on_ms));
  const auto expires = system_clock::time_point(milliseconds(token.expires_on_ms));
  const auto left = duration_cast<milliseconds>(expires - now);
  return expires - std::min<milliseconds>(minutes(5), left / 2);
}

}  // namespace

ManagedIdentityCredentialSource::ManagedIdentityCredentialSource(
    std::shared_ptr<identity::TokenCache> cache, std::string scope)
    : cache_(std::move(cache)), scope_(std::move(scope)) {}

Result<Credential> ManagedIdentityCredentialSource::fetch() {
  Result<identity::AccessToken> token = cache_->get(scope_);
  if (!token.isOk()) {
    return Status::retriable("no token for " + scope_ + " from " + cache_->describe() + ": " +
                             token.status().message());
  }
  Credential credential;
  credential.method = kOAuth2JwtMethod;
  credential.renew_at = renewalTime(token.value());
  credential.data = std::move(token).value().token;
  return credential;
}

std::string ManagedIdentityCredentialSource::describe() const {
  return "managed identity token for " + scope_ + " from " + cache_->describe();
}

Result<std::shared_ptr<CredentialSource>> managedIdentityCredentials(
    const config::Authentication& authentication) {
  Result<identity::ManagedIdentity> who = identity::managedIdentityOf(authentication);
  if (!who.isOk()) return who.status();
  Result<std::string> scope = identity::eventGridScope(authentication);
  if (!scope.isOk()) return scope.status();
  Result<std::shared_ptr<identity::TokenCache>> cache = identity::sharedTokenCache(who.value());
  if (!cache.isOk()) return cache.status();
  return std::shared_ptr<CredentialSource>(std::make_shared<ManagedIdentityCredentialSource>(
      std::move(cache).value(), std::move(scope).value()));
}

}  // namespace dataflow::mqtt
