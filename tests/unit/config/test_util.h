// Helpers shared by the config tests: load YAML text in-process and render diagnostics.
#pragma once

#include <string>
#include <vector>

#include "engine/config/loader.h"
#include "engine/config/validate.h"

namespace dataflow::config::testing {

struct Loaded {
  Plan plan;
  Diagnostics diagnostics;
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& d : diagnostics.items()) out.push_back(d.format());
    return out;
  }
};

inline Loaded loadAndValidate(const std::string& text, const std::string& file = "t.yaml",
                              const ValidateOptions& options = {}) {
  Loaded out;
  Manifests manifests;
  loadText(text, file, manifests, out.diagnostics);
  out.plan = validate(std::move(manifests), options, out.diagnostics);
  out.diagnostics.sort();
  return out;
}

inline constexpr const char* kMqttEndpoint = R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: local-mqtt
spec:
  endpointType: Mqtt
  mqttSettings:
    host: localhost:1883
    authentication:
      method: Anonymous
)";

inline constexpr const char* kKafkaEndpoint = R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: kafka
spec:
  endpointType: Kafka
  kafkaSettings:
    host: localhost:9092
    consumerGroupId: group-1
    authentication:
      method: Anonymous
)";

inline std::string dataflow(const std::string& source, const std::string& topics,
                            const std::string& destination, const std::string& topic) {
  return "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\nmetadata:\n"
         "  name: flow\nspec:\n  operations:\n  - operationType: Source\n    sourceSettings:\n"
         "      endpointRef: " +
         source + "\n      dataSources: " + topics +
         "\n  - operationType: Destination\n    destinationSettings:\n      endpointRef: " +
         destination + "\n      dataDestination: " + topic + "\n";
}

}  // namespace dataflow::config::testing
