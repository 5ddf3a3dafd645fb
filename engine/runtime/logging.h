// Logging for `dataflow run`: one human-readable line per event on stderr, through spdlog.
// Every dataflow gets its own logger (named after it) so each line says which dataflow it is
// about; all loggers share one stderr sink.
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

struct LogLevels {
  std::string global = "info";
  std::vector<std::pair<std::string, std::string>> per_logger;  // name -> level, in order
};

// Parses "info" or "warn,my-dataflow=debug". Fatal on an unknown level name.
Result<LogLevels> parseLogLevels(std::string_view text);

// Sets up the shared stderr sink and the `engine` logger. Call once, before any thread starts.
void initLogging(const LogLevels& levels);

// The logger for `name` (created on first use with the level initLogging assigned to it).
std::shared_ptr<spdlog::logger> logger(const std::string& name);

// Logger names in `levels` that no logger was created for: typos an operator should hear about.
std::vector<std::string> unusedLoggerNames(const LogLevels& levels);

}  // namespace dataflow::runtime
