// `dataflow spool inspect` (engine/spool/spool_inspect.h): a log written by SegmentLog, then
// damaged as a crash, a disk or an operator would (a torn tail, a flipped byte, a removed segment,
// a lost cursor), is reported exactly, agrees with what recovery then repairs, and every file is
// byte-for-byte the same after the inspection as before.
#include "engine/spool/spool_inspect.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/spool/segment_format.h"
#include "tests/support/process.h"
#include "tests/unit/spool/spool_folder.h"

namespace dataflow::spool {
namespace {

using dataflow::testing::TempDir;
using spool::testing::encodedRecord;
using spool::testing::kFirstReceivedMs;
using spool::testing::snapshot;
using spool::testing::writeLog;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string segmentName(uint64_t first) {
  std::string digits = std::to_string(first);
  return std::string(20 - digits.size(), '0') + digits + ".seg";
}

// Bytes of record i in a segment, header included.
uint64_t recordBytes(int i) { return kHeaderBytes + encodedRecord(i).size(); }

// Where record i starts in a segment whose first record is `first`.
uint64_t offsetOf(int first, int i) {
  uint64_t offset = 0;
  for (int k = first; k < i; ++k) offset += recordBytes(k);
  return offset;
}

void overwrite(const fs::path& file, uint64_t offset, char byte) {
  std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
  out.seekp(static_cast<std::streamoff>(offset));
  out.put(byte);
}

class SpoolInspectTest : public ::testing::Test {
 protected:
  std::string logDir() const { return dir_.path() + "/flow/0"; }
  fs::path segment(uint64_t first) const { return fs::path(logDir()) / segmentName(first); }

  // Inspects `directory`, checking that nothing under the test folder changed.
  SpoolInspection inspect(const std::string& directory, uint64_t list_records = 0) {
    const auto before = snapshot(dir_.path());
    InspectOptions options;
    options.list_records = list_records;
    Result<SpoolInspection> inspected = inspectSpool(directory, options);
    EXPECT_EQ(snapshot(dir_.path()), before) << "the inspection changed the folder";
    EXPECT_TRUE(inspected.isOk()) << inspected.status().message();
    return inspected.isOk() ? std::move(inspected).value() : SpoolInspection();
  }
  // The one log of logDir().
  LogInspection inspectLog(uint64_t list_records = 0) {
    SpoolInspection inspection = inspect(logDir(), list_records);
    EXPECT_FALSE(inspection.root);
    EXPECT_EQ(inspection.logs.size(), 1u);
    return inspection.logs.empty() ? LogInspection() : inspection.logs[0];
  }
  // Opens the log with SegmentLog (which repairs it) and returns its report.
  RecoveryReport recover() {
    SegmentLogOptions options;
    options.directory = logDir();
    RecoveryReport report;
    EXPECT_TRUE(SegmentLog::open(options, &report).isOk());
    return report;
  }

