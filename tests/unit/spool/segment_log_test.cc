// The spool's segment log (engine/spool/segment_log.h): what is committed survives reopening,
// reading resumes at the cursor, and a damaged folder (torn tail, corrupt record, removed
// segment, lost cursor) is repaired and reported, replaying rather than skipping.
#include "engine/spool/segment_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/process.h"

namespace dataflow::spool {
namespace {

using dataflow::testing::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class SegmentLogTest : public ::testing::Test {
 protected:
  SegmentLogOptions options(uint64_t segment_bytes = 64u << 20) {
    SegmentLogOptions o;
    o.directory = (fs::path(dir_.path()) / "spool").string();
    o.segment_bytes = segment_bytes;
    o.max_record_bytes = 1024;
    return o;
  }
  std::unique_ptr<SegmentLog> open(const SegmentLogOptions& o, RecoveryReport* report = nullptr) {
    Result<std::unique_ptr<SegmentLog>> log = SegmentLog::open(o, report);
    EXPECT_TRUE(log.isOk()) << log.status().message();
    return log.isOk() ? std::move(log).value() : nullptr;
  }
  // Appends "r<first>".."r<last>" and commits once.
  static void appendRange(SegmentLog& log, int first, int last) {
    for (int i = first; i <= last; ++i) {
      Result<uint64_t> sequence = log.append("r" + std::to_string(i));
      ASSERT_TRUE(sequence.isOk());
      ASSERT_EQ(sequence.value(), static_cast<uint64_t>(i));
    }
    ASSERT_TRUE(log.commit().isOk());
  }
  // Every payload next() gives until the end.
  static std::vector<std::string> readAll(SegmentLog& log) {
    std::vector<std::string> out;
    while (true) {
      Result<std::optional<Record>> record = log.next();
      EXPECT_TRUE(record.isOk()) << record.status().message();
      if (!record.isOk() || !record.value()) return out;
      out.push_back(record.value()->payload);
    }
  }
  static std::vector<std::string> names(int first, int last) {
    std::vector<std::string> out;
    for (int i = first; i <= last; ++i) out.push_back("r" + std::to_string(i));
    return out;
  }
  std::vector<fs::path> segments() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(fs::path(dir_.path()) / "spool")) {
      if (e.path().extension() == ".seg") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_{"spool-test"};
};

TEST_F(SegmentLogTest, CommittedRecordsAreReadInOrderAndSurviveReopening) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 5);
    EXPECT_EQ(readAll(*log), names(1, 5));
    ASSERT_TRUE(log->append("never committed").isOk());  // lost with the process: not durable
  }
  RecoveryReport report;
  auto log = open(options(), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(report.records, 5u);
  EXPECT_EQ(report.truncations, 0u);
  EXPECT_FALSE(report.cursor_lost);  // nothing was ever acknowledged: not a loss
  EXPECT_EQ(readAll(*log), names(1, 5));  // nothing acknowledged: all again
  EXPECT_EQ(log->nextSequence(), 6u);
}

TEST_F(SegmentLogTest, ReadingResumesAfterTheAcknowledgedRecords) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 10);
    ASSERT_TRUE(log->acknowledge(4).isOk());
  }
  auto log = open(options());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->firstUnacknowledged(), 5u);
  EXPECT_EQ(readAll(*log), names(5, 10));
  appendRange(*log, 11, 12);
  EXPECT_EQ(readAll(*log), names(11, 12));
}

TEST_F(SegmentLogTest, FullyAcknowledgedSegmentsAreDeleted) {
  auto log = open(options(/*segment_bytes=*/30));  // each commit of two records fills a segment
  ASSERT_NE(log, nullptr);
  for (int i = 1; i <= 10; i += 2) appendRange(*log, i, i + 1);
  EXPECT_EQ(segments().size(), 5u);
  EXPECT_EQ(readAll(*log), names(1, 10));
  ASSERT_TRUE(log->acknowledge(6).isOk());
  EXPECT_EQ(segments().size(), 2u);
  ASSERT_TRUE(log->acknowledge(10).isOk());
  // Everything acknowledged: the one being written goes too (a full disk gets its space back).
  EXPECT_THAT(segments(), ::testing::IsEmpty());
  EXPECT_EQ(log->bytes(), 0u);
  appendRange(*log, 11, 11);
  EXPECT_EQ(segments().size(), 1u);
  EXPECT_EQ(readAll(*log), names(11, 11));
}

// With every segment deleted, the cursor alone says where the sequences go on after a reopen.
TEST_F(SegmentLogTest, AFullyAcknowledgedLogReopensWhereItStopped) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 4);
    EXPECT_EQ(readAll(*log), names(1, 4));
    ASSERT_TRUE(log->acknowledge(4).isOk());
    EXPECT_THAT(segments(), ::testing::IsEmpty());
  }
  RecoveryReport report;
  auto log = open(options(), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_THAT(report.problems, ::testing::IsEmpty());
  EXPECT_EQ(log->firstUnacknowledged(), 5u);
  appendRange(*log, 5, 6);
  EXPECT_EQ(readAll(*log), names(5, 6));
}

