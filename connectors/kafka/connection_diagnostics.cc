#include "connectors/kafka/connection_diagnostics.h"

#include <librdkafka/rdkafka.h>
#include <openssl/x509_vfy.h>

#include <chrono>
#include <cstdio>
#include <utility>

namespace dataflow::kafka {

namespace {

constexpr auto kWarningInterval = std::chrono::seconds(30);
constexpr const char* kRedacted = "[redacted]";
// Shorter secret values are not scrubbed from text: they would match ordinary words.
constexpr size_t kShortestScrubbedSecret = 4;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// The text after `marker` up to `end` (or the end of the text), or "".
std::string_view between(std::string_view text, std::string_view marker, std::string_view end) {
  const size_t start = text.find(marker);
  if (start == std::string_view::npos) return {};
  std::string_view rest = text.substr(start + marker.size());
  return rest.substr(0, rest.find(end));
}

// librdkafka appends " (after 12ms in state AUTH_REQ[, N identical error(s) suppressed])".
std::string_view withoutTiming(std::string_view text) {
  const size_t at = text.rfind(" (after ");
  return at == std::string_view::npos ? text : text.substr(0, at);
}

// The TLS alert a server sent ("tlsv13 alert certificate required"), or "".
std::string_view tlsAlert(std::string_view reason) {
  std::string_view alert = between(reason, "SSL routines::", ": SSL alert number");
  if (!contains(alert, "alert ")) return {};
  return alert;
}

// Alerts with which a server refuses the certificate a client presented (or asks for one).
bool refusesClientCertificate(std::string_view alert) {
  for (std::string_view refusal :
       {"alert certificate required", "alert unknown ca", "alert bad certificate",
        "alert certificate expired", "alert certificate unknown", "alert certificate revoked",
        "alert unsupported certificate", "alert access denied"}) {
    if (contains(alert, refusal)) return true;
  }
  return false;
}

std::optional<ConnectionFailure> serverCertificateFailure(int x509_error, std::string_view host) {
  switch (x509_error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return ConnectionFailure{ConnectionFailureKind::ServerCertificateExpired,
                               {},
                               "TLS: the server's certificate has expired"};
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return ConnectionFailure{ConnectionFailureKind::ServerCertificateExpired,
                               {},
                               "TLS: the server's certificate is not valid yet"};
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return ConnectionFailure{
          ConnectionFailureKind::ServerHostNameMismatch,
          {},
          "TLS: host name mismatch: the server's certificate does not name " + std::string(host)};
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return ConnectionFailure{ConnectionFailureKind::ServerCertificateUntrusted,
                               {},
                               "TLS: the server's certificate is not signed by a trusted CA (" +
                                   x509ErrorText(x509_error) + ")"};
    case 0:
      return ConnectionFailure{ConnectionFailureKind::ServerCertificateRefused,
                               {},
                               "TLS: the server's certificate could not be verified"};
    default:
      return ConnectionFailure{
          ConnectionFailureKind::ServerCertificateRefused,
          {},
          "TLS: the server's certificate was refused (" + x509ErrorText(x509_error) + ")"};
  }
}

std::optional<ConnectionFailure> saslFailure(std::string_view reason, std::string_view mechanism) {
  const std::string name =
      mechanism.empty() ? std::string("SASL") : "SASL " + std::string(mechanism);
  if (contains(reason, "SASL authentication error:")) {
    std::string_view detail = withoutTiming(between(reason, "SASL authentication error: ", "\n"));
    return ConnectionFailure{
        ConnectionFailureKind::SaslLoginRefused,
        {},
        name + " login refused (the server said: " + std::string(detail) + ")"};
  }
  if (contains(reason, "mechanism handshake failed")) {
    std::string_view offered = withoutTiming(between(reason, "supported mechanisms: ", "\n"));
    return ConnectionFailure{ConnectionFailureKind::SaslMechanismRefused,
                             {},
                             name + " is not offered by the server (it offers: " +
                                 std::string(offered.empty() ? "nothing" : offered) + ")"};
  }
  return std::nullopt;
}

}  // namespace

std::string x509ErrorText(int x509_error) {
  switch (x509_error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      return "unable to get issuer certificate";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      return "unable to get local issuer certificate";
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "unable to verify the first certificate";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self-signed certificate";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "self-signed certificate in certificate chain";
    case X509_V_ERR_CERT_UNTRUSTED:
      return "certificate not trusted";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not yet valid";
    case X509_V_ERR_HOSTNAME_MISMATCH:
      return "hostname mismatch";
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "IP address mismatch";
    case X509_V_ERR_INVALID_PURPOSE:
      return "unsupported certificate purpose";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "certificate signature failure";
    default:
      return "X.509 verification error " + std::to_string(x509_error);
  }
}

std::string brokerOf(std::string_view reason) {
  const size_t scheme = reason.find("://");
  if (scheme == std::string_view::npos) return {};
  std::string_view rest = reason.substr(scheme + 3);
  const size_t end = rest.find('/');
  if (end == std::string_view::npos) return {};
  return std::string(rest.substr(0, end));
}

std::optional<ConnectionFailure> classifyConnectionFailure(int error, std::string_view reason,
                                                           int x509_error,
                                                           std::string_view sasl_mechanism) {
  std::optional<ConnectionFailure> failure;
  const std::string broker = brokerOf(reason);
  const auto code = static_cast<rd_kafka_resp_err_t>(error);
  if (code == RD_KAFKA_RESP_ERR__SSL || code == RD_KAFKA_RESP_ERR__TRANSPORT) {
    const std::string_view alert = tlsAlert(reason);
    if (!alert.empty() && refusesClientCertificate(alert)) {
      failure = ConnectionFailure{
          ConnectionFailureKind::ClientCertificateRefused,
          {},
          "TLS: the server refused this client's certificate (" + std::string(alert) + ")"};
    } else if (contains(reason, "SSL handshake failed: Disconnected") ||
               (contains(reason, "SSL handshake failed") &&
                contains(reason, "unexpected eof while reading"))) {
      // OpenSSL 1.1 ("Disconnected") and 3.x (unexpected eof) for a peer that hung up on the
      // ClientHello: typically a plaintext listener.
      failure = ConnectionFailure{ConnectionFailureKind::NotTls,
                                  {},
                                  "TLS: the server closed the connection during the TLS "
                                  "handshake (is it a plaintext listener?)"};
    } else if (contains(reason, "certificate verify failed")) {
      failure = serverCertificateFailure(x509_error, broker.substr(0, broker.rfind(':')));
    }
  } else if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
    failure = saslFailure(reason, sasl_mechanism);
  }
  if (failure) failure->broker = broker;
  return failure;
}

