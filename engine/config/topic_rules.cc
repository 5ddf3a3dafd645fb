#include "engine/config/topic_rules.h"

#include <regex>

#include "engine/core/topic_names.h"
#include "engine/core/utf8.h"

namespace dataflow::config {

namespace {

std::string checkMqttString(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > 65535) return "longer than 65,535 bytes";
  if (text.find('\0') != std::string_view::npos) return "must not contain U+0000";
  if (!isValidMqttString(text)) return "not valid UTF-8 (MQTT strings must be)";
  return "";
}

std::string checkFilterLevels(std::string_view filter) {
  size_t start = 0;
  while (true) {
    size_t end = filter.find('/', start);
    std::string_view level =
        filter.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (level.find('#') != std::string_view::npos) {
      if (level != "#") return "'#' must occupy a whole level";
      if (end != std::string_view::npos) return "'#' must be the last level";
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return "'+' must occupy a whole level";
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return "";
}

}  // namespace

std::string checkMqttTopicFilter(std::string_view filter, std::string& normalized) {
  normalized = std::string(filter);
  if (std::string problem = checkMqttString(filter); !problem.empty()) return problem;
  std::string_view rest = filter;
  for (std::string_view prefix : {std::string_view("$share/"), std::string_view("$shared/")}) {
    if (filter.substr(0, prefix.size()) != prefix) continue;
    rest = filter.substr(prefix.size());
    size_t slash = rest.find('/');
    std::string_view group = rest.substr(0, slash);
    if (slash == std::string_view::npos) {
      return "a shared subscription must be " + std::string(prefix) + "GROUP/FILTER";
    }
    if (group.empty()) return "the share name of the shared subscription is empty";
    if (group.find_first_of("+#") != std::string_view::npos) {
      return "the share name \"" + std::string(group) + "\" must not contain '+' or '#'";
    }
    rest = rest.substr(slash + 1);
    if (rest.empty()) return "a shared subscription needs a filter after the share name";
    normalized = "$share/" + std::string(filter.substr(prefix.size()));
    break;
  }
  return checkFilterLevels(rest);
}

std::string checkMqttTopicName(std::string_view topic) {
  if (std::string problem = checkMqttString(topic); !problem.empty()) return problem;
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return "must not contain the wildcards '+' or '#'";
  }
  return "";
}

std::string checkKafkaTopicName(std::string_view topic) {
  if (isLegalKafkaTopic(topic)) return "";
  return "not a legal Kafka topic name: use 1 to 249 letters, digits, '.', '_' and '-' (and not "
         "\".\" or \"..\")";
}

std::string checkKafkaSourceTopic(std::string_view topic) {
  if (topic.empty() || topic[0] != '^') return checkKafkaTopicName(topic);
  try {
    std::regex r{std::string(topic), std::regex::extended};
  } catch (const std::regex_error& e) {
    return std::string("not a valid regular expression: ") + e.what();
  }
  return "";
}

}  // namespace dataflow::config
