#include "connectors/kubernetes/api_client.h"

#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace dataflow::kubernetes {

namespace {

constexpr auto kTokenRereadInterval = std::chrono::minutes(1);
constexpr time_t kConnectTimeoutS = 10;
constexpr time_t kRequestTimeoutS = 30;

std::string readToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

nlohmann::json parseOrEmpty(const std::string& text) {
  nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  return body.is_discarded() ? nlohmann::json() : body;
}

}  // namespace

std::string Response::describe() const {
  if (body.is_object() && body.value("kind", "") == "Status" && body.contains("message")) {
    return body["message"].get<std::string>() + " (HTTP " + std::to_string(status) + ")";
  }
  if (!error.empty()) return error;
  return "HTTP " + std::to_string(status);
}

Result<std::unique_ptr<ApiClient>> ApiClient::create(ApiServer server,
                                                      const std::string& work_dir) {
  if (!server.ca_data.empty()) {
    const std::string path = work_dir + "/kubernetes-ca.crt";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << server.ca_data;
    if (!out) return Status::fatal("cannot write the API server's CA to " + path);
    server.ca_file = path;
  }
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(server)));
}

std::string ApiClient::bearerToken(bool force_reread) {
  if (server_.token_file.empty()) return server_.token;
  std::lock_guard lock(token_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (force_reread || cached_token_.empty() || now - token_read_at_ >= kTokenRereadInterval) {
    cached_token_ = readToken(server_.token_file);
    token_read_at_ = now;
  }
  return cached_token_;
}

namespace {

// A client for one request, configured for `server`.
std::unique_ptr<httplib::Client> connect(const ApiServer& server, const std::string& token) {
  auto client = std::make_unique<httplib::Client>(server.base_url);
  client->set_connection_timeout(kConnectTimeoutS, 0);
  client->set_read_timeout(kRequestTimeoutS, 0);
  client->set_write_timeout(kRequestTimeoutS, 0);
  if (server.base_url.rfind("https://", 0) == 0) {
    if (!server.ca_file.empty()) client->set_ca_cert_path(server.ca_file.c_str());
    client->enable_server_certificate_verification(!server.insecure_skip_tls_verify);
  }
  if (!token.empty()) client->set_bearer_token_auth(token.c_str());
  return client;
}

Response answer(const httplib::Result& result) {
  Response response;
  if (!result) {
    response.error = "cannot reach the API server: " + httplib::to_string(result.error());
    return response;
  }
  response.status = result->status;
  response.body = parseOrEmpty(result->body);
  return response;
}

}  // namespace

Response ApiClient::withToken(const std::function<Response(const std::string& token)>& send) {
  Response response = send(bearerToken(false));
  if (response.status == 401 && !server_.token_file.empty()) response = send(bearerToken(true));
  return response;
}

Response ApiClient::get(const std::string& path_and_query) {
  return withToken([&](const std::string& token) {
    return answer(connect(server_, token)->Get(path_and_query.c_str()));
  });
}

Response ApiClient::mergePatch(const std::string& path, const nlohmann::json& patch) {
  const std::string body = patch.dump();
  return withToken([&](const std::string& token) {
    return answer(
        connect(server_, token)->Patch(path.c_str(), body, "application/merge-patch+json"));
  });
}

Response ApiClient::post(const std::string& path, const nlohmann::json& object) {
  const std::string body = object.dump();
  return withToken([&](const std::string& token) {
    return answer(connect(server_, token)->Post(path.c_str(), body, "application/json"));
  });
}

Response ApiClient::put(const std::string& path, const nlohmann::json& object) {
  const std::string body = object.dump();
  return withToken([&](const std::string& token) {
    return answer(connect(server_, token)->Put(path.c_str(), body, "application/json"));
  });
}

Response ApiClient::del(const std::string& path) {
  const std::string body =
      R"({"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"})";
  return withToken([&](const std::string& token) {
    return answer(connect(server_, token)->Delete(path.c_str(), body, "application/json"));
  });
}

Response ApiClient::watch(const std::string& path_and_query, std::chrono::seconds read_timeout,
                          const std::function<bool(const nlohmann::json& event)>& on_event) {
  Response response;
  if (stopping_.load()) return response;
  std::unique_ptr<httplib::Client> client = connect(server_, bearerToken(false));
  client->set_read_timeout(read_timeout.count(), 0);
  {
    std::lock_guard lock(clients_mutex_);
    watching_.push_back(client.get());
  }
  std::string pending;  // a line may straddle two reads
  std::string error_body;
  int status = 0;
  httplib::Result result = client->Get(
      path_and_query.c_str(), httplib::Headers{},
      [&](const httplib::Response& r) {
        status = r.status;
        return true;
      },
      [&](const char* data, size_t length) {
        if (stopping_.load()) return false;
        if (status != 200) {
          error_body.append(data, length);
          return true;
        }
        pending.append(data, length);
        size_t start = 0;
        for (size_t end = pending.find('\n'); end != std::string::npos;
             end = pending.find('\n', start)) {
          const std::string line = pending.substr(start, end - start);
          start = end + 1;
          if (line.find_first_not_of(" \r") == std::string::npos) continue;
          const nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
          if (event.is_discarded() || !on_event(event)) return false;
        }
        pending.erase(0, start);
        return true;
      });
  {
    std::lock_guard lock(clients_mutex_);
    std::erase(watching_, client.get());
  }
  response.status = status;
  if (!result && status == 0) {
    response.error = "cannot reach the API server: " + httplib::to_string(result.error());
  }
  if (status != 200) response.body = parseOrEmpty(error_body);
  return response;
}

void ApiClient::stopWatches() {
  stopping_.store(true);
  std::lock_guard lock(clients_mutex_);
  for (void* client : watching_) static_cast<httplib::Client*>(client)->stop();
}

}  // namespace dataflow::kubernetes
