#include "connectors/identity/imds_source.h"

#include "connectors/identity/url.h"

namespace dataflow::identity {

namespace {
constexpr const char* kPath = "/metadata/identity/oauth2/token";
constexpr const char* kApiVersion = "2018-02-01";
}  // namespace

Result<std::unique_ptr<TokenSource>> ImdsSource::create(Options options) {
  while (options.base_url.ends_with("/")) options.base_url.pop_back();
  if (Status s = checkEndpoint(options.base_url, "the IMDS address", kImdsHost); !s.isOk()) {
    return s;
  }
  return std::unique_ptr<TokenSource>(new ImdsSource(std::move(options)));
}

Result<AccessToken> ImdsSource::fetch(const std::string& scope) {
  HttpRequest request;
  request.url = options_.base_url + kPath + "?api-version=" + kApiVersion +
                "&resource=" + percentEncode(resourceOf(scope));
  if (options_.client_id) request.url += "&client_id=" + percentEncode(*options_.client_id);
  request.headers.push_back({"Metadata", "true"});
  Result<HttpResponse> response = options_.http->send(request);
  if (!response.isOk()) return response.status();
  return readTokenResponse(describe(), response.value(), *options_.clock);
}

std::string ImdsSource::describe() const {
  std::string text = "IMDS at " + options_.base_url;
  if (options_.client_id) text += " (client id " + *options_.client_id + ")";
  return text;
}

}  // namespace dataflow::identity
