// The token scope each endpoint asks for, from its authentication settings (AIO's defaults).
#pragma once

#include <string>

#include "connectors/identity/source_selection.h"
#include "engine/config/manifest.h"
#include "engine/core/status.h"

namespace dataflow::identity {

inline constexpr std::string_view kEventGridScope = "https://eventgrid.azure.net/.default";

// `audience` as an Entra v2 scope: unchanged when it ends in "/.default", else with "/.default"
// appended ("https://eventgrid.azure.net/" -> "https://eventgrid.azure.net//.default", the form
// Entra expects for an application ID URI that ends in a slash).
std::string scopeOfAudience(const std::string& audience);

// Whether `method` is one of the two managed-identity methods.
bool isManagedIdentity(config::AuthMethod method);

// The identity the settings name; fatal unless the method is a managed identity with its
// settings object (user-assigned: clientId and tenantId).
Result<ManagedIdentity> managedIdentityOf(const config::Authentication& authentication);

// Kafka (Event Hubs): systemAssignedManagedIdentitySettings.audience or
// userAssignedManagedIdentitySettings.scope when set (as a scope, see scopeOfAudience), else
// "https://<first host of kafkaSettings.host without its port>/.default".
Result<std::string> kafkaScope(const config::Authentication& authentication,
                               const std::string& host);

// Event Grid MQTT: the audience / scope when set, else https://eventgrid.azure.net/.default.
Result<std::string> eventGridScope(const config::Authentication& authentication);

}  // namespace dataflow::identity
