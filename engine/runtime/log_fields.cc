#include "engine/runtime/log_fields.h"

namespace dataflow::runtime {

namespace {
thread_local std::vector<LogField> t_fields;
}  // namespace

LogFields::LogFields(std::initializer_list<LogField> fields) : added_(fields.size()) {
  t_fields.insert(t_fields.end(), fields.begin(), fields.end());
}

LogFields::~LogFields() { t_fields.resize(t_fields.size() - added_); }

const std::vector<LogField>& currentLogFields() { return t_fields; }

}  // namespace dataflow::runtime
