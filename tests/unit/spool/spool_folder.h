// Spool folders for the inspection tests: a log written by SegmentLog with messages encoded by
// spool_record, and a byte-for-byte snapshot of a folder to show that inspecting it changed
// nothing.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "engine/core/clock.h"
#include "engine/spool/segment_log.h"
#include "engine/spool/spool_record.h"
#include "tests/support/files.h"

namespace dataflow::spool::testing {

// Record i (from 1) is received at kFirstReceivedMs + (i - 1) s on topic "plant/line<i>" with
// the payload "payload-<i>" and QoS i % 3; even ones expire 60 s after they are received.
constexpr int64_t kFirstReceivedMs = 1'700'000'001'000;  // 2023-11-14T22:13:21.000Z

inline Message messageNumber(int i, const Clock& clock) {
  Message m;
  m.topic = "plant/line" + std::to_string(i);
  m.payload = "payload-" + std::to_string(i);
  m.qos = i % 3;
  m.received_at = clock.steadyNow();
  if (i % 2 == 0) m.expires_at = m.received_at + std::chrono::seconds(60);
  return m;
}

// The payload of record i in the log, as writeLog() appends it.
inline std::string encodedRecord(int i) {
  ManualClock clock;  // wall clock 1'700'000'000'000
  clock.advance(std::chrono::seconds(i));
  std::string record;
  encodeRecord(messageNumber(i, clock), clock, record);
  return record;
}

// Writes records 1..count into the log at `directory`, one commit per `per_commit` records (a
// segment of `segment_bytes` fills after a commit), then acknowledges up to `acknowledged`.
inline void writeLog(const std::string& directory, int count, int acknowledged,
                     uint64_t segment_bytes = 64u << 20, int per_commit = 1000) {
  SegmentLogOptions options;
  options.directory = directory;
  options.segment_bytes = segment_bytes;
  Result<std::unique_ptr<SegmentLog>> opened = SegmentLog::open(options);
  ASSERT_TRUE(opened.isOk()) << opened.status().message();
  SegmentLog& log = *opened.value();
  for (int i = 1; i <= count; ++i) {
    ASSERT_TRUE(log.append(encodedRecord(i)).isOk());
    if (i % per_commit == 0 || i == count) {
      ASSERT_TRUE(log.commit().isOk());
    }
  }
  if (acknowledged > 0) {
    ASSERT_TRUE(log.acknowledge(acknowledged).isOk());
  }
}

// Every file under `directory` (relative path) with its bytes.
inline std::map<std::string, std::string> snapshot(const std::string& directory) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory)) {
    const std::string name = std::filesystem::relative(entry.path(), directory).string();
    files[name] = entry.is_regular_file() ? dataflow::testing::readWholeFile(entry.path())
                                          : std::string("<folder>");
  }
  return files;
}

}  // namespace dataflow::spool::testing
