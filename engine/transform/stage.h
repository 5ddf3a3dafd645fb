// The unit a pipeline is made of. A stage is built once from PipelineOptions and is immutable
// afterwards, so one stage may run on several threads at once; per-message state lives in the
// Message and the StageContext, which belong to the calling thread.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/message.h"

namespace dataflow::transform {

// What Pipeline::process decided. Every Drop* outcome means "acknowledge the source, do not send".
enum class Outcome {
  Forward,
  DropExpired,          // Message Expiry Interval elapsed while queued
  DropUnresolvedTopic,  // destination topic template variable has no value for this message
  DropInvalidTopic,     // templated topic is not a legal Kafka topic / MQTT topic name
};

std::string_view toString(Outcome outcome);

// CloudEvents attributes other than datacontenttype, in the order they are emitted.
enum class CloudEventAttribute { SpecVersion, Type, Source, Id, Subject, Time, DataSchema };
inline constexpr size_t kCloudEventAttributeCount = 7;
inline constexpr size_t kCloudEventRequiredCount = 4;  // the first four are REQUIRED

// CloudEvents attributes lifted out of an MQTT message on its way to Kafka, held between the
// extraction (before the MQTT properties are copied or dropped) and the emission as `ce_` headers.
struct CloudEventHeaders {
  bool pending = false;  // true when the emit stage has something to write
  std::array<std::optional<std::string>, kCloudEventAttributeCount> attributes;
  std::optional<std::string> content_type;  // -> `content-type` header
};

// Scratch state for one message, on the stack of the thread that runs Pipeline::process.
struct StageContext {
  // The topic the message arrived on: set by the topic stage, moved into the record key by the
  // partition stage under the Topic strategy (nothing after it reads it).
  std::string source_topic;
  CloudEventHeaders cloud_event;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // A short fixed name ("expiry", "topic", ...), for diagnostics and tests.
  virtual std::string_view name() const = 0;
  // Transforms `message` in place. Returns Outcome::Forward to continue with the next stage, or
  // the reason the message is dropped (the pipeline stops there). Never throws.
  virtual Outcome apply(Message& message, StageContext& context) const = 0;
};

}  // namespace dataflow::transform
