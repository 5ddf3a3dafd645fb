#include "engine/runtime/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace dataflow::runtime {

namespace {

std::optional<spdlog::level::level_enum> levelNamed(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (auto [text, level] : kLevels) {
    if (text == name) return level;
  }
  return std::nullopt;
}

struct Registry {
  std::mutex mutex;
  spdlog::sink_ptr sink;  // guarded by mutex
  LogLevels levels;       // guarded by mutex
};

Registry& registry() {
  static Registry r;
  return r;
}

spdlog::level::level_enum levelFor(const LogLevels& levels, const std::string& name) {
  std::string_view chosen = levels.global;
  for (const auto& [logger_name, level] : levels.per_logger) {
    if (logger_name == name) chosen = level;
  }
  return levelNamed(chosen).value_or(spdlog::level::info);
}

// Requires r.mutex held.
void ensureSink(Registry& r) {
  if (r.sink) return;
  r.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  // UTC ISO 8601 time, level, logger name, message.
  r.sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      "%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v", spdlog::pattern_time_type::utc));
}

}  // namespace

Result<LogLevels> parseLogLevels(std::string_view text) {
  LogLevels levels;
  bool first = true;
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (first) {
      if (!levelNamed(item)) {
        return Status::fatal("unknown log level \"" + std::string(item) +
                             "\" (expected trace, debug, info, warn, error or off)");
      }
      levels.global = std::string(item);
      first = false;
    } else {
      size_t equals = item.find('=');
      if (equals == std::string_view::npos || equals == 0 || !levelNamed(item.substr(equals + 1))) {
        return Status::fatal("bad log level item \"" + std::string(item) +
                             "\" (expected name=level with level one of trace, debug, info, "
                             "warn, error, off)");
      }
      levels.per_logger.emplace_back(item.substr(0, equals), item.substr(equals + 1));
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return levels;
}

void initLogging(const LogLevels& levels) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.levels = levels;
  ensureSink(r);
  spdlog::drop_all();
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (auto existing = spdlog::get(name)) return existing;
  ensureSink(r);
  auto created = std::make_shared<spdlog::logger>(name, r.sink);
  created->set_level(levelFor(r.levels, name));
  created->flush_on(spdlog::level::trace);
  spdlog::register_logger(created);
  return created;
}

std::vector<std::string> unusedLoggerNames(const LogLevels& levels) {
  std::vector<std::string> unused;
  for (const auto& [name, level] : levels.per_logger) {
    if (!spdlog::get(name)) unused.push_back(name);
  }
  return unused;
}

}  // namespace dataflow::runtime
