#include "engine/core/directory_watcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "kubernetes_mount.h"
#include "random_name.h"

namespace dataflow {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::writeKubernetesMount;

// Collects reports; waits for a folder to be reported.
class Reports {
 public:
  DirectoryWatcher::Callback callback() {
    return [this](const std::vector<std::string>& folders) {
      std::lock_guard lock(mutex_);
      ++batches_;
      for (const std::string& f : folders) counts_[f]++;
      changed_.notify_all();
    };
  }
  bool waitFor(const std::string& folder, int times = 1) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 20s, [&] { return counts_[folder] >= times; });
  }
  int count(const std::string& folder) {
    std::lock_guard lock(mutex_);
    return counts_[folder];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, int> counts_;
  int batches_ = 0;
};

class DirectoryWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / testing::randomName("watch-");
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(DirectoryWatcherTest, AKubernetesStyleSwapIsReportedForTheFolderAndReadsTheNewContent) {
  const std::string secret = (root_ / "sasl").string();
  writeKubernetesMount(secret, {{"password", "one"}});
  Reports reports;
  auto watcher = DirectoryWatcher::start({secret}, reports.callback());
  ASSERT_TRUE(watcher.isOk()) << watcher.status().message();
  writeKubernetesMount(secret, {{"password", "two"}});
  ASSERT_TRUE(reports.waitFor(secret));
  std::ifstream in(fs::path(secret) / "password");
  std::string value;
  in >> value;
  EXPECT_EQ(value, "two");
  // A second update after the first is reported too: the watch is on the folder, not on the
  // inode the first `..data` pointed to.
  writeKubernetesMount(secret, {{"password", "three"}});
  ASSERT_TRUE(reports.waitFor(secret, 2));
}

TEST_F(DirectoryWatcherTest, AFileRewrittenInPlaceIsReported) {
  const std::string configmap = (root_ / "ca").string();
  fs::create_directories(configmap);
  std::ofstream(fs::path(configmap) / "ca.crt") << "old";
  Reports reports;
  auto watcher = DirectoryWatcher::start({configmap}, reports.callback());
  ASSERT_TRUE(watcher.isOk()) << watcher.status().message();
  std::ofstream(fs::path(configmap) / "ca.crt") << "new";
  EXPECT_TRUE(reports.waitFor(configmap));
}

TEST_F(DirectoryWatcherTest, AFolderThatAppearsLaterIsReportedAndThenWatched) {
  const std::string later = (root_ / "later").string();
  Reports reports;
  auto watcher = DirectoryWatcher::start({later}, reports.callback());
  ASSERT_TRUE(watcher.isOk()) << watcher.status().message();
  writeKubernetesMount(later, {{"token", "a"}});
  ASSERT_TRUE(reports.waitFor(later));
  const int before = reports.count(later);
  writeKubernetesMount(later, {{"token", "b"}});
  EXPECT_TRUE(reports.waitFor(later, before + 1));
}

TEST_F(DirectoryWatcherTest, OnlyTheFolderThatChangedIsReported) {
  const std::string a = (root_ / "a").string();
  const std::string b = (root_ / "b").string();
  writeKubernetesMount(a, {{"k", "1"}});
  writeKubernetesMount(b, {{"k", "1"}});
  Reports reports;
  auto watcher = DirectoryWatcher::start({a, b}, reports.callback());
  ASSERT_TRUE(watcher.isOk()) << watcher.status().message();
  writeKubernetesMount(b, {{"k", "2"}});
  ASSERT_TRUE(reports.waitFor(b));
  watcher.value().reset();  // returns after the thread has ended: no report can follow
  EXPECT_EQ(reports.count(a), 0);
}

TEST_F(DirectoryWatcherTest, AFolderGivenTwiceIsReportedOnce) {
  const std::string secret = (root_ / "shared").string();
  writeKubernetesMount(secret, {{"k", "1"}});
  std::mutex mutex;
  std::condition_variable reported;
  std::vector<std::string> first;
  auto watcher = DirectoryWatcher::start({secret, secret}, [&](const std::vector<std::string>& f) {
    std::lock_guard lock(mutex);
    if (first.empty()) first = f;
    reported.notify_all();
  });
  ASSERT_TRUE(watcher.isOk()) << watcher.status().message();
  writeKubernetesMount(secret, {{"k", "2"}});
  std::unique_lock lock(mutex);
  ASSERT_TRUE(reported.wait_for(lock, 20s, [&] { return !first.empty(); }));
  EXPECT_EQ(first, std::vector<std::string>{secret});
}

TEST_F(DirectoryWatcherTest, AFolderWithoutParentIsRefusedByName) {
  const std::string nowhere = (root_ / "no" / "such" / "folder").string();
  auto watcher = DirectoryWatcher::start({nowhere}, [](const std::vector<std::string>&) {});
  ASSERT_FALSE(watcher.isOk());
  EXPECT_NE(watcher.status().message().find(nowhere), std::string::npos);
}

}  // namespace
}  // namespace dataflow
