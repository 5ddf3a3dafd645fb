// Where the Kubernetes API server is and how to authenticate to it, as client-go finds it:
//   - inCluster(): https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the service account's
//     CA (ca.crt) and token (token, re-read by the client), the namespace from $POD_NAMESPACE, else
//     the namespace file, else "default";
//   - fromKubeconfig(path): the current context's cluster (server, certificate-authority or
//     certificate-authority-data, insecure-skip-tls-verify), user (token or tokenFile) and
//     namespace. Client certificates, exec and auth-provider plugins are refused with a message
//     saying so (this engine reads tokens only).
// Errors name the file and the field, never a token.
#pragma once

#include <string>

#include "engine/core/status.h"

namespace dataflow::kubernetes {

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

struct ApiServer {
  std::string base_url;          // "https://10.0.0.1:443" or "http://127.0.0.1:PORT"
  std::string ca_file;           // PEM bundle to verify the server with (empty: the system's)
  std::string ca_data;           // PEM from certificate-authority-data (written out by the client)
  bool insecure_skip_tls_verify = false;
  std::string token;             // a static bearer token (kubeconfig `token`)
  std::string token_file;        // a file holding the token, re-read (in-cluster, `tokenFile`)
  std::string namespace_name;    // the context's or the pod's namespace ("" if none is given)
};

// `service_account_dir`: where the service account is mounted (kServiceAccountDir in a pod).
Result<ApiServer> inCluster(const std::string& service_account_dir = kServiceAccountDir);
Result<ApiServer> fromKubeconfig(const std::string& path);

}  // namespace dataflow::kubernetes
