#include "cli/manifest_reloader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/config/loader.h"
#include "engine/runtime/logging.h"

namespace dataflow::cli {

namespace {

namespace fs = std::filesystem;

// The folders whose entries decide what `paths` load: a folder given and its subfolders (hidden
// ones skipped, as the loader skips them), the folder holding a file given.
std::vector<std::string> foldersOf(const std::vector<std::string>& paths) {
  std::vector<std::string> folders;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      const fs::path parent = fs::path(p).lexically_normal().parent_path();
      folders.push_back(parent.empty() ? "." : parent.string());
      continue;
    }
    folders.push_back(p);
    for (auto it = fs::recursive_directory_iterator(p, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
      if (it->path().filename().string().starts_with(".")) {
        it.disable_recursion_pending();
        continue;
      }
      folders.push_back(it->path().string());
    }
  }
  std::sort(folders.begin(), folders.end());
  folders.erase(std::unique(folders.begin(), folders.end()), folders.end());
  return folders;
}

}  // namespace

// FNV-1a, to tell an event that changed nothing the paths load (another file in the folder of a
// file given) from a change.
uint64_t manifestDigest(const std::vector<std::string>& paths) {
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&hash](const std::string& bytes) {
    for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
    hash = (hash ^ 0xff) * 1099511628211ull;  // a separator no content can shift
  };
  for (const std::string& p : paths) {
    std::error_code ec;
    std::vector<std::string> files =
        fs::is_directory(p, ec) ? config::manifestFilesIn(p, ec) : std::vector<std::string>{p};
    for (const std::string& file : files) {
      std::ifstream in(file, std::ios::binary);
      mix(file);
      mix(in ? std::string(std::istreambuf_iterator<char>(in), {}) : std::string("<unreadable>"));
    }
  }
  return hash;
}

ManifestReloader::ManifestReloader(const ManifestSources& sources, runtime::Engine& engine,
                                   uint64_t loaded, OnLoaded on_loaded)
    : sources_(sources), engine_(engine), on_loaded_(std::move(on_loaded)), loaded_digest_(loaded) {
  pending_ = "manifest files changed";  // checked at once: a change made while starting counts
  watch();
  worker_ = std::thread([this] { run(); });
}

ManifestReloader::~ManifestReloader() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
  watcher_.reset();
}

void ManifestReloader::requestReload(std::string trigger) {
  {
    std::lock_guard lock(mutex_);
    pending_ = std::move(trigger);
    forced_ = true;
  }
  wake_.notify_all();
}

void ManifestReloader::watch() {
  std::vector<std::string> folders = foldersOf(sources_.paths);
  if (watcher_ && folders == watched_) return;
  watcher_.reset();
  watched_ = folders;
  Result<std::unique_ptr<DirectoryWatcher>> watcher =
      DirectoryWatcher::start(folders, [this](const std::vector<std::string>&) {
        {
          std::lock_guard lock(mutex_);
          if (!pending_) pending_ = "manifest files changed";
        }
        wake_.notify_all();
      });
  if (!watcher.isOk()) {
    runtime::logger("engine")->warn(
        "manifest changes will not be picked up by themselves (SIGHUP still reloads): {}",
        watcher.status().message());
    return;
  }
  watcher_ = std::move(watcher).value();
}

void ManifestReloader::run() {
  for (;;) {
    std::string trigger;
    bool forced = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || pending_.has_value(); });
      if (stop_) return;
      trigger = std::move(*pending_);
      pending_.reset();
      forced = forced_;
      forced_ = false;
    }
    const uint64_t digest = manifestDigest(sources_.paths);
    if (forced || digest != loaded_digest_) {
      loaded_digest_ = digest;
      reload(trigger);
    }
    watch();  // a subfolder may have appeared or gone
  }
}

void ManifestReloader::reload(const std::string& trigger) {
  auto log = runtime::logger("engine");
  config::Diagnostics diagnostics;
  auto plan = std::make_shared<config::Plan>(sources_.loadPlan(diagnostics));
  for (const config::Diagnostic& d : diagnostics.items()) {
    if (d.severity == config::Diagnostic::Severity::Error) {
      log->error("reload ({}): {}", trigger, d.format());
    } else {
      log->warn("reload ({}): {}", trigger, d.format());
    }
  }
  if (diagnostics.hasErrors()) {
    if (on_loaded_) on_loaded_(nullptr, diagnostics);
    engine_.countRefusedReload();
    log->error("reload ({}) refused: {} in the manifests; the running configuration stays", trigger,
               countOf(diagnostics.errorCount(), "error"));
    return;
  }
  log->info("reload ({}): manifests are valid; applying them", trigger);
  if (on_loaded_) on_loaded_(plan.get(), diagnostics);
  engine_.requestApply(std::move(plan), trigger);
}

}  // namespace dataflow::cli
