// The status `run --kubernetes` writes back on every DataflowEndpoint, Dataflow and
// DataflowProfile it reads, through the status subresource (merge patch), so that
// `kubectl get dataflows` says what runs:
//   status.observedGeneration   the metadata.generation the status is about
//   status.state                Dataflow: Running, Connecting, Failed, Invalid or NotRunning;
//                               endpoint and profile: Valid or Invalid
//   status.message              why, in one line (the readiness reason, the failure, the errors)
//   status.errors               every validation error as "<yaml path>: <message>"
//   status.conditions           one condition of type Ready (True/False, reason = state)
// Written when it changes, checked every second and after every load; never for an object whose
// status says the same. A write that fails is retried at the next check and logged once per
// minute.
//
// Threads: one thread of its own; loaded() from any thread (the reloader's).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "engine/config/diagnostics.h"
#include "engine/runtime/dataflow_telemetry.h"

namespace dataflow::kubernetes {
class ApiClient;
class ManifestMirror;
}  // namespace dataflow::kubernetes

namespace dataflow::cli {

class StatusWriter {
 public:
  StatusWriter(kubernetes::ApiClient& client, const kubernetes::ManifestMirror& mirror,
               std::string namespace_name, std::shared_ptr<const runtime::Telemetry> telemetry);
  ~StatusWriter();  // stops the thread

  // The diagnostics of the latest load of the mirror's files (valid or refused).
  void loaded(const config::Diagnostics& diagnostics);

  // The status an object should carry now (pure; for tests and the thread).
  static nlohmann::json statusOf(const std::string& plural, const nlohmann::json& object,
                                 const std::vector<std::string>& errors,
                                 const nlohmann::json* readiness_entry);

 private:
  void run();
  void writeAll();

  kubernetes::ApiClient& client_;
  const kubernetes::ManifestMirror& mirror_;
  const std::string namespace_;
  const std::shared_ptr<const runtime::Telemetry> telemetry_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;      // guarded by mutex_
  bool changed_ = false;   // guarded by mutex_: a load happened since the last writeAll
  // guarded by mutex_: manifest file -> "<path>: <message>" of each error of the latest load
  std::map<std::string, std::vector<std::string>> errors_;
  std::map<std::string, nlohmann::json> written_;  // writer thread: key -> status last written
  std::chrono::steady_clock::time_point last_failure_log_{};  // writer thread
  std::thread thread_;
};

}  // namespace dataflow::cli
