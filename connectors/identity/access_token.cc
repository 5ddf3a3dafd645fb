#include "connectors/identity/access_token.h"

#include "engine/core/base64.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dataflow::identity {

namespace {

using nlohmann::json;

constexpr size_t kLongestErrorText = 400;

std::optional<int64_t> parseInteger(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

// A number, or a string holding a decimal integer (IMDS sends its numbers as strings).
std::optional<int64_t> numberOrNumericString(const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) return static_cast<int64_t>(value.get<double>());
  if (value.is_string()) return parseInteger(value.get_ref<const std::string&>());
  return std::nullopt;
}

std::optional<int64_t> parseRfc3339(std::string_view text) {
  const std::string s(text);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed == 0) {
    return std::nullopt;
  }
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int hours = 0;
    int minutes = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &hours, &minutes) != 2) return std::nullopt;
    offset_s = (s[i] == '+' ? 1 : -1) * (hours * 3600 + minutes * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) - offset_s;
}

std::optional<int64_t> parseRfc1123(std::string_view text) {
  const std::string s(text);
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}


}  // namespace

std::optional<int64_t> parseHttpOrIsoTime(std::string_view text) {
  if (auto t = parseRfc3339(text)) return t;
  return parseRfc1123(text);
}

Result<AccessToken> parseTokenResponse(std::string_view body, int64_t now_ms) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return Status::retriable("the token response is not a JSON object");
  auto token = doc.find("access_token");
  if (token == doc.end() || !token->is_string() || token->get_ref<const std::string&>().empty()) {
    return Status::retriable("the token response has no access_token");
  }
  AccessToken out;
  out.token = token->get<std::string>();
  if (auto in = doc.find("refresh_in"); in != doc.end()) {
    if (auto seconds = numberOrNumericString(*in)) out.refresh_on_ms = now_ms + *seconds * 1000;
  }
  std::optional<int64_t> expires_on_s;
  if (auto in = doc.find("expires_in"); in != doc.end()) {
    if (auto seconds = numberOrNumericString(*in))
      out.expires_on_ms = now_ms + *seconds * 1000;
    else
      return Status::retriable("the token response's expires_in is not a number");
  } else if (auto on = doc.find("expires_on"); on != doc.end()) {
    expires_on_s = numberOrNumericString(*on);
    if (!expires_on_s && on->is_string()) expires_on_s = parseHttpOrIsoTime(on->get<std::string>());
    if (!expires_on_s) {
      return Status::retriable(
          "the token response's expires_on is neither epoch seconds, "
          "RFC 3339 nor RFC 1123");
    }
    out.expires_on_ms = *expires_on_s * 1000;
  } else {
    return Status::retriable("the token response has neither expires_in nor expires_on");
  }
  out.principal = principalOf(out.token);
  return out;
}

std::string describeErrorBody(std::string_view body) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return "";
  auto text = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    if (it == doc.end()) return "";
    if (it->is_string()) return it->get<std::string>();
    // App Service style {"error": {"code": ..., "message": ...}}
    if (it->is_object() && it->contains("code") && (*it)["code"].is_string()) {
      return (*it)["code"].get<std::string>();
    }
    return "";
  };
  std::string error = text("error");
  const std::string description = text("error_description");
  if (error.empty())
    error = description;
  else if (!description.empty())
    error += ": " + description;
  if (error.size() > kLongestErrorText) error = error.substr(0, kLongestErrorText) + "...";
  return error;
}

std::optional<json> jwtClaims(std::string_view token) {
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  std::optional<std::string> payload = decodeBase64(token.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  json claims = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!claims.is_object()) return std::nullopt;
  return claims;
}

std::string principalOf(std::string_view token) {
  const std::optional<json> found = jwtClaims(token);
  if (!found) return std::string(kUnknownPrincipal);
  const json& claims = *found;
  for (const char* claim : {"oid", "sub"}) {
    auto it = claims.find(claim);
    if (it != claims.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      return it->get<std::string>();
    }
  }
  return std::string(kUnknownPrincipal);
}

}  // namespace dataflow::identity
