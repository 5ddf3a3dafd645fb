// `dataflow run --kubernetes` as an operator meets it: resources applied with the real kubectl
// (v1.32) to tests/support/fake_kube_apiserver.py, the engine reading them through list/watch,
// messages flowing through a real mosquitto. Each test has its own API server, KUBECONFIG and
// KUBECACHEDIR.
#include <gmock/gmock.h>
#include <httplib.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/files.h"
#include "tests/support/mosquitto.h"
#include "tests/support/mqtt_client.h"
#include "tests/support/process.h"
#include "tests/support/random_name.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kKubectl = "/usr/bin/kubectl";
constexpr auto kDeadline = 60s;

class KubernetesE2E : public ::testing::Test {
 protected:
  KubernetesE2E() {
    startApiServer();
    std::ofstream(dir_.file("kubeconfig"))
        << "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: "
           "http://127.0.0.1:"
        << api_port_
        << "\nusers:\n- name: fake\n  user:\n    token: test-token\ncontexts:\n- name: fake\n"
           "  context:\n    cluster: fake\n    user: fake\n    namespace: plant-ns\n"
           "current-context: fake\n";
  }

  void startApiServer() {
    api_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kPython,
                                 std::string(DATAFLOW_SOURCE_DIR) +
                                     "/tests/support/fake_kube_apiserver.py",
                                 "--port", std::to_string(api_port_), "--state",
                                 dir_.file("api-state.json")},
        dir_.file("api-" + std::to_string(++api_starts_) + ".log"));
    ASSERT_TRUE(waitFor([&] { return api_->log().find("listening on") != std::string::npos; },
                        kDeadline))
        << api_->log();
  }

  // Runs kubectl with this test's kubeconfig and cache; its output (stdout and stderr).
  std::string kubectl(std::vector<std::string> args, int expected_exit = 0) {
    args.insert(args.begin(), kKubectl);
    args.push_back("--request-timeout=20s");
    const std::string log = dir_.file("kubectl-" + std::to_string(++kubectl_runs_) + ".log");
    ChildProcess run(args, log,
                     {"KUBECONFIG=" + dir_.file("kubeconfig"),
                      "KUBECACHEDIR=" + dir_.file("kube-cache"), "HOME=" + dir_.path()});
    const std::optional<int> code = run.wait(kDeadline);
    if (expected_exit >= 0) {
      EXPECT_EQ(code, std::optional<int>(expected_exit)) << run.log();
    } else if (code != std::optional<int>(0)) {
      return "";  // failed (absent): no output to read
    }
    return run.log();
  }

  // kubectl apply -f of `manifest` (YAML or JSON).
  std::string apply(const std::string& manifest) {
    const std::string file = dir_.file("apply-" + std::to_string(++applies_) + ".yaml");
    std::ofstream(file) << manifest;
    return kubectl({"apply", "-f", file});
  }

  static std::string endpoint(const std::string& name, const std::string& host,
                              const std::string& tls = "      mode: Disabled\n") {
    return "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: " +
           name + "\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n    host: " + host +
           "\n    authentication:\n      method: Anonymous\n    tls:\n" + tls;
  }

  // plant/<name>/+ on `endpoint` -> `destination` on the same endpoint.
  static std::string flow(const std::string& name, const std::string& destination,
                          const std::string& endpoint = "broker") {
    return "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\nmetadata:\n"
           "  name: " +
           name +
           "\nspec:\n  operations:\n  - operationType: Source\n    sourceSettings:\n"
           "      endpointRef: " +
           endpoint + "\n      dataSources: ['plant/" + name +
           "/+']\n  - operationType: Destination\n    destinationSettings:\n      endpointRef: " +
           endpoint + "\n      dataDestination: '" + destination + "'\n";
  }

  void startEngine() {
    engine_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{DATAFLOW_EXE, "run", "--kubernetes", "--kubeconfig",
                                 dir_.file("kubeconfig"), "--drain-timeout", "5"},
        dir_.file("engine.log"), std::vector<std::string>{"TMPDIR=" + dir_.path()});
  }

  size_t count(const std::string& text) const {
    const std::string log = engine_->log();
    size_t found = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
      ++found;
    }
    return found;
  }
  bool logged(const std::string& text, size_t times = 1) {
    return waitFor([&] { return count(text) >= times || !engine_->running(); }, kDeadline) &&
           count(text) >= times;
  }

  // Publishes on plant/<flow>/<n> until something arrives at `subscriber` (the source may not
  // have subscribed yet); returns the first message's topic.
  std::string roundTrip(MqttTestClient& publisher, MqttTestClient& subscriber,
                        const std::string& flow, const std::string& payload) {
    std::string topic;
    waitFor(
        [&] {
          publisher.publish("plant/" + flow + "/1", payload, 1);
          for (const auto& m : subscriber.receive(1, 1s)) {
            if (m->get_payload_str() == payload) topic = m->get_topic();
          }
          return !topic.empty();
        },
        kDeadline);
    return topic;
  }

  // spec.replicas of StatefulSet `name` as kubectl reads it ("" when there is none).
  std::string replicasOf(const std::string& name) {
    return kubectl({"get", "statefulset", name, "-o", "jsonpath={.spec.replicas}"},
                   -1 /* absent is an answer too */);
  }

  // status.state of Dataflow `name` as kubectl reads it.
  std::string stateOf(const std::string& name) {
    return kubectl({"get", "dataflow", name, "-o", "jsonpath={.status.state}"});
  }

  int stopEngine() {
    engine_->signal(SIGTERM);
    return engine_->wait(kDeadline).value_or(-1);
  }

  TempDir dir_{"kubernetes-e2e"};
  int api_port_ = freeTcpPort();
  std::unique_ptr<ChildProcess> api_;
  std::unique_ptr<ChildProcess> engine_;
  Mosquitto mosquitto_;
  int api_starts_ = 0;
  int kubectl_runs_ = 0;
  int applies_ = 0;
};

