// Azure Arc's identity endpoint (the himds agent of an Arc-enabled server): GET IDENTITY_ENDPOINT
// with api-version=2020-06-01, resource and "Metadata: true"; the agent answers 401 with
// "WWW-Authenticate: Basic realm=<key file>"; the key file is read (only from the agent's token
// directory, only a *.key file of at most 4096 bytes, as the Azure SDKs check) and the request
// is sent again with "Authorization: Basic <file contents>". System-assigned identity only.
#pragma once

#include <memory>
#include <string>

#include "connectors/identity/token_source.h"

namespace dataflow::identity {

inline constexpr std::string_view kArcKeyDirectory = "/var/opt/azcmagent/tokens";
inline constexpr size_t kArcMaxKeyBytes = 4096;

class AzureArcSource final : public TokenSource {
 public:
  struct Options {
    std::string identity_endpoint;  // IDENTITY_ENDPOINT: the full token URL
    // Where the key file must be. Only tests change it; the agent always uses kArcKeyDirectory.
    std::string key_directory = std::string(kArcKeyDirectory);
    std::shared_ptr<HttpClient> http;  // required
    const Clock* clock = nullptr;      // required; outlives the source
  };

  // Fatal when identity_endpoint is not https or loopback http.
  static Result<std::unique_ptr<TokenSource>> create(Options options);

  Result<AccessToken> fetch(const std::string& scope) override;
  std::string describe() const override;

 private:
  explicit AzureArcSource(Options options) : options_(std::move(options)) {}
  // The key named by the challenge's WWW-Authenticate header, or a fatal Status.
  Result<std::string> readChallengeKey(const HttpResponse& challenge) const;

  const Options options_;
};

}  // namespace dataflow::identity
