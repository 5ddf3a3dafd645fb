#include "connectors/identity/token_source.h"

namespace dataflow::identity {

std::string resourceOf(const std::string& scope) {
  constexpr std::string_view kDefault = "/.default";
  if (scope.ends_with(kDefault)) return scope.substr(0, scope.size() - kDefault.size());
  return scope;
}

Status httpFailure(const std::string& what, const HttpResponse& response) {
  std::string message = what + " answered HTTP " + std::to_string(response.status);
  if (const std::string error = describeErrorBody(response.body); !error.empty()) {
    message += " (" + error + ")";
  }
  const long s = response.status;
  if (s == 400 || s == 401 || s == 403) return Status::fatal(std::move(message));
  return Status::retriable(std::move(message));
}

Result<AccessToken> readTokenResponse(const std::string& what, const HttpResponse& response,
                                      const Clock& clock) {
  if (response.status != 200) return httpFailure(what, response);
  Result<AccessToken> token = parseTokenResponse(response.body, clock.wallNowMs());
  if (!token.isOk()) return Status::retriable(what + ": " + token.status().message());
  return token;
}

}  // namespace dataflow::identity
