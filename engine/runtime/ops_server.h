// The operations HTTP endpoint of `dataflow run`: Prometheus metrics and the health probes on one
// port (the profile's diagnostics.metrics.prometheusPort, AIO's default 9600).
//   GET /metrics   text exposition format 0.0.4 (metrics_text.h)
//   GET /livez     200 "ok" while the engine's supervising thread checks in (it wakes every
//                  second); 500 naming how long it has been silent once that exceeds
//                  livenessTimeout() (a wedged engine). /healthz is the same probe.
//   GET /readyz    200 when every dataflow runs with both endpoints connected, else 503 (and 503
//                  while draining); the JSON body names each dataflow that is not ready and why.
// Two threads at most serve requests; a scrape reads the telemetry without stopping any dataflow.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "engine/core/status.h"
#include "engine/runtime/dataflow_telemetry.h"

namespace httplib {
class Server;
}

namespace dataflow::runtime {

class OpsServer {
 public:
  struct Options {
    std::string address = "0.0.0.0";
    int port = 9600;  // 0: any free port (see port())
    std::string version;
    // The supervising thread may be silent for liveness_base plus liveness_per_dataflow times
    // (the dataflows known now + 1): a rotation drains the dataflows it rebuilds one after the
    // other, and dataflows come and go with reloads.
    std::chrono::milliseconds liveness_base{std::chrono::minutes(2)};
    std::chrono::milliseconds liveness_per_dataflow{0};
  };

  // What /livez allows now, for `dataflows` known dataflows.
  static std::chrono::milliseconds livenessTimeout(const Options& options, size_t dataflows) {
    return options.liveness_base +
           options.liveness_per_dataflow * static_cast<int64_t>(dataflows + 1);
  }

  // Listens (fails with the reason when the address or port cannot be bound) and serves on a
  // thread of its own until destroyed.
  static Result<std::unique_ptr<OpsServer>> start(std::shared_ptr<const Telemetry> telemetry,
                                                  Options options);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  int port() const { return port_; }

 private:
  OpsServer() = default;

  std::shared_ptr<const Telemetry> telemetry_;
  Options options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace dataflow::runtime
