#include "engine/runtime/json_log_formatter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "engine/core/clock.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/runtime/log_fields.h"

namespace dataflow::runtime {
namespace {

using ::testing::ElementsAre;

// Formats one event; fails the test unless the result is exactly one line ending in '\n'.
std::string formatLine(const LogContext& context, spdlog::level::level_enum level,
                       std::string_view message, const char* logger_name = "flow") {
  spdlog::details::log_msg msg(spdlog::source_loc{}, logger_name, level,
                               spdlog::string_view_t(message.data(), message.size()));
  // 2026-12-05T14:06:33.593Z
  msg.time = spdlog::log_clock::time_point(std::chrono::milliseconds(1796479593593));
  spdlog::memory_buf_t buffer;
  JsonLogFormatter(context).format(msg, buffer);
  std::string line(buffer.data(), buffer.size());
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  return line;
}

nlohmann::ordered_json parse(const std::string& line) {
  return nlohmann::ordered_json::parse(line);  // throws (fails the test) when not JSON
}

std::vector<std::string> keysOf(const nlohmann::ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) keys.push_back(item.key());
  return keys;
}

TEST(JsonLogFormatter, EveryKeyInOrder) {
  LogFields fields({{"facility", std::string("FAIL")}, {"line", int64_t{42}}});
  const auto json = parse(formatLine({"flow", "kafka"}, spdlog::level::warn, "broker down"));
  EXPECT_THAT(keysOf(json),
              ElementsAre("time", "level", "logger", "dataflow", "endpoint", "message", "fields"));
  EXPECT_EQ(json["time"], "2026-12-05T14:06:33.593Z");
  EXPECT_EQ(json["level"], "warning");
  EXPECT_EQ(json["logger"], "flow");
  EXPECT_EQ(json["dataflow"], "flow");
  EXPECT_EQ(json["endpoint"], "kafka");
  EXPECT_EQ(json["message"], "broker down");
  EXPECT_EQ(json["fields"], (nlohmann::ordered_json{{"facility", "FAIL"}, {"line", 42}}));
}

TEST(JsonLogFormatter, AbsentContextAndFieldsAreLeftOut) {
  const auto json = parse(formatLine({}, spdlog::level::info, "started", "engine"));
  EXPECT_THAT(keysOf(json), ElementsAre("time", "level", "logger", "message"));
  EXPECT_EQ(json["logger"], "engine");
}

TEST(JsonLogFormatter, LevelNames) {
  const std::pair<spdlog::level::level_enum, const char*> levels[] = {
      {spdlog::level::trace, "trace"}, {spdlog::level::debug, "debug"},
      {spdlog::level::info, "info"},   {spdlog::level::warn, "warning"},
      {spdlog::level::err, "error"},   {spdlog::level::critical, "critical"}};
  for (auto [level, name] : levels) {
    EXPECT_EQ(parse(formatLine({}, level, "x"))["level"], name);
  }
}

TEST(JsonLogFormatter, MessageIsEscapedAndStaysOnOneLine) {
  const std::string message = "quote \" backslash \\ newline \n carriage return \r tab \t nul " +
                              std::string(1, '\0') + " bell \x07 escape \x1b end";
  const std::string line = formatLine({"flow", std::nullopt}, spdlog::level::err, message);
  EXPECT_EQ(parse(line)["message"], message);  // every byte survives the round trip
}

TEST(JsonLogFormatter, NonAsciiUtf8IsKept) {
  const std::string message = "température 25 °C, 温度";
  EXPECT_EQ(parse(formatLine({}, spdlog::level::info, message))["message"], message);
}

TEST(JsonLogFormatter, InvalidUtf8BecomesReplacementCharacters) {
  const std::string message = "bad \xff\xfe bytes \xc3 and truncated \xe2\x82";
  const std::string line = formatLine({"fl\xffow", "kafka"}, spdlog::level::warn, message);
  const auto json = parse(line);
  const std::string text = json["message"];
  EXPECT_EQ(text.rfind("bad ", 0), 0u);
  EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
  EXPECT_NE(text.find(" bytes "), std::string::npos);
  EXPECT_EQ(json["dataflow"], "fl\xef\xbf\xbdow");
}

TEST(JsonLogFormatter, FieldValuesAreEscapedToo) {
  LogFields fields({{"path", std::string("a\"b\nc\xff")}});
  const auto json = parse(formatLine({}, spdlog::level::info, "x"));
  EXPECT_EQ(json["fields"]["path"], "a\"b\nc\xef\xbf\xbd");
}

TEST(JsonLogFormatter, ARateLimitedLineCarriesItsSuppressedCount) {
  ManualClock clock;
  std::vector<nlohmann::ordered_json> lines;
  const WarningSink sink = [&](std::string_view line) {
    lines.push_back(parse(formatLine({"flow", std::nullopt}, spdlog::level::warn, line)));
  };
  RateLimitedWarning warning(clock, sink, std::chrono::seconds(10));
  for (int i = 0; i < 5; ++i) warning.report([] { return std::string("dropped"); });
  clock.advance(std::chrono::seconds(10));
  warning.report([] { return std::string("dropped"); });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["fields"], (nlohmann::ordered_json{{"suppressed", 0}}));
  EXPECT_EQ(lines[1]["message"], "dropped (4 more since the last report)");
  EXPECT_EQ(lines[1]["fields"], (nlohmann::ordered_json{{"suppressed", 4}}));
  // Outside a report, nothing is added.
  EXPECT_FALSE(parse(formatLine({}, spdlog::level::warn, "x")).contains("fields"));
}

TEST(LogFields, ScopesNestAndEndWithTheirScope) {
  EXPECT_TRUE(currentLogFields().empty());
  {
    LogFields outer({{"a", std::string("1")}});
    {
      LogFields inner({{"b", int64_t{2}}, {"a", std::string("3")}});
      ASSERT_EQ(currentLogFields().size(), 3u);
      // The inner "a" replaces the outer one's value in a line.
      EXPECT_EQ(parse(formatLine({}, spdlog::level::info, "x"))["fields"],
                (nlohmann::ordered_json{{"a", "3"}, {"b", 2}}));
    }
    ASSERT_EQ(currentLogFields().size(), 1u);
    EXPECT_EQ(currentLogFields()[0].name, "a");
  }
  EXPECT_TRUE(currentLogFields().empty());
}

TEST(LogFields, AreThreadLocal) {
  LogFields here({{"a", std::string("1")}});
  size_t seen_elsewhere = 99;
  std::thread([&] { seen_elsewhere = currentLogFields().size(); }).join();
  EXPECT_EQ(seen_elsewhere, 0u);
}

}  // namespace
}  // namespace dataflow::runtime
