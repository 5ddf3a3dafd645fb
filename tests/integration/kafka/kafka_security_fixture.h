// The Kafka security integration tests' fixture: the mock cluster behind the TLS/SASL front
// (tests/support/kafka_security_front.py), a test PKI, and the engine's own mapping
// (producerConfig / consumerConfig from kafkaSettings with secrets and ConfigMaps mounted from a
// temporary folder) driving the real KafkaDestination and KafkaSource.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/kafka/kafka_destination.h"
#include "connectors/kafka/kafka_settings.h"
#include "connectors/kafka/kafka_source.h"
#include "tests/integration/kafka/kafka_fixture.h"
#include "tests/integration/kafka/kafka_source_fixture.h"
#include "tests/support/kafka/kafka_security_front.h"
#include "tests/support/process.h"
#include "tests/support/test_pki.h"
#include "tests/support/files.h"

namespace dataflow::testing {

inline constexpr const char* kEndpointName = "secure-kafka";
inline constexpr const char* kCaConfigMap = "kafka-ca";
inline constexpr const char* kSaslSecret = "kafka-sasl";
inline constexpr const char* kClientCertSecret = "kafka-client-cert";

class KafkaSecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new TempDir("kafka-pki");
    pki_ = new TestPki(pki_dir_->path(), "kafka");
    other_pki_ = new TestPki(pki_dir_->path(), "other");
  }
  static void TearDownTestSuite() {
    delete other_pki_;
    delete pki_;
    delete pki_dir_;
  }

  void SetUp() override {
    sink_ = std::make_shared<CapturingSink>();
    logger_ = std::make_shared<spdlog::logger>("kafka-security-test", sink_);
    if (std::getenv("KAFKA_TEST_LOG_LIVE")) {  // every line on stderr as it is written
      logger_->sinks().push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    }
    logger_->set_level(spdlog::level::debug);  // the effective configuration is logged too
    topic_ = randomName("sec-");
    kafka_.createTopic(topic_, 1);
    std::filesystem::create_directories(dir_.file("secrets"));
    std::filesystem::create_directories(dir_.file("configmaps"));
    writeConfigMap(kCaConfigMap, "ca.crt", readWholeFile(pki_->caCert()));
  }
  void TearDown() override {
    // No secret value may appear in any line the connectors logged, whatever the outcome.
    for (const std::string& line : sink_->lines()) {
      for (const std::string& secret : secrets_) {
        EXPECT_EQ(line.find(secret), std::string::npos) << "a secret was logged: " << line;
      }
    }
    if (!HasFailure() && !std::getenv("KAFKA_TEST_LOG")) return;
    for (const std::string& line : sink_->lines()) std::cerr << "  log: " << line << "\n";
    if (front_) std::cerr << "  front:\n" << front_->log();
  }

  void startFront(const KafkaFrontOptions& options) {
    front_ = std::make_unique<KafkaSecurityFront>(kafka_.bootstrapServers(), options, dir_.path());
  }
  static KafkaFrontOptions::Tls frontTls(const TestCertificate& server) {
    return KafkaFrontOptions::Tls{server.chain, server.key, std::nullopt, true};
  }
  static KafkaFrontOptions tlsFront(const KafkaFrontOptions::Tls& tls) {
    KafkaFrontOptions options;
    options.tls = tls;
    return options;
  }

  void writeSecret(const std::string& secret, const std::string& key, const std::string& value) {
    const std::string folder = dir_.file("secrets/" + secret);
    std::filesystem::create_directories(folder);
    std::ofstream(folder + "/" + key, std::ios::binary | std::ios::trunc) << value;
  }
  void writeConfigMap(const std::string& name, const std::string& key, const std::string& value) {
    const std::string folder = dir_.file("configmaps/" + name);
    std::filesystem::create_directories(folder);
    std::ofstream(folder + "/" + key, std::ios::binary | std::ios::trunc) << value;
  }
  // Registers a value TearDown checks no log line carries.
  void rememberSecret(const std::string& value) { secrets_.push_back(value); }
  void writeSaslSecret(const std::string& username, const std::string& password) {
    writeSecret(kSaslSecret, "username", username);
    writeSecret(kSaslSecret, "password", password);
    rememberSecret(password);
  }
  void writeClientCertSecret(const TestCertificate& client) {
    writeSecret(kClientCertSecret, "client_cert.pem", readWholeFile(client.chain));
    const std::string key = readWholeFile(client.key);
    writeSecret(kClientCertSecret, "client_key.pem", key);
    // The key's base64 body, line by line: none of it may be logged.
    std::istringstream lines(key);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with("-----") && line.size() > 16) rememberSecret(line);
    }
  }

  config::MountedFiles files() const {
    return config::MountedFiles(dir_.file("secrets"), dir_.file("configmaps"));
  }

  // kafkaSettings for the front: TLS with the CA ConfigMap when `tls`, then `method`.
  config::KafkaSettings settings(bool tls, config::AuthMethod method,
                                 config::SaslType sasl_type = config::SaslType::Plain) const {
    config::KafkaSettings s;
    s.host = front_->firstBroker();
    s.authentication.method = method;
    if (method == config::AuthMethod::Sasl) {
      s.authentication.sasl = config::SaslSettings{sasl_type, kSaslSecret};
    }
    if (method == config::AuthMethod::X509Certificate) {
      s.authentication.x509 = config::X509CertificateSettings{kClientCertSecret};
    }
    s.batching = {config::OperationalMode::Enabled, 5, 1'000'000, 100'000};
    s.copy_mqtt_properties = config::OperationalMode::Enabled;
    s.compression = config::Compression::None;
    s.kafka_acks = config::KafkaAcks::All;
    s.tls.mode = tls ? config::OperationalMode::Enabled : config::OperationalMode::Disabled;
    if (tls) s.tls.trusted_ca_certificate_config_map_ref = kCaConfigMap;
    s.consumer_group_id = randomName("sec-group-");
    return s;
  }

  std::unique_ptr<kafka::KafkaDestination> startDestination(const config::KafkaSettings& s) {
    Result<kafka::ProducerConfig> config =
        kafka::producerConfig(s, files(), runtime::FlightLimits{}, "kafka-security-test");
    EXPECT_TRUE(config.isOk()) << config.status().message();
    if (!config.isOk()) return nullptr;
    auto destination = std::make_unique<kafka::KafkaDestination>(kafka::KafkaDestination::Options{
        std::move(config).value(), logger_, &clock_, kEndpointName, nullptr});
    Status started = destination->start(recorder_);
    EXPECT_TRUE(started.isOk()) << started.message();
    return destination;
  }

  std::unique_ptr<kafka::KafkaSource> startSource(const config::KafkaSettings& s,
                                                  AckingHandler& handler) {
    Result<kafka::ConsumerConfig> config =
        kafka::consumerConfig(s, files(), randomName("kafka-security-source-"));
    EXPECT_TRUE(config.isOk()) << config.status().message();
    if (!config.isOk()) return nullptr;
    kafka::KafkaSource::Options options;
    options.config = std::move(config).value();
    // Group timings short enough for tests (the mock's rebalance delay follows them).
    options.config.push_back({"session.timeout.ms", "3000"});
    options.config.push_back({"heartbeat.interval.ms", "300"});
    options.topics = {topic_};
    options.logger = logger_;
    options.clock = &clock_;
    options.endpoint_name = kEndpointName;
    auto source = std::make_unique<kafka::KafkaSource>(std::move(options));
    handler.setSource(source.get());
    Status started = source->start(handler);
    EXPECT_TRUE(started.isOk()) << started.message();
    return source;
  }

  // Produces three messages through the front with the real destination, then consumes them
  // through the front with the real source: both ends of the connector pass the server's checks.
  void expectRoundTrip(const config::KafkaSettings& s) {
    auto destination = startDestination(s);
    ASSERT_TRUE(destination);
    for (uint64_t i = 0; i < 3; ++i) {
      Message m;
      m.topic = topic_;
      m.payload = "secure-" + std::to_string(i);
      m.timestamp_ms = 1'700'000'000'000;
      m.ack.sequence = i;
      ASSERT_TRUE(destination->send(std::move(m)).isOk());
    }
    ASSERT_TRUE(recorder_.waitFor(3)) << "the destination did not deliver through the front";
    for (const Delivery& d : recorder_.deliveries())
      EXPECT_TRUE(d.status.isOk()) << d.status.message();
    destination->close();

    AckingHandler handler;
    auto source = startSource(s, handler);
    ASSERT_TRUE(source);
    ASSERT_TRUE(handler.waitForCount(3)) << "the source did not consume through the front";
    std::set<std::string> payloads;
    for (const Message& m : handler.received()) payloads.insert(m.payload);
    EXPECT_EQ(payloads, (std::set<std::string>{"secure-0", "secure-1", "secure-2"}));
    handler.stopAcking();
    source->close();
  }

  // Waits until the connector logged a line containing `text`, and until the front saw at least
  // `attempts` failed attempts of kind `front_event` (librdkafka retries with backoff); then the
  // line must still be there once only (rate-limited), and no client may have failed for good.
  void expectOneClearLine(const std::string& text, const std::string& front_event,
                          size_t attempts = 3) {
    EXPECT_TRUE(waitFor([&] { return sink_->contains(text); }, std::chrono::seconds(30)))
        << "no line containing: " << text;
    EXPECT_TRUE(waitFor([&] { return front_->events(front_event).size() >= attempts; },
                        std::chrono::seconds(30)))
        << "the client did not retry (front events " << front_event << ": "
        << front_->events(front_event).size() << ")";
    EXPECT_EQ(sink_->countContaining(text), 1u) << "not rate-limited: " << text;
    EXPECT_TRUE(recorder_.failures().empty());
  }

  inline static TempDir* pki_dir_ = nullptr;
  inline static TestPki* pki_ = nullptr;
  inline static TestPki* other_pki_ = nullptr;

  TempDir dir_{"kafka-security"};
  MockKafka kafka_{3};
  SystemClock clock_;
  Recorder recorder_;
  std::shared_ptr<CapturingSink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::string topic_;
  std::vector<std::string> secrets_;
  std::unique_ptr<KafkaSecurityFront> front_;
};

}  // namespace dataflow::testing
