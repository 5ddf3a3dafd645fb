#include "connectors/identity/workload_identity_source.h"

#include <cctype>
#include <fstream>
#include <iterator>

#include "connectors/identity/url.h"

namespace dataflow::identity {

namespace {

constexpr const char* kAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

bool validTenant(const std::string& tenant) {
  if (tenant.empty()) return false;
  for (const char c : tenant) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return true;
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

}  // namespace

Result<std::unique_ptr<TokenSource>> WorkloadIdentitySource::create(Options options) {
  if (options.authority_host.empty()) options.authority_host = std::string(kDefaultAuthorityHost);
  if (Status s = checkEndpoint(options.authority_host, "AZURE_AUTHORITY_HOST"); !s.isOk()) return s;
  if (!options.authority_host.ends_with("/")) options.authority_host += '/';
  if (!validTenant(options.tenant_id)) {
    return Status::fatal(
        "workload identity needs a tenant id of letters, digits, '-' and '.' "
        "(tenantId of userAssignedManagedIdentitySettings or AZURE_TENANT_ID)");
  }
  if (options.client_id.empty()) {
    return Status::fatal(
        "workload identity needs a client id (clientId of "
        "userAssignedManagedIdentitySettings or AZURE_CLIENT_ID)");
  }
  if (options.token_file.empty()) {
    return Status::fatal("workload identity needs AZURE_FEDERATED_TOKEN_FILE");
  }
  return std::unique_ptr<TokenSource>(new WorkloadIdentitySource(std::move(options)));
}

Result<std::string> WorkloadIdentitySource::readAssertion() const {
  std::ifstream in(options_.token_file, std::ios::binary);
  if (!in) {
    return Status::retriable("cannot read the federated token file \"" + options_.token_file +
                             "\" (AZURE_FEDERATED_TOKEN_FILE)");
  }
  std::string text;
  text.resize(kMaxAssertionBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxAssertionBytes) {
    return Status::retriable("the federated token file \"" + options_.token_file +
                             "\" is larger than " + std::to_string(kMaxAssertionBytes) + " bytes");
  }
  text = trimmed(std::move(text));
  if (text.empty()) {
    return Status::retriable("the federated token file \"" + options_.token_file + "\" is empty");
  }
  return text;
}

Result<AccessToken> WorkloadIdentitySource::fetch(const std::string& scope) {
  Result<std::string> assertion = readAssertion();
  if (!assertion.isOk()) return assertion.status();
  HttpRequest request;
  request.method = "POST";
  request.url = options_.authority_host + options_.tenant_id + "/oauth2/v2.0/token";
  request.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  request.body =
      "grant_type=client_credentials&client_assertion_type=" + percentEncode(kAssertionType) +
      "&client_id=" + percentEncode(options_.client_id) + "&scope=" + percentEncode(scope) +
      "&client_assertion=" + percentEncode(assertion.value());
  Result<HttpResponse> response = options_.http->send(request);
  if (!response.isOk()) return response.status();
  return readTokenResponse(describe(), response.value(), *options_.clock);
}

std::string WorkloadIdentitySource::describe() const {
  return "workload identity (Entra ID " + options_.authority_host + options_.tenant_id +
         ", client id " + options_.client_id + ")";
}

}  // namespace dataflow::identity
