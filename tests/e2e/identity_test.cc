// `dataflow run` with a Kafka endpoint authenticated by a managed identity, as an operator would
// run it: the token source is chosen from the environment (here IMDS at an overridden address,
// served by the fake token server) and the token reaches the broker in SaslAuthenticate
// (captured by the SASL listener). Nothing of the token appears in the engine's output.
#include <gmock/gmock.h>

#include <csignal>
#include <fstream>

#include "tests/support/identity/fake_token_server.h"
#include "tests/support/identity/sasl_capture_broker.h"
#include "tests/support/process.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string manifests(const std::string& kafka_host) {
  return R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: mqtt
spec:
  endpointType: Mqtt
  mqttSettings:
    host: 127.0.0.1:1
    authentication:
      method: Anonymous
    tls:
      mode: Disabled
---
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: kafka
spec:
  endpointType: Kafka
  kafkaSettings:
    host: )" +
         kafka_host + R"(
    authentication:
      method: SystemAssignedManagedIdentity
      systemAssignedManagedIdentitySettings:
        audience: https://ns.servicebus.windows.net
    tls:
      mode: Disabled
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
}

TEST(IdentityE2E, RunAuthenticatesToKafkaWithATokenFromTheEnvironmentsSource) {
  TempDir dir("identity-e2e");
  FakeTokenServer server;
  SaslCaptureBroker broker;
  const std::string path = dir.file("flow.yaml");
  std::ofstream(path) << manifests(broker.bootstrap());
  ChildProcess engine({DATAFLOW_EXE, "run", "-f", path, "--log-level", "debug"},
                      dir.file("engine.log"),
                      {"AZURE_POD_IDENTITY_AUTHORITY_HOST=" + server.baseUrl()});
  const auto auth = broker.waitForAuthentications(1, 30s);
  ASSERT_FALSE(auth.empty()) << engine.log();
  ASSERT_FALSE(server.issuedTokens().empty());
  const std::string token = server.issuedTokens()[0];
  EXPECT_EQ(auth[0],
            "n,,\x01"
            "auth=Bearer " +
                token + "\x01\x01");
  EXPECT_EQ(server.requests().at(0).query.at("resource"), "https://ns.servicebus.windows.net");
  engine.signal(SIGTERM);
  EXPECT_TRUE(engine.wait(30s).has_value());
  const std::string log = engine.log();
  EXPECT_THAT(log, HasSubstr("tokens from IMDS at " + server.baseUrl()));
  EXPECT_EQ(log.find(token), std::string::npos);
}

}  // namespace
}  // namespace dataflow::testing
