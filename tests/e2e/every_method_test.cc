// Every authentication method the manifest model accepts, in one `dataflow run` at debug level,
// each against a server that checks it, in both directions:
// - Kafka: SASL Plain (username/password over TLS, an Event Hubs connection string as
//   `username`/`password` in plaintext and as the single `token` key over TLS), ScramSha256
//   (plaintext), ScramSha512 (TLS), X509Certificate (mTLS with an intermediate), system- and
//   user-assigned managed identity (OAUTHBEARER, workload identity). Each has a chain
//   MQTT in/<name> -> Kafka t-<name> -> MQTT out/<name> through the same endpoint, so the
//   endpoint both produces and consumes (a consumer group) through its security front.
// - MQTT: X509Certificate (mosquitto requiring a client certificate), ServiceAccountToken
//   (K8S-SAT), system- and user-assigned managed identity (Event Grid's OAUTH2-JWT), each a chain
//   in/<name> -> out/<name> whose source and destination both use the method.
// Then no secret value used (passwords, connection string, private keys, tokens, the federated
// assertion) appears anywhere in the engine's output or in `validate --output json`.
#include <gmock/gmock.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

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
using ::testing::Contains;
using ::testing::IsEmpty;
namespace fs = std::filesystem;

constexpr int kMessages = 10;
constexpr const char* kUserClientId = "00000000-0000-0000-0000-0000000000c1";
constexpr const char* kUserTenantId = "00000000-0000-0000-0000-0000000000a1";
constexpr const char* kPodClientId = "00000000-0000-0000-0000-0000000000c2";
constexpr const char* kPodTenantId = "00000000-0000-0000-0000-0000000000a2";

// The base64 lines of a PEM private key: any of them in a log would be a leak.
std::vector<std::string> keyLines(const std::string& pem_file) {
  std::vector<std::string> lines;
  std::istringstream in(readWholeFile(pem_file));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.find("-----") == std::string::npos) lines.push_back(line);
  }
  return lines;
}

std::string endpoint(const std::string& name, const std::string& type, const std::string& body) {
  const std::string settings = type == "Kafka" ? "kafkaSettings" : "mqttSettings";
  return "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: " +
         name + "\nspec:\n  endpointType: " + type + "\n  " + settings + ":\n" + body;
}

std::string dataflow(const std::string& name, const std::string& from, const std::string& source,
                     const std::string& to, const std::string& destination) {
  return "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
         "metadata:\n  name: " +
         name +
         "\nspec:\n  operations:\n"
         "  - operationType: Source\n    sourceSettings:\n      endpointRef: " +
         from + "\n      dataSources: ['" + source +
         "']\n  - operationType: Destination\n    destinationSettings:\n      endpointRef: " +
         to + "\n      dataDestination: '" + destination + "'\n";
}

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class EveryMethodE2E : public ::testing::Test {
 protected:
  EveryMethodE2E()
      : pki_(makePki(dir_)),
        server_(pki_.server()),
        mosquitto_(mosquittoWithClientCertificates()),
        kafka_(1) {}

  static TestPki makePki(const TempDir& dir) {
    fs::create_directories(dir.file("pki"));
    return TestPki(dir.file("pki"), "methods");
  }
  MosquittoOptions mosquittoWithClientCertificates() const {
    MosquittoOptions options;
    options.tls = MosquittoTls{pki_.caCert(), server_.chain, server_.key, true};
    return options;
  }
  // A client certificate issued by the intermediate CA, mounted as an X509Certificate Secret
  // with the intermediate in its own key: the server trusts only the root, so the handshake
  // proves the chain was sent. Returns the key's file.
  std::string mountClientCertificate(const std::string& secret) {
    TestPki::Leaf leaf;
    leaf.common_name = secret;
    leaf.usage = TestPki::Usage::Client;
    leaf.via_intermediate = true;
    const TestCertificate client = pki_.issue(secret, leaf);
    writeKubernetesMount(dir_.file("secrets/" + secret),
                         {{"client_cert.pem", readWholeFile(client.cert)},
                          {"client_key.pem", readWholeFile(client.key)},
                          {"client_intermediate_certs.pem", readWholeFile(pki_.intermediateCert())}});
    return client.key;
  }

  TempDir dir_{"every-method"};
  TestPki pki_;
  TestCertificate server_;
  Mosquitto mosquitto_;
  MockKafka kafka_;
};