TEST_F(KubernetesE2E, KubectlApplyRunsTheDataflowsAndAChangeRestartsOnlyThatOne) {
  apply(endpoint("broker", mosquitto_.address()) + "---\n" + flow("flow-a", "out/a") + "---\n" +
        flow("flow-b", "out/b"));
  startEngine();
  ASSERT_TRUE(logged("namespace plant-ns")) << engine_->log();
  ASSERT_TRUE(logged("running 2 of 2 dataflows")) << engine_->log();
  MqttTestClient publisher(mosquitto_.address(), randomName("pub-"));
  MqttTestClient subscriber(mosquitto_.address(), randomName("sub-"));
  subscriber.subscribe("out/#", 1);
  EXPECT_EQ(roundTrip(publisher, subscriber, "flow-a", "a-1"), "out/a") << engine_->log();
  EXPECT_EQ(roundTrip(publisher, subscriber, "flow-b", "b-1"), "out/b") << engine_->log();
  // The status says it runs, in kubectl's table too (the CRD's printer columns).
  EXPECT_TRUE(waitFor([&] { return stateOf("flow-a") == "Running"; }, kDeadline))
      << stateOf("flow-a") << engine_->log();
  EXPECT_THAT(kubectl({"get", "dataflows"}), ::testing::ContainsRegex("flow-a +Running"));
  EXPECT_EQ(kubectl({"get", "dataflowendpoint", "broker", "-o", "jsonpath={.status.state}"}),
            "Valid");

  // A changed dataflow restarts; the other is untouched.
  EXPECT_THAT(apply(flow("flow-a", "out/a2")), HasSubstr("configured"));
  ASSERT_TRUE(logged("applied: started none; restarted flow-a; stopped none; 1 unchanged"))
      << engine_->log();
  EXPECT_EQ(roundTrip(publisher, subscriber, "flow-a", "a-2"), "out/a2") << engine_->log();

  // Deleted: it stops.
  EXPECT_THAT(kubectl({"delete", "dataflow", "flow-b"}), HasSubstr("deleted"));
  ASSERT_TRUE(logged("applied: started none; restarted none; stopped flow-b; 1 unchanged"))
      << engine_->log();
  // The engine authenticated with the kubeconfig's token.
  httplib::Client api("127.0.0.1", api_port_);
  auto tokens = api.Get("/_test/tokens");
  ASSERT_TRUE(tokens);
  EXPECT_THAT(tokens->body, HasSubstr("test-token"));
  EXPECT_EQ(stopEngine(), 0) << engine_->log();
}

