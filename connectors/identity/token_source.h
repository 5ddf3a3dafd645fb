// A source of access tokens: one way of asking Azure for one (IMDS, Azure Arc, workload
// identity). Sources hold no cache; TokenCache (token_cache.h) caches and refreshes.
#pragma once

#include <memory>
#include <string>

#include "connectors/identity/access_token.h"
#include "connectors/identity/http_client.h"
#include "engine/core/clock.h"
#include "engine/core/status.h"

namespace dataflow::identity {

class TokenSource {
 public:
  virtual ~TokenSource() = default;

  // A new token for `scope`, an Entra v2 scope ("https://host/.default"); sources that take a
  // resource (IMDS, Arc) strip the "/.default". Blocks for at most the HTTP client's timeouts
  // (twice for Arc's challenge). Thread-safe. Errors name the endpoint and the server's
  // error/error_description, never a token, key or assertion; retriable unless retrying cannot
  // help (a refused key file, for instance).
  virtual Result<AccessToken> fetch(const std::string& scope) = 0;

  // What this source is and where it asks, for logs ("IMDS at http://169.254.169.254").
  virtual std::string describe() const = 0;
};

// The resource IMDS and Arc take for `scope`: the scope without a trailing "/.default".
std::string resourceOf(const std::string& scope);

// Shared by the sources: a Status for a non-200 response of `what`, naming the HTTP status and
// the OAuth error fields. 400/401/403 are fatal (the identity or its configuration is wrong),
// everything else retriable. TokenCache retries both with backoff; fatal only changes the wording.
Status httpFailure(const std::string& what, const HttpResponse& response);

// Reads a token response of `what` at `clock`'s wall time.
Result<AccessToken> readTokenResponse(const std::string& what, const HttpResponse& response,
                                      const Clock& clock);

}  // namespace dataflow::identity
