#include "cli/kubernetes_status.h"

#include <spdlog/spdlog.h>

#include "connectors/kubernetes/api_client.h"
#include "connectors/kubernetes/manifest_mirror.h"
#include "engine/runtime/logging.h"
#include "engine/runtime/metrics_text.h"

namespace dataflow::cli {

namespace {

constexpr auto kCheckInterval = std::chrono::seconds(1);
constexpr auto kFailureLogInterval = std::chrono::minutes(1);

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += (out.empty() ? "" : "; ") + line;
  return out;
}

}  // namespace

StatusWriter::StatusWriter(kubernetes::ApiClient& client, const kubernetes::ManifestMirror& mirror,
                           std::string namespace_name,
                           std::shared_ptr<const runtime::Telemetry> telemetry)
    : client_(client),
      mirror_(mirror),
      namespace_(std::move(namespace_name)),
      telemetry_(std::move(telemetry)) {
  thread_ = std::thread([this] { run(); });
}

StatusWriter::~StatusWriter() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StatusWriter::loaded(const config::Diagnostics& diagnostics) {
  std::map<std::string, std::vector<std::string>> errors;
  for (const config::Diagnostic& d : diagnostics.items()) {
    if (d.severity != config::Diagnostic::Severity::Error) continue;
    errors[d.file].push_back((d.path.empty() ? "" : d.path + ": ") + d.message);
  }
  {
    std::lock_guard lock(mutex_);
    errors_ = std::move(errors);
    changed_ = true;
  }
  wake_.notify_all();
}

nlohmann::json StatusWriter::statusOf(const std::string& plural, const nlohmann::json& object,
                                      const std::vector<std::string>& errors,
                                      const nlohmann::json* readiness_entry) {
  std::string state;
  std::string message;
  if (!errors.empty()) {
    state = "Invalid";
    message = joined(errors);
  } else if (plural != "dataflows") {
    state = "Valid";
  } else if (readiness_entry == nullptr) {
    state = "NotRunning";
    message = "not run by this profile and instance (disabled, another profile, or refused: see "
              "the engine's log)";
  } else if (readiness_entry->value("ready", false)) {
    state = "Running";
  } else {
    const std::string reason = readiness_entry->value("reason", std::string());
    state = reason.rfind("failed", 0) == 0 ? "Failed" : "Connecting";
    message = reason;
  }
  const bool ready = state == "Running" || state == "Valid";
  nlohmann::json status{
      {"observedGeneration", object.value("/metadata/generation"_json_pointer, int64_t{0})},
      {"state", state},
      {"message", message},
      {"errors", errors},
      {"conditions",
       nlohmann::json::array({{{"type", "Ready"},
                               {"status", ready ? "True" : "False"},
                               {"reason", state},
                               {"message", message}}})}};
  return status;
}

void StatusWriter::run() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kCheckInterval, [&] { return stop_ || changed_; });
      if (stop_) return;
      changed_ = false;
    }
    writeAll();
  }
}

void StatusWriter::writeAll() {
  std::map<std::string, std::vector<std::string>> errors;
  {
    std::lock_guard lock(mutex_);
    errors = errors_;
  }
  const nlohmann::json readiness =
      nlohmann::json::parse(runtime::readiness(runtime::readEngine(*telemetry_, "")).body);
  std::map<std::string, nlohmann::json> by_name;
  for (const nlohmann::json& entry : readiness.value("dataflows", nlohmann::json::array())) {
    by_name[entry.value("name", std::string())] = entry;
  }
  for (const char* plural : kubernetes::kCustomResourcePlurals) {
    for (const auto& [name, object] : mirror_.objects(plural)) {
      auto found = errors.find(mirror_.manifestFile(plural, name));
      auto entry = by_name.find(name);
      const nlohmann::json status =
          statusOf(plural, object, found == errors.end() ? std::vector<std::string>{} : found->second,
                   std::string(plural) == "dataflows" && entry != by_name.end() ? &entry->second
                                                                               : nullptr);
      const std::string key = std::string(plural) + "/" + name;
      if (object.value("status", nlohmann::json()) == status) {
        written_[key] = status;  // already there (a restart, or another instance wrote it)
        continue;
      }
      if (written_.count(key) && written_[key] == status) continue;  // the watch lags behind
      const kubernetes::Response response = client_.mergePatch(
          std::string("/apis/") + kubernetes::kGroup + "/v1/namespaces/" + namespace_ + "/" +
              plural + "/" + name + "/status",
          {{"status", status}});
      if (response.ok()) {
        written_[key] = status;
      } else if (std::chrono::steady_clock::now() - last_failure_log_ >= kFailureLogInterval) {
        last_failure_log_ = std::chrono::steady_clock::now();
        runtime::logger("engine")->warn("cannot write the status of {} {}: {}; retrying", plural,
                                        name, response.describe());
      }
    }
  }
}

}  // namespace dataflow::cli
