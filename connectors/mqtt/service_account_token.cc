#include "connectors/mqtt/service_account_token.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dataflow::mqtt {

namespace {

using std::chrono::system_clock;

// The 6-bit value of a base64url (or base64) character; -1 for padding, -2 for anything else.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return c == '=' ? -1 : -2;
}

// Decodes base64url, padded or not; nullopt on a character outside the alphabet.
std::optional<std::string> base64UrlDecode(std::string_view in) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    const int value = sextet(c);
    if (value == -1) break;
    if (value == -2) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

// The integer value of top-level member "exp" of a JSON object, by a scan that is enough for the
// claims of a service account token (a number, not a string, per RFC 7519 NumericDate).
std::optional<int64_t> expClaim(const std::string& json) {
  size_t at = json.find("\"exp\"");
  if (at == std::string::npos) return std::nullopt;
  at = json.find_first_not_of(" \t\r\n", at + 5);
  if (at == std::string::npos || json[at] != ':') return std::nullopt;
  at = json.find_first_not_of(" \t\r\n", at + 1);
  if (at == std::string::npos || json[at] < '0' || json[at] > '9') return std::nullopt;
  int64_t value = 0;
  for (; at < json.size() && json[at] >= '0' && json[at] <= '9'; ++at) {
    if (value > (INT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + (json[at] - '0');
  }
  return value;
}

// When to renew a token that expires at `exp`: `margin` before, or at half the remaining life if
// that is sooner. None when there is no expiry, or less than kMinimumLife is left (a reconnect
// takes about a second; the file watch still applies).
std::optional<system_clock::time_point> renewalTime(std::optional<system_clock::time_point> exp,
                                                    std::chrono::seconds margin) {
  constexpr std::chrono::seconds kMinimumLife{4};
  const system_clock::time_point now = system_clock::now();
  if (!exp || *exp - now < kMinimumLife) return std::nullopt;
  const system_clock::duration half = (*exp - now) / 2;
  return *exp - std::min<system_clock::duration>(margin, half);
}

}  // namespace

std::optional<system_clock::time_point> jwtExpiry(std::string_view token) {
  const size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  std::optional<std::string> payload = base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!payload) return std::nullopt;
  std::optional<int64_t> exp = expClaim(*payload);
  if (!exp) return std::nullopt;
  return system_clock::time_point(std::chrono::seconds(*exp));
}

ServiceAccountTokenSource::ServiceAccountTokenSource(std::string directory, std::string audience,
                                                     std::chrono::seconds renew_margin)
    : directory_(std::move(directory)),
      path_((std::filesystem::path(directory_) / audience).string()),
      renew_margin_(renew_margin) {}

Result<Credential> ServiceAccountTokenSource::fetch() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    return Status::retriable("cannot read the service account token file " + path_ + ": " +
                             std::strerror(errno) + " (is the token projected there? see " +
                             "--sat-token-dir)");
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string token = std::move(content).str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty()) {
    return Status::retriable("the service account token file " + path_ + " is empty");
  }
  Credential credential;
  credential.method = kK8sSatMethod;
  credential.renew_at = renewalTime(jwtExpiry(token), renew_margin_);
  credential.data = std::move(token);
  return credential;
}

Status ServiceAccountTokenSource::watch(std::function<void()> changed) {
  watch_.reset();
  if (!changed) return Status::ok();
  Result<std::unique_ptr<DirectoryWatcher>> watcher = DirectoryWatcher::start(
      {directory_}, [changed = std::move(changed)](const std::vector<std::string>&) { changed(); });
  if (!watcher.isOk()) {
    return Status::retriable("cannot watch " + directory_ +
                             " for rotated tokens: " + watcher.status().message());
  }
  watch_ = std::move(watcher).value();
  return Status::ok();
}

std::string ServiceAccountTokenSource::describe() const {
  return "service account token file " + path_;
}

}  // namespace dataflow::mqtt
