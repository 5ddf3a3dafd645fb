// Destination topic templates: `${inputTopic}` (the whole source topic) and `${inputTopic.N}`
// (its N-th level, 1-based, leading and trailing slashes ignored). Anything else is literal text,
// including `$inputTopic.2` without braces. Parsed once at load time; resolved per message.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dataflow {

class TopicTemplate {
 public:
  // Parses `text`. On failure returns false and sets `error` to an operator-facing sentence.
  static bool parse(std::string_view text, TopicTemplate& out, std::string& error);

  // True when the template has no variables (the topic is the same for every message).
  bool isStatic() const { return static_; }
  const std::string& text() const { return text_; }

  // The template with every variable replaced by `placeholder`: what the literal text looks like
  // around the variables, for checking it against a destination's topic rules at load time.
  std::string withVariablesAs(std::string_view placeholder) const;

  // Writes the topic for a message that came from `input_topic` into `out` (cleared first).
  // Returns false when a variable cannot be resolved (e.g. `${inputTopic.5}` on `a/b/c`).
  bool resolve(std::string_view input_topic, std::string& out) const;

 private:
  struct Part {
    enum class Kind { Literal, WholeTopic, Level } kind;
    std::string literal;  // Kind::Literal
    int level = 0;        // Kind::Level, 1-based
  };
  std::string text_;
  std::vector<Part> parts_;
  bool static_ = true;
};

}  // namespace dataflow