ConnectionDiagnostics::ConnectionDiagnostics(std::string endpoint, const ClientConfig& config,
                                             const Clock& clock, WarningSink sink)
    : endpoint_(std::move(endpoint)),
      sasl_mechanism_(findProperty(config, "sasl.mechanisms")
                          ? *findProperty(config, "sasl.mechanisms")
                          : std::string()),
      sink_(std::move(sink)) {
  for (const ConfigProperty& property : config) {
    if (isSecretProperty(property.name) && property.value.size() >= kShortestScrubbedSecret) {
      secrets_.push_back(property.value);
    }
  }
  for (int i = 0; i < kConnectionFailureKinds; ++i) {
    warnings_.push_back(std::make_unique<RateLimitedWarning>(clock, sink_, kWarningInterval));
  }
  if (endpoint_.empty()) {
    const std::string* servers = findProperty(config, "bootstrap.servers");
    endpoint_name_ = "Kafka at " + (servers ? *servers : std::string("?"));
  } else {
    endpoint_name_ = "Kafka endpoint \"" + endpoint_ + "\"";
  }
}

bool ConnectionDiagnostics::verifyCertificate(const char* broker, int x509_error, char* errstr,
                                              size_t errstr_size) {
  // OpenSSL checks the chain from the top down to the server's certificate (depth 0), then the
  // host name: the last call of a handshake says how it ended.
  {
    std::lock_guard lock(mutex_);
    if (x509_error == 0) {
      certificate_errors_.erase(broker ? broker : "");
      return true;
    }
    certificate_errors_[broker ? broker : ""] = x509_error;
  }
  std::snprintf(errstr, errstr_size, "%s", x509ErrorText(x509_error).c_str());
  return false;
}

bool ConnectionDiagnostics::report(int error, std::string_view reason) {
  const std::string broker = brokerOf(reason);
  int x509_error = 0;
  {
    std::lock_guard lock(mutex_);
    // Not erased: reports are served later than handshakes happen, so the error of a newer
    // attempt may be recorded already (it is the same while nothing changes).
    auto it = certificate_errors_.find(broker);
    if (it != certificate_errors_.end()) x509_error = it->second;
  }
  std::optional<ConnectionFailure> failure =
      classifyConnectionFailure(error, reason, x509_error, sasl_mechanism_);
  if (!failure) {
    std::string problem = scrub(endpoint_name_ + ": " + std::string(reason));
    std::lock_guard lock(mutex_);
    if (!problem_classified_) problem_ = std::move(problem);
    return false;
  }
  std::string problem = endpoint_name_;
  if (!failure->broker.empty()) problem += " broker " + failure->broker;
  problem = scrub(problem + ": " + failure->text);
  warnings_[static_cast<size_t>(failure->kind)]->report(
      [&] { return problem + "; retrying with backoff"; });
  std::lock_guard lock(mutex_);
  problem_ = std::move(problem);
  problem_classified_ = true;
  authentication_failed_ = failure->kind == ConnectionFailureKind::SaslLoginRefused ||
                           failure->kind == ConnectionFailureKind::SaslMechanismRefused ||
                           failure->kind == ConnectionFailureKind::ClientCertificateRefused;
  return true;
}

void ConnectionDiagnostics::clearProblem() {
  std::lock_guard lock(mutex_);
  problem_.clear();
  problem_classified_ = false;
  authentication_failed_ = false;
}

ConnectionHealth ConnectionDiagnostics::health(bool connected) const {
  if (connected) return healthOf(true);
  std::lock_guard lock(mutex_);
  return healthOf(false, authentication_failed_, problem_);
}

bool ConnectionDiagnostics::repeatsReport(std::string_view facility, std::string_view line) const {
  if (facility == "SSLCERTVRFY") return true;  // our verifyCertificate's refusal, reported
  if (facility != "FAIL") return false;
  return contains(line, "SSL handshake failed") || !tlsAlert(line).empty() ||
         contains(line, "SASL authentication error") ||
         contains(line, "mechanism handshake failed");
}

std::string ConnectionDiagnostics::scrub(std::string text) const {
  for (const std::string& secret : secrets_) {
    for (size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + std::char_traits<char>::length(kRedacted))) {
      text.replace(at, secret.size(), kRedacted);
    }
  }
  return text;
}

}  // namespace dataflow::kafka
