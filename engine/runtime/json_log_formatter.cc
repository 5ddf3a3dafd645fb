#include "engine/runtime/json_log_formatter.h"

#include <time.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/core/rate_limited_warning.h"
#include "engine/runtime/log_fields.h"

namespace dataflow::runtime {

namespace {

std::string_view levelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warning";
    case spdlog::level::err:
      return "error";
    default:
      return "critical";
  }
}

// 2026-12-05T14:06:33.593Z
std::string utcTime(spdlog::log_clock::time_point time) {
  using namespace std::chrono;
  const auto since_epoch = time.time_since_epoch();
  const time_t seconds = duration_cast<std::chrono::seconds>(since_epoch).count();
  const auto millis = duration_cast<milliseconds>(since_epoch).count() % 1000;
  struct tm utc;
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis));
  return text;
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  nlohmann::ordered_json line;
  line["time"] = utcTime(msg.time);
  line["level"] = levelName(msg.level);
  line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
  if (context_.dataflow) line["dataflow"] = *context_.dataflow;
  if (context_.endpoint) line["endpoint"] = *context_.endpoint;
  line["message"] = std::string(msg.payload.data(), msg.payload.size());
  const std::vector<LogField>& fields = currentLogFields();
  const std::optional<uint64_t> suppressed = RateLimitedWarning::suppressedInReport();
  if (!fields.empty() || suppressed) {
    nlohmann::ordered_json& object = line["fields"] = nlohmann::ordered_json::object();
    for (const LogField& field : fields) {
      std::visit([&](const auto& value) { object[field.name] = value; }, field.value);
    }
    if (suppressed) object["suppressed"] = *suppressed;
  }
  // Replacing invalid UTF-8 (instead of throwing) keeps every line valid JSON.
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  dest.append(text.data(), text.data() + text.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>(context_);
}

}  // namespace dataflow::runtime
