#include "connectors/kubernetes/manifest_mirror.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "engine/core/base64.h"

namespace dataflow::kubernetes {

namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes `content` to `path` unless it holds it already: a temporary file renamed over it, 0600.
void writeIfChanged(const fs::path& path, const std::string& content) {
  std::error_code ec;
  if (fs::exists(path, ec) && readFile(path) == content) return;
  const fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, path, ec);
}

// Removes the entries of `folder` not in `keep` (hidden temporaries are left to be renamed).
void removeOthers(const fs::path& folder, const std::set<std::string>& keep) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".") || keep.count(name)) continue;
    fs::remove_all(entry.path(), ec);
  }
}

// Names referenced under keys `secretRef`/`*SecretRef` (secrets) or `*ConfigMapRef`.
void collectReferences(const nlohmann::json& node, std::set<std::string>& secrets,
                       std::set<std::string>& configmaps) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (value.is_string()) {
        if (key == "secretRef" || key.ends_with("SecretRef")) secrets.insert(value);
        if (key.ends_with("ConfigMapRef") || key == "configMapRef") configmaps.insert(value);
      } else {
        collectReferences(value, secrets, configmaps);
      }
    }
  } else if (node.is_array()) {
    for (const auto& value : node) collectReferences(value, secrets, configmaps);
  }
}

// A safe file name: Kubernetes names and keys are [-._a-zA-Z0-9]; anything else is refused.
bool safeName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.starts_with(".")) return false;
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") ==
         std::string::npos;
}

}  // namespace

ManifestMirror::ManifestMirror(ApiClient& client, std::string namespace_name, std::string dir,
                               std::shared_ptr<spdlog::logger> logger)
    : client_(client),
      namespace_(std::move(namespace_name)),
      dir_(std::move(dir)),
      logger_(std::move(logger)) {}

ManifestMirror::~ManifestMirror() { stop(); }

Status ManifestMirror::start() {
  std::error_code ec;
  for (const char* plural : kCustomResourcePlurals) {
    fs::create_directories(manifestsDir() + "/" + plural, ec);
  }
  fs::create_directories(secretsDir(), ec);
  fs::create_directories(configMapsDir(), ec);
  if (ec) return Status::fatal("cannot create " + dir_ + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
  auto changed = [this] { sync(); };
  const std::string custom_prefix =
      std::string("/apis/") + kGroup + "/v1/namespaces/" + namespace_ + "/";
  for (const char* plural : kCustomResourcePlurals) {
    custom_.push_back(std::make_unique<ResourceWatch>(client_, custom_prefix + plural, plural,
                                                      changed, logger_));
  }
  const std::string core_prefix = "/api/v1/namespaces/" + namespace_ + "/";
  secrets_ = std::make_unique<ResourceWatch>(client_, core_prefix + "secrets", "secrets", changed,
                                             logger_);
  configmaps_ = std::make_unique<ResourceWatch>(client_, core_prefix + "configmaps", "configmaps",
                                                changed, logger_);
  for (auto& watch : custom_) watch->start();
  secrets_->start();
  configmaps_->start();
  return Status::ok();
}

bool ManifestMirror::waitUntilSynced(std::chrono::steady_clock::time_point deadline) const {
  auto all = [&] {
    for (const auto& watch : custom_) {
      if (!watch->synced()) return false;
    }
    return secrets_->synced() && configmaps_->synced();
  };
  while (!all()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

void ManifestMirror::stop() {
  client_.stopWatches();
  for (auto& watch : custom_) watch->stop();
  if (secrets_) secrets_->stop();
  if (configmaps_) configmaps_->stop();
}

std::map<std::string, nlohmann::json> ManifestMirror::objects(const std::string& plural) const {
  for (size_t i = 0; i < custom_.size(); ++i) {
    if (plural == kCustomResourcePlurals[i]) return custom_[i]->snapshot();
  }
  return {};
}

void ManifestMirror::sync() {
  std::lock_guard lock(sync_mutex_);
  std::set<std::string> secrets;
  std::set<std::string> configmaps;
  for (size_t i = 0; i < custom_.size(); ++i) {
    syncManifests(kCustomResourcePlurals[i], *custom_[i]);
    if (std::string(kCustomResourcePlurals[i]) == "dataflowendpoints") {
      for (const auto& [name, endpoint] : custom_[i]->snapshot()) {
        collectReferences(endpoint.value("spec", nlohmann::json::object()), secrets, configmaps);
      }
    }
  }
  syncMounted(secretsDir(), *secrets_, {secrets.begin(), secrets.end()}, true);
  syncMounted(configMapsDir(), *configmaps_, {configmaps.begin(), configmaps.end()}, false);
}

void ManifestMirror::syncManifests(const std::string& plural, const ResourceWatch& watch) {
  const fs::path folder = manifestsDir() + "/" + plural;
  std::set<std::string> files;
  for (const auto& [name, object] : watch.snapshot()) {
    if (!safeName(name)) {
      logger_->warn("Kubernetes {} \"{}\": not a name this engine can use as a file name; left out",
                    plural, name);
      continue;
    }
    nlohmann::json manifest{{"apiVersion", object.value("apiVersion", "")},
                            {"kind", object.value("kind", "")}};
    manifest["metadata"]["name"] = name;
    manifest["metadata"]["namespace"] = namespace_;
    if (object.contains("/metadata/labels"_json_pointer)) {
      manifest["metadata"]["labels"] = object["metadata"]["labels"];
    }
    if (object.contains("spec")) manifest["spec"] = object["spec"];
    files.insert(name + ".yaml");
    writeIfChanged(manifestFile(plural, name), manifest.dump(2) + "\n");
  }
  removeOthers(folder, files);
}

void ManifestMirror::syncMounted(const std::string& root, const ResourceWatch& watch,
                                 const std::vector<std::string>& referenced, bool secrets) {
  const std::map<std::string, nlohmann::json> objects = watch.snapshot();
  std::set<std::string> kept;
  for (const std::string& name : referenced) {
    auto it = objects.find(name);
    if (it == objects.end() || !safeName(name)) continue;  // `run` reports the missing ones
    kept.insert(name);
    const fs::path folder = fs::path(root) / name;
    std::error_code ec;
    fs::create_directories(folder, ec);
    ::chmod(folder.c_str(), 0700);
    std::set<std::string> keys;
    auto write = [&](const std::string& key, const std::string& value) {
      if (!safeName(key)) {
        logger_->warn("Kubernetes {} {}: key \"{}\" is not a usable file name; left out",
                      secrets ? "Secret" : "ConfigMap", name, key);
        return;
      }
      keys.insert(key);
      writeIfChanged(folder / key, value);
    };
    for (const char* field : {"data", "binaryData"}) {
      const bool encoded = secrets || std::string(field) == "binaryData";
      const nlohmann::json entries = it->second.value(field, nlohmann::json::object());
      if (!entries.is_object()) continue;
      for (const auto& [key, value] : entries.items()) {
        if (!value.is_string()) continue;
        if (!encoded) {
          write(key, value.get<std::string>());
        } else if (std::optional<std::string> decoded = decodeBase64(value.get<std::string>())) {
          write(key, *decoded);
        } else {
          logger_->warn("Kubernetes {} {}: key {} is not base64; left out",
                        secrets ? "Secret" : "ConfigMap", name, key);
        }
      }
    }
    removeOthers(folder, keys);
  }
  removeOthers(root, kept);
}

}  // namespace dataflow::kubernetes
