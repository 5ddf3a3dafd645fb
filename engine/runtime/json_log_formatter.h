// The `--log-format json` line: one JSON object per log event, for log collectors.
//
//   {"time":"2026-12-05T14:06:33.593Z","level":"warning","logger":"flow","dataflow":"flow",
//    "endpoint":"kafka","message":"...","fields":{"facility":"FAIL"}}
//
// `time` is UTC with milliseconds; `level` is trace, debug, info, warning, error or critical;
// `dataflow` and `endpoint` are present when the logger was made for one (logging.h); `fields`
// holds the LogFields in scope on the logging thread, plus `suppressed` for a line a
// RateLimitedWarning writes (the occurrences it did not write since its last line), and is absent
// when there are none. The
// object never spans lines (a newline in the message is escaped) and is valid JSON whatever the
// message holds: bytes that are not UTF-8 are replaced with U+FFFD.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <optional>
#include <string>

namespace dataflow::runtime {

// What a logger is about, beyond its name.
struct LogContext {
  std::optional<std::string> dataflow;
  std::optional<std::string> endpoint;
};

class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(LogContext context) : context_(std::move(context)) {}

  // Called by the sink on the thread that logs (loggers here are synchronous).
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  const LogContext context_;
};

}  // namespace dataflow::runtime
