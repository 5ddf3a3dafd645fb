#include "connectors/kubernetes/resource_watch.h"

#include <spdlog/spdlog.h>

#include "engine/core/backoff.h"

namespace dataflow::kubernetes {

namespace {

constexpr auto kInitialBackoff = std::chrono::milliseconds(800);
constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr int kPageSize = 500;

std::string nameOf(const nlohmann::json& object) {
  return object.value("/metadata/name"_json_pointer, std::string());
}

std::string versionOf(const nlohmann::json& object) {
  return object.value("/metadata/resourceVersion"_json_pointer, std::string());
}

bool isExpired(const nlohmann::json& status) {
  return status.is_object() && status.value("code", 0) == 410;
}

}  // namespace

ResourceWatch::ResourceWatch(ApiClient& client, std::string collection, std::string what,
                             std::function<void()> on_change,
                             std::shared_ptr<spdlog::logger> logger)
    : client_(client),
      collection_(std::move(collection)),
      what_(std::move(what)),
      on_change_(std::move(on_change)),
      logger_(std::move(logger)) {}

ResourceWatch::~ResourceWatch() { stop(); }

void ResourceWatch::start() {
  thread_ = std::thread([this] {
    try {
      run();
    } catch (const std::exception& e) {
      logger_->error("Kubernetes {}: watching stopped: {}", what_, e.what());
    }
  });
}

void ResourceWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopped_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::map<std::string, nlohmann::json> ResourceWatch::snapshot() const {
  std::lock_guard lock(mutex_);
  return objects_;
}

bool ResourceWatch::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

bool ResourceWatch::sleepUnlessStopped(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  return !stopped_.wait_for(lock, wait, [&] { return stop_; });
}

void ResourceWatch::run() {
  Backoff backoff(kInitialBackoff, kMaxBackoff);
  std::optional<std::string> version;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
    }
    if (!version) {
      version = list();
      if (!version) {
        if (!sleepUnlessStopped(backoff.next())) return;
        continue;
      }
    }
    bool failed = false;
    if (!watch(*version, failed)) {
      version.reset();  // expired: list again
      continue;
    }
    if (failed) {
      if (!sleepUnlessStopped(backoff.next())) return;
    } else {
      backoff.reset();
    }
  }
}

std::optional<std::string> ResourceWatch::list() {
  std::map<std::string, nlohmann::json> objects;
  std::string version;
  std::string next;
  do {
    std::string query = collection_ + "?limit=" + std::to_string(kPageSize);
    if (!next.empty()) query += "&continue=" + next;
    const Response response = client_.get(query);
    if (!response.ok()) {
      logger_->warn("Kubernetes {}: cannot list {}: {}; retrying", what_, collection_,
                    response.describe());
      return std::nullopt;
    }
    for (const nlohmann::json& item : response.body.value("items", nlohmann::json::array())) {
      objects[nameOf(item)] = item;
    }
    version = response.body.value("/metadata/resourceVersion"_json_pointer, std::string());
    next = response.body.value("/metadata/continue"_json_pointer, std::string());
  } while (!next.empty());
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    changed = !synced_ || objects != objects_;
    objects_ = std::move(objects);
    synced_ = true;
  }
  logger_->debug("Kubernetes {}: listed at resourceVersion {}", what_, version);
  if (changed) on_change_();
  return version;
}

bool ResourceWatch::watch(std::string& version, bool& failed) {
  bool expired = false;
  const std::string query = collection_ + "?watch=true&allowWatchBookmarks=true&resourceVersion=" +
                            version + "&timeoutSeconds=" + std::to_string(kWatchTimeout.count());
  const Response response =
      client_.watch(query, kWatchTimeout + std::chrono::seconds(30),
                    [&](const nlohmann::json& event) { return apply(event, version, expired); });
  if (expired || response.status == 410) {
    logger_->info("Kubernetes {}: resourceVersion {} expired; listing again", what_, version);
    return false;
  }
  if (client_.stopping()) return true;  // stopped on purpose: nothing to say
  failed = response.status != 200;
  if (failed) {
    logger_->warn("Kubernetes {}: watch failed: {}; retrying", what_, response.describe());
  }
  return true;
}

bool ResourceWatch::apply(const nlohmann::json& event, std::string& version, bool& expired) {
  const std::string type = event.value("type", "");
  const nlohmann::json& object = event.contains("object") ? event["object"] : nlohmann::json();
  if (type == "ERROR") {
    expired = isExpired(object);
    if (!expired) {
      logger_->warn("Kubernetes {}: the watch ended with an error: {}", what_,
                    object.value("message", std::string("(no message)")));
    }
    return false;
  }
  if (const std::string v = versionOf(object); !v.empty()) version = v;
  if (type == "BOOKMARK") return true;
  const std::string name = nameOf(object);
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    if (type == "DELETED") {
      changed = objects_.erase(name) > 0;
    } else if (type == "ADDED" || type == "MODIFIED") {
      auto [it, inserted] = objects_.try_emplace(name, object);
      changed = inserted || it->second != object;
      it->second = object;
    }
  }
  if (changed) on_change_();
  return true;
}

}  // namespace dataflow::kubernetes
