// An in-process token server on 127.0.0.1 (port 0) that speaks the three protocols the identity
// library uses, as the real services do:
//   IMDS      GET  /metadata/identity/oauth2/token?api-version&resource[&client_id]  (Metadata:
//   true) Azure Arc GET  /arc/token?api-version&resource: 401 + WWW-Authenticate: Basic realm=<key
//   file>,
//             then 200 only with Authorization: Basic <key file contents>
//   Entra v2  POST /<tenant>/oauth2/v2.0/token, form grant_type=client_credentials,
//             client_assertion_type=...jwt-bearer, client_id, scope, client_assertion
// Malformed requests get the services' 400 JSON errors. Every request is recorded. Tokens are
// unsigned JWT-shaped strings ([-_.a-zA-Z0-9] only) with exp, oid and a serial number.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace dataflow::testing {

// base64url(header).base64url({"oid":oid,"exp":exp_s,"n":serial}).c2ln (not a real signature).
std::string makeTestJwt(int64_t exp_s, const std::string& oid, int serial);

struct RecordedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> form;     // decoded application/x-www-form-urlencoded body
  std::map<std::string, std::string> headers;  // names in lower case
};

class FakeTokenServer {
 public:
  enum class ExpiryFormat {
    ExpiresInNumber,       // Entra v2
    ExpiresInString,       // IMDS, with expires_on as a string too
    ExpiresOnEpochString,  // expires_on only
    ExpiresOnRfc3339,
    ExpiresOnRfc1123,
  };

  FakeTokenServer();  // listening when constructed
  ~FakeTokenServer();
  FakeTokenServer(const FakeTokenServer&) = delete;
  FakeTokenServer& operator=(const FakeTokenServer&) = delete;

  std::string baseUrl() const;      // http://127.0.0.1:<port>
  std::string arcEndpoint() const;  // baseUrl() + "/arc/token"
  int port() const { return port_; }

  // Arc: the key file the challenge names and the key it then expects.
  void setArcKey(const std::string& key_file, const std::string& key);
  void setLifetime(std::chrono::seconds lifetime);
  void setExpiryFormat(ExpiryFormat format);           // for every service from now on
  void setRefreshIn(std::chrono::seconds refresh_in);  // adds refresh_in to every response
  // The next `times` token requests answer `status` with `body` (after validation passed).
  void failNext(int status, std::string body, int times = 1);

  // Calls `listener` with every token issued from now on, before the response that carries it is
  // sent, so a broker double can accept the token before the engine presents it. It runs with the
  // server's lock held: it must not call this server.
  void onIssued(std::function<void(const std::string& token)> listener);

  std::vector<RecordedRequest> requests() const;
  size_t requestCount() const;
  std::vector<std::string> issuedTokens() const;  // in the order served

 private:
  void handleImds(const httplib::Request& request, httplib::Response& response);
  void handleArc(const httplib::Request& request, httplib::Response& response);
  void handleEntra(const httplib::Request& request, httplib::Response& response);
  void record(const httplib::Request& request, RecordedRequest& out);
  // Either a scripted failure or a token response; called with mutex_ held.
  void answerToken(const std::string& oid, ExpiryFormat native, httplib::Response& response);

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;             // guarded by mutex_
  std::vector<std::string> tokens_;                   // guarded by mutex_
  std::function<void(const std::string&)> listener_;  // guarded by mutex_
  std::deque<std::pair<int, std::string>> failures_;  // guarded by mutex_
  std::string arc_key_file_;                          // guarded by mutex_
  std::string arc_key_;                               // guarded by mutex_
  std::chrono::seconds lifetime_{3600};               // guarded by mutex_
  std::chrono::seconds refresh_in_{0};                // guarded by mutex_; 0 = not sent
  // guarded by mutex_; unset: each service's own form (IMDS/Arc strings, Entra a number)
  std::optional<ExpiryFormat> format_;
};

}  // namespace dataflow::testing
