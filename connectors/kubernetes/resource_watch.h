// One collection of the API server (one resource type in one namespace) kept in memory by LIST then
// WATCH, as client-go's reflector does: list, watch from the list's resourceVersion with
// bookmarks, advance the resourceVersion with every event, re-watch when a watch ends, re-list
// when the server answers 410 (Expired/Gone, in the stream or as the status), back off 0.8 s to
// 30 s on errors, and tolerate the server going away and coming back.
//
// Threads: one thread of its own; `on_change` runs on it after each list and each event that
// changed an object. snapshot() and synced() from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "connectors/kubernetes/api_client.h"

namespace spdlog {
class logger;
}

namespace dataflow::kubernetes {

class ResourceWatch {
 public:
  // `collection`: e.g. "/api/v1/namespaces/NS/secrets"; `what`: its name in logs ("secrets").
  ResourceWatch(ApiClient& client, std::string collection, std::string what,
                std::function<void()> on_change, std::shared_ptr<spdlog::logger> logger);
  ~ResourceWatch();  // stop()
  ResourceWatch(const ResourceWatch&) = delete;
  ResourceWatch& operator=(const ResourceWatch&) = delete;

  void start();
  // Ends the thread; the client's watches must be stopped first (ApiClient::stopWatches).
  void stop();

  // Every object by name, as last seen.
  std::map<std::string, nlohmann::json> snapshot() const;
  // Whether a list has succeeded once.
  bool synced() const;
  // The watch timeout asked of the server (timeoutSeconds), for tests.
  static constexpr std::chrono::seconds kWatchTimeout{300};

 private:
  void run();
  // LIST (all pages) into objects_; the list's resourceVersion, or nullopt on failure.
  std::optional<std::string> list();
  // WATCH from `version`: true when it ended normally (re-watch), false when a re-list is needed.
  bool watch(std::string& version, bool& failed);
  bool apply(const nlohmann::json& event, std::string& version, bool& expired);
  bool sleepUnlessStopped(std::chrono::milliseconds wait);

  ApiClient& client_;
  const std::string collection_;
  const std::string what_;
  const std::function<void()> on_change_;
  const std::shared_ptr<spdlog::logger> logger_;

  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;                             // guarded by mutex_
  bool synced_ = false;                           // guarded by mutex_
  std::map<std::string, nlohmann::json> objects_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace dataflow::kubernetes
