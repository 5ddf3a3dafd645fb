#include "engine/transform/partition_stage.h"

#include <utility>

namespace dataflow::transform {

PartitionStage::PartitionStage(PartitionStrategy strategy, std::string key_property,
                               uint32_t instance_ordinal, std::string dataflow_name,
                               PipelineCounters& counters, RateLimitedWarning& missing_key_warning)
    : strategy_(strategy),
      key_property_(std::move(key_property)),
      key_built_in_(builtInPropertyNamed(key_property_)),
      instance_ordinal_(instance_ordinal),
      dataflow_name_(std::move(dataflow_name)),
      counters_(counters),
      missing_key_warning_(missing_key_warning) {}

std::optional<std::string> PartitionStage::propertyKey(const Message& message) const {
  if (key_built_in_ && isSet(message.mqtt, *key_built_in_)) {
    return headerValue(message.mqtt, *key_built_in_);
  }
  for (const Property& property : message.properties) {
    if (property.name == key_property_) return property.value;
  }
  return std::nullopt;
}

Outcome PartitionStage::apply(Message& message, StageContext& context) const {
  message.partition.reset();
  switch (strategy_) {
    case PartitionStrategy::Default:
      message.key.reset();
      break;
    case PartitionStrategy::Topic:
      // The topic stage ran first and left the source topic in the context; it is not needed
      // after this stage, so it is moved, not copied.
      message.key = std::move(context.source_topic);
      break;
    case PartitionStrategy::Property:
      message.key = propertyKey(message);
      if (!message.key) {
        PipelineCounters::add(counters_.partition_key_fallbacks);
        missing_key_warning_.report([&] {
          return "dataflow " + dataflow_name_ + ": partition key property '" + key_property_ +
                 "' is absent; record sent without a key (Default partitioning)";
        });
      }
      break;
    case PartitionStrategy::Static:
      message.key.reset();
      message.partition = static_cast<int32_t>(instance_ordinal_ & 0x7fffffffU);
      break;
  }
  return Outcome::Forward;
}

}  // namespace dataflow::transform
