// The HTTP seam of the token sources: one request, one response, no redirects followed.
// CurlHttpClient is the production implementation; tests serve the real protocol on loopback
// (tests/support/fake_token_server.h) rather than faking this interface.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/status.h"

namespace dataflow::identity {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;
  std::vector<HttpHeader> headers;
  std::string body;  // sent only with POST
};

struct HttpResponse {
  long status = 0;
  std::vector<HttpHeader> headers;  // names as the server wrote them
  std::string body;

  // The first header named `name` (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

// Sends one request. Thread-safe: concurrent calls are independent. A Status (always retriable:
// the server was not reached, timed out or sent too much) when no HTTP response arrived; any HTTP
// status, 4xx and 5xx included, is a response. Error texts name the URL without its query.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

struct CurlOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{10000};
  size_t max_response_bytes = 1 << 20;
};

// libcurl: http and https only, TLS peer and host verification on (system CA store), redirects
// not followed, no signals (safe on any thread), bounded by `options`.
std::unique_ptr<HttpClient> makeCurlHttpClient(CurlOptions options = {});

}  // namespace dataflow::identity
