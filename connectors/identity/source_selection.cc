#include "connectors/identity/source_selection.h"

#include <cstdlib>

#include "connectors/identity/imds_source.h"
#include "connectors/identity/workload_identity_source.h"

namespace dataflow::identity {

std::string ManagedIdentity::describe() const {
  if (kind == Kind::SystemAssigned) return "system-assigned";
  return "user-assigned " + client_id + " in tenant " + tenant_id;
}

Environment processEnvironment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

namespace {

using Kind = ManagedIdentity::Kind;

Result<std::unique_ptr<TokenSource>> workloadIdentity(const ManagedIdentity& identity,
                                                      const Environment& env,
                                                      const SourceDependencies& deps) {
  WorkloadIdentitySource::Options options;
  options.authority_host = env("AZURE_AUTHORITY_HOST").value_or(std::string(kDefaultAuthorityHost));
  const bool user = identity.kind == Kind::UserAssigned;
  options.tenant_id = user && !identity.tenant_id.empty() ? identity.tenant_id
                                                          : env("AZURE_TENANT_ID").value_or("");
  options.client_id = user && !identity.client_id.empty() ? identity.client_id
                                                          : env("AZURE_CLIENT_ID").value_or("");
  options.token_file = env("AZURE_FEDERATED_TOKEN_FILE").value_or("");
  options.http = deps.http;
  options.clock = deps.clock;
  return WorkloadIdentitySource::create(std::move(options));
}

}  // namespace

Result<std::unique_ptr<TokenSource>> selectTokenSource(const ManagedIdentity& identity,
                                                       const Environment& env,
                                                       const SourceDependencies& deps) {
  if (env("AZURE_FEDERATED_TOKEN_FILE")) return workloadIdentity(identity, env, deps);
  const std::optional<std::string> identity_endpoint = env("IDENTITY_ENDPOINT");
  if ((identity_endpoint && env("IDENTITY_HEADER")) || env("MSI_ENDPOINT")) {
    return Status::fatal(
        "the environment names an App Service or Cloud Shell managed identity (IDENTITY_HEADER "
        "or MSI_ENDPOINT), which the engine does not support; use workload identity "
        "(AZURE_FEDERATED_TOKEN_FILE), Azure Arc (IDENTITY_ENDPOINT and IMDS_ENDPOINT) or IMDS");
  }
  if (identity_endpoint && env("IMDS_ENDPOINT")) {
    if (identity.kind == Kind::UserAssigned) {
      return Status::fatal(
          "Azure Arc's identity endpoint (IDENTITY_ENDPOINT, IMDS_ENDPOINT) "
          "serves the machine's system-assigned identity only; " +
          identity.describe() + " needs workload identity (AZURE_FEDERATED_TOKEN_FILE)");
    }
    AzureArcSource::Options options;
    options.identity_endpoint = *identity_endpoint;
    options.key_directory = deps.arc_key_directory;
    options.http = deps.http;
    options.clock = deps.clock;
    return AzureArcSource::create(std::move(options));
  }
  ImdsSource::Options options;
  options.base_url =
      env("AZURE_POD_IDENTITY_AUTHORITY_HOST").value_or(std::string(kImdsDefaultBase));
  if (identity.kind == Kind::UserAssigned) {
    if (identity.client_id.empty()) {
      return Status::fatal("a user-assigned identity needs a clientId for IMDS");
    }
    options.client_id = identity.client_id;
  }
  options.http = deps.http;
  options.clock = deps.clock;
  return ImdsSource::create(std::move(options));
}

}  // namespace dataflow::identity
