// Engine::watchMountedFiles: a dataflow whose Secret changes is rebuilt with the new content, a
// change that cannot be used is refused while the running connections stay.
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "engine/runtime/engine.h"
#include "fakes.h"
#include "kubernetes_mount.h"
#include "random_name.h"
#include "test_util.h"

namespace dataflow::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Makes fakes; every destination reads the password of secret "creds" when it is made, as the
// Kafka connector does, and fails to be made without it. Thread-safe: supervise() calls it.
class SecretReadingFactory final : public ConnectorFactory {
 public:
  Result<std::unique_ptr<Source>> createSource(const SourceSpec&) const override {
    auto source = std::make_unique<testing::FakeSource>();
    std::lock_guard lock(mutex_);
    sources_.push_back(source.get());
    return std::unique_ptr<Source>(std::move(source));
  }
  Result<std::unique_ptr<Destination>> createDestination(
      const DestinationSpec& spec) const override {
    Result<std::string> password = spec.context.files->secret("creds", "password");
    std::lock_guard lock(mutex_);
    passwords_.push_back(password.isOk() ? password.value()
                                         : "<" + password.status().message() + ">");
    changed_.notify_all();
    if (!password.isOk()) return password.status();
    return std::unique_ptr<Destination>(std::make_unique<testing::FakeDestination>());
  }
  // Waits until `count` destinations were asked for; returns the passwords they read.
  std::vector<std::string> waitForAttempts(size_t count) const {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 20s, [&] { return passwords_.size() >= count; });
    return passwords_;
  }
  testing::FakeSource* source(size_t i) const {
    std::lock_guard lock(mutex_);
    return sources_.at(i);
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable std::vector<std::string> passwords_;         // guarded by mutex_
  mutable std::vector<testing::FakeSource*> sources_;  // guarded by mutex_; owned by runners
};

const std::string kManifests = std::string(R"(apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowProfile
metadata:
  name: default
spec:
  instanceCount: 1
---
)") + config::testing::kMqttEndpoint +
                               R"(---
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: kafka
spec:
  endpointType: Kafka
  kafkaSettings:
    host: localhost:9092
    authentication:
      method: Sasl
      saslSettings: {saslType: Plain, secretRef: creds}
---
)" + config::testing::dataflow("local-mqtt", "[a]", "kafka", "out");

class EngineRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / dataflow::testing::randomName("rotation-");
    dataflow::testing::writeKubernetesMount(root_ / "secrets" / "creds",
                                            {{"username", "u"}, {"password", "one"}});
    files_ = config::MountedFiles((root_ / "secrets").string(), std::nullopt);
    ASSERT_FALSE(loaded_.diagnostics.hasErrors()) << loaded_.lines()[0];
    std::vector<std::string> errors;
    engine_ = Engine::build(loaded_.plan, EngineOptions(), factory_, files_, clock_, errors);
    ASSERT_TRUE(engine_) << errors.at(0);
    ASSERT_EQ(engine_->start(), 1u);
    Status watched = engine_->watchMountedFiles(100ms);
    ASSERT_TRUE(watched.isOk()) << watched.message();
    supervisor_ = std::thread([this] { engine_->supervise(); });
  }
  void TearDown() override {
    if (supervisor_.joinable()) {
      engine_->requestStop();
      supervisor_.join();
    }
    if (engine_) engine_->stop(0ms);
    fs::remove_all(root_);
  }
  void rotate(std::map<std::string, std::string> keys) {
    dataflow::testing::writeKubernetesMount(root_ / "secrets" / "creds", keys);
  }
  void stopSupervising() {
    engine_->requestStop();
    supervisor_.join();
  }

  fs::path root_;
  config::MountedFiles files_;
  config::testing::Loaded loaded_ = config::testing::loadAndValidate(kManifests);
  SecretReadingFactory factory_;
  SystemClock clock_;
  std::unique_ptr<Engine> engine_;
  std::thread supervisor_;
};

TEST_F(EngineRotation, ARotatedSecretRebuildsTheDataflowWithTheNewContent) {
  rotate({{"username", "u"}, {"password", "two"}});
  EXPECT_EQ(factory_.waitForAttempts(2), (std::vector<std::string>{"one", "two"}));
  stopSupervising();
  EXPECT_EQ(engine_->rotationCount(), 1u);
  EXPECT_TRUE(factory_.source(0)->closed);  // the old connections were released
  EXPECT_FALSE(factory_.source(1)->closed);
  EXPECT_EQ(engine_->runners()[0]->state(), RunnerState::Running);
}

TEST_F(EngineRotation, AnUnchangedRewriteRebuildsNothing) {
  rotate({{"username", "u"}, {"password", "one"}});  // same content, new ..data
  rotate({{"username", "u"}, {"password", "three"}});
  // Reports are handled in order: had the first rewrite rebuilt, "one" would be read twice.
  EXPECT_EQ(factory_.waitForAttempts(2), (std::vector<std::string>{"one", "three"}));
  stopSupervising();
  EXPECT_EQ(engine_->rotationCount(), 1u);
}

TEST_F(EngineRotation, AChangeThatCannotBeUsedIsRefusedAndTheRunningDataflowStays) {
  rotate({{"username", "u"}});  // the password key is gone
  std::vector<std::string> attempts = factory_.waitForAttempts(2);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_NE(attempts[1].find("has no key \"password\""), std::string::npos) << attempts[1];
  rotate({{"username", "u"}, {"password", "four"}});  // fixed: now it is used
  EXPECT_EQ(factory_.waitForAttempts(3).back(), "four");
  stopSupervising();
  EXPECT_EQ(engine_->rotationCount(), 1u);
  EXPECT_TRUE(factory_.source(0)->closed);
  EXPECT_EQ(engine_->runners()[0]->state(), RunnerState::Running);
}

}  // namespace
}  // namespace dataflow::runtime
