#include "engine/runtime/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace dataflow::runtime {
namespace {

TEST(LogLevels, GlobalLevelOnly) {
  auto levels = parseLogLevels("debug");
  ASSERT_TRUE(levels.isOk());
  EXPECT_EQ(levels.value().global, "debug");
  EXPECT_TRUE(levels.value().per_logger.empty());
}

TEST(LogLevels, PerLoggerPairsInOrder) {
  auto levels = parseLogLevels("warn,engine=info,my-flow=trace");
  ASSERT_TRUE(levels.isOk());
  EXPECT_EQ(levels.value().global, "warn");
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(levels.value().per_logger,
            (std::vector<Pair>{{"engine", "info"}, {"my-flow", "trace"}}));
}

TEST(LogLevels, UnknownLevelIsAnError) {
  auto levels = parseLogLevels("verbose");
  ASSERT_FALSE(levels.isOk());
  EXPECT_EQ(levels.status().message(),
            "unknown log level \"verbose\" (expected trace, debug, info, warn, error or off)");
  EXPECT_FALSE(parseLogLevels("info,flow").isOk());
  EXPECT_FALSE(parseLogLevels("info,=debug").isOk());
  EXPECT_FALSE(parseLogLevels("info,flow=loud").isOk());
}

TEST(LogLevels, UnusedNamesAreReported) {
  auto levels = parseLogLevels("info,engine=debug,no-such-flow=debug");
  ASSERT_TRUE(levels.isOk());
  initLogging(levels.value());
  logger("engine");
  EXPECT_EQ(unusedLoggerNames(levels.value()), std::vector<std::string>{"no-such-flow"});
  EXPECT_EQ(logger("engine")->level(), spdlog::level::debug);
}

}  // namespace
}  // namespace dataflow::runtime
