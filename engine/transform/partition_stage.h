// Kafka destination `partitionStrategy` (AIO "Partition handling strategy"). Sets Message::key and
// Message::partition; the Kafka destination hands them to librdkafka with
// partitioner=murmur2_random, which maps a key where the Java client would (murmur2.h).
//   Default   no key, no partition: librdkafka spreads the records. This stage is then omitted.
//   Topic     key = the source topic.
//   Property  key = value of the named property: a user property (first one of that name), or a
//             built-in header name ("Content Type", ...), the built-in winning when set (the same
//             rule as MQTT -> Kafka header copying). Absent: falls back to Default, counted.
//   Static    no key; partition = the instance ordinal, NOT yet reduced: the Kafka destination
//             must replace it with staticPartition(ordinal, partition count of the topic).
// Runs before the properties are turned into headers, while the source's names still apply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/transform/built_in_properties.h"
#include "engine/transform/counters.h"
#include "engine/transform/options.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

class PartitionStage final : public Stage {
 public:
  // `counters` and `missing_key_warning` outlive the stage.
  PartitionStage(PartitionStrategy strategy, std::string key_property, uint32_t instance_ordinal,
                 std::string dataflow_name, PipelineCounters& counters,
                 RateLimitedWarning& missing_key_warning);
  std::string_view name() const override { return "partition"; }
  Outcome apply(Message& message, StageContext& context) const override;

 private:
  std::optional<std::string> propertyKey(const Message& message) const;

  PartitionStrategy strategy_;
  std::string key_property_;
  std::optional<BuiltInProperty> key_built_in_;  // key_property_ names a built-in
  uint32_t instance_ordinal_;
  std::string dataflow_name_;
  PipelineCounters& counters_;
  RateLimitedWarning& missing_key_warning_;
};

}  // namespace dataflow::transform
