#include "cli/manifest_sources.h"

#include "engine/config/loader.h"

namespace dataflow::cli {

namespace {

std::optional<std::string> given(const std::string& dir) {
  return dir.empty() ? std::nullopt : std::optional(dir);
}

}  // namespace

void ManifestSources::addMountOptions(CLI::App& command) {
  command
      .add_option("--secrets-dir", secrets_dir,
                  "Folder of mounted Secrets, DIR/<secret-name>/<key>; every secretRef is checked "
                  "against it")
      ->check(CLI::ExistingDirectory);
  command
      .add_option("--configmaps-dir", configmaps_dir,
                  "Folder of mounted ConfigMaps, DIR/<configmap-name>/<key>; every CA reference "
                  "is checked against it")
      ->check(CLI::ExistingDirectory);
}

void ManifestSources::addTokenDirOption(CLI::App& command) {
  command
      .add_option("--sat-token-dir", sat_token_dir,
                  "Folder of projected Kubernetes service account tokens, DIR/<audience>: an MQTT "
                  "endpoint with authentication ServiceAccountToken connects with K8S-SAT and the "
                  "token of its audience, re-read at every connect; the folder is watched and a "
                  "rotated token renews the connection")
      ->capture_default_str();
}

config::MountedFiles ManifestSources::mountedFiles() const {
  config::MountedFiles files(given(secrets_dir), given(configmaps_dir));
  files.setTokenDirectory(sat_token_dir);
  return files;
}

config::Plan ManifestSources::loadPlan(config::Diagnostics& diagnostics) const {
  config::Manifests manifests;
  config::loadPaths(paths, manifests, diagnostics);
  config::ValidateOptions options;
  options.secrets_dir = given(secrets_dir);
  options.configmaps_dir = given(configmaps_dir);
  config::Plan plan = config::validate(std::move(manifests), options, diagnostics);
  diagnostics.sort();
  return plan;
}

std::string countOf(size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace dataflow::cli
