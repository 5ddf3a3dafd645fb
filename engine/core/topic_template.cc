#include "engine/core/topic_template.h"

#include <charconv>

namespace dataflow {

namespace {
constexpr std::string_view kWhole = "inputTopic";
constexpr std::string_view kLevelPrefix = "inputTopic.";
}  // namespace

bool TopicTemplate::parse(std::string_view text, TopicTemplate& out, std::string& error) {
  out = TopicTemplate();
  out.text_ = std::string(text);
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "${") != 0) {
      literal.push_back(text[i++]);
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      error = "unterminated variable at offset " + std::to_string(i) +
              "; expected ${inputTopic} or ${inputTopic.N}";
      return false;
    }
    std::string_view name = text.substr(i + 2, close - i - 2);
    Part part;
    if (name == kWhole) {
      part.kind = Part::Kind::WholeTopic;
    } else if (name.substr(0, kLevelPrefix.size()) == kLevelPrefix) {
      std::string_view digits = name.substr(kLevelPrefix.size());
      int level = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), level);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
          level < 1 || digits[0] == '0') {
        error = "unknown variable ${" + std::string(name) +
                "}: the level must be a whole number from 1, as in ${inputTopic.1}";
        return false;
      }
      part.kind = Part::Kind::Level;
      part.level = level;
    } else {
      error = "unknown variable ${" + std::string(name) +
              "}; only ${inputTopic} and ${inputTopic.N} are supported";
      return false;
    }
    if (!literal.empty()) {
      out.parts_.push_back(Part{Part::Kind::Literal, std::move(literal), 0});
      literal.clear();
    }
    out.parts_.push_back(std::move(part));
    out.static_ = false;
    i = close + 1;
  }
  if (!literal.empty()) out.parts_.push_back(Part{Part::Kind::Literal, std::move(literal), 0});
  return true;
}

std::string TopicTemplate::withVariablesAs(std::string_view placeholder) const {
  std::string out;
  for (const Part& part : parts_) {
    if (part.kind == Part::Kind::Literal) {
      out += part.literal;
    } else {
      out += placeholder;
    }
  }
  return out;
}

bool TopicTemplate::resolve(std::string_view input_topic, std::string& out) const {
  out.clear();
  if (static_) {
    out = text_;
    return true;
  }
  // Levels are counted with leading and trailing slashes ignored.
  std::string_view trimmed = input_topic;
  while (!trimmed.empty() && trimmed.front() == '/') trimmed.remove_prefix(1);
  while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
  for (const Part& part : parts_) {
    switch (part.kind) {
      case Part::Kind::Literal:
        out += part.literal;
        break;
      case Part::Kind::WholeTopic:
        out += input_topic;
        break;
      case Part::Kind::Level: {
        if (trimmed.empty()) return false;
        size_t start = 0;
        for (int n = 1; n < part.level; ++n) {
          size_t slash = trimmed.find('/', start);
          if (slash == std::string_view::npos) return false;
          start = slash + 1;
        }
        size_t end = trimmed.find('/', start);
        out += trimmed.substr(start, end == std::string_view::npos ? end : end - start);
        break;
      }
    }
  }
  return true;
}

}  // namespace dataflow
