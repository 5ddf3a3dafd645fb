// `dataflow run` against a Kafka that checks credentials for real (the TLS/SASL front before the
// mock cluster), at debug level, as an operator runs it with mounted Secrets and ConfigMaps:
// - SASL PLAIN over TLS (CA from a ConfigMap) whose Secret Kubernetes rotates mid-stream: the
//   dataflow reconnects with the new login, every message arrives, and no secret value appears
//   anywhere in the engine's output;
// - a managed identity (IMDS at an overridden address, served by the fake token server) whose
//   token the front checks in SASL/OAUTHBEARER: messages arrive and the token is never printed;
// - MQTT to MQTT: a source authenticated with a Kubernetes service account token (K8S-SAT) and a
//   destination with a managed identity (Event Grid's OAUTH2-JWT), each behind an auth front that
//   checks the CONNECT; messages arrive and no token is printed.
#include <gmock/gmock.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/identity/accept_issued_tokens.h"
#include "tests/support/identity/fake_token_server.h"
#include "tests/support/kafka/kafka_security_front.h"
#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/kubernetes_mount.h"
#include "tests/support/mosquitto.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/process.h"
#include "tests/support/protocol_fronts.h"
#include "tests/support/random_name.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"
#include "tests/support/files.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SecurityE2E : public ::testing::Test {
 protected:
  SecurityE2E() : kafka_(1), topic_(randomName("secure-")) { kafka_.createTopic(topic_, 1); }

  // The manifests: MQTT (anonymous, plaintext) -> Kafka at `kafka_host` with `kafka_auth_and_tls`
  // (YAML indented under kafkaSettings).
  void writeManifests(const std::string& kafka_host, const std::string& kafka_auth_and_tls) {
    std::ofstream(dir_.file("flow.yaml"))
        << "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: mqtt\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
           "    host: "
        << mosquitto_.address()
        << "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n"
           "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n"
           "    host: "
        << kafka_host << "\n"
        << kafka_auth_and_tls
        << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
           "metadata:\n  name: flow\nspec:\n  operations:\n"
           "  - operationType: Source\n    sourceSettings:\n      endpointRef: mqtt\n"
           "      dataSources: ['plant/+/data']\n"
           "  - operationType: Destination\n    destinationSettings:\n      endpointRef: kafka\n"
           "      dataDestination: '"
        << topic_ << "'\n";
  }

  void startEngine(std::vector<std::string> env = {}) {
    engine_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{DATAFLOW_EXE, "run", "-f", dir_.file("flow.yaml"), "--secrets-dir",
                                 dir_.file("secrets"), "--configmaps-dir", dir_.file("configmaps"),
                                 "--log-level", "debug", "--drain-timeout", "5"},
        dir_.file("engine.log"), std::move(env));
    ASSERT_TRUE(waitFor(
        [&] {
          return engine_->log().find("subscribed") != std::string::npos || !engine_->running();
        },
        30s))
        << engine_->log();
    ASSERT_TRUE(engine_->running()) << engine_->log();
  }

  // Publishes "m<first>".."m<first+count-1>" at QoS 1.
  void publish(MqttTestClient& client, int first, int count) {
    for (int i = first; i < first + count; ++i) {
      client.publish("plant/m1/data", "m" + std::to_string(i), 1);
    }
  }

  // The payloads of topic_ once `count` records have arrived (fewer on timeout).
  std::set<std::string> received(size_t count) {
    if (!reader_) reader_ = std::make_unique<KafkaReader>(kafka_.bootstrapServers(), topic_);
    for (const KafkaRecord& r : reader_->readAtLeast(count - payloads_.size(), 60s)) {
      payloads_.insert(r.value);
    }
    return payloads_;
  }

  // Every line of the engine's output that contains one of `secrets`.
  std::vector<std::string> linesWithAnyOf(const std::vector<std::string>& secrets) {
    return testing::linesWithAnyOf(engine_->log(), secrets);
  }

  TempDir dir_{"security-e2e"};
  Mosquitto mosquitto_;
  MockKafka kafka_;
  std::string topic_;
  std::unique_ptr<ChildProcess> engine_;
  std::unique_ptr<KafkaReader> reader_;
  std::set<std::string> payloads_;
};

TEST_F(SecurityE2E, RotatedSaslSecretOverTlsReconnectsLosesNothingAndLeaksNothing) {
  fs::create_directories(dir_.file("pki"));
  TestPki pki(dir_.file("pki"), "e2e");
  const TestCertificate server = pki.server();
  const std::string first_password = randomName("first-password-");
  const std::string second_password = randomName("second-password-");
  KafkaFrontOptions options;
  options.tls = KafkaFrontOptions::Tls{server.chain, server.key, std::nullopt, false};
  options.sasl_mechanisms = {"PLAIN"};
  options.plain_users = {{"alice", first_password}, {"bob", second_password}};
  KafkaSecurityFront front(kafka_.bootstrapServers(), options, dir_.path());
  writeKubernetesMount(dir_.file("secrets/creds"),
                       {{"username", "alice"}, {"password", first_password}});
  writeKubernetesMount(dir_.file("configmaps/kafka-ca"), {{"ca.crt", readWholeFile(pki.caCert())}});
  writeManifests(
      front.bootstrapServers(),
      "    authentication:\n      method: Sasl\n      saslSettings:\n"
      "        saslType: Plain\n        secretRef: creds\n"
      "    tls:\n      mode: Enabled\n      trustedCaCertificateConfigMapRef: kafka-ca\n");
  startEngine();
  MqttTestClient client(mosquitto_.address(), randomName("pub-"));
  publish(client, 0, 50);
  ASSERT_EQ(received(50).size(), 50u) << engine_->log();

  // Kubernetes rotates the Secret while messages keep coming.
  std::thread publisher([&] {
    MqttTestClient during(mosquitto_.address(), randomName("pub-during-"));
    publish(during, 50, 100);
  });
  writeKubernetesMount(dir_.file("secrets/creds"),
                       {{"username", "bob"}, {"password", second_password}});
  publisher.join();
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& e : front.events("authenticated")) {
          if (e.value("user", "") == "bob") return true;
        }
        return false;
      },
      60s))
      << engine_->log();
  publish(client, 150, 50);
  const std::set<std::string> all = received(200);
  EXPECT_EQ(all.size(), 200u) << engine_->log();
  EXPECT_THAT(engine_->log(), ::testing::HasSubstr("mounted content changed"));

  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
  EXPECT_THAT(linesWithAnyOf({first_password, second_password, readWholeFile(server.key)}),
              ::testing::IsEmpty());
}

