// The OAUTH2-JWT credential of Azure Event Grid's MQTT broker: Authentication Method
// "OAUTH2-JWT" and, as Authentication Data, a Microsoft Entra token of the endpoint's managed
// identity for scope https://eventgrid.azure.net/.default (or the manifest's audience / scope),
// from the process's shared token cache (connectors/identity). The cache refreshes tokens before
// they expire; each credential asks to be renewed at the time the cache would refresh it, so the
// connection reconnects with the new token before the old one expires (paho cannot send AUTH).
#pragma once

#include <memory>
#include <string>

#include "connectors/identity/token_cache.h"
#include "connectors/mqtt/mqtt_credential.h"
#include "engine/config/manifest.h"

namespace dataflow::mqtt {

inline constexpr const char* kOAuth2JwtMethod = "OAUTH2-JWT";

class ManagedIdentityCredentialSource final : public CredentialSource {
 public:
  ManagedIdentityCredentialSource(std::shared_ptr<identity::TokenCache> cache, std::string scope);

  // Retriable when no token can be had (the cache has logged why, without the token).
  Result<Credential> fetch() override;
  std::string describe() const override;

 private:
  const std::shared_ptr<identity::TokenCache> cache_;
  const std::string scope_;
};

// The credential source for an MQTT endpoint authenticated by a managed identity: the shared
// cache of the identity the settings name (its source chosen from the environment) and the Event
// Grid scope. Fatal when the settings are incomplete or no token source applies.
Result<std::shared_ptr<CredentialSource>> managedIdentityCredentials(
    const config::Authentication& authentication);

}  // namespace dataflow::mqtt
