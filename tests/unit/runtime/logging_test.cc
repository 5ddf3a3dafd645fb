#include "engine/runtime/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

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

TEST(LogFormat, TextOrJson) {
  EXPECT_EQ(parseLogFormat("text").value(), LogFormat::Text);
  EXPECT_EQ(parseLogFormat("json").value(), LogFormat::Json);
  ASSERT_FALSE(parseLogFormat("JSON").isOk());
  EXPECT_EQ(parseLogFormat("logfmt").status().message(),
            "unknown log format \"logfmt\" (expected text or json)");
}

// Every line `log` writes to stderr.
template <class Log>
std::vector<std::string> stderrLines(Log&& log) {
  ::testing::internal::CaptureStderr();
  log();
  std::istringstream output(::testing::internal::GetCapturedStderr());
  std::vector<std::string> lines;
  for (std::string line; std::getline(output, line);) lines.push_back(line);
  return lines;
}

TEST(LogFormat, JsonLinesSayWhichDataflowAndEndpoint) {
  initLogging(parseLogLevels("info,quiet-flow=error").value(), LogFormat::Json);
  const auto lines = stderrLines([] {
    logger("engine")->info("engine line");
    logger("identity")->info("identity line");
    logger("flow")->warn("dataflow line");
    endpointLogger("flow", "kafka")->error("endpoint line\nsecond line");
    endpointLogger("quiet-flow", "mqtt")->warn("filtered out: below the dataflow's level");
  });
  ASSERT_EQ(lines.size(), 4u);
  std::vector<nlohmann::json> json;
  for (const std::string& line : lines) json.push_back(nlohmann::json::parse(line));
  EXPECT_EQ(json[0]["logger"], "engine");
  EXPECT_FALSE(json[0].contains("dataflow"));
  EXPECT_FALSE(json[1].contains("dataflow"));
  EXPECT_EQ(json[2]["dataflow"], "flow");
  EXPECT_FALSE(json[2].contains("endpoint"));
  EXPECT_EQ(json[3]["logger"], "flow");
  EXPECT_EQ(json[3]["dataflow"], "flow");
  EXPECT_EQ(json[3]["endpoint"], "kafka");
  EXPECT_EQ(json[3]["level"], "error");
  EXPECT_EQ(json[3]["message"], "endpoint line\nsecond line");
  EXPECT_EQ(endpointLogger("quiet-flow", "mqtt")->level(), spdlog::level::err);
  EXPECT_EQ(endpointLogger("flow", "kafka"), endpointLogger("flow", "kafka"));
  initLogging(LogLevels{});
}

TEST(LogFormat, TextLinesOfAnEndpointAreThoseOfItsDataflow) {
  initLogging(LogLevels{}, LogFormat::Text);
  const auto lines = stderrLines([] {
    logger("flow")->warn("dataflow line");
    endpointLogger("flow", "kafka")->warn("endpoint line");
  });
  ASSERT_EQ(lines.size(), 2u);
  const ::testing::Matcher<std::string> time = ::testing::MatchesRegex(
      "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z .*");
  EXPECT_THAT(lines[0], ::testing::AllOf(time, ::testing::EndsWith(" [flow] dataflow line")));
  EXPECT_THAT(lines[1], ::testing::AllOf(time, ::testing::EndsWith(" [flow] endpoint line")));
}

}  // namespace
}  // namespace dataflow::runtime
