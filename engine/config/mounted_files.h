// Secrets and ConfigMaps read from folders laid out as Kubernetes mounts them:
// SECRETS_DIR/<secret-name>/<key> and CONFIGMAPS_DIR/<configmap-name>/<key>. Values are read when
// asked for, never cached, so a rotated secret is picked up by the next connection attempt.
// Errors name the file, never its content.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/manifest.h"
#include "engine/core/status.h"

namespace dataflow::config {

inline constexpr const char* kTrustBundleKey = "ca.crt";
// Where Kubernetes service account tokens are projected, one file per audience
// (`dataflow run --sat-token-dir`; the Helm chart projects them here).
inline constexpr const char* kDefaultTokenDirectory = "/var/run/secrets/tokens";

class MountedFiles {
 public:
  MountedFiles() = default;
  MountedFiles(std::optional<std::string> secrets_dir, std::optional<std::string> configmaps_dir)
      : secrets_dir_(std::move(secrets_dir)), configmaps_dir_(std::move(configmaps_dir)) {}

  // The bytes of key `key` of Secret `name`, with one trailing "\n" or "\r\n" removed (a file
  // written by `echo` must not put a newline into a password). Fatal when absent or unreadable.
  Result<std::string> secret(const std::string& name, const std::string& key) const;
  bool hasSecretKey(const std::string& name, const std::string& key) const;
  // The path of a key of Secret `name` (for libraries that take a file, e.g. a client key).
  Result<std::string> secretPath(const std::string& name, const std::string& key) const;

  // The paths of every key of ConfigMap `name`, sorted by key. Fatal when the ConfigMap has no
  // folder or no keys.
  Result<std::vector<std::string>> configMapFiles(const std::string& name) const;

  // The one file of ConfigMap `name` that holds a PEM CA bundle, for both endpoint types: its
  // only key whatever the name, or, when it has several, the key named ca.crt (the key of AIO's
  // trust bundle and of Kubernetes' kube-root-ca.crt). Fatal otherwise, listing the keys.
  Result<std::string> trustBundleFile(const std::string& name) const;

  // The folders an endpoint's connections read when they are made: the Secret of its Sasl or
  // X509Certificate authentication and the ConfigMap of its trusted CA bundle. Only those under a
  // given --secrets-dir / --configmaps-dir; sorted, without duplicates. Watched for rotation.
  std::vector<std::string> foldersOf(const DataflowEndpoint& endpoint) const;
  // A digest of what `folder` holds: the names and contents of its visible entries (symlinks
  // followed, Kubernetes' hidden `..` plumbing skipped). It differs once the content has changed;
  // a missing folder has a digest too.
  static uint64_t fingerprint(const std::string& folder);

  const std::optional<std::string>& secretsDir() const { return secrets_dir_; }
  const std::optional<std::string>& configMapsDir() const { return configmaps_dir_; }

  // The folder of projected service account tokens, DIR/<audience>. Read by the connectors at
  // every connect, so it is not checked here.
  const std::string& tokenDirectory() const { return token_dir_; }
  void setTokenDirectory(std::string dir) { token_dir_ = std::move(dir); }

 private:
  std::optional<std::string> secrets_dir_;
  std::optional<std::string> configmaps_dir_;
  std::string token_dir_ = kDefaultTokenDirectory;
};

}  // namespace dataflow::config
