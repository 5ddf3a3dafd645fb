// Azure workload identity (federated credential): POST {authority}/{tenant}/oauth2/v2.0/token
// with grant_type=client_credentials, client_id, scope (kept with its /.default),
// client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and
// client_assertion = the projected service-account token, read again from its file for every
// request (the kubelet rotates it).
#pragma once

#include <memory>
#include <string>

#include "connectors/identity/token_source.h"

namespace dataflow::identity {

inline constexpr std::string_view kDefaultAuthorityHost = "https://login.microsoftonline.com/";
inline constexpr size_t kMaxAssertionBytes = 64 * 1024;

class WorkloadIdentitySource final : public TokenSource {
 public:
  struct Options {
    std::string authority_host = std::string(kDefaultAuthorityHost);  // AZURE_AUTHORITY_HOST
    std::string tenant_id;                                            // required
    std::string client_id;                                            // required
    std::string token_file;                                           // AZURE_FEDERATED_TOKEN_FILE
    std::shared_ptr<HttpClient> http;                                 // required
    const Clock* clock = nullptr;                                     // required; outlives this
  };

  // Fatal when the authority is not https (loopback http allowed), or a tenant id, client id or
  // token file is missing, or the tenant id has characters other than [A-Za-z0-9.-].
  static Result<std::unique_ptr<TokenSource>> create(Options options);

  Result<AccessToken> fetch(const std::string& scope) override;
  std::string describe() const override;

 private:
  explicit WorkloadIdentitySource(Options options) : options_(std::move(options)) {}
  Result<std::string> readAssertion() const;

  const Options options_;
};

}  // namespace dataflow::identity
