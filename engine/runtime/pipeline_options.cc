#include "engine/runtime/pipeline_options.h"

namespace dataflow::runtime {

namespace {

using config::DataflowEndpoint;

std::optional<config::CloudEventAttributes> cloudEventsOf(const DataflowEndpoint& e) {
  if (e.spec.kafka) return e.spec.kafka->cloud_event_attributes;
  if (e.spec.mqtt) return e.spec.mqtt->cloud_event_attributes;
  return std::nullopt;
}

transform::PartitionStrategy partitionStrategy(config::PartitionStrategy s) {
  switch (s) {
    case config::PartitionStrategy::Default:
      return transform::PartitionStrategy::Default;
    case config::PartitionStrategy::Static:
      return transform::PartitionStrategy::Static;
    case config::PartitionStrategy::Topic:
      return transform::PartitionStrategy::Topic;
    case config::PartitionStrategy::Property:
      return transform::PartitionStrategy::Property;
  }
  return transform::PartitionStrategy::Default;
}

transform::HeaderActionType headerAction(config::HeaderAction a) {
  switch (a) {
    case config::HeaderAction::AddIfNotPresent:
      return transform::HeaderActionType::AddIfNotPresent;
    case config::HeaderAction::AddOrReplace:
      return transform::HeaderActionType::AddOrReplace;
    case config::HeaderAction::Remove:
      return transform::HeaderActionType::Remove;
  }
  return transform::HeaderActionType::AddIfNotPresent;
}

}  // namespace

transform::PipelineOptions pipelineOptions(const config::PlannedDataflow& planned,
                                           uint32_t instance_id) {
  transform::PipelineOptions options;
  options.dataflow_name = planned.dataflow->metadata.name;
  options.direction = planned.direction;
  const DataflowEndpoint& destination = *planned.destination;
  options.destination_endpoint_name = destination.metadata.name;
  if (auto mode = cloudEventsOf(destination)) {
    options.cloud_events = *mode == config::CloudEventAttributes::Propagate
                               ? transform::CloudEventsMode::Propagate
                               : transform::CloudEventsMode::CreateOrRemap;
  }
  if (const auto& kafka = destination.spec.kafka) {
    options.copy_mqtt_properties = kafka->copy_mqtt_properties == config::OperationalMode::Enabled;
    options.partition_strategy = partitionStrategy(kafka->partition_strategy);
    options.partition_key_property = kafka->partition_key_property.value_or("");
    options.instance_ordinal = instance_id;
  }
  if (const auto& mqtt = destination.spec.mqtt) {
    options.retain = mqtt->retain == config::MqttRetain::Keep ? transform::RetainPolicy::Keep
                                                              : transform::RetainPolicy::Never;
  }
  options.destination_topic = planned.destination_topic;
  for (const config::DestinationHeader& h : planned.destination_settings->headers) {
    options.header_actions.push_back({headerAction(h.action), h.key, h.value.value_or("")});
  }
  return options;
}

}  // namespace dataflow::runtime
