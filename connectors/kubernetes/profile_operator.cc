#include "connectors/kubernetes/profile_operator.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <ctime>
#include <regex>
#include <set>

#include "connectors/kubernetes/manifest_mirror.h"

namespace dataflow::kubernetes {

namespace {

constexpr const char* kDefaultProfile = "default";
constexpr const char* kSpoolVolume = "spool";
constexpr const char* kSpoolCondition = "SpoolStorageApplied";
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

std::string rfc3339Now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

std::optional<long double> quantityBytes(const std::string& quantity) {
  static const std::regex kQuantity(
      R"(([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)");
  std::smatch match;
  if (!std::regex_match(quantity, match, kQuantity)) return std::nullopt;
  static const std::map<std::string, long double> kFactor{
      {"", 1.0L},      {"Ki", 0x1p10L}, {"Mi", 0x1p20L}, {"Gi", 0x1p30L}, {"Ti", 0x1p40L},
      {"Pi", 0x1p50L}, {"Ei", 0x1p60L}, {"k", 1e3L},     {"M", 1e6L},     {"G", 1e9L},
      {"T", 1e12L},    {"P", 1e15L},    {"E", 1e18L}};
  const long double bytes = std::stold(match[1].str()) * kFactor.at(match[2].str());
  if (!(bytes > 0)) return std::nullopt;
  return bytes;
}

bool sameSpoolStorage(const SpoolStorage& a, const SpoolStorage& b) {
  if (a.size.empty() || b.size.empty()) return a.size.empty() && b.size.empty();
  const auto x = quantityBytes(a.size), y = quantityBytes(b.size);
  const bool same_size = x && y ? std::ceil(*x) == std::ceil(*y) : a.size == b.size;
  return same_size && a.storage_class == b.storage_class;
}

std::string describe(const SpoolStorage& spool) {
  if (spool.size.empty()) return "an emptyDir";
  return "a claim of " + spool.size + " (" +
         (spool.storage_class.empty() ? std::string("the default storage class")
                                      : "storage class " + spool.storage_class) +
         ")";
}

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
  return statefulSet(profile, replicas, owner, options_.spool);
}

SpoolStorage ProfileOperator::spoolStorageOf(const nlohmann::json& stateful_set) {
  SpoolStorage spool;
  for (const nlohmann::json& claim : stateful_set.value(
           "/spec/volumeClaimTemplates"_json_pointer, nlohmann::json::array())) {
    if (claim.value("/metadata/name"_json_pointer, std::string()) != kSpoolVolume) continue;
    const nlohmann::json storage =
        claim.value("/spec/resources/requests/storage"_json_pointer, nlohmann::json());
    // The apiserver keeps a quantity as a string; a number is what a hand-written one may hold.
    spool.size = storage.is_string() ? storage.get<std::string>()
                 : storage.is_number() ? storage.dump()
                                       : "";
    spool.storage_class = claim.value("/spec/storageClassName"_json_pointer, std::string());
    if (spool.size.empty()) spool.size = "0";  // a claim, though of no size we can read
  }
  return spool;
}

nlohmann::json ProfileOperator::statefulSet(const std::string& profile, int64_t replicas,
                                            const nlohmann::json* owner,
                                            const SpoolStorage& spool) const {
  const nlohmann::json labels = labelsFor(profile);
  nlohmann::json selector{{"app.kubernetes.io/instance", workloadName(profile)},
                          {kManagedByLabel, kManagedByValue}};
  auto probe = [&](const char* path) {
    return nlohmann::json{{"httpGet", {{"path", path}, {"port", "metrics"}}},
                          {"periodSeconds", 10},
                          {"failureThreshold", 3}};
  };
  nlohmann::json args{"run", "--kubernetes", "--profile", profile, "--log-level",
                      options_.log_level, "--log-format", options_.log_format, "--metrics-port",
                      std::to_string(options_.metrics_port), "--spool-dir", kSpoolMountPath};
  if (options_.spool_all) args.push_back("--spool-all");
  nlohmann::json container{
      {"name", "dataflow"},
      {"image", options_.engine_image},
      {"args", args},
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
      {"volumeMounts",
       {{{"name", "tmp"}, {"mountPath", "/tmp"}},
        {{"name", kSpoolVolume}, {"mountPath", kSpoolMountPath}}}}};
  // fsGroup: a claim's volume is usually root's; the kubelet gives it to group 65532 (the
  // engine's) when its root does not belong to it yet (OnRootMismatch: not at every mount).
  nlohmann::json pod_spec{
      {"containers", {container}},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"runAsGroup", 65532},
        {"fsGroup", 65532},
        {"fsGroupChangePolicy", "OnRootMismatch"},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumes", {{{"name", "tmp"}, {"emptyDir", {{"medium", "Memory"}}}}}}};
  if (spool.size.empty()) {
    pod_spec["volumes"].push_back({{"name", kSpoolVolume}, {"emptyDir", nlohmann::json::object()}});
  }
  if (!options_.engine_service_account.empty()) {
    pod_spec["serviceAccountName"] = options_.engine_service_account;
  }
  nlohmann::json set{
      {"apiVersion", "apps/v1"},
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
  if (!spool.size.empty()) {
    nlohmann::json claim{{"accessModes", {"ReadWriteOnce"}},
                         {"resources", {{"requests", {{"storage", spool.size}}}}}};
    if (!spool.storage_class.empty()) claim["storageClassName"] = spool.storage_class;
    set["spec"]["volumeClaimTemplates"] = {{{"metadata", {{"name", kSpoolVolume}}},
                                            {"spec", claim}}};
  }
  return set;
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
  return ensure(collection, desired, client_.get(collection + "/" + name));
}

bool ProfileOperator::ensure(const std::string& collection, const nlohmann::json& desired,
                             const Response& current) {
  const std::string name = desired["metadata"]["name"];
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

// The StatefulSet of `profile`, created with the configured spool storage; one that exists keeps
// the storage it has, since the apiserver refuses any change of spec.volumeClaimTemplates (422):
// its pod template is rendered for that storage and the rest is updated as usual, and `spool`
// says that the configured storage is not applied. Deleting the StatefulSet to recreate it is
// left to the user: an emptyDir spool's unsent messages would go with its pods.
bool ProfileOperator::ensureStatefulSet(const std::string& collection, const std::string& profile,
                                        int64_t replicas, const nlohmann::json* owner,
                                        SpoolOutcome& spool) {
  const std::string name = workloadName(profile);
  const Response current = client_.get(collection + "/" + name);
  if (current.status == 404) {
    const bool created = ensure(collection, statefulSet(profile, replicas, owner), current);
    spool = {created, true, ""};
    return created;
  }
  if (!current.ok()) {
    logger_->warn("cannot read StatefulSet {}: {}", name, current.describe());
    return false;
  }
  const SpoolStorage existing = spoolStorageOf(current.body);
  nlohmann::json desired = statefulSet(profile, replicas, owner, existing);
  // Whatever claim templates it has stay as they are (the apiserver defaults fields in them, so
  // comparing would always differ and patching them is refused).
  desired["spec"].erase("volumeClaimTemplates");
  spool = {true, sameSpoolStorage(existing, options_.spool), ""};
  if (!spool.applied) {
    spool.message = "StatefulSet " + name + " keeps its spool on " + describe(existing) +
                    "; the operator is configured for " + describe(options_.spool) +
                    ", but a StatefulSet's volumeClaimTemplates cannot change. To switch, run "
                    "`kubectl delete statefulset " +
                    name +
                    " --cascade=orphan`; the operator then recreates it and its pods are "
                    "replaced (what an emptyDir spool still holds is lost with its pod; claims "
                    "no longer used stay until deleted)";
    if (spool_warned_[name] != spool.message) {
      logger_->warn("{}", spool.message);
      spool_warned_[name] = spool.message;
    }
  } else {
    spool_warned_.erase(name);
  }
  return ensure(collection, desired, current);
}

void ProfileOperator::writeStatus(const nlohmann::json& profile, bool ok,
                                  const std::string& message, const SpoolOutcome& spool) {
  const std::string name = profile.value("/metadata/name"_json_pointer, std::string());
  const int64_t generation = profile.value("/metadata/generation"_json_pointer, int64_t{0});
  const nlohmann::json previous_status = profile.value("status", nlohmann::json::object());
  nlohmann::json status{{"observedGeneration", generation},
                        {"state", ok ? "Reconciled" : "Failed"},
                        {"replicas", profile.value("/spec/instanceCount"_json_pointer, int64_t{1})},
                        {"message", spool.applied ? message : message + "; " + spool.message}};
  // Conditions in the Kubernetes convention; the time of the last change of status is kept.
  nlohmann::json previous = nlohmann::json::object();
  for (const nlohmann::json& c : previous_status.value("conditions", nlohmann::json::array())) {
    if (c.value("type", "") == kSpoolCondition) previous = c;
  }
  if (spool.known) {
    nlohmann::json condition{
        {"type", kSpoolCondition},
        {"status", spool.applied ? "True" : "False"},
        {"reason", spool.applied ? "AsConfigured" : "ClaimTemplateImmutable"},
        {"message", spool.applied ? "the StatefulSet's spool is on " + describe(options_.spool)
                                  : spool.message},
        {"observedGeneration", generation},
        {"lastTransitionTime", previous.value("status", "") == (spool.applied ? "True" : "False")
                                   ? previous.value("lastTransitionTime", rfc3339Now())
                                   : rfc3339Now()}};
    status["conditions"] = {condition};
  } else if (!previous.empty()) {
    status["conditions"] = {previous};  // not read this time: what was known stays
  }
  if (previous_status == status) return;
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
  auto reconcileOne = [&](const std::string& name, int64_t replicas, const nlohmann::json* owner,
                          SpoolOutcome& spool) {
    wanted.insert(workloadName(name));
    const bool done =
        ensureStatefulSet(apps, name, replicas, owner, spool) && ensure(core, service(name, owner));
    ok = ok && done;
    return done;
  };
  if (profiles.empty()) {  // AIO's implicit default
    SpoolOutcome spool;    // no object to hold a status: the log says it
    reconcileOne(kDefaultProfile, 1, nullptr, spool);
  }
  for (const auto& [name, profile] : profiles) {
    const int64_t replicas = profile.value("/spec/instanceCount"_json_pointer, int64_t{1});
    SpoolOutcome spool;
    const bool done = reconcileOne(name, replicas, &profile, spool);
    writeStatus(profile, done,
                done ? "StatefulSet " + workloadName(name) + " with " + std::to_string(replicas) +
                           " replica(s)"
                     : "could not reconcile its StatefulSet or Service; see the operator's log",
                spool);
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
