#include "connectors/kubernetes/profile_operator.h"

#include <spdlog/spdlog.h>

#include <set>

#include "connectors/kubernetes/manifest_mirror.h"

namespace dataflow::kubernetes {

namespace {

constexpr const char* kDefaultProfile = "default";
constexpr const char* kProfileLabel = "connectivity.iotoperations.azure.com/profile";

std::string workloadName(const std::string& profile) { return "aio-dataflow-" + profile; }

nlohmann::json labelsFor(const std::string& profile) {
  return {{"app.kubernetes.io/name", "dataflow-engine"},
          {"app.kubernetes.io/instance", workloadName(profile)},
          {"app.kubernetes.io/part-of", "dataflow-engine"},
          {kManagedByLabel, kManagedByValue},
          {kProfileLabel, profile}};
}

nlohmann::json ownerReferences(const nlohmann::json* owner) {
  if (owner == nullptr) return nlohmann::json::array();
  return nlohmann::json::array({{{"apiVersion", owner->value("apiVersion", "")},
                                 {"kind", "DataflowProfile"},
                                 {"name", owner->value("/metadata/name"_json_pointer, std::string())},
                                 {"uid", owner->value("/metadata/uid"_json_pointer, std::string())},
                                 {"controller", true},
                                 {"blockOwnerDeletion", true}}});
}

nlohmann::json envFromField(const char* name, const std::string& path) {
  return {{"name", name}, {"valueFrom", {{"fieldRef", {{"fieldPath", path}}}}}};
}

}  // namespace

ProfileOperator::ProfileOperator(ApiClient& client, OperatorOptions options,
                                 std::shared_ptr<spdlog::logger> logger)
    : client_(client), options_(std::move(options)), logger_(std::move(logger)) {}

ProfileOperator::~ProfileOperator() { stop(); }

void ProfileOperator::start() {
  profiles_ = std::make_unique<ResourceWatch>(
      client_,
      std::string("/apis/") + kGroup + "/v1/namespaces/" + options_.namespace_name +
          "/dataflowprofiles",
      "dataflowprofiles",
      [this] {
        {
          std::lock_guard lock(mutex_);
          changed_ = true;
        }
        wake_.notify_all();
      },
      logger_);
  profiles_->start();
  thread_ = std::thread([this] { run(); });
}

void ProfileOperator::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  client_.stopWatches();
  if (profiles_) profiles_->stop();
  if (thread_.joinable()) thread_.join();
}

void ProfileOperator::run() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.resync, [&] { return stop_ || changed_; });
      if (stop_) return;
      changed_ = false;
    }
    if (!profiles_->synced()) continue;
    try {
      if (reconcile()) reconciled_.fetch_add(1);
    } catch (const std::exception& e) {
      logger_->error("reconcile failed: {}", e.what());
    }
  }
}

nlohmann::json ProfileOperator::statefulSet(const std::string& profile, int64_t replicas,
                                            const nlohmann::json* owner) const {
  const nlohmann::json labels = labelsFor(profile);
  nlohmann::json selector{{"app.kubernetes.io/instance", workloadName(profile)},
                          {kManagedByLabel, kManagedByValue}};
  auto probe = [&](const char* path) {
    return nlohmann::json{{"httpGet", {{"path", path}, {"port", "metrics"}}},
                          {"periodSeconds", 10},
                          {"failureThreshold", 3}};
  };
  nlohmann::json container{
      {"name", "dataflow"},
      {"image", options_.engine_image},
      {"args",
       {"run", "--kubernetes", "--profile", profile, "--log-level", options_.log_level,
        "--log-format", options_.log_format, "--metrics-port",
        std::to_string(options_.metrics_port)}},
      {"env",
       {envFromField("POD_NAME", "metadata.name"), envFromField("POD_NAMESPACE", "metadata.namespace"),
        envFromField("POD_INDEX", "metadata.labels['apps.kubernetes.io/pod-index']")}},
      {"ports", {{{"name", "metrics"}, {"containerPort", options_.metrics_port}}}},
      {"livenessProbe", probe("/livez")},
      {"readinessProbe", probe("/readyz")},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"capabilities", {{"drop", {"ALL"}}}}}},
      {"volumeMounts", {{{"name", "tmp"}, {"mountPath", "/tmp"}}}}};
  nlohmann::json pod_spec{
      {"containers", {container}},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"runAsGroup", 65532},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumes", {{{"name", "tmp"}, {"emptyDir", {{"medium", "Memory"}}}}}}};
  if (!options_.engine_service_account.empty()) {
    pod_spec["serviceAccountName"] = options_.engine_service_account;
  }
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata",
           {{"name", workloadName(profile)},
            {"labels", labels},
            {"ownerReferences", ownerReferences(owner)}}},
          {"spec",
           {{"replicas", replicas},
            {"serviceName", workloadName(profile)},
            {"podManagementPolicy", "Parallel"},
            {"selector", {{"matchLabels", selector}}},
            {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod_spec}}}}}};
}

