// The transform pipeline of one Dataflow: a fixed chain of stages chosen once, when the Dataflow
// is loaded, from its PipelineOptions. Per message there is no configuration lookup: process()
// runs the chain in place on the message.
//
//   MQTT -> Kafka  expiry, topic (Kafka rules), [partition], [cloud-events], mqtt-to-kafka,
//                  [cloud-events-emit], [header-actions]
//   Kafka -> MQTT  topic (MQTT rules), kafka-to-mqtt, [cloud-events], [header-actions]
//   MQTT -> MQTT   expiry, topic (MQTT rules), [clear-retain], [cloud-events], [header-actions]
//
// Output contract. Kafka destination: Message::topic, payload, key (absent = null key),
// partition (absent = let librdkafka choose; Static: the instance ordinal, to reduce with
// staticPartition()), properties = headers in order; Message::mqtt is empty. MQTT destination:
// topic, payload, mqtt (built-ins), properties = user properties in order, retain; every string
// produced from a Kafka record obeys the MQTT string rules.
//
// Threads: process() may be called from any number of threads at once; counters are atomics and
// warnings go to the sink from the calling thread. The environment's clock must outlive the
// pipeline.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/clock.h"
#include "engine/core/message.h"
#include "engine/core/status.h"
#include "engine/transform/counters.h"
#include "engine/transform/options.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

struct PipelineEnvironment {
  const Clock* clock = nullptr;  // required; expiry and CloudEvents `time`
  WarningSink warning_sink;      // optional; receives rate-limited warning lines
  // Optional; CloudEvents `id` generator for CreateOrRemap, called from the threads that run
  // process(). Default: newUuid() (cloud_events.h), a random version 4 UUID.
  std::function<std::string()> new_event_id;
};

class Pipeline {
 public:
  // Checks the options that only the transform can judge (a static destination topic against the
  // destination's topic rules, header actions and CloudEvents values against the MQTT string
  // rules for an MQTT destination, settings that do not apply to the direction) and assembles the
  // stages. A fatal Status says what is wrong, in one sentence for an operator.
  static Result<std::unique_ptr<Pipeline>> build(PipelineOptions options,
                                                 PipelineEnvironment environment);

  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Runs the stages on `message` in place. Outcome::Forward: send the message. Any Drop*: the
  // message must not be sent; acknowledge it to its source (it has been counted). Never throws
  // except std::bad_alloc.
  Outcome process(Message& message) const;

  CounterSnapshot counters() const { return counters_.snapshot(); }
  Direction direction() const { return direction_; }
  // The chosen chain, e.g. {"expiry", "topic", "mqtt-to-kafka"}.
  std::vector<std::string_view> stageNames() const;

 private:
  explicit Pipeline(PipelineEnvironment environment, Direction direction,
                    std::chrono::milliseconds warning_interval);

  PipelineEnvironment environment_;
  Direction direction_;
  mutable PipelineCounters counters_;
  mutable RateLimitedWarning unresolved_topic_warning_;
  mutable RateLimitedWarning invalid_topic_warning_;
  mutable RateLimitedWarning removed_property_warning_;
  mutable RateLimitedWarning missing_partition_key_warning_;
  std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace dataflow::transform