TEST_F(EveryMethodE2E, EachMethodCarriesMessagesBothWaysAndNoSecretIsPrinted) {
  // Secrets, each a fresh random value so that a hit can only be a leak.
  const std::string alice_password = randomName("alice-password-");
  const std::string carol_password = randomName("carol-password-");
  const std::string dave_password = randomName("dave-password-");
  const std::string shared_access_key = randomName("SharedAccessKey");
  const std::string connection_string =
      "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=" +
      shared_access_key;
  const std::string service_account_token = randomName("k8s-sat-");
  const std::string federated_assertion = randomName("federated-assertion-");

  // The servers. Kafka: a SASL front with TLS, one without, and one requiring client
  // certificates; MQTT: mosquitto's TLS listener (client certificates required) and two auth
  // fronts. The token server's tokens are accepted by the fronts the moment they are issued.
  FakeTokenServer tokens;
  const std::string kafka_tokens = dir_.file("kafka-tokens.txt");
  std::ofstream(kafka_tokens) << "";
  MqttAuthFront aio(mosquitto_.port(), "K8S-SAT");
  MqttAuthFront event_grid(mosquitto_.port(), "OAUTH2-JWT");
  aio.setTokens({{"sat", service_account_token}});
  tokens.onIssued([file = acceptInFile(kafka_tokens), front = acceptInFront(event_grid)](
                      const std::string& token) {
    file(token);
    front(token);
  });
  for (const char* folder : {"front-plain", "front-tls", "front-mtls"}) {
    fs::create_directories(dir_.file(folder));
  }
  KafkaFrontOptions sasl;
  sasl.sasl_mechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"};
  sasl.plain_users = {{"alice", alice_password}, {"$ConnectionString", connection_string}};
  sasl.scram_users = {{"carol", carol_password}, {"dave", dave_password}};
  sasl.oauthbearer_tokens_file = kafka_tokens;
  KafkaSecurityFront plaintext_front(kafka_.bootstrapServers(), sasl, dir_.file("front-plain"));
  sasl.tls = KafkaFrontOptions::Tls{server_.chain, server_.key, std::nullopt, false};
  KafkaSecurityFront tls_front(kafka_.bootstrapServers(), sasl, dir_.file("front-tls"));
  KafkaFrontOptions mtls;
  mtls.tls = KafkaFrontOptions::Tls{server_.chain, server_.key, pki_.caCert(), true};
  KafkaSecurityFront mtls_front(kafka_.bootstrapServers(), mtls, dir_.file("front-mtls"));

  // What Kubernetes mounts.
  writeKubernetesMount(dir_.file("configmaps/ca"), {{"ca.crt", readWholeFile(pki_.caCert())}});
  writeKubernetesMount(dir_.file("secrets/alice"),
                       {{"username", "alice"}, {"password", alice_password}});
  writeKubernetesMount(dir_.file("secrets/event-hubs"),
                       {{"username", "$ConnectionString"}, {"password", connection_string}});
  writeKubernetesMount(dir_.file("secrets/event-hubs-token"), {{"token", connection_string}});
  writeKubernetesMount(dir_.file("secrets/carol"),
                       {{"username", "carol"}, {"password", carol_password}});
  writeKubernetesMount(dir_.file("secrets/dave"),
                       {{"username", "dave"}, {"password", dave_password}});
  const std::string kafka_client_key = mountClientCertificate("kafka-client");
  const std::string mqtt_client_key = mountClientCertificate("mqtt-client");
  writeKubernetesMount(dir_.file("tokens"), {{"aio-internal", service_account_token}});
  std::ofstream(dir_.file("federated-token")) << federated_assertion;

  const std::string tls = "    tls:\n      mode: Enabled\n      trustedCaCertificateConfigMapRef: ca\n";
  const std::string no_tls = "    tls:\n      mode: Disabled\n";
  auto sasl_auth = [](const std::string& type, const std::string& secret) {
    return "    authentication:\n      method: Sasl\n      saslSettings:\n        saslType: " + type +
           "\n        secretRef: " + secret + "\n";
  };
  const std::string system_identity =
      "    authentication:\n      method: SystemAssignedManagedIdentity\n"
      "      systemAssignedManagedIdentitySettings:\n"
      "        audience: https://ns.servicebus.windows.net\n";
  const std::string user_identity = std::string(
                                        "    authentication:\n"
                                        "      method: UserAssignedManagedIdentity\n"
                                        "      userAssignedManagedIdentitySettings:\n"
                                        "        clientId: ") +
                                    kUserClientId + "\n        tenantId: " + kUserTenantId + "\n";
  // name -> (host, authentication and TLS).
  const std::map<std::string, std::pair<std::string, std::string>> kafka_methods = {
      {"plain-tls", {tls_front.bootstrapServers(), sasl_auth("Plain", "alice") + tls}},
      {"connection-string", {plaintext_front.bootstrapServers(), sasl_auth("Plain", "event-hubs") + no_tls}},
      {"token-tls", {tls_front.bootstrapServers(), sasl_auth("Plain", "event-hubs-token") + tls}},
      {"scram256", {plaintext_front.bootstrapServers(), sasl_auth("ScramSha256", "carol") + no_tls}},
      {"scram512-tls", {tls_front.bootstrapServers(), sasl_auth("ScramSha512", "dave") + tls}},
      {"x509-tls",
       {mtls_front.bootstrapServers(),
        "    authentication:\n      method: X509Certificate\n      x509CertificateSettings:\n"
        "        secretRef: kafka-client\n" +
            tls}},
      {"system-identity-tls", {tls_front.bootstrapServers(), system_identity + tls}},
      {"user-identity", {plaintext_front.bootstrapServers(), user_identity + no_tls}},
  };
  const std::map<std::string, std::pair<std::string, std::string>> mqtt_methods = {
      {"mqtt-x509-tls",
       {"127.0.0.1:" + std::to_string(mosquitto_.tlsPort()),
        "    authentication:\n      method: X509Certificate\n      x509CertificateSettings:\n"
        "        secretRef: mqtt-client\n" +
            tls}},
      {"mqtt-service-account-token",
       {aio.address(),
        "    authentication:\n      method: ServiceAccountToken\n"
        "      serviceAccountTokenSettings:\n        audience: aio-internal\n" +
            no_tls}},
      {"mqtt-system-identity",
       {event_grid.address(),
        "    authentication:\n      method: SystemAssignedManagedIdentity\n"
        "      systemAssignedManagedIdentitySettings: {}\n" +
            no_tls}},
      {"mqtt-user-identity", {event_grid.address(), user_identity + no_tls}},
  };

  std::ostringstream manifests;
  manifests << endpoint("mqtt", "Mqtt",
                        "    host: " + mosquitto_.address() +
                            "\n    authentication:\n      method: Anonymous\n" + no_tls);
  for (const auto& [name, method] : kafka_methods) {
    kafka_.createTopic("t-" + name, 1);
    manifests << endpoint(name, "Kafka",
                          "    host: " + method.first + "\n    consumerGroupId: group-" + name +
                              "\n" + method.second)
              << dataflow(name + "-out", "mqtt", "in/" + name, name, "t-" + name)
              << dataflow(name + "-back", name, "t-" + name, "mqtt", "out/" + name);
  }
  for (const auto& [name, method] : mqtt_methods) {
    manifests << endpoint(name, "Mqtt", "    host: " + method.first + "\n" + method.second)
              << dataflow(name, name, "in/" + name, name, "out/" + name);
  }
  std::ofstream(dir_.file("flow.yaml")) << manifests.str();

  MqttTestClient subscriber(mosquitto_.address(), randomName("sub-"));
  subscriber.subscribe("out/#", 1);
  ChildProcess engine({DATAFLOW_EXE, "run", "-f", dir_.file("flow.yaml"), "--secrets-dir",
                       dir_.file("secrets"), "--configmaps-dir", dir_.file("configmaps"),
                       "--sat-token-dir", dir_.file("tokens"), "--log-level", "debug",
                       "--drain-timeout", "5"},
                      dir_.file("engine.log"),
                      {"AZURE_FEDERATED_TOKEN_FILE=" + dir_.file("federated-token"),
                       "AZURE_AUTHORITY_HOST=" + tokens.baseUrl() + "/",
                       std::string("AZURE_TENANT_ID=") + kPodTenantId,
                       std::string("AZURE_CLIENT_ID=") + kPodClientId, "IDENTITY_ENDPOINT=",
                       "IMDS_ENDPOINT="});
  // Every MQTT source subscribes before anything is published (a Kafka source starts at the
  // earliest offset of its new group, so it needs no such wait).
  const size_t mqtt_sources = kafka_methods.size() + mqtt_methods.size();
  ASSERT_TRUE(waitFor(
      [&] {
        return occurrences(engine.log(), "MQTT source: subscribed") >= mqtt_sources ||
               !engine.running();
      },
      90s))
      << engine.log();
  ASSERT_TRUE(engine.running()) << engine.log();

  MqttTestClient publisher(mosquitto_.address(), randomName("pub-"));
  std::vector<std::string> names;
  for (const auto& methods : {kafka_methods, mqtt_methods}) {
    for (const auto& entry : methods) names.push_back(entry.first);
  }
  for (const std::string& name : names) {
    for (int i = 0; i < kMessages; ++i) {
      publisher.publish("in/" + name, name + "-" + std::to_string(i), 1);
    }
  }
  std::map<std::string, std::set<std::string>> arrived;  // method -> payloads
  auto complete = [&] {
    for (const std::string& name : names) {
      if (arrived[name].size() < kMessages) return false;
    }
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!complete() && std::chrono::steady_clock::now() < deadline && engine.running()) {
    for (const auto& m : subscriber.receive(1, 1s)) {
      arrived[m->get_topic().substr(std::string("out/").size())].insert(m->to_string());
    }
  }
  for (const std::string& name : names) {
    EXPECT_EQ(arrived[name].size(), static_cast<size_t>(kMessages)) << name;
  }
  if (!complete()) ADD_FAILURE() << engine.log();

  // Each server saw the method it checks, and refused nothing.
  std::set<std::pair<std::string, std::string>> sasl_logins;
  for (const KafkaSecurityFront* front : {&plaintext_front, &tls_front}) {
    for (const auto& e : front->events("authenticated")) {
      sasl_logins.emplace(e.value("mechanism", ""), e.value("user", ""));
    }
    EXPECT_THAT(front->events("auth_failed"), IsEmpty()) << front->log();
  }
  EXPECT_THAT(sasl_logins, Contains(std::pair<std::string, std::string>("PLAIN", "alice")));
  EXPECT_THAT(sasl_logins,
              Contains(std::pair<std::string, std::string>("PLAIN", "$ConnectionString")));
  EXPECT_THAT(sasl_logins, Contains(std::pair<std::string, std::string>("SCRAM-SHA-256", "carol")));
  EXPECT_THAT(sasl_logins, Contains(std::pair<std::string, std::string>("SCRAM-SHA-512", "dave")));
  EXPECT_THAT(sasl_logins, Contains(::testing::Field(&std::pair<std::string, std::string>::first,
                                                     "OAUTHBEARER")));
  EXPECT_THAT(mtls_front.events("tls_failed"), IsEmpty()) << mtls_front.log();
  EXPECT_GT(aio.count("accepted", "sat"), 0u);
  EXPECT_EQ(aio.count("not_authorized"), 0u);
  EXPECT_GT(event_grid.count("accepted"), 0u);
  EXPECT_EQ(event_grid.count("not_authorized"), 0u);
  // Workload identity: the pod's identity for system-assigned, the manifest's for user-assigned,
  // each with the federated assertion, for Event Hubs' and Event Grid's scopes.
  std::set<std::string> client_ids, scopes;
  for (const RecordedRequest& r : tokens.requests()) {
    EXPECT_EQ(r.form.count("client_assertion") ? r.form.at("client_assertion") : "",
              federated_assertion);
    client_ids.insert(r.form.count("client_id") ? r.form.at("client_id") : "");
    scopes.insert(r.form.count("scope") ? r.form.at("scope") : "");
  }
  EXPECT_THAT(client_ids, Contains(kUserClientId));
  EXPECT_THAT(client_ids, Contains(kPodClientId));
  EXPECT_THAT(scopes, Contains("https://ns.servicebus.windows.net/.default"));
  EXPECT_THAT(scopes, Contains("https://eventgrid.azure.net/.default"));

  engine.signal(SIGTERM);
  EXPECT_EQ(engine.wait(60s), std::optional<int>(0)) << engine.log();

  // validate --output json sees the same Secrets.
  ChildProcess validate({DATAFLOW_EXE, "validate", "--secrets-dir", dir_.file("secrets"),
                         "--configmaps-dir", dir_.file("configmaps"), "--output", "json",
                         dir_.file("flow.yaml")},
                        dir_.file("validate.log"));
  EXPECT_EQ(validate.wait(60s), std::optional<int>(0)) << validate.log();

  std::vector<std::string> secrets = {alice_password,  carol_password,        dave_password,
                                      connection_string, shared_access_key,   service_account_token,
                                      federated_assertion};
  for (const std::string& t : tokens.issuedTokens()) secrets.push_back(t);
  for (const std::string& key : {kafka_client_key, mqtt_client_key}) {
    for (const std::string& line : keyLines(key)) secrets.push_back(line);
  }
  EXPECT_FALSE(tokens.issuedTokens().empty());
  EXPECT_THAT(linesWithAnyOf(engine.log(), secrets), IsEmpty());
  EXPECT_THAT(linesWithAnyOf(validate.log(), secrets), IsEmpty());
}

}  // namespace
}  // namespace dataflow::testing
