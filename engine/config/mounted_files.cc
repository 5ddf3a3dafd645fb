#include "engine/config/mounted_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace dataflow::config {

namespace fs = std::filesystem;

namespace {

Result<std::string> keyPath(const std::optional<std::string>& dir, const char* flag,
                            const char* what, const std::string& name, const std::string& key) {
  if (!dir) {
    return Status::fatal(std::string(what) + " \"" + name + "\" is needed but no " + flag +
                         " was given");
  }
  fs::path path = fs::path(*dir) / name / key;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return Status::fatal(std::string(what) + " \"" + name + "\" has no key \"" + key +
                         "\" (no file " + path.string() + ")");
  }
  return path.string();
}

}  // namespace

Result<std::string> MountedFiles::secretPath(const std::string& name,
                                             const std::string& key) const {
  return keyPath(secrets_dir_, "--secrets-dir", "secret", name, key);
}

bool MountedFiles::hasSecretKey(const std::string& name, const std::string& key) const {
  return secretPath(name, key).isOk();
}

Result<std::string> MountedFiles::secret(const std::string& name, const std::string& key) const {
  Result<std::string> path = secretPath(name, key);
  if (!path.isOk()) return path.status();
  std::ifstream in(path.value(), std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in.good() && !in.eof()) return Status::fatal("cannot read " + path.value());
  std::string value = std::move(content).str();
  if (value.ends_with("\r\n")) {
    value.resize(value.size() - 2);
  } else if (value.ends_with("\n")) {
    value.pop_back();
  }
  return value;
}

Result<std::vector<std::string>> MountedFiles::configMapFiles(const std::string& name) const {
  if (!configmaps_dir_) {
    return Status::fatal("configmap \"" + name + "\" is needed but no --configmaps-dir was given");
  }
  fs::path folder = fs::path(*configmaps_dir_) / name;
  std::error_code ec;
  std::vector<std::string> files;
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    // Kubernetes mounts keys as symlinks into a ..data folder; hidden entries are its plumbing.
    if (it->path().filename().string().starts_with(".")) continue;
    if (it->is_regular_file(ec)) files.push_back(it->path().string());
  }
  if (files.empty()) {
    return Status::fatal("configmap \"" + name + "\" has no keys (folder " + folder.string() + ")");
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<std::string> MountedFiles::trustBundleFile(const std::string& name) const {
  Result<std::vector<std::string>> paths = configMapFiles(name);
  if (!paths.isOk()) return paths.status();
  if (paths.value().size() == 1) return paths.value().front();
  std::string listed;
  for (const std::string& path : paths.value()) {
    const std::string key = fs::path(path).filename().string();
    if (key == kTrustBundleKey) return path;
    listed += (listed.empty() ? "" : ", ") + key;
  }
  return Status::fatal("configmap \"" + name + "\" has several keys (" + listed +
                       ") and none named " + kTrustBundleKey +
                       "; put the CA bundle in a single key or name it " + kTrustBundleKey);
}

std::vector<std::string> MountedFiles::foldersOf(const DataflowEndpoint& endpoint) const {
  const Authentication* authentication = nullptr;
  const Tls* tls = nullptr;
  if (endpoint.spec.kafka) {
    authentication = &endpoint.spec.kafka->authentication;
    tls = &endpoint.spec.kafka->tls;
  } else if (endpoint.spec.mqtt) {
    authentication = &endpoint.spec.mqtt->authentication;
    tls = &endpoint.spec.mqtt->tls;
  }
  std::set<std::string> folders;
  if (authentication && secrets_dir_) {
    if (authentication->sasl)
      folders.insert((fs::path(*secrets_dir_) / authentication->sasl->secret_ref).string());
    if (authentication->x509)
      folders.insert((fs::path(*secrets_dir_) / authentication->x509->secret_ref).string());
  }
  if (tls && tls->mode == OperationalMode::Enabled && tls->trusted_ca_certificate_config_map_ref &&
      configmaps_dir_) {
    folders.insert(
        (fs::path(*configmaps_dir_) / *tls->trusted_ca_certificate_config_map_ref).string());
  }
  return {folders.begin(), folders.end()};
}

uint64_t MountedFiles::fingerprint(const std::string& folder) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (!it->path().filename().string().starts_with("..")) entries.push_back(it->path());
  }
  std::sort(entries.begin(), entries.end());
  std::string all;
  for (const fs::path& entry : entries) {
    std::ifstream in(entry, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    all += entry.filename().string();
    all += '\0';
    all += std::to_string(content.str().size());
    all += '\0';
    all += content.str();
  }
  return std::hash<std::string>{}(all);
}

}  // namespace dataflow::config
