// Turns librdkafka's reports of a failed broker connection into one clear, rate-limited line per
// kind of failure, naming the endpoint, the broker and what an operator has to fix: the server's
// certificate (untrusted CA, expired, host name mismatch), this client's certificate (refused by
// the server), or the SASL login (refused credentials, mechanism not offered). librdkafka keeps
// reconnecting with backoff (reconnect.backoff.ms); these lines never stop a client.
//
// Why a certificate check failed is not in librdkafka 2.0.2's error text (with OpenSSL 3 every
// case reads "certificate verify failed"), so the clients install verifyCertificate() as
// librdkafka's ssl.certificate.verify_cb: it keeps OpenSSL's verdict and records the X.509 error
// per broker for the error that follows.
//
// No secret reaches a line written here: scrub() replaces every secret value of the client's
// configuration (isSecretProperty) by "[redacted]", and the clients pass every librdkafka log
// line through it too.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/kafka/kafka_settings.h"
#include "engine/core/clock.h"
#include "engine/core/connection_health.h"
#include "engine/core/rate_limited_warning.h"

namespace dataflow::kafka {

enum class ConnectionFailureKind {
  ServerCertificateUntrusted,  // not signed by a CA in the trust bundle
  ServerCertificateExpired,    // expired or not valid yet
  ServerHostNameMismatch,      // valid, but for another host name
  ServerCertificateRefused,    // any other verification failure
  ClientCertificateRefused,    // the server's TLS alert refused (or asked for) our certificate
  NotTls,                      // the server does not speak TLS (a plaintext listener)
  SaslLoginRefused,            // SASL_AUTHENTICATION_FAILED: wrong credentials or token
  SaslMechanismRefused,        // the server does not offer the configured mechanism
};
inline constexpr int kConnectionFailureKinds = 8;

struct ConnectionFailure {
  ConnectionFailureKind kind;
  std::string broker;  // "host:port" as librdkafka names it; empty when the text has none
  std::string text;    // what failed, for an operator: "TLS: the server's certificate has expired"
};

// Classifies one librdkafka error (error_cb: `error` is an rd_kafka_resp_err_t, `reason` its
// text). `x509_error` is the X.509 verification error recorded for the broker (0: none);
// `sasl_mechanism` the configured sasl.mechanisms (empty without SASL). nullopt: not a TLS or
// SASL failure (a refused TCP connection, a broker going away, ...). Pure.
std::optional<ConnectionFailure> classifyConnectionFailure(int error, std::string_view reason,
                                                           int x509_error,
                                                           std::string_view sasl_mechanism);

// "host:port" of the broker a librdkafka error or log line names ("ssl://h:p/1: ..."), or "".
std::string brokerOf(std::string_view reason);

class ConnectionDiagnostics {
 public:
  // `endpoint`: the endpoint's name (empty: the lines name bootstrap.servers instead).
  // `config`: the client's properties (for the mechanism, the brokers and the secrets to scrub).
  // `clock` outlives this object.
  ConnectionDiagnostics(std::string endpoint, const ClientConfig& config, const Clock& clock,
                        WarningSink sink);
  ConnectionDiagnostics(const ConnectionDiagnostics&) = delete;
  ConnectionDiagnostics& operator=(const ConnectionDiagnostics&) = delete;

  // librdkafka's ssl.certificate.verify_cb, on a broker thread, once per certificate checked:
  // keeps OpenSSL's verdict (`x509_error` == 0), records the last failure for `broker` (a
  // success clears it) and writes its reason into `errstr`.
  // Returns 1 to accept the certificate, 0 to refuse it.
  bool verifyCertificate(const char* broker, int x509_error, char* errstr, size_t errstr_size);

  // error_cb (the client's polling thread): when `reason` is a TLS or SASL failure, writes its
  // line (rate-limited per kind) and returns true. Every error is kept as the latest problem for
  // health(), except that one following a TLS or SASL failure does not hide it (librdkafka's
  // "all brokers are down" comes after the failure that caused it).
  bool report(int error, std::string_view reason);

  // The client reached a broker: the latest problem is over. Any thread.
  void clearProblem();
  // State and problem for the client's health(): Connected when `connected`; else
  // AuthenticationFailed after a SASL refusal or a refused client certificate, Connecting
  // otherwise, with the latest problem (scrubbed). The counters are left at zero. Any thread.
  ConnectionHealth health(bool connected) const;

  // Whether a librdkafka log line repeats what report() says (the FAIL line of the same error,
  // or the certificate verification line), so the caller logs it at debug only.
  bool repeatsReport(std::string_view facility, std::string_view line) const;

  // `text` with every secret value of the configuration replaced by "[redacted]".
  std::string scrub(std::string text) const;

 private:
  const std::string endpoint_;
  std::string endpoint_name_;  // how lines begin: Kafka endpoint "NAME" (or Kafka at SERVERS)
  const std::string sasl_mechanism_;
  std::vector<std::string> secrets_;
  const WarningSink sink_;
  std::vector<std::unique_ptr<RateLimitedWarning>> warnings_;  // one per ConnectionFailureKind

  mutable std::mutex mutex_;
  std::map<std::string, int> certificate_errors_;  // guarded by mutex_: broker -> X509_V_ERR_*
                                                   // of its latest failed handshake
  std::string problem_;         // guarded by mutex_: the latest error, as health() says it
  bool problem_classified_ = false;  // guarded by mutex_: it was a TLS or SASL failure
  bool authentication_failed_ = false;  // guarded by mutex_: a SASL or client certificate one
};

// The X509_V_ERR_* reason an operator reads ("certificate has expired"), for the codes this file
// classifies; "X.509 verification error N" otherwise.
std::string x509ErrorText(int x509_error);

}  // namespace dataflow::kafka
