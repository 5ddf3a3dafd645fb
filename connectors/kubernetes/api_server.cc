#include "connectors/kubernetes/api_server.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/base64.h"

namespace dataflow::kubernetes {

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string firstLineOf(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// The entry of list `key` (clusters, users, contexts) named `name`, or an undefined node.
YAML::Node named(const YAML::Node& config, const char* key, const std::string& name) {
  for (const YAML::Node& entry : config[key]) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string text(const YAML::Node& node) {
  return node && node.IsScalar() ? node.as<std::string>() : std::string();
}

// A path in a kubeconfig is relative to the kubeconfig's folder.
std::string resolve(const std::string& kubeconfig, const std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(kubeconfig).parent_path() / path).string();
}

}  // namespace

Result<ApiServer> inCluster(const std::string& service_account_dir) {
  const std::string host = env("KUBERNETES_SERVICE_HOST");
  const std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Status::fatal(
        "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
        "are not set); give --kubeconfig or set KUBECONFIG");
  }
  ApiServer server;
  const bool ipv6 = host.find(':') != std::string::npos;
  server.base_url = "https://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
  server.ca_file = service_account_dir + "/ca.crt";
  server.token_file = service_account_dir + "/token";
  if (!std::filesystem::exists(server.token_file)) {
    return Status::fatal("no service account token at " + server.token_file +
                         " (is automountServiceAccountToken off?)");
  }
  server.namespace_name = env("POD_NAMESPACE");
  if (server.namespace_name.empty()) {
    server.namespace_name = firstLineOf(service_account_dir + "/namespace");
  }
  if (server.namespace_name.empty()) server.namespace_name = "default";
  return server;
}

Result<ApiServer> fromKubeconfig(const std::string& path) {
  YAML::Node config;
  try {
    config = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::fatal("kubeconfig " + path + ": " + e.what());
  }
  const std::string context_name = text(config["current-context"]);
  if (context_name.empty()) return Status::fatal("kubeconfig " + path + ": no current-context");
  const YAML::Node context = named(config, "contexts", context_name)["context"];
  if (!context) {
    return Status::fatal("kubeconfig " + path + ": context \"" + context_name + "\" not found");
  }
  const std::string cluster_name = text(context["cluster"]);
  const YAML::Node cluster = named(config, "clusters", cluster_name)["cluster"];
  if (!cluster || text(cluster["server"]).empty()) {
    return Status::fatal("kubeconfig " + path + ": cluster \"" + cluster_name +
                         "\" has no server");
  }
  ApiServer server;
  server.base_url = text(cluster["server"]);
  while (!server.base_url.empty() && server.base_url.back() == '/') server.base_url.pop_back();
  server.ca_file = resolve(path, text(cluster["certificate-authority"]));
  if (cluster["certificate-authority-data"]) {
    std::optional<std::string> pem = decodeBase64(text(cluster["certificate-authority-data"]));
    if (!pem) {
      return Status::fatal("kubeconfig " + path + ": clusters[" + cluster_name +
                           "].certificate-authority-data is not base64");
    }
    server.ca_data = std::move(*pem);
  }
  server.insecure_skip_tls_verify = text(cluster["insecure-skip-tls-verify"]) == "true";
  server.namespace_name = text(context["namespace"]);
  const std::string user_name = text(context["user"]);
  const YAML::Node user = named(config, "users", user_name)["user"];
  if (user) {
    for (const char* unsupported : {"client-certificate", "client-certificate-data", "exec",
                                    "auth-provider", "username"}) {
      if (user[unsupported]) {
        return Status::fatal("kubeconfig " + path + ": user \"" + user_name + "\" uses " +
                             unsupported +
                             ", which this engine does not support (use a bearer token: "
                             "token or tokenFile)");
      }
    }
    server.token = text(user["token"]);
    server.token_file = resolve(path, text(user["tokenFile"]));
  }
  return server;
}

}  // namespace dataflow::kubernetes