  TempDir dir_{"spool-inspect"};
};

TEST_F(SpoolInspectTest, AHealthyLogIsReportedWholeAndConsistent) {
  // Commits of 3 records, each in a new segment: [1-3] [4-6] [7-9] [10]; acknowledging 4
  // deletes [1-3].
  writeLog(logDir(), 10, 4, /*segment_bytes=*/1, /*per_commit=*/3);
  const LogInspection log = inspectLog(/*list_records=*/2);
  EXPECT_EQ(log.directory, logDir());
  EXPECT_EQ(log.cursor.state, CursorInspection::State::Valid);
  EXPECT_EQ(log.cursor.value, 5u);
  ASSERT_EQ(log.segments.size(), 3u);
  EXPECT_EQ(log.segments[0].file, segmentName(4));
  EXPECT_EQ(log.segments[0].first_sequence, 4u);
  EXPECT_EQ(log.segments[0].last_sequence, 6u);
  EXPECT_EQ(log.segments[0].records, 3u);
  EXPECT_EQ(log.segments[0].bytes, fs::file_size(segment(4)));
  EXPECT_EQ(log.segments[0].bytes, offsetOf(4, 7));
  EXPECT_EQ(log.segments[2].file, segmentName(10));
  EXPECT_EQ(log.segments[2].last_sequence, 10u);
  for (const SegmentInspection& s : log.segments) EXPECT_FALSE(s.bad_tail.has_value()) << s.file;
  EXPECT_TRUE(log.gaps.empty());
  EXPECT_TRUE(log.problems.empty()) << log.problems.front();
  EXPECT_TRUE(log.notes.empty());
  EXPECT_EQ(log.first_unacknowledged, 5u);
  EXPECT_EQ(log.next_sequence, 11u);
  EXPECT_EQ(log.unacknowledged_records, 6u);
  EXPECT_EQ(log.unacknowledged_bytes, offsetOf(5, 11));
  EXPECT_EQ(log.oldest_received_ms, kFirstReceivedMs + 4000);
  EXPECT_EQ(log.undecodable_records, 0u);

  ASSERT_EQ(log.records.size(), 2u);
  const RecordSummary& fifth = log.records[0];
  EXPECT_EQ(fifth.sequence, 5u);
  EXPECT_TRUE(fifth.error.empty());
  EXPECT_EQ(fifth.bytes, encodedRecord(5).size());
  EXPECT_EQ(fifth.topic, "plant/line5");
  EXPECT_EQ(fifth.payload_bytes, std::string("payload-5").size());
  EXPECT_EQ(fifth.qos, 2);
  EXPECT_EQ(fifth.received_ms, kFirstReceivedMs + 4000);
  EXPECT_FALSE(fifth.expires_ms.has_value());
  const RecordSummary& sixth = log.records[1];
  EXPECT_EQ(sixth.sequence, 6u);
  EXPECT_EQ(sixth.qos, 0);
  EXPECT_EQ(sixth.expires_ms, kFirstReceivedMs + 5000 + 60'000);
}

TEST_F(SpoolInspectTest, ATruncatedTailIsATornRecordWhereRecoveryWouldCut) {
  writeLog(logDir(), 5, 0);
  // A crash while record 5 was written: 3 of its bytes never reached the disk.
  fs::resize_file(segment(1), fs::file_size(segment(1)) - 3);
  const LogInspection log = inspectLog();
  ASSERT_EQ(log.segments.size(), 1u);
  ASSERT_TRUE(log.segments[0].bad_tail.has_value());
  const BadTail& tail = *log.segments[0].bad_tail;
  EXPECT_EQ(tail.offset, offsetOf(1, 5));
  EXPECT_EQ(tail.bytes, recordBytes(5) - 3);
  EXPECT_EQ(tail.reason, "torn record: " + std::to_string(encodedRecord(5).size() - 3) + " of " +
                             std::to_string(encodedRecord(5).size()) + " payload bytes");
  EXPECT_EQ(log.segments[0].records, 4u);
  EXPECT_EQ(log.segments[0].last_sequence, 4u);
  EXPECT_EQ(log.next_sequence, 5u);
  EXPECT_EQ(log.unacknowledged_records, 4u);
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr(segment(1).string() + ": bad tail at offset " +
                                         std::to_string(tail.offset)));

  const RecoveryReport report = recover();
  EXPECT_EQ(report.truncated_bytes, tail.bytes);
  EXPECT_THAT(report.problems.at(0), HasSubstr("offset " + std::to_string(tail.offset)));
}

TEST_F(SpoolInspectTest, AHalfWrittenHeaderIsATornRecord) {
  writeLog(logDir(), 3, 0);
  const uint64_t good = fs::file_size(segment(1));
  std::ofstream(segment(1), std::ios::app | std::ios::binary)
      << std::string("\x02\x00\x00\x00\xAB", 5);
  const LogInspection log = inspectLog();
  ASSERT_TRUE(log.segments.at(0).bad_tail.has_value());
  EXPECT_EQ(log.segments[0].bad_tail->offset, good);
  EXPECT_EQ(log.segments[0].bad_tail->bytes, 5u);
  EXPECT_EQ(log.segments[0].bad_tail->reason, "torn record: a header of 5 of 16 bytes");
  EXPECT_EQ(log.segments[0].records, 3u);
}

TEST_F(SpoolInspectTest, AFlippedPayloadByteIsAChecksumMismatch) {
  writeLog(logDir(), 5, 0);
  overwrite(segment(1), offsetOf(1, 3) + kHeaderBytes + 2, 'X');
  const LogInspection log = inspectLog();
  ASSERT_TRUE(log.segments.at(0).bad_tail.has_value());
  EXPECT_EQ(log.segments[0].bad_tail->offset, offsetOf(1, 3));
  EXPECT_EQ(log.segments[0].bad_tail->bytes, offsetOf(3, 6));
  EXPECT_EQ(log.segments[0].bad_tail->reason, "checksum mismatch in record 3");
  EXPECT_EQ(log.segments[0].records, 2u);
  EXPECT_EQ(log.unacknowledged_records, 2u);
  EXPECT_EQ(log.next_sequence, 3u);
  EXPECT_EQ(log.problems.size(), 1u);
  EXPECT_EQ(recover().truncated_bytes, offsetOf(3, 6));
}

TEST_F(SpoolInspectTest, AFlippedSequenceByteIsTheWrongSequence) {
  writeLog(logDir(), 3, 0);
  overwrite(segment(1), offsetOf(1, 2) + 8, 7);  // the low byte of record 2's sequence
  const LogInspection log = inspectLog();
  ASSERT_TRUE(log.segments.at(0).bad_tail.has_value());
  EXPECT_EQ(log.segments[0].bad_tail->offset, offsetOf(1, 2));
  EXPECT_EQ(log.segments[0].bad_tail->reason, "sequence 7 where 2 expected");
}

TEST_F(SpoolInspectTest, ARecordLongerThanTheLimitIsAnImpossibleLength) {
  writeLog(logDir(), 2, 0);
  overwrite(segment(1), offsetOf(1, 2) + 3, 0x7F);  // record 2's length: about 2 GiB
  const LogInspection log = inspectLog();
  ASSERT_TRUE(log.segments.at(0).bad_tail.has_value());
  EXPECT_THAT(log.segments[0].bad_tail->reason, HasSubstr("impossible record length"));
  EXPECT_EQ(log.segments[0].bad_tail->offset, offsetOf(1, 2));
}

TEST_F(SpoolInspectTest, ARemovedSegmentIsAGap) {
  writeLog(logDir(), 6, 0, /*segment_bytes=*/1, /*per_commit=*/2);  // [1-2] [3-4] [5-6]
  fs::remove(segment(3));
  const LogInspection log = inspectLog();
  ASSERT_EQ(log.gaps.size(), 1u);
  EXPECT_EQ(log.gaps[0].first, 3u);
  EXPECT_EQ(log.gaps[0].last, 4u);
  EXPECT_EQ(log.gaps[0].before_file, segmentName(5));
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr("records 3 to 4 are missing"));
  EXPECT_EQ(log.segments.size(), 2u);
  EXPECT_EQ(log.unacknowledged_records, 4u);
  EXPECT_EQ(recover().missing_records, 2u);
}

// A segment that repeats records of the one before it (a file copied back by hand, say): recovery
// would read both, so those records would be sent twice.
TEST_F(SpoolInspectTest, OverlappingSegmentsAreReported) {
  writeLog(logDir(), 4, 0);  // [1-4]
  const std::string other = dir_.path() + "/other";
  writeLog(other, 4, 0, /*segment_bytes=*/1, /*per_commit=*/2);  // [1-2] [3-4]
  fs::copy_file(fs::path(other) / segmentName(3), segment(3));
  const LogInspection log = inspectLog();
  ASSERT_EQ(log.segments.size(), 2u);
  EXPECT_EQ(log.segments[1].records, 2u);
  EXPECT_TRUE(log.gaps.empty());
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr(segmentName(3) + " starts at sequence 3 but the segment "
                                                          "before it ends at 4"));
}

