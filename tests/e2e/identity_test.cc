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

constexpr const char* kSystemAssigned = R"(      method: SystemAssignedManagedIdentity
      systemAssignedManagedIdentitySettings:
        audience: https://ns.servicebus.windows.net
)";

std::string manifests(const std::string& kafka_host, const std::string& authentication) {
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
)" + authentication +
         R"(    tls:
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
  std::ofstream(path) << manifests(broker.bootstrap(), kSystemAssigned);
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

// AIO's user-assigned identity is workload identity federation: the tenant and client id come
// from the manifest, the service-account token from AZURE_FEDERATED_TOKEN_FILE.
TEST(IdentityE2E, RunUsesWorkloadIdentityWithTheManifestsClientAndTenant) {
  TempDir dir("identity-e2e");
  FakeTokenServer server;
  SaslCaptureBroker broker;
  std::ofstream(dir.file("sa-token")) << "projected-service-account-token";
  const std::string path = dir.file("flow.yaml");
  std::ofstream(path) << manifests(broker.bootstrap(), R"(      method: UserAssignedManagedIdentity
      userAssignedManagedIdentitySettings:
        clientId: 11111111-2222-3333-4444-555555555555
        tenantId: contoso-tenant
        scope: https://ns.servicebus.windows.net/.default
)");
  ChildProcess engine({DATAFLOW_EXE, "run", "-f", path}, dir.file("engine.log"),
                      {"AZURE_FEDERATED_TOKEN_FILE=" + dir.file("sa-token"),
                       "AZURE_AUTHORITY_HOST=" + server.baseUrl(), "AZURE_TENANT_ID=env-tenant",
                       "AZURE_CLIENT_ID=env-client"});
  const auto auth = broker.waitForAuthentications(1, 30s);
  ASSERT_FALSE(auth.empty()) << engine.log();
  EXPECT_EQ(auth[0],
            "n,,\x01"
            "auth=Bearer " +
                server.issuedTokens().at(0) + "\x01\x01");
  const auto request = server.requests().at(0);
  EXPECT_EQ(request.path, "/contoso-tenant/oauth2/v2.0/token");
  EXPECT_EQ(request.form.at("client_id"), "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(request.form.at("scope"), "https://ns.servicebus.windows.net/.default");
  EXPECT_EQ(request.form.at("client_assertion"), "projected-service-account-token");
  engine.signal(SIGTERM);
  EXPECT_TRUE(engine.wait(30s).has_value());
  EXPECT_EQ(engine.log().find(server.issuedTokens().at(0)), std::string::npos);
  EXPECT_EQ(engine.log().find("projected-service-account-token"), std::string::npos);
}

}  // namespace
}  // namespace dataflow::testing