// examples/local-bridge as an operator applies it: its dataflow file verbatim, its endpoints with
// the hosts of this test's brokers (the example names localhost:1883 and :1884).
TEST_F(KubernetesE2E, TheLocalBridgeExampleFlowsAndAnEndpointChangeRestartsOnlyItsDataflows) {
  Mosquitto upstream;
  const std::string example = std::string(DATAFLOW_SOURCE_DIR) + "/examples/local-bridge/";
  std::string endpoints = readWholeFile(example + "endpoints.yaml");
  auto replace = [](std::string& text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  };
  replace(endpoints, "host: localhost:1883", "host: " + mosquitto_.address());
  replace(endpoints, "host: localhost:1884", "host: " + upstream.address());
  apply(endpoints);
  kubectl({"apply", "-f", example + "dataflow.yaml"});
  apply(endpoint("broker", mosquitto_.address()) + "---\n" + flow("local", "out/local"));
  startEngine();
  ASSERT_TRUE(logged("running 2 of 2 dataflows")) << engine_->log();

  MqttTestClient publisher(mosquitto_.address(), randomName("pub-"));
  MqttTestClient upstream_subscriber(upstream.address(), randomName("sub-"));
  upstream_subscriber.subscribe("site-a/#", 1);
  std::string topic;
  ASSERT_TRUE(waitFor(
      [&] {
        publisher.publish("factory/press-1/telemetry", R"({"temperature":21.5})", 1);
        for (const auto& m : upstream_subscriber.receive(1, 1s)) topic = m->get_topic();
        return !topic.empty();
      },
      kDeadline))
      << engine_->log();
  EXPECT_EQ(topic, "site-a/press-1/telemetry");
  EXPECT_TRUE(waitFor([&] { return stateOf("bridge-upstream") == "Running"; }, kDeadline));

  // The upstream endpoint changes: only the dataflow that writes through it restarts.
  std::string changed = endpoints;
  replace(changed, "maxInflightMessages: 100", "maxInflightMessages: 50");
  EXPECT_THAT(apply(changed), HasSubstr("dataflowendpoint.connectivity.iotoperations.azure.com/"
                                        "upstream configured"));
  ASSERT_TRUE(logged("applied: started none; restarted bridge-upstream; stopped none; 1 unchanged"))
      << engine_->log();

  // Deleted with the file it was applied from: it stops.
  EXPECT_THAT(kubectl({"delete", "-f", example + "dataflow.yaml"}), HasSubstr("deleted"));
  ASSERT_TRUE(logged("stopped bridge-upstream; 1 unchanged")) << engine_->log();
  EXPECT_EQ(stopEngine(), 0) << engine_->log();
}

TEST_F(KubernetesE2E, ATrustBundleConfigMapComesFromTheApiAndItsUpdateReconnects) {
  fs::create_directories(dir_.file("pki"));
  TestPki pki(dir_.file("pki"), "k8s");
  const TestCertificate server = pki.server();
  MosquittoOptions options;
  options.tls = MosquittoTls{pki.caCert(), server.chain, server.key, false};
  Mosquitto secure(options);
  const std::string ca = readWholeFile(pki.caCert());
  auto configMap = [&](const std::string& pem) {
    return json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", "broker-ca"}}},
                {"data", {{"ca.crt", pem}}}}
        .dump();
  };
  apply(configMap(ca));
  apply(endpoint("secure-broker", "127.0.0.1:" + std::to_string(secure.tlsPort()),
                 "      mode: Enabled\n      trustedCaCertificateConfigMapRef: broker-ca\n") +
        "---\n" + flow("tls-flow", "out/tls", "secure-broker"));
  startEngine();
  MqttTestClient publisher(secure.address(), randomName("pub-"));
  MqttTestClient subscriber(secure.address(), randomName("sub-"));
  subscriber.subscribe("out/#", 1);
  EXPECT_EQ(roundTrip(publisher, subscriber, "tls-flow", "over-tls"), "out/tls")
      << engine_->log();

  // The ConfigMap changes through the API: the dataflow reconnects with the new content.
  apply(configMap(ca + "\n"));
  ASSERT_TRUE(logged("mounted content changed")) << engine_->log();
  ASSERT_TRUE(logged("subscribed", 2)) << engine_->log();
  EXPECT_EQ(roundTrip(publisher, subscriber, "tls-flow", "after-rotation"), "out/tls")
      << engine_->log();
  EXPECT_EQ(stopEngine(), 0) << engine_->log();
}

