// A minimal Kubernetes API client over cpp-httplib: JSON GET, POST, PUT, merge PATCH, DELETE and a
// streamed watch.
// Authentication is a bearer token: the static one of the kubeconfig, or the file's (a projected
// service account token), re-read at least every minute and after a 401, as client-go does.
// TLS verifies the server against the given CA (or the system store) unless the kubeconfig says
// insecure-skip-tls-verify.
//
// Threads: each call makes its own connection, so calls from several threads run independently;
// stopWatches() (any thread) ends every watch in progress and makes new ones return at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "connectors/kubernetes/api_server.h"
#include "engine/core/status.h"

namespace dataflow::kubernetes {

// What a request got: the HTTP status (0 when the server could not be reached) and the body as
// JSON (a Status object for errors, when the server sent one).
struct Response {
  int status = 0;
  nlohmann::json body;
  std::string error;  // transport failure or a short reason, for logs (no token)

  bool ok() const { return status >= 200 && status < 300; }
  // The Status body's message, else the transport error, else "HTTP <status>".
  std::string describe() const;
};

class ApiClient {
 public:
  // `work_dir`: where certificate-authority-data is written as a file (cpp-httplib reads a path).
  static Result<std::unique_ptr<ApiClient>> create(ApiServer server, const std::string& work_dir);

  Response get(const std::string& path_and_query);
  Response mergePatch(const std::string& path, const nlohmann::json& patch);
  Response post(const std::string& path, const nlohmann::json& object);
  // Replaces the object (PUT): conditional on its metadata.resourceVersion when it has one (409
  // Conflict when the object changed since).
  Response put(const std::string& path, const nlohmann::json& object);
  Response del(const std::string& path);

  // GETs `path_and_query` (a watch=true URL) and calls `on_event` with each JSON line of the
  // stream until the server ends it, `on_event` returns false, or stopWatches(). The Response
  // holds the status; its body is empty for a stream (or the Status of a refused watch).
  Response watch(const std::string& path_and_query, std::chrono::seconds read_timeout,
                 const std::function<bool(const nlohmann::json& event)>& on_event);
  void stopWatches();
  bool stopping() const { return stopping_.load(); }

  const ApiServer& server() const { return server_; }

 private:
  explicit ApiClient(ApiServer server) : server_(std::move(server)) {}
  std::string bearerToken(bool force_reread);
  // send(token); once more with the token file re-read when the server answered 401.
  Response withToken(const std::function<Response(const std::string& token)>& send);

  ApiServer server_;
  std::mutex token_mutex_;
  std::string cached_token_;  // guarded by token_mutex_
  std::chrono::steady_clock::time_point token_read_at_{};  // guarded by token_mutex_
  std::atomic<bool> stopping_{false};
  std::mutex clients_mutex_;
  std::vector<void*> watching_;  // guarded by clients_mutex_: httplib::Client* of running watches
};

}  // namespace dataflow::kubernetes
