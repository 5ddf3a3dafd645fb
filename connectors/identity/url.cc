#include "connectors/identity/url.h"

#include <cctype>

namespace dataflow::identity {

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string withoutQuery(std::string_view url) {
  return std::string(url.substr(0, url.find_first_of("?#")));
}

Result<UrlParts> parseUrl(std::string_view url, std::string_view what) {
  const size_t separator = url.find("://");
  auto bad = [&](const std::string& why) {
    return Status::fatal(std::string(what) + " \"" + withoutQuery(url) + "\" " + why);
  };
  if (separator == std::string_view::npos) return bad("is not an absolute URL");
  UrlParts parts;
  for (const char c : url.substr(0, separator)) {
    parts.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (parts.scheme != "http" && parts.scheme != "https") return bad("is not an http(s) URL");
  std::string_view authority = url.substr(separator + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    return bad("must not carry user information");
  }
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated IPv6 address");
    parts.host = std::string(authority.substr(1, close - 1));
  } else {
    parts.host = std::string(authority.substr(0, authority.find(':')));
  }
  if (parts.host.empty()) return bad("has no host");
  for (char& c : parts.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return parts;
}

bool isLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Status checkEndpoint(std::string_view url, std::string_view what,
                     std::string_view also_plain_host) {
  Result<UrlParts> parts = parseUrl(url, what);
  if (!parts.isOk()) return parts.status();
  if (parts.value().scheme == "https") return Status::ok();
  const std::string& host = parts.value().host;
  if (isLoopbackHost(host) || (!also_plain_host.empty() && host == also_plain_host)) {
    return Status::ok();
  }
  return Status::fatal(std::string(what) + " \"" + withoutQuery(url) +
                       "\" must be https (plain http is accepted on loopback only)");
}

}  // namespace dataflow::identity
