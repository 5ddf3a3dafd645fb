#include "connectors/identity/scopes.h"

namespace dataflow::identity {

namespace {

using config::AuthMethod;

// The configured audience (system) or scope (user), if any.
std::optional<std::string> configuredScope(const config::Authentication& authentication) {
  if (authentication.method == AuthMethod::SystemAssignedManagedIdentity &&
      authentication.system_assigned && authentication.system_assigned->audience &&
      !authentication.system_assigned->audience->empty()) {
    return scopeOfAudience(*authentication.system_assigned->audience);
  }
  if (authentication.method == AuthMethod::UserAssignedManagedIdentity &&
      authentication.user_assigned && authentication.user_assigned->scope &&
      !authentication.user_assigned->scope->empty()) {
    return scopeOfAudience(*authentication.user_assigned->scope);
  }
  return std::nullopt;
}

std::string hostWithoutPort(std::string host) {
  host = host.substr(0, host.find(','));
  if (host.starts_with("[")) return host.substr(0, host.find(']') + 1);  // [IPv6]:port
  const size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(':') == colon) host.resize(colon);
  return host;
}

}  // namespace

std::string scopeOfAudience(const std::string& audience) {
  if (audience.ends_with("/.default")) return audience;
  return audience + "/.default";
}

bool isManagedIdentity(config::AuthMethod method) {
  return method == AuthMethod::SystemAssignedManagedIdentity ||
         method == AuthMethod::UserAssignedManagedIdentity;
}

Result<ManagedIdentity> managedIdentityOf(const config::Authentication& authentication) {
  ManagedIdentity identity;
  switch (authentication.method) {
    case AuthMethod::SystemAssignedManagedIdentity:
      return identity;
    case AuthMethod::UserAssignedManagedIdentity:
      if (!authentication.user_assigned || authentication.user_assigned->client_id.empty() ||
          authentication.user_assigned->tenant_id.empty()) {
        return Status::fatal(
            "UserAssignedManagedIdentity needs userAssignedManagedIdentitySettings "
            "with clientId and tenantId");
      }
      identity.kind = ManagedIdentity::Kind::UserAssigned;
      identity.client_id = authentication.user_assigned->client_id;
      identity.tenant_id = authentication.user_assigned->tenant_id;
      return identity;
    default:
      return Status::fatal(std::string("authentication method ") +
                           config::toString(authentication.method) + " is not a managed identity");
  }
}

Result<std::string> kafkaScope(const config::Authentication& authentication,
                               const std::string& host) {
  if (!isManagedIdentity(authentication.method)) {
    return Status::fatal(std::string("authentication method ") +
                         config::toString(authentication.method) + " is not a managed identity");
  }
  if (std::optional<std::string> scope = configuredScope(authentication)) return *scope;
  const std::string name = hostWithoutPort(host);
  if (name.empty()) return Status::fatal("kafkaSettings.host is empty: no default token scope");
  return "https://" + name + "/.default";
}

Result<std::string> eventGridScope(const config::Authentication& authentication) {
  if (!isManagedIdentity(authentication.method)) {
    return Status::fatal(std::string("authentication method ") +
                         config::toString(authentication.method) + " is not a managed identity");
  }
  return configuredScope(authentication).value_or(std::string(kEventGridScope));
}

}  // namespace dataflow::identity
