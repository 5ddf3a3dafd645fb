// Which token source serves a managed identity, chosen from the environment in the order the
// Azure SDKs' DefaultAzureCredential / ManagedIdentityCredential use:
//   1. Workload identity when AZURE_FEDERATED_TOKEN_FILE is set. Tenant and client id: a
//      user-assigned identity's tenantId/clientId from the manifest, else (system-assigned, or an
//      empty field) AZURE_TENANT_ID / AZURE_CLIENT_ID. Authority: AZURE_AUTHORITY_HOST, default
//      https://login.microsoftonline.com/.
//   2. App Service / Cloud Shell (IDENTITY_ENDPOINT with IDENTITY_HEADER, or MSI_ENDPOINT):
//      refused with a clear error (not an edge environment; the SDKs would pick it here).
//   3. Azure Arc when IDENTITY_ENDPOINT and IMDS_ENDPOINT are both set (system-assigned only, as
//      in the C++ and Python SDKs).
//   4. IMDS otherwise, at AZURE_POD_IDENTITY_AUTHORITY_HOST when set, else 169.254.169.254; a
//      user-assigned identity is asked for by client_id.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "connectors/identity/arc_source.h"
#include "connectors/identity/token_source.h"

namespace dataflow::identity {

// The identity a manifest names.
struct ManagedIdentity {
  enum class Kind { SystemAssigned, UserAssigned };
  Kind kind = Kind::SystemAssigned;
  std::string client_id;  // user-assigned only: userAssignedManagedIdentitySettings.clientId
  std::string tenant_id;  // user-assigned only: userAssignedManagedIdentitySettings.tenantId

  // "system-assigned" or "user-assigned <client id> in tenant <tenant id>"; also the key under
  // which sharedTokenCache shares caches.
  std::string describe() const;
};

// Reads one environment variable; an unset or empty variable is nullopt.
using Environment = std::function<std::optional<std::string>(const char* name)>;

// The process environment (getenv).
Environment processEnvironment();

struct SourceDependencies {
  std::shared_ptr<HttpClient> http;                               // required
  const Clock* clock = nullptr;                                   // required; outlives the source
  std::string arc_key_directory = std::string(kArcKeyDirectory);  // tests only change it
};

// The source for `identity` in `environment` (order above), or a fatal Status saying why none
// can serve it. Reads no file and sends no request.
Result<std::unique_ptr<TokenSource>> selectTokenSource(const ManagedIdentity& identity,
                                                       const Environment& environment,
                                                       const SourceDependencies& dependencies);

}  // namespace dataflow::identity