TEST_F(KubernetesE2E, AClientCertificateSecretUpdatedThroughTheApiReconnectsWithTheNewOne) {
  fs::create_directories(dir_.file("pki"));
  TestPki pki(dir_.file("pki"), "k8s");
  TestPki stranger(dir_.file("pki"), "stranger");
  const TestCertificate server = pki.server();
  MosquittoOptions options;
  options.tls = MosquittoTls{pki.caCert(), server.chain, server.key, true};  // mTLS
  Mosquitto secure(options);
  auto secret = [&](const TestCertificate& client) {
    return json{{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", "client-cert"}}},
                {"type", "Opaque"},
                {"stringData",
                 {{"client_cert.pem", readWholeFile(client.cert)},
                  {"client_key.pem", readWholeFile(client.key)}}}}
        .dump();
  };
  apply(json{{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "broker-ca"}}},
             {"data", {{"ca.crt", readWholeFile(pki.caCert())}}}}
            .dump());
  // First a certificate the broker does not trust: the dataflow cannot connect.
  apply(secret(stranger.client("engine")));
  apply("apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
        "metadata:\n  name: mtls-broker\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
        "    host: 127.0.0.1:" +
        std::to_string(secure.tlsPort()) +
        "\n    authentication:\n      method: X509Certificate\n      x509CertificateSettings:\n"
        "        secretRef: client-cert\n    tls:\n      mode: Enabled\n"
        "      trustedCaCertificateConfigMapRef: broker-ca\n---\n" +
        flow("mtls-flow", "out/mtls", "mtls-broker"));
  startEngine();
  ASSERT_TRUE(waitFor([&] { return stateOf("mtls-flow") == "Connecting"; }, kDeadline))
      << engine_->log();

  // The Secret is updated through the API with a certificate the broker's CA issued.
  apply(secret(pki.client("engine")));
  ASSERT_TRUE(logged("mounted content changed")) << engine_->log();
  MqttTestClient publisher(secure.address(), randomName("pub-"));
  MqttTestClient subscriber(secure.address(), randomName("sub-"));
  subscriber.subscribe("out/#", 1);
  EXPECT_EQ(roundTrip(publisher, subscriber, "mtls-flow", "with-the-new-certificate"), "out/mtls")
      << engine_->log();
  EXPECT_TRUE(waitFor([&] { return stateOf("mtls-flow") == "Running"; }, kDeadline));
  EXPECT_EQ(stopEngine(), 0) << engine_->log();
}

TEST_F(KubernetesE2E, TheWatchResumesAfterTheApiServerRestartsAndRelistsAfterExpiry) {
  apply(endpoint("broker", mosquitto_.address()) + "---\n" + flow("steady", "out/one"));
  startEngine();
  ASSERT_TRUE(logged("running 1 of 1 dataflow")) << engine_->log();

  // The API server goes away and comes back on the same port with its objects.
  api_->signal(SIGKILL);
  api_->wait(kDeadline);
  ASSERT_TRUE(logged("watch failed")) << engine_->log();
  startApiServer();
  EXPECT_THAT(apply(flow("steady", "out/two")), HasSubstr("configured"));
  ASSERT_TRUE(logged("restarted steady")) << engine_->log();

  // The server forgets its history: every watch gets 410 Expired and lists again.
  httplib::Client api("127.0.0.1", api_port_);
  ASSERT_TRUE(api.Post("/_test/expire"));
  ASSERT_TRUE(logged("expired; listing again")) << engine_->log();
  apply(flow("late", "out/late"));
  ASSERT_TRUE(logged("started late")) << engine_->log();
  MqttTestClient publisher(mosquitto_.address(), randomName("pub-"));
  MqttTestClient subscriber(mosquitto_.address(), randomName("sub-"));
  subscriber.subscribe("out/#", 1);
  EXPECT_EQ(roundTrip(publisher, subscriber, "steady", "s"), "out/two") << engine_->log();
  EXPECT_EQ(roundTrip(publisher, subscriber, "late", "l"), "out/late") << engine_->log();
  EXPECT_EQ(stopEngine(), 0) << engine_->log();
}

