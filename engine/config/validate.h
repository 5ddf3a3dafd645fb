// Cross-object validation: references resolve, each dataflow has one source and one destination
// of types that can play those roles, topics obey their protocol's rules, secrets exist. The
// result is a Plan: the dataflows to run with everything they refer to resolved.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/config/diagnostics.h"
#include "engine/config/loader.h"
#include "engine/core/topic_template.h"
#include "engine/transform/options.h"

namespace dataflow::config {

// The same enum the transform pipeline is built from: a planned dataflow feeds it directly.
using Direction = transform::Direction;
const char* toString(Direction d);  // "MQTT->Kafka", ...

struct ValidateOptions {
  std::optional<std::string> secrets_dir;     // DIR/<secret-name>/<key>, as Kubernetes mounts
  std::optional<std::string> configmaps_dir;  // DIR/<configmap-name>/<key>
};

// A dataflow with its references resolved. Pointers refer into Plan::manifests.
struct PlannedDataflow {
  const Dataflow* dataflow = nullptr;
  const DataflowProfile* profile = nullptr;
  const DataflowEndpoint* source = nullptr;
  const DataflowEndpoint* destination = nullptr;
  const SourceSettings* source_settings = nullptr;
  const DestinationSettings* destination_settings = nullptr;
  Direction direction = Direction::MqttToKafka;
  std::vector<std::string> source_topics;  // MQTT filters with $shared/ normalised to $share/
  TopicTemplate destination_topic;
  bool enabled = true;
};

// Move-only: PlannedDataflow points into `manifests`, whose vectors keep their buffers on move.
struct Plan {
  Manifests manifests;  // includes the implicit `default` profile when none was given
  std::vector<PlannedDataflow> dataflows;

  Plan() = default;
  Plan(Plan&&) = default;
  Plan& operator=(Plan&&) = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
};

inline constexpr const char* kDefaultProfile = "default";

// Validates `manifests` and builds the plan. Problems go to `diagnostics`; the plan holds only the
// dataflows that passed every check.
Plan validate(Manifests manifests, const ValidateOptions& options, Diagnostics& diagnostics);

}  // namespace dataflow::config