TEST_F(SpoolInspectTest, ARemovedFirstSegmentIsAGapAfterTheCursor) {
  writeLog(logDir(), 6, 1, /*segment_bytes=*/1, /*per_commit=*/2);  // cursor 2 in [1-2]
  fs::remove(segment(1));
  const LogInspection log = inspectLog();
  ASSERT_EQ(log.gaps.size(), 1u);
  EXPECT_EQ(log.gaps[0].first, 2u);
  EXPECT_EQ(log.gaps[0].last, 2u);
  EXPECT_EQ(log.gaps[0].before_file, segmentName(3));
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr("records 2 to 2 are not acknowledged but no segment "
                                         "holds them"));
  EXPECT_EQ(log.first_unacknowledged, 3u);
  EXPECT_EQ(log.unacknowledged_records, 4u);
  EXPECT_EQ(log.oldest_received_ms, kFirstReceivedMs + 2000);
}

TEST_F(SpoolInspectTest, AMissingCursorMeansEverythingIsSentAgain) {
  writeLog(logDir(), 5, 3);
  fs::remove(fs::path(logDir()) / "cursor");
  const LogInspection log = inspectLog();
  EXPECT_EQ(log.cursor.state, CursorInspection::State::Missing);
  EXPECT_EQ(log.first_unacknowledged, 1u);
  EXPECT_EQ(log.unacknowledged_records, 5u);
  EXPECT_EQ(log.oldest_received_ms, kFirstReceivedMs);
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr("cursor is missing: the engine would send every record "
                                         "in the spool again, from sequence 1"));
  EXPECT_TRUE(recover().cursor_lost);
}

