// The K8S-SAT credential of the AIO MQTT broker: Authentication Method "K8S-SAT" and, as
// Authentication Data, the Kubernetes service account token projected for one audience into
// <token dir>/<audience> (`dataflow run --sat-token-dir`, by default /var/run/secrets/tokens,
// where the Helm chart projects it).
//
// The file is read again for every CONNECT, never cached. The directory is watched
// (engine/core/directory_watcher.h): when Kubernetes rotates the token (at 80% of its life, by
// swapping the
// `..data` symlink) the connection reconnects with the new one. When the token is a JWT with an
// `exp` claim, the credential also asks to be renewed `renew_margin` before it expires (or at half
// its remaining life, if that is sooner), in case the rotation was missed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/mqtt/mqtt_credential.h"
#include "engine/core/directory_watcher.h"

namespace dataflow::mqtt {

inline constexpr const char* kK8sSatMethod = "K8S-SAT";

// The `exp` claim of a JWT (header.payload.signature, base64url), if `token` is one and has it.
// The signature is not checked: the broker does that.
std::optional<std::chrono::system_clock::time_point> jwtExpiry(std::string_view token);

class ServiceAccountTokenSource final : public CredentialSource {
 public:
  static constexpr std::chrono::seconds kDefaultRenewMargin{60};

  ServiceAccountTokenSource(std::string directory, std::string audience,
                            std::chrono::seconds renew_margin = kDefaultRenewMargin);

  // Retriable when the file is missing, unreadable or empty (Kubernetes may not have projected
  // it yet); the message names the path, never the token.
  Result<Credential> fetch() override;
  Status watch(std::function<void()> changed) override;
  std::string describe() const override;

  const std::string& path() const { return path_; }

 private:
  const std::string directory_;
  const std::string path_;
  const std::chrono::seconds renew_margin_;
  std::unique_ptr<DirectoryWatcher> watch_;
};

}  // namespace dataflow::mqtt