TEST_F(SecurityE2E, ManagedIdentityTokenIsCheckedByTheBrokerAndNeverPrinted) {
  FakeTokenServer tokens;
  // The front accepts exactly the tokens the token server issues, from the moment it issues them.
  const std::string tokens_file = dir_.file("tokens.txt");
  std::ofstream(tokens_file) << "";
  tokens.onIssued(acceptInFile(tokens_file));
  KafkaFrontOptions options;
  options.sasl_mechanisms = {"OAUTHBEARER"};
  options.oauthbearer_tokens_file = tokens_file;
  KafkaSecurityFront front(kafka_.bootstrapServers(), options, dir_.path());
  fs::create_directories(dir_.file("secrets"));
  fs::create_directories(dir_.file("configmaps"));
  writeManifests(front.bootstrapServers(),
                 "    authentication:\n      method: SystemAssignedManagedIdentity\n"
                 "      systemAssignedManagedIdentitySettings:\n"
                 "        audience: https://ns.servicebus.windows.net\n"
                 "    tls:\n      mode: Disabled\n");
  startEngine({"AZURE_POD_IDENTITY_AUTHORITY_HOST=" + tokens.baseUrl()});
  MqttTestClient client(mosquitto_.address(), randomName("pub-"));
  publish(client, 0, 20);
  EXPECT_EQ(received(20).size(), 20u) << engine_->log() << front.log();
  EXPECT_FALSE(front.events("authenticated").empty());
  EXPECT_TRUE(front.events("auth_failed").empty()) << front.log();
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
  EXPECT_THAT(linesWithAnyOf(tokens.issuedTokens()), ::testing::IsEmpty());
}

TEST_F(SecurityE2E, MqttWithAServiceAccountTokenToMqttWithAManagedIdentity) {
  FakeTokenServer tokens;
  MqttAuthFront aio(mosquitto_.port(), "K8S-SAT");
  MqttAuthFront event_grid(mosquitto_.port(), "OAUTH2-JWT");
  const std::string sat = randomName("sat-token-");
  aio.setTokens({{"sat", sat}});
  writeKubernetesMount(dir_.file("tokens"), {{"aio-internal", sat}});
  tokens.onIssued(acceptInFront(event_grid));
  fs::create_directories(dir_.file("secrets"));
  fs::create_directories(dir_.file("configmaps"));
  std::ofstream(dir_.file("flow.yaml"))
      << "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: aio\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n    host: "
      << aio.address()
      << "\n    authentication:\n      method: ServiceAccountToken\n"
         "      serviceAccountTokenSettings:\n        audience: aio-internal\n"
         "    tls:\n      mode: Disabled\n"
         "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: event-grid\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
         "    host: "
      << event_grid.address()
      << "\n    authentication:\n      method: SystemAssignedManagedIdentity\n"
         "      systemAssignedManagedIdentitySettings: {}\n    tls:\n      mode: Disabled\n"
         "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
         "metadata:\n  name: flow\nspec:\n  operations:\n"
         "  - operationType: Source\n    sourceSettings:\n      endpointRef: aio\n"
         "      dataSources: ['plant/+/data']\n"
         "  - operationType: Destination\n    destinationSettings:\n"
         "      endpointRef: event-grid\n      dataDestination: 'forwarded'\n";
  MqttTestClient subscriber(mosquitto_.address(), randomName("sub-"));
  subscriber.subscribe("forwarded", 1);
  engine_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{DATAFLOW_EXE, "run", "-f", dir_.file("flow.yaml"), "--sat-token-dir",
                               dir_.file("tokens"), "--log-level", "debug", "--drain-timeout", "5"},
      dir_.file("engine.log"),
      std::vector<std::string>{"AZURE_POD_IDENTITY_AUTHORITY_HOST=" + tokens.baseUrl()});
  ASSERT_TRUE(waitFor([&] { return aio.count("accepted", "sat") > 0 || !engine_->running(); }, 60s))
      << engine_->log();
  ASSERT_TRUE(waitFor([&] { return event_grid.count("accepted") > 0 || !engine_->running(); }, 60s))
      << engine_->log();
  ASSERT_TRUE(waitFor([&] { return engine_->log().find("subscribed") != std::string::npos; }, 60s))
      << engine_->log();
  MqttTestClient publisher(mosquitto_.address(), randomName("pub-"));
  publish(publisher, 0, 20);
  EXPECT_EQ(subscriber.receive(20, 60s).size(), 20u) << engine_->log();
  EXPECT_EQ(event_grid.count("not_authorized"), 0u);
  engine_->signal(SIGTERM);
  EXPECT_EQ(engine_->wait(30s), std::optional<int>(0)) << engine_->log();
  std::vector<std::string> secrets = tokens.issuedTokens();
  secrets.push_back(sat);
  EXPECT_THAT(linesWithAnyOf(secrets), ::testing::IsEmpty());
}

}  // namespace
}  // namespace dataflow::testing