TEST_F(KubernetesE2E, AnInvalidResourceIsRefusedAndWhatRunsKeepsRunning) {
  // Invalid from the start: the pod waits for a fix instead of exiting.
  apply(flow("early", "out/early", "missing-endpoint"));
  startEngine();
  ASSERT_TRUE(logged("waiting for a valid change")) << engine_->log();
  EXPECT_TRUE(engine_->running());
  apply(endpoint("broker", mosquitto_.address()) + "---\n" + flow("early", "out/early"));
  ASSERT_TRUE(logged("started early")) << engine_->log();

  // A change that breaks a dataflow is refused; the running one stays.
  apply(flow("early", "out/early", "no-such-endpoint"));
  // (An earlier refusal may be logged already: applying the endpoint and the dataflow together
  // arrives as two events. This one names the missing endpoint.)
  ASSERT_TRUE(logged("no-such-endpoint")) << engine_->log();
  ASSERT_TRUE(logged("refused")) << engine_->log();
  MqttTestClient publisher(mosquitto_.address(), randomName("pub-"));
  MqttTestClient subscriber(mosquitto_.address(), randomName("sub-"));
  subscriber.subscribe("out/#", 1);
  EXPECT_EQ(roundTrip(publisher, subscriber, "early", "still"), "out/early") << engine_->log();
  EXPECT_THAT(engine_->log(), HasSubstr("no-such-endpoint"));
  // The resource's status carries the error, with its field path.
  EXPECT_TRUE(waitFor([&] { return stateOf("early") == "Invalid"; }, kDeadline))
      << stateOf("early");
  const std::string errors =
      kubectl({"get", "dataflow", "early", "-o", "jsonpath={.status.errors}"});
  EXPECT_THAT(errors, HasSubstr("endpointRef"));
  EXPECT_THAT(errors, HasSubstr("no-such-endpoint"));
  EXPECT_EQ(kubectl({"get", "dataflow", "early", "-o", "jsonpath={.status.observedGeneration}"}),
            kubectl({"get", "dataflow", "early", "-o", "jsonpath={.metadata.generation}"}));
  EXPECT_EQ(stopEngine(), 0) << engine_->log();
}

