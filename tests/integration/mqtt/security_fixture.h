// Shared pieces of the MQTT security integration tests (TLS, WebSockets, K8S-SAT): a test PKI,
// folders laid out as Kubernetes mounts Secrets, ConfigMaps and projected tokens, endpoints built
// from them, and the check that no secret reached a log line.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/mqtt/destination_fixture.h"
#include "tests/support/mosquitto.h"
#include "tests/integration/mqtt/mqtt_pki.h"
#include "tests/support/kubernetes_mount.h"
#include "tests/support/files.h"

namespace dataflow::mqtt::testing {

using dataflow::testing::CertificateFiles;
using dataflow::testing::Mosquitto;
using dataflow::testing::MosquittoTls;
using dataflow::testing::TempDir;
using dataflow::testing::MqttPki;

class MqttSecurityTest : public MqttDestinationTest {
 protected:
  MqttSecurityTest() : mounts_("mounts") {
    files_ = config::MountedFiles(mounts_.file("secrets"), mounts_.file("configmaps"));
    files_.setTokenDirectory(mounts_.file("tokens"));
    std::filesystem::create_directories(mounts_.file("tokens"));
  }

  // Writes DIR/<name>/<key> with `content`, as Kubernetes mounts a Secret or ConfigMap key.
  void mount(const std::string& folder, const std::string& name, const std::string& key,
             const std::string& content) {
    const std::filesystem::path dir = std::filesystem::path(mounts_.path()) / folder / name;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / key, std::ios::binary) << content;
  }

  // ConfigMap `name` with ca.crt = the given CA file.
  void trustConfigMap(const std::string& name, const std::string& ca_file) {
    mount("configmaps", name, "ca.crt", dataflow::testing::readWholeFile(ca_file));
  }

  // Secret `name` with client_cert.pem, client_key.pem and, when given, the intermediates.
  void x509Secret(const std::string& name, const CertificateFiles& client,
                  const std::string& intermediates_file = "") {
    mount("secrets", name, "client_cert.pem", dataflow::testing::readWholeFile(client.certificate));
    mount("secrets", name, "client_key.pem", dataflow::testing::readWholeFile(client.key));
    if (!intermediates_file.empty()) {
      mount("secrets", name, "client_intermediate_certs.pem", dataflow::testing::readWholeFile(intermediates_file));
    }
  }

  // The projected token of `audience`, replaced the way the kubelet does it (every audience of
  // the volume written again: a new timestamped folder, `..data` renamed over the old one).
  void projectToken(const std::string& audience, const std::string& token) {
    projected_[audience] = token;
    dataflow::testing::writeKubernetesMount(mounts_.file("tokens"), projected_);
  }

  // The endpoint's TLS: Enabled with the CA ConfigMap (empty: the system trust store).
  static void enableTls(config::DataflowEndpoint& endpoint, const std::string& config_map) {
    endpoint.spec.mqtt->tls.mode = config::OperationalMode::Enabled;
    if (!config_map.empty())
      endpoint.spec.mqtt->tls.trusted_ca_certificate_config_map_ref = config_map;
  }
  static void useX509(config::DataflowEndpoint& endpoint, const std::string& secret) {
    endpoint.spec.mqtt->authentication.method = config::AuthMethod::X509Certificate;
    endpoint.spec.mqtt->authentication.x509 = config::X509CertificateSettings{secret};
  }
  static void useServiceAccountToken(config::DataflowEndpoint& endpoint,
                                     const std::string& audience) {
    endpoint.spec.mqtt->authentication.method = config::AuthMethod::ServiceAccountToken;
    endpoint.spec.mqtt->authentication.service_account_token =
        config::ServiceAccountTokenSettings{audience};
  }

  std::unique_ptr<Source> sourceFor(const config::DataflowEndpoint& endpoint,
                                    const std::string& client_id, std::vector<std::string> topics) {
    runtime::SourceSpec spec;
    spec.context = contextFor(endpoint, client_id);
    spec.topics = std::move(topics);
    Result<std::unique_ptr<Source>> source = createSource(spec);
    EXPECT_TRUE(source.isOk()) << source.status().message();
    return source.isOk() ? std::move(source).value() : nullptr;
  }

  std::unique_ptr<Destination> destinationFor(const config::DataflowEndpoint& endpoint,
                                              const std::string& client_id) {
    runtime::DestinationSpec spec;
    spec.context = contextFor(endpoint, client_id);
    spec.limits.max_messages = 10'000;
    spec.limits.max_bytes = 16u << 20;
    Result<std::unique_ptr<Destination>> destination = createDestination(spec);
    EXPECT_TRUE(destination.isOk()) << destination.status().message();
    return destination.isOk() ? std::move(destination).value() : nullptr;
  }

  // Fails the test if `secret` (or, for a PEM file's text, any of its base64 lines) appears in a
  // captured log line.
  void expectNotLogged(const std::string& secret) {
    std::vector<std::string> needles;
    std::istringstream lines(secret);
    for (std::string line; std::getline(lines, line);) {
      if (line.size() >= 16 && line.rfind("-----", 0) != 0) needles.push_back(line);
    }
    if (needles.empty()) needles.push_back(secret);
    for (const std::string& logged : sink_->lines()) {
      for (const std::string& needle : needles) {
        EXPECT_EQ(logged.find(needle), std::string::npos) << "a secret was logged: " << logged;
      }
    }
  }

  TempDir mounts_;
  std::map<std::string, std::string> projected_;  // every audience's token, as projected
};

}  // namespace dataflow::mqtt::testing
