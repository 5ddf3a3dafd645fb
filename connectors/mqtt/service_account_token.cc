#include "connectors/mqtt/service_account_token.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "connectors/identity/access_token.h"

namespace dataflow::mqtt {

namespace {

using std::chrono::system_clock;

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
  const std::optional<nlohmann::json> claims = identity::jwtClaims(token);
  if (!claims) return std::nullopt;
  const auto exp = claims->find("exp");  // a NumericDate: a number, not a string (RFC 7519)
  if (exp == claims->end() || !exp->is_number_unsigned()) return std::nullopt;
  return system_clock::time_point(std::chrono::seconds(exp->get<int64_t>()));
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
