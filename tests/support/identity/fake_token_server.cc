#include "tests/support/identity/fake_token_server.h"

#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dataflow::testing {

namespace {

using nlohmann::json;

std::string base64Url(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3F];
  return out;
}

std::string percentDecode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parseForm(const std::string& body) {
  std::map<std::string, std::string> form;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (!pair.empty()) {
      form[percentDecode(pair.substr(0, eq))] =
          eq == std::string::npos ? "" : percentDecode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return form;
}

void jsonError(httplib::Response& response, int status, const std::string& error,
               const std::string& description) {
  response.status = status;
  response.set_content(json{{"error", error}, {"error_description", description}}.dump(),
                       "application/json");
}

std::string formatTime(int64_t epoch_s, const char* format) {
  const std::time_t t = static_cast<std::time_t>(epoch_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}

}  // namespace

std::string makeTestJwt(int64_t exp_s, const std::string& oid, int serial) {
  const std::string header = base64Url(R"({"alg":"none","typ":"JWT"})");
  const std::string payload = base64Url(json{{"oid", oid}, {"exp", exp_s}, {"n", serial}}.dump());
  return header + "." + payload + ".c2ln";
}

FakeTokenServer::FakeTokenServer() {
  server_.Get("/metadata/identity/oauth2/token",
              [this](const httplib::Request& q, httplib::Response& r) { handleImds(q, r); });
  server_.Get("/arc/token",
              [this](const httplib::Request& q, httplib::Response& r) { handleArc(q, r); });
  server_.Post(R"(/([^/]+)/oauth2/v2\.0/token)",
               [this](const httplib::Request& q, httplib::Response& r) { handleEntra(q, r); });
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // The socket already listens, so clients may connect at once; this wait (microseconds, until
  // the thread is inside listen_after_bind) only makes stop() in the destructor reliable:
  // cpp-httplib 0.11's stop() does nothing before the server runs, and has no wait_until_ready.
  while (!server_.is_running()) std::this_thread::yield();
}

FakeTokenServer::~FakeTokenServer() {
  server_.stop();
  thread_.join();
}

std::string FakeTokenServer::baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
std::string FakeTokenServer::arcEndpoint() const { return baseUrl() + "/arc/token"; }

void FakeTokenServer::setArcKey(const std::string& key_file, const std::string& key) {
  std::lock_guard lock(mutex_);
  arc_key_file_ = key_file;
  arc_key_ = key;
}
void FakeTokenServer::setLifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(mutex_);
  lifetime_ = lifetime;
}
void FakeTokenServer::setExpiryFormat(ExpiryFormat format) {
  std::lock_guard lock(mutex_);
  format_ = format;
}
void FakeTokenServer::setRefreshIn(std::chrono::seconds refresh_in) {
  std::lock_guard lock(mutex_);
  refresh_in_ = refresh_in;
}
void FakeTokenServer::failNext(int status, std::string body, int times) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < times; ++i) failures_.emplace_back(status, body);
}

void FakeTokenServer::onIssued(std::function<void(const std::string& token)> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

std::vector<RecordedRequest> FakeTokenServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}
size_t FakeTokenServer::requestCount() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}
std::vector<std::string> FakeTokenServer::issuedTokens() const {
  std::lock_guard lock(mutex_);
  return tokens_;
}

void FakeTokenServer::record(const httplib::Request& request, RecordedRequest& out) {
  out.method = request.method;
  out.path = request.path;
  for (const auto& [name, value] : request.params) out.query[name] = value;
  for (const auto& [name, value] : request.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[lower] = value;
  }
  if (request.method == "POST") out.form = parseForm(request.body);
  requests_.push_back(out);
}

void FakeTokenServer::answerToken(const std::string& oid, ExpiryFormat native,
                                  httplib::Response& response) {
  if (!failures_.empty()) {
    auto [status, body] = failures_.front();
    failures_.pop_front();
    response.status = status;
    response.set_content(body, "application/json");
    return;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t exp = now + lifetime_.count();
  std::string token = makeTestJwt(exp, oid, static_cast<int>(tokens_.size()) + 1);
  tokens_.push_back(token);
  if (listener_) listener_(token);
  json body{{"access_token", token}, {"token_type", "Bearer"}};
  switch (format_.value_or(native)) {
    case ExpiryFormat::ExpiresInNumber:
      body["expires_in"] = lifetime_.count();
      break;
    case ExpiryFormat::ExpiresInString:
      body["expires_in"] = std::to_string(lifetime_.count());
      body["expires_on"] = std::to_string(exp);
      break;
    case ExpiryFormat::ExpiresOnEpochString:
      body["expires_on"] = std::to_string(exp);
      break;
    case ExpiryFormat::ExpiresOnRfc3339:
      body["expires_on"] = formatTime(exp, "%Y-%m-%dT%H:%M:%SZ");
      break;
    case ExpiryFormat::ExpiresOnRfc1123:
      body["expires_on"] = formatTime(exp, "%a, %d %b %Y %H:%M:%S GMT");
      break;
  }
  if (refresh_in_.count() > 0) body["refresh_in"] = refresh_in_.count();
  response.status = 200;
  response.set_content(body.dump(), "application/json");
}

void FakeTokenServer::handleImds(const httplib::Request& request, httplib::Response& response) {
  std::lock_guard lock(mutex_);
  RecordedRequest r;
  record(request, r);
  if (r.headers["metadata"] != "true") {
    return jsonError(response, 400, "bad_request_102", "Required metadata header not specified");
  }
  if (r.query["api-version"].empty() || r.query["resource"].empty()) {
    return jsonError(response, 400, "invalid_request", "api-version and resource are required");
  }
  answerToken(r.query.count("client_id") ? "oid-of-" + r.query["client_id"] : "oid-system",
              ExpiryFormat::ExpiresInString, response);
}

void FakeTokenServer::handleArc(const httplib::Request& request, httplib::Response& response) {
  std::lock_guard lock(mutex_);
  RecordedRequest r;
  record(request, r);
  if (r.headers["metadata"] != "true" || r.query["api-version"].empty() ||
      r.query["resource"].empty()) {
    return jsonError(response, 400, "invalid_request", "Metadata, api-version, resource needed");
  }
  if (!r.headers.count("authorization")) {
    response.status = 401;
    response.set_header("WWW-Authenticate", "Basic realm=" + arc_key_file_);
    return;
  }
  if (r.headers["authorization"] != "Basic " + arc_key_) {
    return jsonError(response, 401, "unauthorized", "the key does not match");
  }
  answerToken("oid-arc", ExpiryFormat::ExpiresInString, response);
}

void FakeTokenServer::handleEntra(const httplib::Request& request, httplib::Response& response) {
  std::lock_guard lock(mutex_);
  RecordedRequest r;
  record(request, r);
  auto& f = r.form;
  if (r.headers["content-type"] != "application/x-www-form-urlencoded" ||
      f["grant_type"] != "client_credentials" ||
      f["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
      f["client_id"].empty() || f["client_assertion"].empty() ||
      !f["scope"].ends_with("/.default")) {
    return jsonError(response, 400, "invalid_request",
                     "AADSTS900144: The request body must contain the required parameters.");
  }
  answerToken("oid-of-" + f["client_id"], ExpiryFormat::ExpiresInNumber, response);
}

}  // namespace dataflow::testing
