// The metrics and readiness documents served by the ops HTTP server, made from readings (pure
// functions, no I/O): Prometheus text exposition format 0.0.4 and the /readyz JSON body.
//
// Two families of metrics:
// - AIO's data flow metrics under their exact names, types, units (milliseconds) and labels
//   (`source_service_type` / `target_service_type`, summed over the dataflows of each type), so
//   dashboards built for AIO work unchanged; their names break Prometheus conventions on purpose.
// - The engine's own, per dataflow, following Prometheus conventions (`dataflow_` prefix, `_total`,
//   base units).
// Label values are dataflow and endpoint names, service types, reasons and the version: never a
// secret.
#pragma once

#include <string>
#include <vector>

#include "engine/runtime/dataflow_telemetry.h"

namespace dataflow::runtime {

struct ProcessReading {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double start_time_seconds = 0;  // Unix time
  double open_fds = 0;
  double max_fds = 0;
};

// Everything one scrape reports.
struct EngineReading {
  std::vector<DataflowReading> dataflows;
  std::string version;
  uint64_t rotations = 0;
  uint64_t reloads_applied = 0;
  uint64_t reloads_refused = 0;
  bool started = true;
  bool draining = false;
  ProcessReading process;
};

EngineReading readEngine(const Telemetry& telemetry, std::string version);
// /proc/self of this process (zeros where unreadable).
ProcessReading readProcess();

std::string renderMetrics(const EngineReading& reading);

// A dataflow is ready when its runner runs and both its endpoints are connected; the engine is
// ready when it has started every dataflow, every dataflow is ready and it is not draining (no
// dataflow at all is ready: nothing is waiting). `body` is JSON: {"ready":bool,"starting":bool,"draining":bool,"dataflows":[{"name","ready",
// "state","reason"}]} with a reason for each dataflow that is not ready.
struct Readiness {
  bool ready = false;
  std::string body;
};
Readiness readiness(const EngineReading& reading);

}  // namespace dataflow::runtime
