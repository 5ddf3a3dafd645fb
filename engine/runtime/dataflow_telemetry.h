// What the metrics and the probes know about each dataflow, kept apart from the runners that
// carry it: a rotation or a reload replaces a dataflow's runner, and its counters go on from where
// the old runner stopped (a Prometheus counter never goes backwards while the process lives).
//
// Threads: runners attach in their constructor and detach in their destructor (the Engine's
// thread); read() from any thread (the HTTP server's). A reading calls the attached runners'
// thread-safe accessors under this object's mutex, so a runner cannot go away during a reading.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/manifest.h"
#include "engine/core/connection_health.h"
#include "engine/core/source.h"
#include "engine/runtime/latency_histogram.h"
#include "engine/spool/spool.h"
#include "engine/transform/counters.h"

namespace dataflow::runtime {

class DataflowRunner;

// RunnerCounters and RunnerState live with the runner; repeated here to keep this header light.
struct RunnerCounters {
  uint64_t received = 0;         // handed over by the source
  uint64_t received_bytes = 0;   // their payload bytes
  uint64_t sent = 0;             // accepted by the destination
  uint64_t delivered = 0;        // acknowledged by the destination broker
  uint64_t delivered_bytes = 0;  // their payload bytes as sent
  uint64_t refused = 0;    // refused by the destination for good (counted, logged, acked)
  uint64_t dropped = 0;    // dropped on purpose by the pipeline (expired, bad topic; acked)
  uint64_t expired = 0;    // accepted, then expired while the destination held it (acked)
  uint64_t abandoned = 0;  // received but never accepted by the destination (shutdown)

  // Never negative, even for a reading taken while messages complete.
  uint64_t inFlight() const {
    const uint64_t done = delivered + refused + expired;
    return sent > done ? sent - done : 0;
  }
  RunnerCounters& operator+=(const RunnerCounters& other);
};

enum class RunnerState { Created, Running, Failed, Stopped };
const char* toString(RunnerState state);

// Fixed when the dataflow is planned.
struct DataflowInfo {
  std::string name;
  std::string source_endpoint;
  std::string destination_endpoint;
  // AIO's service types ("Local AIO MQTT Broker", "Event Hubs", "Unknown Kafka Broker", ...).
  std::string source_service_type;
  std::string destination_service_type;
};

// AIO's `source_service_type` / `target_service_type` value for an endpoint: from its hostType
// when set, else from its host name.
std::string serviceType(const config::DataflowEndpoint& endpoint);

struct DataflowReading {
  DataflowInfo info;
  RunnerCounters counters;  // every runner the dataflow has had
  transform::CounterSnapshot transform;
  LatencySnapshot latency;  // receive -> destination acknowledgement
  StageLatencies stages;    // AIO's transformation and upload latencies
  uint64_t failures = 0;    // runners of this dataflow that failed
  // Each side's counters summed over every runner; its state and problem the newest runner's.
  ConnectionHealth source;
  ConnectionHealth destination;
  // The live runners' messages and payload bytes accepted by the destination, not yet reported.
  uint64_t in_flight = 0;
  uint64_t in_flight_bytes = 0;
  // The newest attached runner; `attached` false once the dataflow was removed or stopped.
  bool attached = false;
  RunnerState state = RunnerState::Created;
  std::string failure;  // why it failed, when state is Failed
  std::vector<PartitionLag> lag;  // a Kafka source's consumer lag per partition
  // The spool's figures when the dataflow spools: counters summed over every spool it has had,
  // gauges (bytes, records, age, full, problem) the newest runner's.
  std::optional<spool::SpoolStats> spool;
  uint64_t refused_in_a_row = 0;  // the newest runner's latest reports that were all refusals
  std::string last_refusal;       // and the latest refusal's reason
};

// A dataflow whose destination refused this many messages in a row (none delivered between) is
// "refusing": not ready. One refused message (too large, say) is the message's problem; a run of
// them is the destination's (not authorised, quota).
inline constexpr uint64_t kRefusingAfter = 5;

class DataflowTelemetry {
 public:
  explicit DataflowTelemetry(DataflowInfo info) : info_(std::move(info)) {}

  void attach(const DataflowRunner& runner);
  // Adds the runner's final counts to the dataflow's totals; call before the runner goes away.
  void detach(const DataflowRunner& runner);
  DataflowReading read() const;
  const std::string& name() const { return info_.name; }

 private:
  mutable std::mutex mutex_;
  DataflowInfo info_;
  std::vector<const DataflowRunner*> live_;  // guarded by mutex_; newest last
  RunnerCounters retired_;                    // guarded by mutex_
  transform::CounterSnapshot retired_transform_;  // guarded by mutex_
  LatencySnapshot retired_latency_;               // guarded by mutex_
  StageLatencies retired_stages_;                 // guarded by mutex_
  uint64_t retired_failures_ = 0;                 // guarded by mutex_
  ConnectionHealth retired_source_;               // guarded by mutex_: counters only
  ConnectionHealth retired_destination_;          // guarded by mutex_: counters only
  std::optional<spool::SpoolStats> retired_spool_;  // guarded by mutex_: counters only
};

// Every dataflow's telemetry, and the process-wide facts the probes need. Shared by the Engine,
// which creates entries, and the HTTP server, which reads them.
class Telemetry {
 public:
  // The dataflow's telemetry (created on first use, kept across rebuilds).
  std::shared_ptr<DataflowTelemetry> dataflow(const DataflowInfo& info);
  // Forgets a dataflow that was removed from the configuration.
  void remove(const std::string& name);
  // One reading per known dataflow, in name order.
  std::vector<DataflowReading> read() const;
  size_t dataflowCount() const;

  // The supervising thread's sign of life (steady clock, ms), for the liveness probe.
  void heartbeat();
  std::chrono::milliseconds sinceHeartbeat() const;

  std::atomic<uint64_t> rotations{0};      // dataflows rebuilt for rotated Secrets/ConfigMaps
  std::atomic<uint64_t> reloads_applied{0};
  std::atomic<uint64_t> reloads_refused{0};
  std::atomic<bool> started{false};   // every dataflow was started once: ready is possible
  std::atomic<bool> draining{false};  // stopping: not ready any more

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<DataflowTelemetry>> dataflows_;  // guarded by mutex_
  std::atomic<int64_t> heartbeat_ms_{nowMs()};
  static int64_t nowMs();
};

}  // namespace dataflow::runtime