TEST_F(SpoolInspectTest, ADamagedCursorCountsAsLost) {
  writeLog(logDir(), 3, 2);
  std::ofstream(fs::path(logDir()) / "cursor", std::ios::binary | std::ios::trunc)
      << "garbage!!!!!";
  const LogInspection log = inspectLog();
  EXPECT_EQ(log.cursor.state, CursorInspection::State::Damaged);
  EXPECT_EQ(log.unacknowledged_records, 3u);
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr("cursor is damaged"));
}

TEST_F(SpoolInspectTest, ACursorPastTheEndMeansRecordsWereLost) {
  writeLog(logDir(), 5, 0);
  std::ofstream(fs::path(logDir()) / "cursor", std::ios::binary | std::ios::trunc)
      << cursorSlot(100) + cursorSlot(100);
  const LogInspection log = inspectLog();
  EXPECT_EQ(log.cursor.state, CursorInspection::State::Valid);
  EXPECT_EQ(log.cursor.value, 100u);
  EXPECT_EQ(log.first_unacknowledged, 6u);
  EXPECT_EQ(log.next_sequence, 6u);
  EXPECT_EQ(log.unacknowledged_records, 0u);
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr("points past the end of the spool (100 > 6)"));
}

TEST_F(SpoolInspectTest, ASpoolWithNothingInItIsConsistentEvenWithoutItsCursor) {
  writeLog(logDir(), 0, 0);
  LogInspection log = inspectLog();
  EXPECT_EQ(log.cursor.state, CursorInspection::State::Valid);
  EXPECT_EQ(log.cursor.value, 1u);
  EXPECT_TRUE(log.segments.empty());
  EXPECT_TRUE(log.problems.empty());
  EXPECT_EQ(log.unacknowledged_records, 0u);
  EXPECT_FALSE(log.oldest_received_ms.has_value());
  // Nothing to send again, so nothing is lost (recovery does not call it lost either).
  std::ofstream(segment(1), std::ios::binary);  // an empty segment keeps it a log folder
  fs::remove(fs::path(logDir()) / "cursor");
  log = inspectLog();
  EXPECT_EQ(log.cursor.state, CursorInspection::State::Missing);
  EXPECT_TRUE(log.problems.empty());
  EXPECT_FALSE(recover().cursor_lost);
}

TEST_F(SpoolInspectTest, ARecordThatIsNotASpoolRecordIsReported) {
  {
    SegmentLogOptions options;
    options.directory = logDir();
    Result<std::unique_ptr<SegmentLog>> log = SegmentLog::open(options);
    ASSERT_TRUE(log.isOk());
    ASSERT_TRUE(log.value()->append("not a message").isOk());
    ASSERT_TRUE(log.value()->append(encodedRecord(2)).isOk());
    ASSERT_TRUE(log.value()->commit().isOk());
  }
  const LogInspection log = inspectLog(/*list_records=*/5);
  EXPECT_EQ(log.undecodable_records, 1u);
  EXPECT_EQ(log.unacknowledged_records, 2u);
  EXPECT_FALSE(log.oldest_received_ms.has_value());  // the oldest one has no receive time
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_THAT(log.records[0].error, HasSubstr("unknown version"));
  EXPECT_EQ(log.records[0].bytes, std::string("not a message").size());
  EXPECT_EQ(log.records[1].topic, "plant/line2");
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_THAT(log.problems[0], HasSubstr("record 1 is not a spool record"));
}

