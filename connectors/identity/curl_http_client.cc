#include <curl/curl.h>
#include <strings.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "connectors/identity/http_client.h"
#include "connectors/identity/url.h"

namespace dataflow::identity {

const std::string* HttpResponse::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return &h.value;
    }
  }
  return nullptr;
}

namespace {

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using SlistHandle = std::unique_ptr<curl_slist, SlistDeleter>;

struct Transfer {
  HttpResponse response;
  size_t max_bytes = 0;
  bool too_large = false;
};

// libcurl's write callback: appends the body; returning less than given aborts the transfer.
size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

// libcurl's header callback: one raw line "Name: value\r\n" (or a status line) per call.
size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();  // a new response (e.g. after 100 Continue)
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  transfer->response.headers.push_back({std::string(line.substr(0, colon)), std::string(value)});
  return bytes;
}

// libcurl honours http_proxy / https_proxy. Loopback and IMDS's link-local address are never
// reached through a proxy (a proxy there would see Arc's key and every token); the user's
// NO_PROXY / no_proxy list is kept for the rest (CURLOPT_NOPROXY replaces it otherwise).
std::string noProxyList() {
  std::string list = "localhost,127.0.0.0/8,::1,169.254.169.254";
  for (const char* name : {"NO_PROXY", "no_proxy"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      list += ',';
      list += value;
      break;
    }
  }
  return list;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options) : options_(options), no_proxy_(noProxyList()) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    EasyHandle curl(curl_easy_init());
    if (!curl) return Status::retriable("cannot create a libcurl handle");
    SlistHandle headers;
    for (const HttpHeader& h : request.headers) {
      const std::string line = h.name + ": " + h.value;
      curl_slist* next = curl_slist_append(headers.get(), line.c_str());
      if (!next) return Status::retriable("out of memory building HTTP headers");
      (void)headers.release();
      headers.reset(next);
    }
    Transfer transfer;
    transfer.max_bytes = options_.max_response_bytes;
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, no_proxy_.c_str());
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &onBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &onHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
    if (request.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
    const CURLcode code = curl_easy_perform(c);
    const std::string where = request.method + " " + withoutQuery(request.url);
    if (transfer.too_large) {
      return Status::retriable(where + ": the response is larger than " +
                               std::to_string(options_.max_response_bytes) + " bytes");
    }
    if (code != CURLE_OK) {
      return Status::retriable(where + " failed: " + curl_easy_strerror(code));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &transfer.response.status);
    return std::move(transfer.response);
  }

 private:
  const CurlOptions options_;
  const std::string no_proxy_;
};

}  // namespace

std::unique_ptr<HttpClient> makeCurlHttpClient(CurlOptions options) {
  return std::make_unique<CurlHttpClient>(options);
}

}  // namespace dataflow::identity
