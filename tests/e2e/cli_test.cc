// The `run` and `dev-kafka` commands as an operator meets them: exit codes, what they print,
// and that nothing starts when the manifests are wrong.
#include <gmock/gmock.h>

#include <filesystem>
#include <fstream>

#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class Cli : public ::testing::Test {
 protected:
  // Runs `dataflow ARGS...` to completion; returns the exit code, the output in `output`.
  int dataflow(std::vector<std::string> args, std::string& output) {
    args.insert(args.begin(), DATAFLOW_EXE);
    ChildProcess process(args, dir_.path() + "/out-" + std::to_string(++runs_) + ".log");
    std::optional<int> code = process.wait(30s);
    output = process.log();
    return code.value_or(-1);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  TempDir dir_;
  int runs_ = 0;
};

constexpr const char* kEndpoints = R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: mqtt
spec:
  endpointType: Mqtt
  mqttSettings:
    host: 127.0.0.1:1
    authentication:
      method: SystemAssignedManagedIdentity
      systemAssignedManagedIdentitySettings: {}
---
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: kafka
spec:
  endpointType: Kafka
  kafkaSettings:
    host: 127.0.0.1:1
    authentication:
      method: Anonymous
---
apiVersion: connectivity.iotoperations.azure.com/v1
kind: Dataflow
metadata:
  name: flow
spec:
  operations:
  - operationType: Source
    sourceSettings:
      endpointRef: mqtt
      dataSources: [a/b]
  - operationType: Destination
    destinationSettings:
      endpointRef: kafka
      dataDestination: out
)";

TEST_F(Cli, InvalidManifestsExitTwoWithEveryErrorAndStartNothing) {
  std::string output;
  const std::string path = write("bad.yaml", R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: kafka
spec:
  endpointType: Kafka
  kafkaSettings:
    hots: x:9092
    authentication:
      method: Anonymous
    batching:
      latencyMs: -1
)");
  EXPECT_EQ(dataflow({"run", "-f", path}, output), 2);
  EXPECT_THAT(output, HasSubstr("bad.yaml:8:5: spec.kafkaSettings.hots: unknown field \"hots\""));
  EXPECT_THAT(output, HasSubstr("bad.yaml:12:18: spec.kafkaSettings.batching.latencyMs"));
  EXPECT_THAT(output, HasSubstr("nothing started"));
}

// kEndpoints with the MQTT endpoint's managed identity replaced by anonymous access.
std::string anonymousEndpoints() {
  std::string manifests = kEndpoints;
  const std::string identity =
      "method: SystemAssignedManagedIdentity\n      systemAssignedManagedIdentitySettings: {}";
  manifests.replace(manifests.find(identity), identity.size(), "method: Anonymous");
  return manifests;
}

// A secret key the endpoint needs is missing: refused before anything starts, naming the file,
// the YAML path, the secret and the keys.
TEST_F(Cli, AnEndpointWhoseSecretLacksAKeyIsRefusedBeforeStarting) {
  std::string manifests = anonymousEndpoints();
  const std::string kafka_auth = "      method: Anonymous\n---\napiVersion";
  manifests.replace(manifests.rfind(kafka_auth), kafka_auth.size(),
                    "      method: X509Certificate\n      x509CertificateSettings:\n"
                    "        secretRef: cert\n    tls:\n      mode: Enabled\n---\napiVersion");
  const std::string secrets = dir_.path() + "/secrets";
  std::filesystem::create_directories(secrets + "/cert");
  std::ofstream(secrets + "/cert/client_cert.pem") << "PEM";
  std::string output;
  EXPECT_EQ(
      dataflow({"run", "-f", write("flow.yaml", manifests), "--secrets-dir", secrets}, output), 2);
  EXPECT_THAT(output, HasSubstr("x509CertificateSettings.secretRef: secret \"cert\" lacks the keys "
                                "it needs: client_cert.pem and client_key.pem"));
  EXPECT_THAT(output, HasSubstr("nothing started"));
}

TEST_F(Cli, InstanceIdOutOfRangeIsRefused) {
  std::string manifests = anonymousEndpoints();
  std::string output;
  EXPECT_EQ(dataflow({"run", "-f", write("flow.yaml", manifests), "--instance-id", "1"}, output),
            2);
  EXPECT_THAT(output, HasSubstr("--instance-id 1 is out of range: profile default has "
                                "instanceCount 1 (instances 0 to 0)"));
}

TEST_F(Cli, ASettingWithNoEffectIsWarnedAtStart) {
  std::string manifests = anonymousEndpoints();
  manifests.replace(manifests.find("      dataSources: [a/b]"), 0,
                    "      serializationFormat: Json\n");
  ChildProcess run(
      {DATAFLOW_EXE, "run", "-f", write("flow.yaml", manifests), "--drain-timeout", "0"},
      dir_.path() + "/run.log");
  EXPECT_TRUE(waitFor(
      [&] {
        return run.log().find("dataflow flow: spec.operations[0].sourceSettings."
                              "serializationFormat is ignored") != std::string::npos;
      },
      30s))
      << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(30s), 0) << run.log();
}