nlohmann::json ProfileOperator::service(const std::string& profile,
                                        const nlohmann::json* owner) const {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", workloadName(profile)},
            {"labels", labelsFor(profile)},
            {"ownerReferences", ownerReferences(owner)}}},
          {"spec",
           {{"clusterIP", "None"},
            {"selector",
             {{"app.kubernetes.io/instance", workloadName(profile)},
              {kManagedByLabel, kManagedByValue}}},
            {"ports",
             {{{"name", "metrics"}, {"port", options_.metrics_port}, {"targetPort", "metrics"}}}}}}};
}

// Creates `desired` in `collection`, or merge-patches its labels, owner references and spec when
// they differ from what is there.
bool ProfileOperator::ensure(const std::string& collection, const nlohmann::json& desired) {
  const std::string name = desired["metadata"]["name"];
  const Response current = client_.get(collection + "/" + name);
  if (current.status == 404) {
    const Response created = client_.post(collection, desired);
    if (!created.ok()) {
      logger_->warn("cannot create {} {}: {}", desired["kind"].get<std::string>(), name,
                    created.describe());
      return false;
    }
    logger_->info("created {} {}", desired["kind"].get<std::string>(), name);
    return true;
  }
  if (!current.ok()) {
    logger_->warn("cannot read {} {}: {}", desired["kind"].get<std::string>(), name,
                  current.describe());
    return false;
  }
  nlohmann::json patch;
  for (const char* field : {"labels", "ownerReferences"}) {
    if (current.body["metadata"].value(field, nlohmann::json()) != desired["metadata"][field]) {
      patch["metadata"][field] = desired["metadata"][field];
    }
  }
  for (const auto& [field, value] : desired["spec"].items()) {
    if (current.body["spec"].value(field, nlohmann::json()) != value) patch["spec"][field] = value;
  }
  if (patch.is_null()) return true;
  const Response patched = client_.mergePatch(collection + "/" + name, patch);
  if (!patched.ok()) {
    logger_->warn("cannot update {} {}: {}", desired["kind"].get<std::string>(), name,
                  patched.describe());
    return false;
  }
  logger_->info("updated {} {}", desired["kind"].get<std::string>(), name);
  return true;
}

void ProfileOperator::writeStatus(const nlohmann::json& profile, bool ok,
                                  const std::string& message) {
  const std::string name = profile.value("/metadata/name"_json_pointer, std::string());
  const nlohmann::json status{
      {"observedGeneration", profile.value("/metadata/generation"_json_pointer, int64_t{0})},
      {"state", ok ? "Reconciled" : "Failed"},
      {"replicas", profile.value("/spec/instanceCount"_json_pointer, int64_t{1})},
      {"message", message}};
  if (profile.value("status", nlohmann::json()) == status) return;
  client_.mergePatch(std::string("/apis/") + kGroup + "/v1/namespaces/" + options_.namespace_name +
                         "/dataflowprofiles/" + name + "/status",
                     {{"status", status}});
}

bool ProfileOperator::reconcile() {
  const std::string apps = "/apis/apps/v1/namespaces/" + options_.namespace_name + "/statefulsets";
  const std::string core = "/api/v1/namespaces/" + options_.namespace_name + "/services";
  const std::map<std::string, nlohmann::json> profiles = profiles_->snapshot();
  bool ok = true;
  std::set<std::string> wanted;
  auto reconcileOne = [&](const std::string& name, int64_t replicas, const nlohmann::json* owner) {
    wanted.insert(workloadName(name));
    const bool done = ensure(apps, statefulSet(name, replicas, owner)) &&
                      ensure(core, service(name, owner));
    ok = ok && done;
    return done;
  };
  if (profiles.empty()) reconcileOne(kDefaultProfile, 1, nullptr);  // AIO's implicit default
  for (const auto& [name, profile] : profiles) {
    const int64_t replicas = profile.value("/spec/instanceCount"_json_pointer, int64_t{1});
    const bool done = reconcileOne(name, replicas, &profile);
    writeStatus(profile, done,
                done ? "StatefulSet " + workloadName(name) + " with " + std::to_string(replicas) +
                           " replica(s)"
                     : "could not reconcile its StatefulSet or Service; see the operator's log");
  }
  // What the operator made for a profile that is gone.
  const std::string selector =
      std::string("?labelSelector=") + kManagedByLabel + "%3D" + kManagedByValue;
  for (const std::string& collection : {apps, core}) {
    const Response list = client_.get(collection + selector);
    if (!list.ok()) {
      ok = false;
      continue;
    }
    for (const nlohmann::json& item : list.body.value("items", nlohmann::json::array())) {
      const std::string name = item.value("/metadata/name"_json_pointer, std::string());
      if (wanted.count(name)) continue;
      const Response deleted = client_.del(collection + "/" + name);
      if (deleted.ok() || deleted.status == 404) {
        logger_->info("deleted {} {}: its profile is gone", item.value("kind", ""), name);
      } else {
        ok = false;
      }
    }
  }
  return ok;
}

}  // namespace dataflow::kubernetes
