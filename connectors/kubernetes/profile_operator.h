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
// Every engine pod gets a spool volume mounted at kSpoolMountPath and passed as `--spool-dir`: an
// emptyDir, or (OperatorOptions::spool.size set) a volumeClaimTemplate `spool`, i.e. one
// PersistentVolumeClaim per ordinal, made by the StatefulSet controller. A StatefulSet's
// volumeClaimTemplates cannot change once it exists, so an existing StatefulSet keeps the spool
// storage it has (its pod template is rendered for that storage, everything else is updated) and
// the profile's status says that the configured storage is not applied (condition
// SpoolStorageApplied False) and how to switch; the operator never deletes a StatefulSet to change
// it, since an emptyDir spool's unsent messages would go with its pods.
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
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "connectors/kubernetes/api_client.h"
#include "connectors/kubernetes/resource_watch.h"

namespace dataflow::kubernetes {

// Where the engine pods' spool lives.
struct SpoolStorage {
  // "": an emptyDir (survives container crashes and restarts, not the pod's deletion or
  // rescheduling). Else a Kubernetes quantity ("1Gi"): a volumeClaimTemplate requesting it,
  // ReadWriteOnce, one claim per ordinal that survives the pod.
  std::string size;
  std::string storage_class;  // the claims' storageClassName ("": the cluster's default)
};

// Same storage: both emptyDir, or claims of the same size (as quantities: 1Gi is 1024Mi) and class.
bool sameSpoolStorage(const SpoolStorage& a, const SpoolStorage& b);
// "an emptyDir" or "a claim of 1Gi (storage class fast)"; for logs and status messages.
std::string describe(const SpoolStorage& spool);
// Bytes of a Kubernetes quantity: digits with an optional fraction and an optional suffix (Ki, Mi,
// Gi, Ti, Pi, Ei, k, M, G, T, P, E); nullopt when it is not one of those or not above 0.
std::optional<long double> quantityBytes(const std::string& quantity);

// Where the spool volume is mounted in the engine pods (their --spool-dir).
inline constexpr const char* kSpoolMountPath = "/var/lib/dataflow/spool";

struct OperatorOptions {
  std::string namespace_name;
  std::string engine_image;            // the image of the engine pods
  std::string engine_service_account;  // their ServiceAccount ("" : the namespace's default)
  std::string log_level = "info";      // passed to the engine pods
  std::string log_format = "text";
  int metrics_port = 9600;             // the engine pods' metrics and probes port
  SpoolStorage spool;                  // their spool volume
  bool spool_all = false;              // pass --spool-all: spool every dataflow with an MQTT source
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
  // or null for the implicit default). The StatefulSet's spool is options.spool, or `spool`.
  nlohmann::json statefulSet(const std::string& profile, int64_t replicas,
                             const nlohmann::json* owner) const;
  nlohmann::json statefulSet(const std::string& profile, int64_t replicas,
                             const nlohmann::json* owner, const SpoolStorage& spool) const;
  // The spool storage of an existing StatefulSet: its volumeClaimTemplate `spool`, else emptyDir.
  static SpoolStorage spoolStorageOf(const nlohmann::json& stateful_set);
  nlohmann::json service(const std::string& profile, const nlohmann::json* owner) const;

 private:
  void run();
  // What became of the configured spool storage in one StatefulSet.
  struct SpoolOutcome {
    bool known = false;    // the StatefulSet could be read (or was created)
    bool applied = true;   // it has the configured storage
    std::string message;   // why not, and how to switch
  };
  bool ensure(const std::string& collection, const nlohmann::json& desired);
  bool ensure(const std::string& collection, const nlohmann::json& desired,
              const Response& current);
  bool ensureStatefulSet(const std::string& collection, const std::string& profile,
                         int64_t replicas, const nlohmann::json* owner, SpoolOutcome& spool);
  void writeStatus(const nlohmann::json& profile, bool ok, const std::string& message,
                   const SpoolOutcome& spool);

  ApiClient& client_;
  const OperatorOptions options_;
  const std::shared_ptr<spdlog::logger> logger_;
  std::unique_ptr<ResourceWatch> profiles_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;     // guarded by mutex_
  bool changed_ = true;   // guarded by mutex_
  std::atomic<uint64_t> reconciled_{0};
  // Per StatefulSet, the spool mismatch last logged as a warning (reconcile thread only), so
  // that each resync does not repeat it.
  std::map<std::string, std::string> spool_warned_;
  std::thread thread_;
};

}  // namespace dataflow::kubernetes
