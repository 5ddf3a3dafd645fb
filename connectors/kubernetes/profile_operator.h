// `dataflow operator`: reconciles every DataflowProfile of a namespace into the workload that runs
// it, as AIO does: a StatefulSet `aio-dataflow-<profile>` with replicas = instanceCount, each pod
// running `dataflow run --kubernetes --profile <profile>` (its instance id from the pod index), and
// a headless Service of the same name on the metrics port. Both carry an owner reference to the
// profile (controller, blockOwnerDeletion), so deleting the profile lets Kubernetes' garbage
// collector remove them; the operator also deletes the ones of a profile that is gone (and the
// implicit `default` profile's, which has no object to own them, once a real profile exists or it
// is applied). With no DataflowProfile at all the implicit `default` profile (instanceCount 1) is
// reconciled, as AIO's default profile exists without being applied.
//
// Level-triggered: reconcile() reads the profiles and the managed StatefulSets and Services and
// makes them match; it runs at every profile change and every resync interval. The profile's
// status gets observedGeneration, state (Reconciled or Failed), replicas and a message.
//
// Threads: the profile watch's thread and the reconcile thread of its own; start/stop from one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "connectors/kubernetes/api_client.h"
#include "connectors/kubernetes/resource_watch.h"

namespace dataflow::kubernetes {

struct OperatorOptions {
  std::string namespace_name;
  std::string engine_image;            // the image of the engine pods
  std::string engine_service_account;  // their ServiceAccount ("" : the namespace's default)
  std::string log_level = "info";      // passed to the engine pods
  std::string log_format = "text";
  int metrics_port = 9600;             // the engine pods' metrics and probes port
  std::chrono::seconds resync{30};
};

// The label every object the operator manages carries.
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "dataflow-operator";

class ProfileOperator {
 public:
  ProfileOperator(ApiClient& client, OperatorOptions options,
                  std::shared_ptr<spdlog::logger> logger);
  ~ProfileOperator();  // stop()

  void start();
  void stop();
  // Reconciles once now (the reconcile thread calls it). True when every write succeeded.
  bool reconcile();
  // Reconciliations that completed without an error, for probes and tests.
  uint64_t reconciled() const { return reconciled_.load(); }

  // The StatefulSet and Service for `profile` with `replicas` (pure; owner: the profile object,
  // or null for the implicit default).
  nlohmann::json statefulSet(const std::string& profile, int64_t replicas,
                             const nlohmann::json* owner) const;
  nlohmann::json service(const std::string& profile, const nlohmann::json* owner) const;

 private:
  void run();
  bool ensure(const std::string& collection, const nlohmann::json& desired);
  void writeStatus(const nlohmann::json& profile, bool ok, const std::string& message);

  ApiClient& client_;
  const OperatorOptions options_;
  const std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<ResourceWatch> profiles_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;     // guarded by mutex_
  bool changed_ = true;   // guarded by mutex_
  std::atomic<uint64_t> reconciled_{0};
  std::thread thread_;
};

}  // namespace dataflow::kubernetes
