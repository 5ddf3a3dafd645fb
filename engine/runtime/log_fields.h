// Structured fields for the lines logged while a scope lives, on the thread that creates it:
//
//   LogFields fields({{"facility", facility}});
//   logger->warn("librdkafka {}: {}", facility, line);
//
// The JSON format (json_log_formatter.h) writes them under "fields"; the text format does not
// show them, so a call site keeps what an operator must read in the message itself. Scopes nest;
// an inner field with the same name as an outer one replaces its value in the line. Never put a
// secret in a field.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace dataflow::runtime {

struct LogField {
  std::string name;
  std::variant<std::string, int64_t> value;
};

class LogFields {
 public:
  explicit LogFields(std::initializer_list<LogField> fields);
  ~LogFields();  // removes this scope's fields
  LogFields(const LogFields&) = delete;
  LogFields& operator=(const LogFields&) = delete;

 private:
  size_t added_ = 0;
};

// The fields in scope on the calling thread, outermost first.
const std::vector<LogField>& currentLogFields();

}  // namespace dataflow::runtime
