// Logging for `dataflow run`: one line per event on stderr, through spdlog, either human-readable
// text (`time level [logger] message`) or one JSON object per line (json_log_formatter.h).
// Every dataflow gets its own logger (named after it) so each line says which dataflow it is
// about; a connector gets an endpoint logger, with the same name and level as its dataflow's, so
// a JSON line also says which endpoint it is about. The other loggers (kComponentLoggers) are
// about the process, not a dataflow.
//
// Levels follow the profile's `diagnostics.logs.level` syntax: a global level optionally followed
// by `,name=level` pairs, where a name is a logger: `engine` (the runtime itself) or a dataflow's
// name. `--log-level` on the command line takes precedence over the profile.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace spdlog {
class logger;
}

namespace dataflow::runtime {

// Loggers that are not named after a dataflow: the runtime and the shared token caches.
inline constexpr std::string_view kComponentLoggers[] = {"engine", "identity"};

struct LogLevels {
  std::string global = "info";
  std::vector<std::pair<std::string, std::string>> per_logger;  // name -> level, in order

  friend bool operator==(const LogLevels&, const LogLevels&) = default;
};

enum class LogFormat { Text, Json };

// Parses "info" or "warn,my-dataflow=debug". Fatal on an unknown level name.
Result<LogLevels> parseLogLevels(std::string_view text);

// Parses "text" or "json". Fatal otherwise.
Result<LogFormat> parseLogFormat(std::string_view text);

// Sets up stderr output in `format` and the levels. Call before any thread that logs starts; a
// second call (e.g. once the profile's levels are known) replaces the loggers made so far, so
// hold no logger across it.
void initLogging(const LogLevels& levels, LogFormat format = LogFormat::Text);

// Replaces the levels while the engine runs (a reloaded profile's diagnostics.logs.level): every
// logger made so far and every one made later follows them. Any thread.
void setLogLevels(const LogLevels& levels);
// The levels in force, as given to initLogging or setLogLevels.
LogLevels currentLogLevels();

// The logger for `name` (created on first use with the level initLogging assigned to it). Its
// JSON lines carry "dataflow": name unless name is one of kComponentLoggers.
std::shared_ptr<spdlog::logger> logger(const std::string& name);

// The logger a connector of `dataflow` uses for `endpoint` (the DataflowEndpoint's name): text
// lines are those of logger(dataflow), JSON lines carry "endpoint" too. Same level as
// logger(dataflow). With `dataflow` = "engine": a client shared by the dataflows of the endpoint
// (a Kafka producer); its JSON lines carry the endpoint and no dataflow.
std::shared_ptr<spdlog::logger> endpointLogger(const std::string& dataflow,
                                               const std::string& endpoint);

// Logger names in `levels` that no logger was created for: typos an operator should hear about.
std::vector<std::string> unusedLoggerNames(const LogLevels& levels);

}  // namespace dataflow::runtime
