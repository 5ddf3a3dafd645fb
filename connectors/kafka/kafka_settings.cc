#include "connectors/kafka/kafka_settings.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>

#include "connectors/common/client_chain_file.h"

namespace dataflow::kafka {

namespace {

using config::AuthMethod;
using config::OperationalMode;

// An Event Hubs connection string, the only SASL "token" the AIO documentation describes.
constexpr std::string_view kEventHubsConnectionStringPrefix = "Endpoint=sb://";
constexpr const char* kEventHubsUsername = "$ConnectionString";
constexpr const char* kRedacted = "[redacted]";
constexpr size_t kLongestLoggedValue = 80;

void set(ClientConfig& config, const char* name, std::string value) {
  config.push_back({name, std::move(value)});
}

int64_t clampTo(int64_t value, int64_t low, int64_t high) { return std::clamp(value, low, high); }

// With TLS: the ConfigMap's CA bundle file when one is named (MountedFiles::trustBundleFile,
// the rule the MQTT connector follows too), passed by path: OpenSSL loads every certificate of
// the file, and librdkafka's errors then name it. Without a ConfigMap, ssl.ca.location=probe
// makes librdkafka look in the usual distribution paths (/etc/ssl/certs/ca-certificates.crt,
// /etc/pki/tls/certs/ca-bundle.crt, ...) rather than only in the directory OpenSSL was built
// with, which container images often leave empty.
// With TLS disabled there is nothing to verify, so a CA reference has no effect (as in AIO).
Status addTrustedCa(const config::Tls& tls, const config::MountedFiles& files,
                    ClientConfig& config) {
  if (tls.mode == OperationalMode::Disabled) return Status::ok();
  if (!tls.trusted_ca_certificate_config_map_ref) {
    set(config, "ssl.ca.location", "probe");
    return Status::ok();
  }
  Result<std::string> file = files.trustBundleFile(*tls.trusted_ca_certificate_config_map_ref);
  if (!file.isOk()) return file.status();
  set(config, "ssl.ca.location", file.value());
  return Status::ok();
}

const char* saslMechanism(config::SaslType type) {
  switch (type) {
    case config::SaslType::Plain:
      return "PLAIN";
    case config::SaslType::ScramSha256:
      return "SCRAM-SHA-256";
    case config::SaslType::ScramSha512:
      return "SCRAM-SHA-512";
  }
  return "PLAIN";
}

struct SaslCredentials {
  std::string username;
  std::string password;
};

// The AIO documentation gives two secret layouts. The Event Hubs section: keys `username`
// ($ConnectionString) and `password` (the connection string), used as they are for any broker.
// The generic SASL section: a single key `token`, "the SASL token", whose only documented value
// is an Event Hubs connection string; it is used as the password with username
// $ConnectionString. Any other token is refused: there is no username to pair it with.
Result<SaslCredentials> saslCredentials(const std::string& secret,
                                        const config::MountedFiles& files) {
  if (files.hasSecretKey(secret, "username") || files.hasSecretKey(secret, "password")) {
    Result<std::string> username = files.secret(secret, "username");
    if (!username.isOk()) return username.status();
    Result<std::string> password = files.secret(secret, "password");
    if (!password.isOk()) return password.status();
    return SaslCredentials{std::move(username).value(), std::move(password).value()};
  }
  if (files.hasSecretKey(secret, "token")) {
    Result<std::string> token = files.secret(secret, "token");
    if (!token.isOk()) return token.status();
    if (!token.value().starts_with(kEventHubsConnectionStringPrefix)) {
      return Status::fatal("secret \"" + secret +
                           "\": key token is not an Event Hubs connection string "
                           "(Endpoint=sb://...); give keys username and password instead");
    }
    return SaslCredentials{kEventHubsUsername, std::move(token).value()};
  }
  if (!files.secretsDir()) return files.secret(secret, "username").status();
  return Status::fatal("secret \"" + secret +
                       "\" needs keys username and password (Event Hubs: username "
                       "$ConnectionString, password the connection string), or a key token "
                       "holding an Event Hubs connection string");
}

Status addSasl(const config::SaslSettings& sasl, const config::MountedFiles& files,
               ClientConfig& config) {
  Result<SaslCredentials> credentials = saslCredentials(sasl.secret_ref, files);
  if (!credentials.isOk()) return credentials.status();
  set(config, "sasl.mechanisms", saslMechanism(sasl.sasl_type));
  set(config, "sasl.username", std::move(credentials.value().username));
  set(config, "sasl.password", std::move(credentials.value().password));
  return Status::ok();
}

// The chain file of Secret `secret`: client_cert.pem followed by client_intermediate_certs.pem,
// one private file per secret for the process's lifetime, rewritten (atomically) every time a
// client's configuration is made, so a rotated secret reaches the next client. Certificates are
// public; the key stays where it is mounted.
Result<std::string> clientChainFile(const std::string& secret, const std::string& certificate,
                                    const std::string& intermediates) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<ClientChainFile>> files;  // guarded by mutex
  std::lock_guard lock(mutex);
  std::unique_ptr<ClientChainFile>& file = files[secret];
  if (!file) {
    Result<std::unique_ptr<ClientChainFile>> created = ClientChainFile::create();
    if (!created.isOk()) return created.status();
    file = std::move(created).value();
  }
  if (Status written = file->write(certificate, intermediates); !written.isOk()) return written;
  return file->path();
}

// Mutual TLS from the secret's PEM files, passed by path. librdkafka 2.0.2 loads
// ssl.certificate.location with SSL_CTX_use_certificate_chain_file, so every certificate of that
// file is sent as the chain; a separate client_intermediate_certs.pem key (its
// ssl.certificate.pem would send only the first certificate) goes into a chain file with the
// certificate.
Status addX509(const config::X509CertificateSettings& x509, bool tls,
               const config::MountedFiles& files, ClientConfig& config) {
  if (!tls) {
    return Status::fatal(
        "X509Certificate authentication needs tls.mode Enabled: a client certificate is only "
        "presented in a TLS handshake");
  }
  Result<std::string> certificate = files.secretPath(x509.secret_ref, "client_cert.pem");
  if (!certificate.isOk()) return certificate.status();
  Result<std::string> key = files.secretPath(x509.secret_ref, "client_key.pem");
  if (!key.isOk()) return key.status();
  if (files.hasSecretKey(x509.secret_ref, "client_intermediate_certs.pem")) {
    Result<std::string> intermediates =
        files.secretPath(x509.secret_ref, "client_intermediate_certs.pem");
    if (!intermediates.isOk()) return intermediates.status();
    Result<std::string> chain =
        clientChainFile(x509.secret_ref, certificate.value(), intermediates.value());
    if (!chain.isOk()) return chain.status();
    certificate = std::move(chain);
  }
  set(config, "ssl.certificate.location", std::move(certificate).value());
  set(config, "ssl.key.location", std::move(key).value());
  return Status::ok();
}

Status addAuthentication(const config::Authentication& authentication, bool tls,
                         const config::MountedFiles& files, ClientConfig& config) {
  switch (authentication.method) {
    case AuthMethod::Anonymous:
      return Status::ok();
    case AuthMethod::Sasl:
      if (!authentication.sasl) return Status::fatal("Sasl authentication needs saslSettings");
      return addSasl(*authentication.sasl, files, config);
    case AuthMethod::X509Certificate:
      if (!authentication.x509) {
        return Status::fatal("X509Certificate authentication needs x509CertificateSettings");
      }
      return addX509(*authentication.x509, tls, files, config);
    case AuthMethod::SystemAssignedManagedIdentity:
    case AuthMethod::UserAssignedManagedIdentity:
      // The token itself comes from the refresh callback the clients install (oauthbearer.h).
      set(config, "sasl.mechanisms", "OAUTHBEARER");
      return Status::ok();
    case AuthMethod::ServiceAccountToken:
      break;
  }
  return Status::fatal(std::string("authentication method ") +
                       config::toString(authentication.method) +
                       " is for MQTT endpoints (the AIO broker's K8S-SAT); a Kafka endpoint does "
                       "not accept it");
}

const char* acks(config::KafkaAcks acks) {
  switch (acks) {
    case config::KafkaAcks::Zero:
      return "0";
    case config::KafkaAcks::One:
      return "1";
    case config::KafkaAcks::All:
      return "all";
  }
  return "all";
}

const char* compressionCodec(config::Compression compression) {
  switch (compression) {
    case config::Compression::None:
      return "none";
    case config::Compression::Gzip:
      return "gzip";
    case config::Compression::Snappy:
      return "snappy";
    case config::Compression::Lz4:
      return "lz4";
    case config::Compression::Zstd:
      return "zstd";
  }
  return "none";
}

// Batching Enabled: a batch leaves when latencyMs, maxMessages or maxBytes is reached. The
// manifest allows 0 .. 4294967295 for the two limits; librdkafka needs batch.num.messages in
// 1 .. 1000000 and batch.size in 1 .. 2147483647, so they are clamped (0 means one message per
// batch, which is what librdkafka does for 1: a batch always takes its first message).
// latencyMs (0 .. 65535) fits linger.ms (0 .. 900000) as it is. Disabled: one message per batch.
void addBatching(const config::KafkaBatching& batching, ProducerConfig& config) {
  if (batching.mode == OperationalMode::Disabled) {
    set(config, "linger.ms", "0");
    set(config, "batch.num.messages", "1");
    return;
  }
  set(config, "linger.ms", std::to_string(batching.latency_ms));
  set(config, "batch.num.messages",
      std::to_string(clampTo(batching.max_messages, 1, kMaxBatchMessages)));
  set(config, "batch.size", std::to_string(clampTo(batching.max_bytes, 1, kMaxInt32Property)));
}

// Durability and ordering. acks=all turns on the idempotent producer: retries then neither
// duplicate nor reorder records (librdkafka requires acks=all for it, so only then).
// murmur2_random maps a key where Java's default partitioner does; null keys stay sticky-random.
void addDelivery(const config::KafkaSettings& settings, ProducerConfig& config) {
  set(config, "acks", acks(settings.kafka_acks));
  set(config, "enable.idempotence",
      settings.kafka_acks == config::KafkaAcks::All ? "true" : "false");
  set(config, "compression.codec", compressionCodec(settings.compression));
  addBatching(settings.batching, config);
  set(config, "partitioner", "murmur2_random");
}

// The producer queue is the destination's in-flight buffer: produce() fails with QUEUE_FULL at
// either bound and send() waits. 0 would disable librdkafka's message bound, so it is at least 1.
// librdkafka counts payload bytes only (not keys or headers). The byte bound is raised to one
// message.max.bytes if smaller: a message librdkafka accepts must fit into an empty queue, or
// send() would wait for it forever.
// message.timeout.ms=0 is "infinite" in librdkafka 2.0.2 (range 0 .. 2147483647): a message is
// retried until it is delivered or refused for good, so a Kafka outage of any length loses
// nothing while the bounded queue holds the source back. retries is librdkafka's maximum.
void addFlightLimits(const runtime::FlightLimits& limits, ProducerConfig& config) {
  const int64_t max_messages =
      static_cast<int64_t>(std::min<size_t>(limits.max_messages, INT64_MAX));
  const int64_t max_bytes = static_cast<int64_t>(std::min<size_t>(limits.max_bytes, INT64_MAX));
  const int64_t kbytes = max_bytes / 1024 + (max_bytes % 1024 != 0 ? 1 : 0);
  const int64_t min_kbytes = (kMessageMaxBytes + 1023) / 1024;
  set(config, "message.max.bytes", std::to_string(kMessageMaxBytes));
  set(config, "queue.buffering.max.messages",
      std::to_string(clampTo(max_messages, 1, kMaxInt32Property)));
  set(config, "queue.buffering.max.kbytes",
      std::to_string(clampTo(kbytes, min_kbytes, kMaxInt32Property)));
  set(config, "message.timeout.ms", "0");
  set(config, "message.send.max.retries", std::to_string(kMaxInt32Property));
}

void addReconnectBackoff(ClientConfig& config) {
  set(config, "reconnect.backoff.ms", std::to_string(kReconnectBackoffMs));
  set(config, "reconnect.backoff.max.ms", std::to_string(kReconnectBackoffMaxMs));
}

// What every client of the endpoint shares: who it is, where the brokers are, how it secures and
// authenticates the connection. Fatal for settings that cannot work (see producerConfig).
Result<ClientConfig> connectionConfig(const config::KafkaSettings& settings,
                                      const config::MountedFiles& files,
                                      std::string_view client_id) {
  const bool tls = settings.tls.mode == OperationalMode::Enabled;
  const AuthMethod method = settings.authentication.method;
  const bool sasl = method == AuthMethod::Sasl ||
                    method == AuthMethod::SystemAssignedManagedIdentity ||
                    method == AuthMethod::UserAssignedManagedIdentity;
  ClientConfig config;
  set(config, "client.id", std::string(client_id));
  set(config, "bootstrap.servers", settings.host);
  set(config, "security.protocol",
      tls ? (sasl ? "SASL_SSL" : "SSL") : (sasl ? "SASL_PLAINTEXT" : "PLAINTEXT"));
  if (Status s = addTrustedCa(settings.tls, files, config); !s.isOk()) return s;
  if (Status s = addAuthentication(settings.authentication, tls, files, config); !s.isOk()) {
    return s;
  }
  return config;
}

}  // namespace

