// Small URL helpers the token sources share: percent-encoding, scheme and host, and the rule
// which endpoints may be plain HTTP.
#pragma once

#include <string>
#include <string_view>

#include "engine/core/status.h"

namespace dataflow::identity {

// RFC 3986 percent-encoding of everything but unreserved characters (for query strings and
// application/x-www-form-urlencoded bodies).
std::string percentEncode(std::string_view text);

// `url` without its query and fragment: what error texts may show.
std::string withoutQuery(std::string_view url);

struct UrlParts {
  std::string scheme;  // lower case: "http" or "https"
  std::string host;    // without brackets for IPv6 literals
};

// The scheme and host of an absolute http(s) URL, or a fatal Status naming `what`.
Result<UrlParts> parseUrl(std::string_view url, std::string_view what);

// localhost, 127.0.0.0/8 or ::1.
bool isLoopbackHost(std::string_view host);

// Fatal unless `url` is https, or plain http on a loopback host, or plain http on
// `also_plain_host` when given (IMDS's fixed link-local address). `what` names the setting.
Status checkEndpoint(std::string_view url, std::string_view what,
                     std::string_view also_plain_host = {});

}  // namespace dataflow::identity
