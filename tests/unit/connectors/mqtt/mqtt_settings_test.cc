// mqttSettings -> paho client settings: every field, every refusal. No network.
#include "connectors/mqtt/mqtt_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/config/loader.h"
#include "tests/support/process.h"

namespace dataflow::mqtt {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Loads an endpoint whose mqttSettings body is `body` (indented by 4), with the loader's
// defaults applied, exactly as `dataflow run` would see it.
config::MqttSettings load(const std::string& body) {
  const std::string text =
      "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
      "metadata:\n  name: broker\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n" +
      body;
  config::Manifests manifests;
  config::Diagnostics diagnostics;
  config::loadText(text, "endpoint.yaml", manifests, diagnostics);
  EXPECT_FALSE(diagnostics.hasErrors()) << text;
  if (manifests.endpoints.empty() || !manifests.endpoints[0].spec.mqtt) return {};
  return *manifests.endpoints[0].spec.mqtt;
}

constexpr const char* kAnonymous = "    authentication:\n      method: Anonymous\n";

class MqttSettingsTest : public ::testing::Test {
 protected:
  // Writes DIR/<name>/<key> the way Kubernetes mounts a Secret or ConfigMap key.
  std::string mount(const std::string& folder, const std::string& name, const std::string& key) {
    const fs::path path = fs::path(dir_.path()) / folder / name / key;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "-----BEGIN CERTIFICATE-----\n";
    return path.string();
  }
  config::MountedFiles files() const {
    return config::MountedFiles(dir_.file("secrets"), dir_.file("configmaps"));
  }
  Result<ClientSettings> map(const std::string& body) {
    return mapSettings(load(body), files(), "dataflow-flow-0");
  }
  std::string error(const std::string& body) {
    Result<ClientSettings> r = map(body);
    EXPECT_FALSE(r.isOk());
    EXPECT_TRUE(r.status().isFatal());
    return r.status().message();
  }

