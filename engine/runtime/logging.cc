#include "engine/runtime/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "engine/runtime/json_log_formatter.h"

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
  spdlog::sink_ptr sink;               // guarded by mutex; the text format's one sink
  LogLevels levels;                    // guarded by mutex
  LogFormat format = LogFormat::Text;  // guarded by mutex
  // Endpoint loggers share their dataflow's name, so spdlog's registry cannot hold them.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<spdlog::logger>>
      endpoint_loggers;  // guarded by mutex
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

// The sink for a logger about `context`. Requires r.mutex held. JSON: one sink per logger, since
// the formatter holds the context; spdlog's stderr sinks all lock one process-wide console mutex,
// so lines from different loggers never interleave.
spdlog::sink_ptr sinkFor(Registry& r, LogContext context) {
  if (r.format == LogFormat::Text) {
    ensureSink(r);
    return r.sink;
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<JsonLogFormatter>(std::move(context)));
  return sink;
}

bool isComponentLogger(const std::string& name) {
  return std::find(std::begin(kComponentLoggers), std::end(kComponentLoggers), name) !=
         std::end(kComponentLoggers);
}

// Requires r.mutex held.
std::shared_ptr<spdlog::logger> namedLogger(Registry& r, const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  LogContext context;
  if (!isComponentLogger(name)) context.dataflow = name;
  auto created = std::make_shared<spdlog::logger>(name, sinkFor(r, std::move(context)));
  created->set_level(levelFor(r.levels, name));
  created->flush_on(spdlog::level::trace);
  spdlog::register_logger(created);
  return created;
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

Result<LogFormat> parseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::Text;
  if (text == "json") return LogFormat::Json;
  return Status::fatal("unknown log format \"" + std::string(text) + "\" (expected text or json)");
}

void initLogging(const LogLevels& levels, LogFormat format) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.levels = levels;
  r.format = format;
  ensureSink(r);
  r.endpoint_loggers.clear();
  spdlog::drop_all();
}

void setLogLevels(const LogLevels& levels) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.levels = levels;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(levelFor(r.levels, l->name()));
  });
  for (auto& [key, endpoint_logger] : r.endpoint_loggers) {
    endpoint_logger->set_level(levelFor(r.levels, key.first));  // its dataflow's level
  }
}

LogLevels currentLogLevels() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.levels;
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return namedLogger(r, name);
}

std::shared_ptr<spdlog::logger> endpointLogger(const std::string& dataflow,
                                               const std::string& endpoint) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const std::shared_ptr<spdlog::logger> parent = namedLogger(r, dataflow);
  if (r.format == LogFormat::Text) return parent;  // the lines would be the same
  std::shared_ptr<spdlog::logger>& slot = r.endpoint_loggers[{dataflow, endpoint}];
  if (!slot) {
    LogContext context;
    if (!isComponentLogger(dataflow)) context.dataflow = dataflow;
    context.endpoint = endpoint;
    slot = std::make_shared<spdlog::logger>(dataflow, sinkFor(r, std::move(context)));
    slot->set_level(parent->level());
    slot->flush_on(spdlog::level::trace);
  }
  return slot;
}

std::vector<std::string> unusedLoggerNames(const LogLevels& levels) {
  std::vector<std::string> unused;
  for (const auto& [name, level] : levels.per_logger) {
    if (!spdlog::get(name)) unused.push_back(name);
  }
  return unused;
}

}  // namespace dataflow::runtime