Result<ProducerConfig> producerConfig(const config::KafkaSettings& settings,
                                      const config::MountedFiles& files,
                                      const runtime::FlightLimits& limits,
                                      std::string_view client_id) {
  Result<ClientConfig> config = connectionConfig(settings, files, client_id);
  if (!config.isOk()) return config.status();
  addDelivery(settings, config.value());
  addFlightLimits(limits, config.value());
  addReconnectBackoff(config.value());
  // Connection attempts, disconnects and request retries for the metrics.
  set(config.value(), "statistics.interval.ms", std::to_string(kStatisticsIntervalMs));
  return config;
}

// Eager round-robin rather than cooperative-sticky: a rebalance revokes the whole assignment, so
// the source has one simple path (drop the hand-off, wait a bounded time for acknowledgements,
// commit, unassign) and no incremental bookkeeping; rebalances happen only when instances come
// and go. Round-robin rather than range spreads the partitions of several topics evenly.
Result<ConsumerConfig> consumerConfig(const config::KafkaSettings& settings,
                                      const config::MountedFiles& files,
                                      std::string_view client_id) {
  if (!settings.consumer_group_id || settings.consumer_group_id->empty()) {
    return Status::fatal(
        "a Kafka source needs kafkaSettings.consumerGroupId: the consumer group whose committed "
        "offsets say where to resume");
  }
  Result<ClientConfig> config = connectionConfig(settings, files, client_id);
  if (!config.isOk()) return config.status();
  ClientConfig& c = config.value();
  set(c, "group.id", *settings.consumer_group_id);
  set(c, "enable.auto.commit", "false");
  set(c, "enable.auto.offset.store", "false");
  set(c, "auto.offset.reset", "earliest");
  // The consumer lag per partition, connection attempts, disconnects and request retries for
  // the metrics, from librdkafka's statistics.
  set(c, "statistics.interval.ms", std::to_string(kStatisticsIntervalMs));
  set(c, "partition.assignment.strategy", "roundrobin");
  // A crashed instance's partitions wait this long for a new owner; librdkafka's 45 s default
  // (Kafka 3.0's) is long for an edge gateway. 10 s was Kafka's default before 3.0 and is inside
  // Event Hubs' accepted range (6 s to 300 s). heartbeat.interval.ms stays 3 s.
  set(c, "session.timeout.ms", std::to_string(kConsumerSessionTimeoutMs));
  set(c, "queued.max.messages.kbytes", std::to_string(kConsumerPrefetchKbytes));
  set(c, "queued.min.messages", std::to_string(kConsumerPrefetchMessages));
  set(c, "fetch.wait.max.ms", std::to_string(kConsumerFetchWaitMs));
  addReconnectBackoff(c);
  return config;
}

const std::string* findProperty(const ClientConfig& config, std::string_view name) {
  for (const ConfigProperty& property : config) {
    if (property.name == name) return &property.value;
  }
  return nullptr;
}

bool isSecretProperty(std::string_view name) {
  return name == "sasl.password" || name == "ssl.key.password" || name == "ssl.key.pem" ||
         name == "ssl.keystore.password" || name.starts_with("sasl.oauthbearer.");
}

ClientConfig redacted(ClientConfig config) {
  for (ConfigProperty& property : config) {
    if (isSecretProperty(property.name)) property.value = kRedacted;
  }
  return config;
}

std::string describe(const ClientConfig& config) {
  std::string out;
  for (const ConfigProperty& property : redacted(config)) {
    if (!out.empty()) out += ", ";
    out += property.name;
    out += '=';
    if (property.value.size() > kLongestLoggedValue) {
      out += "<" + std::to_string(property.value.size()) + " bytes>";
    } else {
      out += property.value;
    }
  }
  return out;
}

}  // namespace dataflow::kafka
