// `dataflow spool inspect` as an operator runs it: the built binary on a spool root holding one
// healthy log and one with a corrupt record; what it prints, as text and JSON, and its exit code.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/unit/spool/spool_folder.h"

namespace dataflow::spool {
namespace {

using dataflow::testing::ChildProcess;
using dataflow::testing::TempDir;
using spool::testing::encodedRecord;
using spool::testing::snapshot;
using spool::testing::writeLog;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class SpoolInspectCli : public ::testing::Test {
 protected:
  // Runs `dataflow ARGS...` to completion; returns the exit code, stdout and stderr in `output`.
  int dataflow(std::vector<std::string> args, std::string& output) {
    args.insert(args.begin(), DATAFLOW_EXE);
    ChildProcess process(args, logs_.path() + "/out-" + std::to_string(++runs_) + ".log");
    std::optional<int> code = process.wait(30s);
    output = process.log();
    return code.value_or(-1);
  }

  TempDir root_{"spool-root"};
  TempDir logs_{"spool-cli-logs"};
  int runs_ = 0;
};

TEST_F(SpoolInspectCli, ReportsEachLogAndExitsOneOnAProblem) {
  writeLog(root_.path() + "/flow/0", 4, 2);
  writeLog(root_.path() + "/flow/1", 3, 0);
  // Record 3 of flow/1: a flipped payload byte.
  const std::string segment = root_.path() + "/flow/1/00000000000000000001.seg";
  const uint64_t third = 2 * 16 + encodedRecord(1).size() + encodedRecord(2).size();
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(third + 16 + 1));
    file.put('#');
  }
  const auto before = snapshot(root_.path());

  std::string output;
  EXPECT_EQ(dataflow({"spool", "inspect", root_.path(), "--records", "1"}, output), 1);
  EXPECT_THAT(output,
              HasSubstr(root_.path() + "/flow/0\n  cursor: 3\n  segments: 1\n"
                                       "    00000000000000000001.seg  sequences 1-4  4 records  "));
  // Record 3: received 3 s after the ManualClock's start, QoS 0, no expiry.
  EXPECT_THAT(output, HasSubstr("  unacknowledged: 2 records, "));
  EXPECT_THAT(output, HasSubstr("from sequence 3, oldest received 2023-11-14T22:13:23.000Z\n"
                                "    3  2023-11-14T22:13:23.000Z  plant/line3  9 bytes  QoS 0  "
                                "no expiry\n"));
  EXPECT_THAT(output, HasSubstr("BAD TAIL at offset " + std::to_string(third)));
  EXPECT_THAT(output, HasSubstr("checksum mismatch in record 3"));
  EXPECT_THAT(output, HasSubstr("  PROBLEM: " + segment + ": bad tail at offset"));
  EXPECT_THAT(output, HasSubstr("2 logs, 1 with problems\n"));

  EXPECT_EQ(dataflow({"spool", "inspect", root_.path() + "/flow/1", "--output", "json"}, output),
            1);
  const nlohmann::json json = nlohmann::json::parse(output);
  EXPECT_FALSE(json["root"]);
  EXPECT_FALSE(json["consistent"]);
  ASSERT_EQ(json["logs"].size(), 1u);
  const nlohmann::json& log = json["logs"][0];
  EXPECT_EQ(log["cursor"]["state"], "valid");
  EXPECT_EQ(log["cursor"]["value"], 1);
  EXPECT_EQ(log["segments"][0]["lastSequence"], 2);
  EXPECT_EQ(log["segments"][0]["badTail"]["offset"], third);
  EXPECT_EQ(log["segments"][0]["badTail"]["reason"], "checksum mismatch in record 3");
  EXPECT_EQ(log["unacknowledged"]["records"], 2);
  EXPECT_EQ(log["unacknowledged"]["oldestReceived"], "2023-11-14T22:13:21.000Z");
  EXPECT_EQ(log["problems"].size(), 1u);

  EXPECT_EQ(dataflow({"spool", "inspect", root_.path() + "/flow/0"}, output), 0);
  EXPECT_THAT(output, HasSubstr("1 log, consistent\n"));
  EXPECT_EQ(snapshot(root_.path()), before);  // nothing repaired, nothing written
}

TEST_F(SpoolInspectCli, AFolderThatCannotBeReadExitsTwo) {
  std::string output;
  EXPECT_EQ(dataflow({"spool", "inspect", root_.path() + "/nowhere"}, output), 2);
  EXPECT_THAT(output, HasSubstr("nowhere is not a folder"));
  EXPECT_EQ(dataflow({"spool", "inspect"}, output), 2);
}

}  // namespace
}  // namespace dataflow::spool
