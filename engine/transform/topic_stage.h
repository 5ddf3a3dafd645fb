// Destination topic (AIO Dataflow `dataDestination`, §2.4 topic templating): resolves the
// template against the source topic. A variable without a value drops the message
// (DropUnresolvedTopic); a resolved topic that the destination cannot accept (Kafka topic name
// rules, MQTT topic name rules) drops it too (DropInvalidTopic). Both are counted and warned about,
// rate-limited.
#pragma once

#include <string>

#include "engine/core/topic_template.h"
#include "engine/transform/counters.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

enum class TopicRules { Kafka, Mqtt };

class TopicStage final : public Stage {
 public:
  // `counters` and both warnings outlive the stage. `topic_template` must have been checked by
  // checkStaticTopic() when it is static: a static topic is then not checked per message.
  TopicStage(TopicTemplate topic_template, TopicRules rules, std::string dataflow_name,
             PipelineCounters& counters, RateLimitedWarning& unresolved_warning,
             RateLimitedWarning& invalid_warning);

  // Leaves the resolved topic in Message::topic and the source topic in StageContext.
  std::string_view name() const override { return "topic"; }
  Outcome apply(Message& message, StageContext& context) const override;

  // True when `rules` accept the topic. Used at build time for static templates.
  static bool isAcceptable(TopicRules rules, std::string_view topic);

 private:
  TopicTemplate template_;
  TopicRules rules_;
  std::string dataflow_name_;
  PipelineCounters& counters_;
  RateLimitedWarning& unresolved_warning_;
  RateLimitedWarning& invalid_warning_;
};

}  // namespace dataflow::transform
