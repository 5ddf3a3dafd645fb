// Azure Instance Metadata Service: GET {base}/metadata/identity/oauth2/token with
// api-version=2018-02-01, resource=<scope without /.default>, client_id=<id> for a user-assigned
// identity, and the header "Metadata: true" (IMDS refuses requests without it).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "connectors/identity/token_source.h"

namespace dataflow::identity {

inline constexpr std::string_view kImdsDefaultBase = "http://169.254.169.254";
inline constexpr std::string_view kImdsHost = "169.254.169.254";

class ImdsSource final : public TokenSource {
 public:
  struct Options {
    // Scheme and host (and port) only; AZURE_POD_IDENTITY_AUTHORITY_HOST overrides it.
    std::string base_url = std::string(kImdsDefaultBase);
    std::optional<std::string> client_id;  // a user-assigned identity; absent = system-assigned
    std::shared_ptr<HttpClient> http;      // required
    const Clock* clock = nullptr;          // required; outlives the source
  };

  // Fatal when base_url is not https, loopback http or IMDS's own address.
  static Result<std::unique_ptr<TokenSource>> create(Options options);

  Result<AccessToken> fetch(const std::string& scope) override;
  std::string describe() const override;

 private:
  explicit ImdsSource(Options options) : options_(std::move(options)) {}
  const Options options_;
};

}  // namespace dataflow::identity
