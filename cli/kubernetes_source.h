// `dataflow run --kubernetes`: the manifests, Secrets and ConfigMaps come from the API server
// (connectors/kubernetes/manifest_mirror.h) instead of files. The mirror writes them into a
// private temporary folder that `run` then reads exactly as it reads `-f`, `--secrets-dir` and
// `--configmaps-dir`, so validation, reload and rotation are the ones of files.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cli/manifest_sources.h"
#include "connectors/kubernetes/api_server.h"
#include "engine/core/status.h"

namespace dataflow::kubernetes {
class ApiClient;
class ManifestMirror;
}  // namespace dataflow::kubernetes

namespace dataflow::cli {

struct KubernetesOptions {
  bool enabled = false;
  std::string namespace_name;  // empty: the kubeconfig context's, else the pod's
  std::string kubeconfig;      // empty: $KUBECONFIG, else in-cluster
};

// The API server from --kubeconfig, $KUBECONFIG or the pod, and the namespace to work in
// (options, else the kubeconfig context's or the pod's, else "default").
struct ResolvedApiServer {
  kubernetes::ApiServer server;
  std::string namespace_name;
};
Result<ResolvedApiServer> resolveApiServer(const KubernetesOptions& options);

class KubernetesSource {
 public:
  // Connects, starts watching and waits up to `sync_wait` for the first list of everything (a
  // collection not listed by then is logged and joins later through reload). Fatal when no API
  // server is configured or the temporary folder cannot be made.
  static Result<std::unique_ptr<KubernetesSource>> start(const KubernetesOptions& options,
                                                         std::chrono::seconds sync_wait);
  ~KubernetesSource();  // stops watching and removes the folder (it holds Secret values)

  // Points `sources` at the mirror.
  void applyTo(ManifestSources& sources) const;
  const std::string& namespaceName() const { return namespace_; }
  kubernetes::ApiClient& client() { return *client_; }
  const kubernetes::ManifestMirror& mirror() const { return *mirror_; }

 private:
  KubernetesSource() = default;
  std::string dir_;
  std::string namespace_;
  std::unique_ptr<kubernetes::ApiClient> client_;
  std::unique_ptr<kubernetes::ManifestMirror> mirror_;
};

// This pod's instance ordinal when --instance-id is not given: $POD_INDEX (the chart sets it from
// the apps.kubernetes.io/pod-index label through the downward API), else the ordinal that ends
// $POD_NAME ("aio-dataflow-default-2" -> 2), else 0.
uint32_t instanceIdFromPod();

}  // namespace dataflow::cli
