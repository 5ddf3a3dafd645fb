#include "engine/config/mounted_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
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

}  // namespace dataflow::config
