#include "cli/kubernetes_source.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <charconv>
#include <filesystem>

#include "connectors/kubernetes/api_client.h"
#include "connectors/kubernetes/manifest_mirror.h"
#include "engine/runtime/logging.h"

namespace dataflow::cli {

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::optional<uint32_t> number(std::string_view text) {
  uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

Result<ResolvedApiServer> resolveApiServer(const KubernetesOptions& options) {
  std::string kubeconfig = options.kubeconfig.empty() ? env("KUBECONFIG") : options.kubeconfig;
  if (auto colon = kubeconfig.find(':'); colon != std::string::npos) {
    kubeconfig = kubeconfig.substr(0, colon);  // the first file of a list
  }
  Result<kubernetes::ApiServer> server =
      kubeconfig.empty() ? kubernetes::inCluster() : kubernetes::fromKubeconfig(kubeconfig);
  if (!server.isOk()) return server.status();
  ResolvedApiServer resolved{std::move(server).value(), options.namespace_name};
  if (resolved.namespace_name.empty()) resolved.namespace_name = resolved.server.namespace_name;
  if (resolved.namespace_name.empty()) resolved.namespace_name = "default";
  return resolved;
}

Result<std::unique_ptr<KubernetesSource>> KubernetesSource::start(const KubernetesOptions& options,
                                                                  std::chrono::seconds sync_wait) {
  auto log = runtime::logger("engine");
  Result<ResolvedApiServer> resolved = resolveApiServer(options);
  if (!resolved.isOk()) return resolved.status();
  std::unique_ptr<KubernetesSource> source(new KubernetesSource());
  source->namespace_ = resolved.value().namespace_name;
  const std::string base = env("TMPDIR").empty() ? "/tmp" : env("TMPDIR");
  std::string pattern = base + "/dataflow-kubernetes-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status::fatal("cannot create a private folder under " + base +
                         " for the resources read from Kubernetes");
  }
  source->dir_ = pattern;
  const std::string url = resolved.value().server.base_url;
  Result<std::unique_ptr<kubernetes::ApiClient>> client =
      kubernetes::ApiClient::create(std::move(resolved.value().server), source->dir_);
  if (!client.isOk()) return client.status();
  source->client_ = std::move(client).value();
  source->mirror_ = std::make_unique<kubernetes::ManifestMirror>(
      *source->client_, source->namespace_, source->dir_ + "/mirror", log);
  if (Status started = source->mirror_->start(); !started.isOk()) return started;
  log->info("reading dataflows, endpoints, profiles and their Secrets and ConfigMaps from the "
            "Kubernetes API server at {}, namespace {}",
            url, source->namespace_);
  if (!source->mirror_->waitUntilSynced(std::chrono::steady_clock::now() + sync_wait)) {
    log->warn("not everything could be listed from the API server within {} s; starting with "
              "what was, the rest is applied as it arrives",
              sync_wait.count());
  }
  return source;
}

KubernetesSource::~KubernetesSource() {
  if (mirror_) mirror_->stop();
  mirror_.reset();
  client_.reset();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void KubernetesSource::applyTo(ManifestSources& sources) const {
  sources.paths = {mirror_->manifestsDir()};
  sources.secrets_dir = mirror_->secretsDir();
  sources.configmaps_dir = mirror_->configMapsDir();
}

uint32_t instanceIdFromPod() {
  if (auto index = number(env("POD_INDEX"))) return *index;
  const std::string pod = env("POD_NAME");
  if (auto dash = pod.rfind('-'); dash != std::string::npos) {
    if (auto ordinal = number(std::string_view(pod).substr(dash + 1))) return *ordinal;
  }
  return 0;
}

}  // namespace dataflow::cli