TEST_F(SegmentLogTest, ATornTailIsTruncatedAndReported) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 3);
  }
  // A crash in the middle of writing record 4: only part of it reached the disk.
  const fs::path segment = segments().back();
  const uintmax_t good = fs::file_size(segment);
  std::ofstream(segment, std::ios::app | std::ios::binary)
      << std::string("\x02\x00\x00\x00\xAB", 5);
  RecoveryReport report;
  auto log = open(options(), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(report.truncations, 1u);
  EXPECT_EQ(report.truncated_bytes, 5u);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_THAT(report.problems[0], HasSubstr(segment.filename().string()));
  EXPECT_EQ(fs::file_size(segment), good);
  EXPECT_EQ(readAll(*log), names(1, 3));
  appendRange(*log, 4, 4);  // the log goes on where the good records end
  EXPECT_EQ(readAll(*log), names(4, 4));
}

TEST_F(SegmentLogTest, ACorruptRecordEndsItsSegmentAndIsNeverReadAsGood) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 4);
  }
  const fs::path segment = segments().back();
  // Flip one payload byte of record 3 (each record here: 16 header bytes + 2 payload bytes).
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(2 * 18 + 16);
    file.put('X');
  }
  RecoveryReport report;
  auto log = open(options(), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(report.truncations, 1u);
  EXPECT_EQ(report.truncated_bytes, 2u * 18);
  EXPECT_THAT(report.problems.at(0), HasSubstr("checksum mismatch in record 3"));
  EXPECT_EQ(readAll(*log), names(1, 2));
  EXPECT_EQ(log->nextSequence(), 3u);
}

TEST_F(SegmentLogTest, ARemovedSegmentIsReportedAndTheRestIsRead) {
  {
    auto log = open(options(/*segment_bytes=*/30));
    ASSERT_NE(log, nullptr);
    for (int i = 1; i <= 6; i += 2) appendRange(*log, i, i + 1);
  }
  ASSERT_EQ(segments().size(), 3u);
  fs::remove(segments()[1]);  // records 3 and 4
  RecoveryReport report;
  auto log = open(options(30), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(report.missing_records, 2u);
  EXPECT_THAT(report.problems.at(0), HasSubstr("records 3 to 4 are missing"));
  EXPECT_EQ(readAll(*log), (std::vector<std::string>{"r1", "r2", "r5", "r6"}));
}

TEST_F(SegmentLogTest, ALostCursorReplaysEverythingRatherThanSkipping) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 5);
    ASSERT_TRUE(log->acknowledge(3).isOk());
  }
  fs::remove(fs::path(dir_.path()) / "spool" / "cursor");
  RecoveryReport report;
  auto log = open(options(), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(report.cursor_lost);
  EXPECT_THAT(report.problems.at(0), HasSubstr("sent again"));
  EXPECT_EQ(readAll(*log), names(1, 5));
}

TEST_F(SegmentLogTest, ADamagedCursorCountsAsLost) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 3);
    ASSERT_TRUE(log->acknowledge(2).isOk());
  }
  std::ofstream(fs::path(dir_.path()) / "spool" / "cursor", std::ios::binary | std::ios::trunc)
      << "garbage!!!!!";
  RecoveryReport report;
  auto log = open(options(), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(report.cursor_lost);
  EXPECT_EQ(readAll(*log), names(1, 3));
}

// An update torn mid-write (a crash) damages one slot of the cursor: the other, older one holds,
// so a few acknowledged records come again rather than the whole spool.
TEST_F(SegmentLogTest, ATornCursorUpdateFallsBackToTheOtherSlot) {
  {
    auto log = open(options());
    ASSERT_NE(log, nullptr);
    appendRange(*log, 1, 5);
    ASSERT_TRUE(log->acknowledge(2).isOk());  // slot 1: 3
    ASSERT_TRUE(log->acknowledge(3).isOk());  // slot 0: 4
  }
  const fs::path cursor = fs::path(dir_.path()) / "spool" / "cursor";
  ASSERT_EQ(fs::file_size(cursor), 24u);
  {
    std::fstream file(cursor, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(2);  // inside slot 0, the newer one
    file.put('\x7f');
  }
  RecoveryReport report;
  auto log = open(options(), &report);
  ASSERT_NE(log, nullptr);
  EXPECT_FALSE(report.cursor_lost);
  EXPECT_EQ(log->firstUnacknowledged(), 3u);
  EXPECT_EQ(readAll(*log), names(3, 5));
}

TEST_F(SegmentLogTest, ARecordOverTheLimitIsRefused) {
  auto log = open(options());
  ASSERT_NE(log, nullptr);
  Result<uint64_t> refused = log->append(std::string(2000, 'x'));
  EXPECT_TRUE(refused.status().isFatal());
  EXPECT_THAT(refused.status().message(), HasSubstr("exceeds the limit of 1024"));
  appendRange(*log, 1, 1);  // the refusal took no sequence
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // RFC 3720, B.4 / the CRC catalogue's check
}

}  // namespace
}  // namespace dataflow::spool
