// What `dataflow run --kubernetes` reads: the custom resources and the Secrets and ConfigMaps of
// one namespace, kept up to date from the API server (resource_watch.h) and written into a private
// folder laid out as `run` reads files:
//   DIR/manifests/<plural>/<name>.yaml   each DataflowEndpoint, Dataflow and DataflowProfile:
//                                        apiVersion, kind, metadata (name, namespace, labels) and
//                                        spec, as JSON (which is YAML)
//   DIR/secrets/<name>/<key>             the Secrets an endpoint references (data, decoded)
//   DIR/configmaps/<name>/<key>          the ConfigMaps an endpoint references (data, binaryData)
// So every change reaches the engine through the same path as an edited file: the manifest
// watcher reloads (only the affected dataflows restart) and a rotated Secret rebuilds what reads
// it. Only referenced Secrets are written (any key named secretRef or *SecretRef in an endpoint's
// spec; *ConfigMapRef for ConfigMaps); the folder is created 0700 and every file 0600.
//
// The custom resources are read in version v1 (the API server converts v1beta1 objects; both
// versions have the same schema).
//
// Threads: one per watched collection; files are written under one mutex, each atomically (a
// temporary file renamed over the old one) and only when its content changed.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/kubernetes/api_client.h"
#include "connectors/kubernetes/resource_watch.h"

namespace dataflow::kubernetes {

inline constexpr const char* kGroup = "connectivity.iotoperations.azure.com";
inline constexpr const char* kCustomResourcePlurals[] = {"dataflowendpoints", "dataflows",
                                                         "dataflowprofiles"};

class ManifestMirror {
 public:
  // `dir` exists and is private to this process. Nothing is watched before start().
  ManifestMirror(ApiClient& client, std::string namespace_name, std::string dir,
                 std::shared_ptr<spdlog::logger> logger);
  ~ManifestMirror();  // stop()

  // Creates the folder layout and starts watching.
  Status start();
  // Waits until every collection was listed once (true), or `deadline` (false).
  bool waitUntilSynced(std::chrono::steady_clock::time_point deadline) const;
  void stop();

  std::string manifestsDir() const { return dir_ + "/manifests"; }
  std::string secretsDir() const { return dir_ + "/secrets"; }
  std::string configMapsDir() const { return dir_ + "/configmaps"; }
  // The file a custom resource is written to, and every object of `plural` as last seen.
  std::string manifestFile(const std::string& plural, const std::string& name) const {
    return manifestsDir() + "/" + plural + "/" + name + ".yaml";
  }
  std::map<std::string, nlohmann::json> objects(const std::string& plural) const;

 private:
  // Writes what the watches hold now. Any watch thread.
  void sync();
  void syncManifests(const std::string& plural, const ResourceWatch& watch);
  void syncMounted(const std::string& root, const ResourceWatch& watch,
                   const std::vector<std::string>& referenced, bool secrets);

  ApiClient& client_;
  const std::string namespace_;
  const std::string dir_;
  const std::shared_ptr<spdlog::logger> logger_;
  std::mutex sync_mutex_;
  std::vector<std::unique_ptr<ResourceWatch>> custom_;  // in kCustomResourcePlurals order
  std::unique_ptr<ResourceWatch> secrets_;
  std::unique_ptr<ResourceWatch> configmaps_;
};

}  // namespace dataflow::kubernetes
