#include "engine/transform/topic_stage.h"

#include <utility>

#include "engine/core/topic_names.h"

namespace dataflow::transform {

TopicStage::TopicStage(TopicTemplate topic_template, TopicRules rules, std::string dataflow_name,
                       PipelineCounters& counters, RateLimitedWarning& unresolved_warning,
                       RateLimitedWarning& invalid_warning)
    : template_(std::move(topic_template)),
      rules_(rules),
      dataflow_name_(std::move(dataflow_name)),
      counters_(counters),
      unresolved_warning_(unresolved_warning),
      invalid_warning_(invalid_warning) {}

bool TopicStage::isAcceptable(TopicRules rules, std::string_view topic) {
  return rules == TopicRules::Kafka ? isLegalKafkaTopic(topic) : isValidMqttTopicName(topic);
}

Outcome TopicStage::apply(Message& message, StageContext& context) const {
  // Resolve into the context's buffer, then swap: the message keeps the output topic and the
  // context the source topic, without a copy of either.
  if (!template_.resolve(message.topic, context.source_topic)) {
    PipelineCounters::add(counters_.unresolved_topic);
    unresolved_warning_.report([&] {
      return "dataflow " + dataflow_name_ + ": message dropped: destination topic '" +
             template_.text() + "' cannot be resolved for input topic '" + message.topic + "'";
    });
    return Outcome::DropUnresolvedTopic;
  }
  message.topic.swap(context.source_topic);
  if (!template_.isStatic() && !isAcceptable(rules_, message.topic)) {
    PipelineCounters::add(counters_.invalid_topic);
    invalid_warning_.report([&] {
      return "dataflow " + dataflow_name_ + ": message dropped: destination topic '" +
             template_.text() + "' resolved to '" + message.topic + "', which is not a legal " +
             (rules_ == TopicRules::Kafka ? "Kafka topic name" : "MQTT topic name");
    });
    return Outcome::DropInvalidTopic;
  }
  return Outcome::Forward;
}

}  // namespace dataflow::transform
