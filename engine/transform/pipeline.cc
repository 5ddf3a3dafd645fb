#include "engine/transform/pipeline.h"

#include <utility>

#include "engine/transform/cloud_events.h"
#include "engine/transform/cloud_events_stage.h"
#include "engine/transform/expiry_stage.h"
#include "engine/transform/header_actions_stage.h"
#include "engine/transform/kafka_to_mqtt_stage.h"
#include "engine/transform/mqtt_to_kafka_stage.h"
#include "engine/transform/partition_stage.h"
#include "engine/transform/retain_stage.h"
#include "engine/transform/topic_stage.h"
#include "engine/core/utf8.h"

namespace dataflow::transform {

std::string_view toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::Forward:
      return "forward";
    case Outcome::DropExpired:
      return "expired";
    case Outcome::DropUnresolvedTopic:
      return "unresolved topic";
    case Outcome::DropInvalidTopic:
      return "invalid topic";
  }
  return "unknown";
}

namespace {

// The problem with `options`, or an empty string. Config-level checks (enum values, required
// fields of the manifests) are the loader's; these are the ones that need transform knowledge.
std::string checkOptions(const PipelineOptions& options) {
  const bool kafka_destination = options.direction == Direction::MqttToKafka;
  const bool mqtt_destination = !kafka_destination;
  if (!kafka_destination && options.partition_strategy != PartitionStrategy::Default) {
    return "partitionStrategy applies only to a Kafka destination";
  }
  if (options.partition_strategy == PartitionStrategy::Property &&
      options.partition_key_property.empty()) {
    return "partitionStrategy Property needs partitionKeyProperty";
  }
  if (options.destination_topic.isStatic()) {
    const std::string& topic = options.destination_topic.text();
    if (!TopicStage::isAcceptable(kafka_destination ? TopicRules::Kafka : TopicRules::Mqtt,
                                  topic)) {
      return "destination topic '" + topic + "' is not a legal " +
             (kafka_destination ? "Kafka topic name ([a-zA-Z0-9._-], 1 to 249 characters)"
                                : "MQTT topic name (non-empty UTF-8, no '+' or '#')");
    }
  }
  for (const HeaderAction& action : options.header_actions) {
    if (action.key.empty()) return "a destination header action has an empty key";
    if (mqtt_destination &&
        (!isValidMqttString(action.key) ||
         (action.type != HeaderActionType::Remove && !isValidMqttString(action.value)))) {
      return "destination header '" + action.key +
             "' cannot be an MQTT user property (not a valid MQTT UTF-8 string)";
    }
  }
  if (options.cloud_events) {
    if (options.cloud_events == CloudEventsMode::CreateOrRemap &&
        options.destination_endpoint_name.empty()) {
      return "cloudEventAttributes CreateOrRemap needs the destination endpoint name";
    }
    for (const std::optional<std::string>* value :
         {&options.output_schema, &options.output_content_type}) {
      if (mqtt_destination && *value && !isValidMqttString(**value)) {
        return "output schema or content type '" + **value + "' is not a valid MQTT UTF-8 string";
      }
    }
    if (mqtt_destination && !isValidMqttString(std::string(kGeneratedSourcePrefix) +
                                               options.destination_endpoint_name)) {
      return "destination endpoint name is not a valid MQTT UTF-8 string";
    }
  }
  return {};
}

}  // namespace

Pipeline::Pipeline(PipelineEnvironment environment, Direction direction,
                   std::chrono::milliseconds warning_interval)
    : environment_(std::move(environment)),
      direction_(direction),
      unresolved_topic_warning_(*environment_.clock, environment_.warning_sink, warning_interval),
      invalid_topic_warning_(*environment_.clock, environment_.warning_sink, warning_interval),
      removed_property_warning_(*environment_.clock, environment_.warning_sink, warning_interval),
      missing_partition_key_warning_(*environment_.clock, environment_.warning_sink,
                                     warning_interval) {}

Result<std::unique_ptr<Pipeline>> Pipeline::build(PipelineOptions options,
                                                  PipelineEnvironment environment) {
  if (environment.clock == nullptr) return Status::fatal("transform pipeline needs a clock");
  if (std::string problem = checkOptions(options); !problem.empty()) {
    return Status::fatal("dataflow " + options.dataflow_name + ": " + problem);
  }
  if (!environment.new_event_id) environment.new_event_id = newUuid;

  const Direction direction = options.direction;
  std::unique_ptr<Pipeline> pipeline(
      new Pipeline(std::move(environment), direction, options.warning_interval));
  Pipeline& p = *pipeline;
  auto add = [&p](std::unique_ptr<Stage> stage) { p.stages_.push_back(std::move(stage)); };
  auto addCloudEvents = [&] {
    if (!options.cloud_events) return;
    CloudEventsSettings settings{*options.cloud_events, options.destination_endpoint_name,
                                 options.output_schema, options.output_content_type};
    add(std::make_unique<CloudEventsStage>(direction, std::move(settings), *p.environment_.clock,
                                           p.environment_.new_event_id, p.counters_));
  };

  if (direction != Direction::KafkaToMqtt) {
    add(std::make_unique<ExpiryStage>(*p.environment_.clock, p.counters_));
  }
  add(std::make_unique<TopicStage>(
      std::move(options.destination_topic),
      direction == Direction::MqttToKafka ? TopicRules::Kafka : TopicRules::Mqtt,
      options.dataflow_name, p.counters_, p.unresolved_topic_warning_, p.invalid_topic_warning_));
  switch (direction) {
    case Direction::MqttToKafka:
      if (options.partition_strategy != PartitionStrategy::Default) {
        add(std::make_unique<PartitionStage>(options.partition_strategy,
                                             std::move(options.partition_key_property),
                                             options.instance_ordinal, options.dataflow_name,
                                             p.counters_, p.missing_partition_key_warning_));
      }
      addCloudEvents();
      add(std::make_unique<MqttToKafkaStage>(options.copy_mqtt_properties, p.counters_));
      if (options.cloud_events) add(std::make_unique<CloudEventsEmitStage>());
      break;
    case Direction::KafkaToMqtt:
      add(std::make_unique<KafkaToMqttStage>(options.dataflow_name, p.counters_,
                                             p.removed_property_warning_));
      addCloudEvents();
      break;
    case Direction::MqttToMqtt:
      if (options.retain == RetainPolicy::Never) add(std::make_unique<ClearRetainStage>());
      addCloudEvents();
      break;
  }
  if (!options.header_actions.empty()) {
    add(std::make_unique<HeaderActionsStage>(std::move(options.header_actions)));
  }
  return pipeline;
}

Outcome Pipeline::process(Message& message) const {
  StageContext context;
  for (const std::unique_ptr<Stage>& stage : stages_) {
    const Outcome outcome = stage->apply(message, context);
    if (outcome != Outcome::Forward) return outcome;
  }
  PipelineCounters::add(counters_.forwarded);
  return Outcome::Forward;
}

std::vector<std::string_view> Pipeline::stageNames() const {
  std::vector<std::string_view> names;
  names.reserve(stages_.size());
  for (const std::unique_ptr<Stage>& stage : stages_) names.push_back(stage->name());
  return names;
}

}  // namespace dataflow::transform
