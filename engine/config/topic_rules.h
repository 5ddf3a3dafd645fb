// Topic and topic-filter rules of MQTT v5 (§4.7, §4.8) and Kafka, for validation at load time.
// Each check returns "" when the text is valid, or a sentence saying what is wrong.
#pragma once

#include <string>
#include <string_view>

namespace dataflow::config {

// An MQTT v5 subscription filter, including `$share/NAME/filter`. AIO's `$shared/NAME/filter`
// is accepted too; `normalized` receives the filter with `$shared/` rewritten to `$share/`.
std::string checkMqttTopicFilter(std::string_view filter, std::string& normalized);

// An MQTT topic name (no wildcards), e.g. a static destination topic.
std::string checkMqttTopicName(std::string_view topic);

// A Kafka topic name: 1 to 249 of [a-zA-Z0-9._-], and not "." or "..".
std::string checkKafkaTopicName(std::string_view topic);

// A Kafka source topic: a name, or (an extension over AIO) a regular expression starting with ^.
std::string checkKafkaSourceTopic(std::string_view topic);

}  // namespace dataflow::config
