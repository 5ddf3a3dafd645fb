#include "engine/core/topic_names.h"

#include "engine/core/utf8.h"

namespace dataflow {

bool isLegalKafkaTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxKafkaTopicLength) return false;
  if (topic == "." || topic == "..") return false;
  for (char c : topic) {
    const bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '_' || c == '-';
    if (!legal) return false;
  }
  return true;
}

bool isValidMqttTopicName(std::string_view topic) {
  if (topic.empty()) return false;
  for (char c : topic) {
    if (c == '+' || c == '#') return false;
  }
  return isValidMqttString(topic);
}

}  // namespace dataflow