// `dataflow operator`: each profile becomes a StatefulSet (replicas = instanceCount) and a headless
// Service owned by it; the implicit default profile when none exists; rescaling and deletion.
TEST_F(KubernetesE2E, TheOperatorReconcilesProfilesIntoStatefulSets) {
  ChildProcess op({DATAFLOW_EXE, "operator", "--kubeconfig", dir_.file("kubeconfig"),
                   "--engine-image", "registry.example/dataflow-engine:test",
                   "--engine-service-account", "dataflow-engine", "--metrics-port", "0",
                   "--metrics-address", "127.0.0.1", "--resync-seconds", "1"},
                  dir_.file("operator.log"));
  // No profile: the implicit default.
  ASSERT_TRUE(waitFor([&] { return replicasOf("aio-dataflow-default") == "1"; }, kDeadline))
      << op.log();
  const std::string default_set =
      kubectl({"get", "statefulset", "aio-dataflow-default", "-o", "json"});
  const json set = json::parse(default_set.substr(default_set.find('{')));
  const json& pod = set["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["image"], "registry.example/dataflow-engine:test");
  EXPECT_EQ(pod["containers"][0]["args"][0], "run");
  EXPECT_EQ(pod["containers"][0]["args"][1], "--kubernetes");
  EXPECT_EQ(pod["serviceAccountName"], "dataflow-engine");
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(kubectl({"get", "service", "aio-dataflow-default", "-o", "jsonpath={.spec.clusterIP}"}),
            "None");

  // A profile with instanceCount 3: its StatefulSet, owned by it; the implicit default goes.
  apply("apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowProfile\n"
        "metadata:\n  name: scaled\nspec:\n  instanceCount: 3\n");
  ASSERT_TRUE(waitFor([&] { return replicasOf("aio-dataflow-scaled") == "3"; }, kDeadline))
      << op.log();
  EXPECT_EQ(kubectl({"get", "statefulset", "aio-dataflow-scaled", "-o",
                     "jsonpath={.metadata.ownerReferences[0].name}"}),
            "scaled");
  ASSERT_TRUE(waitFor([&] { return replicasOf("aio-dataflow-default").empty(); }, kDeadline))
      << op.log();
  EXPECT_TRUE(waitFor(
      [&] {
        return kubectl({"get", "dataflowprofile", "scaled", "-o", "jsonpath={.status.state}"}) ==
               "Reconciled";
      },
      kDeadline));

  // Rescaled, then deleted.
  apply("apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowProfile\n"
        "metadata:\n  name: scaled\nspec:\n  instanceCount: 2\n");
  ASSERT_TRUE(waitFor([&] { return replicasOf("aio-dataflow-scaled") == "2"; }, kDeadline))
      << op.log();
  kubectl({"delete", "dataflowprofile", "scaled"});
  ASSERT_TRUE(waitFor([&] { return replicasOf("aio-dataflow-scaled").empty(); }, kDeadline))
      << op.log();
  op.signal(SIGTERM);
  EXPECT_EQ(op.wait(kDeadline), std::optional<int>(0)) << op.log();
}

TEST_F(KubernetesE2E, OperatorReplicasElectOneLeaderThatHandsOverWhenItDies) {
  auto start = [&](const std::string& identity) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{DATAFLOW_EXE, "operator", "--kubeconfig", dir_.file("kubeconfig"),
                                 "--engine-image", "registry.example/dataflow-engine:test",
                                 "--metrics-port", "0", "--metrics-address", "127.0.0.1",
                                 "--resync-seconds", "1", "--leader-elect-identity", identity,
                                 "--leader-elect-lease-duration", "2",
                                 "--leader-elect-renew-deadline", "1.5",
                                 "--leader-elect-retry-period", "0.2"},
        dir_.file("operator-" + identity + ".log"));
  };
  auto holder = [&] {
    return kubectl({"get", "lease", "dataflow-operator", "-o", "jsonpath={.spec.holderIdentity}"},
                   -1);
  };
  // The operator's probes: GET `path` on the port it logged.
  auto probe = [&](ChildProcess& op, const std::string& path) -> std::optional<httplib::Result> {
    std::smatch port;
    const std::string log = op.log();
    if (!std::regex_search(log, port, std::regex(R"(probes and metrics on http://127\.0\.0\.1:(\d+))"))) {
      return std::nullopt;
    }
    httplib::Client client("127.0.0.1", std::stoi(port[1]));
    return client.Get(path.c_str());
  };
  auto leaderGauge = [&](ChildProcess& op) {
    auto metrics = probe(op, "/metrics");
    if (!metrics || !*metrics) return std::string("?");
    std::smatch value;
    const std::string body = (*metrics)->body;
    return std::regex_search(body, value, std::regex(R"(\ndataflow_operator_leader (\d))"))
               ? std::string(value[1])
               : std::string("?");
  };

  auto a = start("op-a");
  ASSERT_TRUE(waitFor([&] { return holder() == "op-a"; }, kDeadline)) << a->log();
  auto b = start("op-b");
  ASSERT_TRUE(waitFor([&] { return b->log().find("op-a leads; standing by") != std::string::npos; },
                      kDeadline))
      << b->log();
  ASSERT_TRUE(waitFor([&] { return replicasOf("aio-dataflow-default") == "1"; }, kDeadline))
      << a->log();
  EXPECT_EQ(leaderGauge(*a), "1");
  EXPECT_EQ(leaderGauge(*b), "0");
  auto standby = probe(*b, "/readyz");
  ASSERT_TRUE(standby && *standby);
  EXPECT_EQ((*standby)->status, 200);
  EXPECT_THAT((*standby)->body, HasSubstr("standby (leader: op-a)"));

  // The leader dies without releasing the Lease: the standby takes over once it ran out, and
  // reconciles from then on.
  a->signal(SIGKILL);
  ASSERT_TRUE(waitFor([&] { return holder() == "op-b"; }, kDeadline)) << b->log();
  EXPECT_TRUE(waitFor([&] { return leaderGauge(*b) == "1"; }, kDeadline));
  EXPECT_EQ(kubectl({"get", "lease", "dataflow-operator", "-o",
                     "jsonpath={.spec.leaseTransitions}"}),
            "1");
  apply("apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowProfile\n"
        "metadata:\n  name: scaled\nspec:\n  instanceCount: 2\n");
  ASSERT_TRUE(waitFor([&] { return replicasOf("aio-dataflow-scaled") == "2"; }, kDeadline))
      << b->log();

  // A leader stopped with SIGTERM releases the Lease for the next one.
  b->signal(SIGTERM);
  EXPECT_EQ(b->wait(kDeadline), std::optional<int>(0)) << b->log();
  EXPECT_EQ(holder(), "");
  EXPECT_THAT(b->log(), HasSubstr("Lease dataflow-operator released"));
}

}  // namespace
}  // namespace dataflow::testing