std::string spooledFlow() {
  std::string manifests = anonymousEndpoints();
  manifests.replace(manifests.find("spec:\n  operations:"), 5,
                    "spec:\n  requestDiskPersistence: Enabled");
  return manifests;
}

TEST_F(Cli, RequestDiskPersistenceWithoutASpoolDirIsRefused) {
  std::string output;
  EXPECT_EQ(dataflow({"run", "-f", write("flow.yaml", spooledFlow())}, output), 2);
  EXPECT_THAT(output, HasSubstr("dataflow flow: spec.requestDiskPersistence is Enabled, so it "
                                "spools to local disk; give the folder with --spool-dir"));
  EXPECT_THAT(output, HasSubstr("nothing started"));
}

// The spool lives in <--spool-dir>/<dataflow>/<instance>, held (lock file) while the engine runs.
TEST_F(Cli, RequestDiskPersistenceSpoolsUnderTheSpoolDir) {
  const std::string spool = dir_.path() + "/spool";
  ChildProcess run({DATAFLOW_EXE, "run", "-f", write("flow.yaml", spooledFlow()), "--spool-dir",
                    spool, "--instance-id", "0", "--drain-timeout", "0"},
                   dir_.path() + "/run.log");
  EXPECT_TRUE(waitFor([&] { return std::filesystem::exists(spool + "/flow/0/cursor"); }, 30s))
      << run.log();
  EXPECT_TRUE(std::filesystem::exists(spool + "/flow/0/lock"));
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(30s), 0) << run.log();
  EXPECT_EQ(run.log().find("requestDiskPersistence is ignored"), std::string::npos) << run.log();
}

// --sat-token-dir reaches the MQTT endpoint: a ServiceAccountToken endpoint is accepted, and the
// missing token file is named (folder and audience) in the retried connect failure.
TEST_F(Cli, ServiceAccountTokensAreReadFromTheSatTokenDir) {
  std::string manifests = anonymousEndpoints();
  manifests.replace(manifests.find("method: Anonymous"), std::string("method: Anonymous").size(),
                    "method: ServiceAccountToken\n      serviceAccountTokenSettings:\n"
                    "        audience: aio-internal");
  const std::string tokens = dir_.path() + "/tokens";
  ChildProcess run({DATAFLOW_EXE, "run", "-f", write("flow.yaml", manifests), "--sat-token-dir",
                    tokens, "--drain-timeout", "0"},
                   dir_.path() + "/run.log");
  EXPECT_TRUE(waitFor(
      [&] {
        return run.log().find(
                   "endpoint \"mqtt\" (ssl://127.0.0.1:1): cannot read the service "
                   "account token file " +
                   tokens + "/aio-internal") != std::string::npos;
      },
      30s))
      << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(30s), 0) << run.log();
  std::string help;
  EXPECT_EQ(dataflow({"run", "--help"}, help), 0);
  EXPECT_THAT(help, HasSubstr("--sat-token-dir"));
  EXPECT_THAT(help, HasSubstr("/var/run/secrets/tokens"));
}

TEST_F(Cli, DevKafkaPrintsBootstrapServersAndStopsOnSigterm) {
  const std::string bootstrap_file = dir_.path() + "/bootstrap";
  ChildProcess dev({DATAFLOW_EXE, "dev-kafka", "--brokers", "2", "--topic", "orders:3",
                    "--bootstrap-file", bootstrap_file},
                   dir_.path() + "/dev-kafka.log");
  ASSERT_TRUE(waitFor([&] { return std::ifstream(bootstrap_file).peek() != EOF; }, 30s))
      << dev.log();
  std::string line;
  std::getline(std::ifstream(bootstrap_file) >> std::ws, line);
  EXPECT_THAT(line, ::testing::MatchesRegex(
                        "bootstrap\\.servers=127\\.0\\.0\\.1:[0-9]+,127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_TRUE(waitFor([&] { return dev.log().find(line) != std::string::npos; }, 10s))
      << "stdout must carry the same line";
  dev.signal(SIGTERM);
  EXPECT_EQ(dev.wait(30s), 0);
}

TEST_F(Cli, DevKafkaRejectsABadTopicSpecification) {
  std::string output;
  EXPECT_EQ(dataflow({"dev-kafka", "--topic", "orders:zero"}, output), 2);
  EXPECT_THAT(output, HasSubstr("orders:zero"));
}

}  // namespace
}  // namespace dataflow::testing
