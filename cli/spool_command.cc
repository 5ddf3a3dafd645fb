#include <time.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/manifest_sources.h"
#include "engine/spool/spool_inspect.h"

namespace dataflow::cli {

namespace {

using spool::CursorInspection;
using spool::LogInspection;
using spool::SpoolInspection;

struct InspectArgs {
  std::string directory;
  uint64_t records = 0;
  std::string output = "text";
};

// "2026-12-06T03:04:05.123Z"
std::string isoUtc(int64_t wall_ms) {
  const int64_t seconds = wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000;
  const time_t t = static_cast<time_t>(seconds);
  tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return std::to_string(wall_ms) + " ms";
  char text[64];
  const size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(wall_ms - seconds * 1000));
  return text;
}

const char* cursorState(const CursorInspection& cursor) {
  switch (cursor.state) {
    case CursorInspection::State::Valid:
      return "valid";
    case CursorInspection::State::Missing:
      return "missing";
    case CursorInspection::State::Damaged:
      return "damaged";
  }
  return "?";
}

nlohmann::json logJson(const LogInspection& log) {
  nlohmann::json out{{"directory", log.directory}, {"consistent", log.problems.empty()}};
  out["lockHolderPid"] = log.lock_holder_pid ? nlohmann::json(*log.lock_holder_pid) : nullptr;
  out["cursor"] = {{"state", cursorState(log.cursor)}};
  if (log.cursor.state == CursorInspection::State::Valid) out["cursor"]["value"] = log.cursor.value;
  out["segments"] = nlohmann::json::array();
  for (const spool::SegmentInspection& s : log.segments) {
    nlohmann::json segment{{"file", s.file},
                           {"firstSequence", s.first_sequence},
                           {"lastSequence", s.last_sequence},
                           {"records", s.records},
                           {"bytes", s.bytes},
                           {"badTail", nullptr}};
    if (s.bad_tail) {
      segment["badTail"] = {{"offset", s.bad_tail->offset},
                            {"bytes", s.bad_tail->bytes},
                            {"reason", s.bad_tail->reason}};
    }
    out["segments"].push_back(std::move(segment));
  }
  out["gaps"] = nlohmann::json::array();
  for (const spool::SequenceGap& g : log.gaps) {
    out["gaps"].push_back({{"first", g.first}, {"last", g.last}, {"beforeFile", g.before_file}});
  }
  out["firstUnacknowledged"] = log.first_unacknowledged;
  out["nextSequence"] = log.next_sequence;
  out["unacknowledged"] = {{"records", log.unacknowledged_records},
                           {"bytes", log.unacknowledged_bytes},
                           {"oldestReceived", nullptr},
                           {"undecodable", log.undecodable_records}};
  if (log.oldest_received_ms) {
    out["unacknowledged"]["oldestReceived"] = isoUtc(*log.oldest_received_ms);
  }
  out["records"] = nlohmann::json::array();
  for (const spool::RecordSummary& r : log.records) {
    nlohmann::json record{{"sequence", r.sequence}, {"bytes", r.bytes}};
    if (!r.error.empty()) {
      record["error"] = r.error;
    } else {
      record.update({{"received", isoUtc(r.received_ms)},
                     {"topic", r.topic},
                     {"payloadBytes", r.payload_bytes},
                     {"qos", r.qos},
                     {"expires", r.expires_ms ? nlohmann::json(isoUtc(*r.expires_ms)) : nullptr}});
    }
    out["records"].push_back(std::move(record));
  }
  out["problems"] = log.problems;
  out["notes"] = log.notes;
  return out;
}

void printLog(const LogInspection& log) {
  std::cout << log.directory << "\n";
  if (log.lock_holder_pid) {
    std::cout << "  in use by process " << *log.lock_holder_pid
              << " (it holds the lock): what follows may already have changed\n";
  }
  std::cout << "  cursor: ";
  if (log.cursor.state == CursorInspection::State::Valid) {
    std::cout << log.cursor.value << "\n";
  } else {
    std::cout << cursorState(log.cursor) << "\n";
  }
  std::cout << "  segments: " << log.segments.size() << "\n";
  for (const spool::SegmentInspection& s : log.segments) {
    std::cout << "    " << s.file << "  ";
    if (s.records > 0) {
      std::cout << "sequences " << s.first_sequence << "-" << s.last_sequence;
    } else {
      std::cout << "empty";
    }
    std::cout << "  " << countOf(s.records, "record") << "  " << s.bytes << " bytes";
    if (s.bad_tail) {
      std::cout << "  BAD TAIL at offset " << s.bad_tail->offset << " (" << s.bad_tail->bytes
                << " bytes): " << s.bad_tail->reason;
    }
    std::cout << "\n";
  }
  for (const spool::SequenceGap& g : log.gaps) {
    std::cout << "  GAP: sequences " << g.first << "-" << g.last << " missing before "
              << g.before_file << "\n";
  }
  std::cout << "  unacknowledged: " << countOf(log.unacknowledged_records, "record") << ", "
            << log.unacknowledged_bytes << " bytes";
  if (log.unacknowledged_records > 0) {
    std::cout << ", from sequence " << log.first_unacknowledged;
  }
  if (log.oldest_received_ms) std::cout << ", oldest received " << isoUtc(*log.oldest_received_ms);
  std::cout << "\n";
  for (const spool::RecordSummary& r : log.records) {
    std::cout << "    " << r.sequence << "  ";
    if (!r.error.empty()) {
      std::cout << "NOT A SPOOL RECORD (" << r.bytes << " bytes): " << r.error << "\n";
      continue;
    }
    std::cout << isoUtc(r.received_ms) << "  " << r.topic << "  " << r.payload_bytes
              << " bytes  QoS " << r.qos << "  "
              << (r.expires_ms ? "expires " + isoUtc(*r.expires_ms) : std::string("no expiry"))
              << "\n";
  }
  for (const std::string& problem : log.problems) std::cout << "  PROBLEM: " << problem << "\n";
  for (const std::string& note : log.notes) std::cout << "  note: " << note << "\n";
}

int runInspect(const InspectArgs& args) {
  spool::InspectOptions options;
  options.list_records = args.records;
  Result<SpoolInspection> inspected = spool::inspectSpool(args.directory, options);
  if (!inspected.isOk()) {
    std::cerr << "dataflow spool inspect: " << inspected.status().message() << "\n";
    return kExitUsage;
  }
  const SpoolInspection& inspection = inspected.value();
  const int exit_code = inspection.consistent() ? kExitOk : kExitInvalid;
  if (args.output == "json") {
    nlohmann::json out{{"directory", inspection.directory},
                       {"root", inspection.root},
                       {"consistent", inspection.consistent()},
                       {"logs", nlohmann::json::array()}};
    for (const LogInspection& log : inspection.logs) out["logs"].push_back(logJson(log));
    std::cout << out.dump(2) << "\n";
    return exit_code;
  }
  size_t damaged = 0;
  for (const LogInspection& log : inspection.logs) {
    printLog(log);
    damaged += log.problems.empty() ? 0 : 1;
  }
  if (inspection.logs.empty()) {
    std::cout << "no spool logs in " << inspection.directory
              << " (looked for <dataflow>/<instance>/ folders)\n";
  } else if (damaged == 0) {
    std::cout << countOf(inspection.logs.size(), "log") << ", consistent\n";
  } else {
    std::cout << countOf(inspection.logs.size(), "log") << ", " << damaged << " with problems\n";
  }
  return exit_code;
}

}  // namespace

Command addSpoolCommand(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* spool = app.add_subcommand("spool", "Look at a durable spool on disk");
  spool->require_subcommand(1);
  CLI::App* inspect = spool->add_subcommand(
      "inspect",
      "Report what a spool folder holds: the cursor, each segment (sequences, records, bytes, a "
      "bad tail), gaps between segments, the records not yet acknowledged, and the process "
      "holding the engine's lock if one does. Read-only: nothing is repaired or locked, so it is "
      "safe beside a running engine, but a live spool may change while it is read. Exit 0 when "
      "consistent, 1 when a problem is found (a bad "
      "tail, a gap, a missing or damaged cursor, a record that does not decode), 2 on bad usage "
      "or a folder or file that cannot be read.");
  inspect
      ->add_option("directory", args->directory,
                   "One log folder (it holds *.seg files or a cursor), or a spool root holding "
                   "<dataflow>/<instance>/ log folders")
      ->required();
  inspect
      ->add_option("--records", args->records,
                   "Also list the first N unacknowledged records: sequence, receive time "
                   "(UTC), topic, payload bytes, QoS, expiry")
      ->capture_default_str();
  inspect->add_option("--output", args->output, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  return [args]() { return runInspect(*args); };
}

}  // namespace dataflow::cli