TEST_F(SpoolInspectTest, ASpoolRootIsSearchedForItsLogFolders) {
  const std::string root = dir_.path();
  writeLog(root + "/flow-a/0", 3, 0);
  writeLog(root + "/flow-b/1", 2, 1);
  std::ofstream(root + "/flow-b/1/cursor", std::ios::binary | std::ios::trunc) << "x";
  fs::create_directories(root + "/flow-c/0");  // nothing of a spool in it
  fs::create_directories(root + "/flow-d/2");
  std::ofstream(root + "/flow-d/2/lock");  // an engine started here and wrote nothing yet
  std::ofstream(root + "/README") << "not a dataflow";

  const SpoolInspection inspection = inspect(root);
  EXPECT_TRUE(inspection.root);
  ASSERT_EQ(inspection.logs.size(), 3u);
  EXPECT_EQ(inspection.logs[0].directory, root + "/flow-a/0");
  EXPECT_EQ(inspection.logs[0].unacknowledged_records, 3u);
  EXPECT_TRUE(inspection.logs[0].problems.empty());
  EXPECT_EQ(inspection.logs[1].directory, root + "/flow-b/1");
  EXPECT_EQ(inspection.logs[1].cursor.state, CursorInspection::State::Damaged);
  EXPECT_EQ(inspection.logs[1].problems.size(), 1u);
  EXPECT_EQ(inspection.logs[2].directory, root + "/flow-d/2");
  EXPECT_TRUE(inspection.logs[2].segments.empty());
  EXPECT_TRUE(inspection.logs[2].problems.empty());
  EXPECT_FALSE(inspection.consistent());
}

// The engine holds `lock` with flock(2) while it runs: the inspection names the holder without
// taking the lock (this test process plays the engine).
TEST_F(SpoolInspectTest, TheProcessHoldingTheLockIsNamed) {
  writeLog(logDir(), 1, 0);
  const std::string lock = logDir() + "/lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(inspectLog().lock_holder_pid.has_value());
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(inspectLog().lock_holder_pid, ::getpid());
  ::close(fd);
  EXPECT_FALSE(inspectLog().lock_holder_pid.has_value());
}

TEST_F(SpoolInspectTest, WhatIsNotAFolderIsAnError) {
  Result<SpoolInspection> missing = inspectSpool(dir_.path() + "/nowhere");
  EXPECT_TRUE(missing.status().isFatal());
  EXPECT_THAT(missing.status().message(), HasSubstr("nowhere is not a folder"));
  std::ofstream(dir_.path() + "/file") << "x";
  EXPECT_FALSE(inspectSpool(dir_.path() + "/file").isOk());
}

// Several kinds of damage at once: the inspection counts what recovery then cuts and finds
// missing, and after recovery only what recovery cannot repair (the gap) is left.
TEST_F(SpoolInspectTest, InspectionPredictsWhatRecoveryRepairs) {
  writeLog(logDir(), 8, 0, /*segment_bytes=*/1, /*per_commit=*/2);  // [1-2] [3-4] [5-6] [7-8]
  fs::remove(segment(3));
  overwrite(segment(5), offsetOf(5, 6) + kHeaderBytes, '!');
  fs::resize_file(segment(7), fs::file_size(segment(7)) - 1);
  const LogInspection before = inspectLog();
  EXPECT_EQ(before.problems.size(), 4u);  // two gaps, two bad tails
  uint64_t bad_bytes = 0;
  for (const SegmentInspection& s : before.segments)
    bad_bytes += s.bad_tail ? s.bad_tail->bytes : 0;
  uint64_t missing = 0;
  for (const SequenceGap& gap : before.gaps) missing += gap.last - gap.first + 1;

  const RecoveryReport report = recover();
  EXPECT_EQ(report.truncations, 2u);
  EXPECT_EQ(report.truncated_bytes, bad_bytes);
  EXPECT_EQ(report.missing_records, missing);

  const LogInspection after = inspectLog();
  for (const SegmentInspection& s : after.segments) EXPECT_FALSE(s.bad_tail.has_value()) << s.file;
  ASSERT_EQ(after.gaps.size(), before.gaps.size());
  EXPECT_EQ(after.unacknowledged_records, before.unacknowledged_records);
}

}  // namespace
}  // namespace dataflow::spool
