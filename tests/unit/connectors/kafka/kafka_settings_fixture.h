// The fixture of the kafkaSettings mapping tests: endpoints parsed by the real loader (so the
// manifest defaults are the schema's own) and a temporary folder of mounted secrets/ConfigMaps.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "connectors/kafka/kafka_settings.h"
#include "engine/config/loader.h"

namespace dataflow::kafka::settings_test {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

inline constexpr const char* kAnonymous = "    authentication:\n      method: Anonymous\n";
inline constexpr const char* kEventHubsConnectionString =
    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=";

inline std::string sasl(const std::string& type, const std::string& secret = "sasl") {
  return "    authentication:\n      method: Sasl\n      saslSettings:\n        saslType: " + type +
         "\n        secretRef: " + secret + "\n";
}

inline std::string x509(const std::string& secret = "client") {
  return "    authentication:\n      method: X509Certificate\n      x509CertificateSettings:\n"
         "        secretRef: " +
         secret + "\n";
}

class KafkaSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() / (std::string("kafka-settings-") + info->test_suite_name() +
                                         "-" + info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "secrets");
    fs::create_directories(root_ / "configmaps");
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& relative, const std::string& content) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << content;
  }
  std::string path(const std::string& relative) const { return (root_ / relative).string(); }
  config::MountedFiles files() const {
    return config::MountedFiles(path("secrets"), path("configmaps"));
  }

  // kafkaSettings with `authentication` (indented YAML) and `extra` lines, defaults applied.
  static config::KafkaSettings load(const std::string& authentication = kAnonymous,
                                    const std::string& extra = "") {
    const std::string text =
        "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
        "metadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n"
        "    host: broker-1:9093,broker-2:9093\n" +
        authentication + extra;
    config::Manifests manifests;
    config::Diagnostics diagnostics;
    config::loadText(text, "endpoint.yaml", manifests, diagnostics);
    if (diagnostics.hasErrors()) {
      for (const auto& d : diagnostics.items()) ADD_FAILURE() << d.format();
    }
    if (manifests.endpoints.size() != 1 || !manifests.endpoints[0].spec.kafka) {
      ADD_FAILURE() << "no Kafka endpoint in\n" << text;
      return {};
    }
    return *manifests.endpoints[0].spec.kafka;
  }

  Result<ProducerConfig> map(const config::KafkaSettings& settings,
                             const runtime::FlightLimits& limits = {}) const {
    return producerConfig(settings, files(), limits, "dataflow-flow-0");
  }
  ProducerConfig mapOk(const config::KafkaSettings& settings,
                       const runtime::FlightLimits& limits = {}) const {
    Result<ProducerConfig> config = map(settings, limits);
    EXPECT_TRUE(config.isOk()) << config.status().message();
    return config.isOk() ? config.value() : ProducerConfig{};
  }
  std::string fatal(const config::KafkaSettings& settings) const {
    Result<ProducerConfig> config = map(settings);
    EXPECT_FALSE(config.isOk());
    EXPECT_TRUE(config.status().isFatal());
    return config.status().message();
  }

  fs::path root_;
};

inline std::string get(const ProducerConfig& config, const std::string& name) {
  const std::string* value = findProperty(config, name);
  return value ? *value : "<unset>";
}

}  // namespace dataflow::kafka::settings_test
