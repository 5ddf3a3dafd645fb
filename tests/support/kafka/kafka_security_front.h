// The TLS/SASL front (tests/support/kafka_security_front.py) as a child process in front of a
// MockKafka, so a test can point a Kafka client at a server that checks certificates and
// credentials. The front's protocol and its JSON lines are described in the script.
// Failures to start throw std::runtime_error.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace dataflow::testing {

struct KafkaFrontOptions {
  struct Tls {
    std::string cert;  // PEM chain the front presents, leaf first
    std::string key;
    std::optional<std::string> client_ca;  // set: verify client certificates against it
    bool require_client_cert = true;       // with client_ca: refuse a handshake without one
  };
  std::optional<Tls> tls;                              // absent: plaintext
  std::vector<std::string> sasl_mechanisms;            // empty: no SASL
  std::map<std::string, std::string> plain_users;      // user -> password
  std::map<std::string, std::string> scram_users;      // user -> password (SHA-256 and SHA-512)
  std::optional<std::string> oauthbearer_tokens_file;  // "TOKEN [EXPIRY_EPOCH_S]" per line
};

class KafkaSecurityFront {
 public:
  // Starts the front for the cluster at `backend_bootstrap` (any of its brokers) and waits until
  // it listens. Its config and output live in `work_dir`.
  KafkaSecurityFront(const std::string& backend_bootstrap, const KafkaFrontOptions& options,
                     const std::string& work_dir);

  // "127.0.0.1:PORT,...": one listener per backend broker.
  const std::string& bootstrapServers() const { return bootstrap_servers_; }
  // The first listener alone, "127.0.0.1:PORT".
  std::string firstBroker() const;

  // The JSON events printed so far whose "event" is `name` ("authenticated", "auth_failed",
  // "tls_failed", "refused_before_auth", "session_expired").
  std::vector<nlohmann::json> events(const std::string& name) const;
  // Everything the front printed, for failure messages.
  std::string log() const { return process_->log(); }

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string bootstrap_servers_;
};

}  // namespace dataflow::testing