  testing::TempDir dir_;
};

TEST_F(MqttSettingsTest, DefaultsGiveTlsToTheLocalBrokerWithTheDocumentedValues) {
  Result<ClientSettings> r = map(kAnonymous);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const ClientSettings& s = r.value();
  EXPECT_EQ(s.server_uri, "ssl://aio-broker:18883");
  EXPECT_EQ(s.client_id, "dataflow-flow-0");
  ASSERT_TRUE(s.tls.has_value());
  EXPECT_FALSE(s.tls->trust_store.has_value());  // the system's trust store
  EXPECT_FALSE(s.tls->client_certificate.has_value());
  EXPECT_FALSE(s.tls->client_key.has_value());
  EXPECT_EQ(s.keep_alive, std::chrono::seconds(60));
  EXPECT_EQ(s.session_expiry_seconds, 600u);
  EXPECT_EQ(s.receive_maximum, 100);
  EXPECT_EQ(s.subscription_qos, 1);
}

TEST_F(MqttSettingsTest, EveryNumericFieldIsCarried) {
  Result<ClientSettings> r = map(std::string(kAnonymous) +
                                 "    host: broker:1883\n    keepAliveSeconds: 0\n"
                                 "    sessionExpirySeconds: 3600\n    maxInflightMessages: 65535\n"
                                 "    qos: 0\n    tls:\n      mode: Disabled\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().keep_alive, std::chrono::seconds(0));
  EXPECT_EQ(r.value().session_expiry_seconds, 3600u);
  EXPECT_EQ(r.value().receive_maximum, 65535);
  EXPECT_EQ(r.value().subscription_qos, 0);
}

TEST_F(MqttSettingsTest, SchemeFollowsProtocolAndTlsMode) {
  struct Case {
    std::string protocol, tls, host, uri;
  };
  for (const Case& c : std::vector<Case>{
           {"Mqtt", "Disabled", "broker:1883", "tcp://broker:1883"},
           {"Mqtt", "Enabled", "broker:8883", "ssl://broker:8883"},
           {"WebSockets", "Disabled", "broker:80/mqtt", "ws://broker:80/mqtt"},
           {"WebSockets", "Enabled", "ns.eventgrid.azure.net:443/mqtt",
            "wss://ns.eventgrid.azure.net:443/mqtt"},
           {"WebSockets", "Enabled", "broker:443", "wss://broker:443"},
       }) {
    Result<ClientSettings> r =
        map(std::string(kAnonymous) + "    host: " + c.host + "\n    protocol: " + c.protocol +
            "\n    tls:\n      mode: " + c.tls + "\n");
    ASSERT_TRUE(r.isOk()) << r.status().message();
    EXPECT_EQ(r.value().server_uri, c.uri);
    EXPECT_EQ(r.value().tls.has_value(), c.tls == "Enabled");
  }
}

TEST_F(MqttSettingsTest, APathWithProtocolMqttIsRefused) {
  EXPECT_THAT(error(std::string(kAnonymous) + "    host: broker:1883/mqtt\n"),
              HasSubstr("only protocol WebSockets uses"));
}

TEST_F(MqttSettingsTest, TrustConfigMapWithOneKeyUsesThatKeyWhateverItsName) {
  const std::string bundle = mount("configmaps", "my-ca", "bundle.pem");
  Result<ClientSettings> r =
      map(std::string(kAnonymous) + "    tls:\n      trustedCaCertificateConfigMapRef: my-ca\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().tls->trust_store, bundle);
}

TEST_F(MqttSettingsTest, TrustConfigMapWithSeveralKeysUsesCaCrt) {
  mount("configmaps", "my-ca", "a.pem");
  const std::string bundle = mount("configmaps", "my-ca", "ca.crt");
  mount("configmaps", "my-ca", "z.pem");
  Result<ClientSettings> r =
      map(std::string(kAnonymous) + "    tls:\n      trustedCaCertificateConfigMapRef: my-ca\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().tls->trust_store, bundle);
}

TEST_F(MqttSettingsTest, TrustConfigMapWithSeveralKeysAndNoCaCrtIsRefused) {
  mount("configmaps", "my-ca", "a.pem");
  mount("configmaps", "my-ca", "b.pem");
  const std::string message =
      error(std::string(kAnonymous) + "    tls:\n      trustedCaCertificateConfigMapRef: my-ca\n");
  EXPECT_THAT(message, HasSubstr("a.pem, b.pem"));
  EXPECT_THAT(message, HasSubstr("ca.crt"));
}

TEST_F(MqttSettingsTest, MissingTrustConfigMapIsRefused) {
  EXPECT_THAT(
      error(std::string(kAnonymous) + "    tls:\n      trustedCaCertificateConfigMapRef: nope\n"),
      HasSubstr("configmap \"nope\""));
}

TEST_F(MqttSettingsTest, TrustConfigMapIsUnusedWithoutTls) {
  Result<ClientSettings> r = map(std::string(kAnonymous) +
                                 "    tls:\n      mode: Disabled\n"
                                 "      trustedCaCertificateConfigMapRef: not-mounted\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_FALSE(r.value().tls.has_value());
}

constexpr const char* kX509 =
    "    authentication:\n      method: X509Certificate\n      x509CertificateSettings:\n"
    "        secretRef: client-tls\n";

TEST_F(MqttSettingsTest, X509UsesTheSecretsCertificateAndKey) {
  const std::string cert = mount("secrets", "client-tls", "client_cert.pem");
  const std::string key = mount("secrets", "client-tls", "client_key.pem");
  Result<ClientSettings> r = map(kX509);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().tls->client_certificate, cert);
  EXPECT_EQ(r.value().tls->client_key, key);
}

TEST_F(MqttSettingsTest, X509WithoutTheKeyIsRefused) {
  mount("secrets", "client-tls", "client_cert.pem");
  EXPECT_THAT(error(kX509), HasSubstr("client_key.pem"));
}

TEST_F(MqttSettingsTest, X509IntermediateCertificatesAreTakenFromTheSecret) {
  mount("secrets", "client-tls", "client_cert.pem");
  mount("secrets", "client-tls", "client_key.pem");
  const std::string intermediates = mount("secrets", "client-tls", "client_intermediate_certs.pem");
  Result<ClientSettings> r = mapSettings(load(kX509), files(), "id");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(r.value().tls->intermediate_certificates, intermediates);
}

TEST_F(MqttSettingsTest, X509WithoutTlsIsRefused) {
  mount("secrets", "client-tls", "client_cert.pem");
  mount("secrets", "client-tls", "client_key.pem");
  EXPECT_THAT(error(std::string(kX509) + "    tls:\n      mode: Disabled\n"),
              HasSubstr("needs TLS"));
}

TEST_F(MqttSettingsTest, ServiceAccountTokenIsAK8sSatCredentialFromTheTokenDirectory) {
  config::MountedFiles mounted = files();
  mounted.setTokenDirectory(dir_.path() + "/tokens");
  Result<ClientSettings> r =
      mapSettings(load("    authentication:\n      method: ServiceAccountToken\n"
                       "      serviceAccountTokenSettings:\n        audience: aio-internal\n"),
                  mounted, "id");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  ASSERT_NE(r.value().credentials, nullptr);
  EXPECT_EQ(r.value().credentials->describe(),
            "service account token file " + dir_.path() + "/tokens/aio-internal");
  // The file is read at connect time; missing now is a retriable connect failure.
  Result<Credential> credential = r.value().credentials->fetch();
  ASSERT_FALSE(credential.isOk());
  EXPECT_TRUE(credential.status().isRetriable());
  EXPECT_THAT(credential.status().message(), HasSubstr(dir_.path() + "/tokens/aio-internal"));
}

TEST_F(MqttSettingsTest, ServiceAccountTokenAudienceMustNameAFile) {
  for (const char* audience : {"api://x", "..", ".hidden"}) {
    EXPECT_THAT(error(std::string("    authentication:\n      method: ServiceAccountToken\n"
                                  "      serviceAccountTokenSettings:\n        audience: \"") +
                      audience + "\"\n"),
                HasSubstr("cannot name the token file in --sat-token-dir"));
  }
}

TEST_F(MqttSettingsTest, ManagedIdentitiesAuthenticateWithAnOAuth2JwtCredential) {
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"SystemAssignedManagedIdentity", "      systemAssignedManagedIdentitySettings: {}\n"},
      {"UserAssignedManagedIdentity",
       "      userAssignedManagedIdentitySettings:\n        clientId: c\n        tenantId: t\n"},
  };
  for (const auto& [method, settings] : methods) {
    config::MqttSettings s = load("    authentication:\n      method: " + method + "\n" + settings);
    Result<ClientSettings> mapped = mapSettings(s, files(), "id");
    ASSERT_TRUE(mapped.isOk()) << method << ": " << mapped.status().message();
    ASSERT_TRUE(mapped.value().credentials) << method;
    EXPECT_THAT(mapped.value().credentials->describe(),
                HasSubstr("https://eventgrid.azure.net/.default"));
  }
}

TEST_F(MqttSettingsTest, OutOfRangeValuesBuiltInCodeAreRefused) {
  config::MqttSettings s = load(kAnonymous);
  s.qos = 2;
  EXPECT_THAT(mapSettings(s, files(), "id").status().message(), HasSubstr("qos 2"));
  s = load(kAnonymous);
  s.max_inflight_messages = 0;
  EXPECT_THAT(mapSettings(s, files(), "id").status().message(), HasSubstr("maxInflightMessages"));
  s = load(kAnonymous);
  s.authentication.method = config::AuthMethod::Sasl;
  EXPECT_THAT(mapSettings(s, files(), "id").status().message(), HasSubstr("Sasl"));
}

TEST_F(MqttSettingsTest, TheConnectIsAPersistentSessionWithTheEndpointsLimits) {
  Result<ClientSettings> r = map(std::string(kAnonymous) + "    keepAliveSeconds: 30\n" +
                                 "    sessionExpirySeconds: 2147483647\n" +
                                 "    maxInflightMessages: 7\n    tls:\n      mode: Disabled\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const wire::Connect connect = connectPacket(r.value(), nullptr);
  EXPECT_EQ(connect.client_id, "dataflow-flow-0");
  EXPECT_FALSE(connect.clean_start);
  EXPECT_EQ(connect.keep_alive_seconds, 30);
  EXPECT_EQ(connect.session_expiry_interval, 2147483647u);
  EXPECT_EQ(connect.receive_maximum, 7);
  EXPECT_FALSE(connect.authentication_method.has_value());
  EXPECT_FALSE(connect.topic_alias_maximum.has_value());  // absent = 0: no aliases

  const Credential credential{"K8S-SAT", "token", std::nullopt};
  const wire::Connect with = connectPacket(r.value(), &credential);
  EXPECT_EQ(with.authentication_method, "K8S-SAT");
  EXPECT_EQ(with.authentication_data, "token");
}

TEST_F(MqttSettingsTest, TheTlsFilesAreTheMountedOnes) {
  const std::string bundle = mount("configmaps", "ca", "ca.crt");
  const std::string cert = mount("secrets", "client-tls", "client_cert.pem");
  const std::string key = mount("secrets", "client-tls", "client_key.pem");
  Result<ClientSettings> r =
      map(std::string(kX509) + "    tls:\n      trustedCaCertificateConfigMapRef: ca\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  ASSERT_TRUE(r.value().tls.has_value());
  EXPECT_EQ(r.value().tls->trust_store, bundle);
  EXPECT_EQ(r.value().tls->client_certificate, cert);
  EXPECT_EQ(r.value().tls->client_key, key);
  EXPECT_EQ(r.value().server_uri.rfind("ssl://", 0), 0u);
}

}  // namespace
}  // namespace dataflow::mqtt
