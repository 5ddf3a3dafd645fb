// Engine::apply: a reload diffed per dataflow. Unchanged dataflows keep their connectors, changed
// ones get new ones (the old drained and closed), new ones start, removed ones stop; a reload that
// cannot be built changes nothing and is counted as refused.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "engine/runtime/dataflow_model.h"
#include "engine/runtime/engine.h"
#include "fakes.h"
#include "test_util.h"
#include "wait.h"

namespace dataflow::runtime {
namespace {

using namespace std::chrono_literals;

// Hands out fakes and remembers them by dataflow name; a dataflow named in `failing` cannot be
// built. Thread-safe: supervise() calls it.
class NamedFactory final : public ConnectorFactory {
 public:
  Result<std::unique_ptr<Source>> createSource(const SourceSpec& spec) const override {
    std::lock_guard lock(mutex_);
    if (failing == spec.context.dataflow_name) return Status::fatal("cannot be made here");
    auto source = std::make_unique<testing::FakeSource>();
    source->on_end_session = [this, name = spec.context.dataflow_name] {
      std::lock_guard lock(mutex_);
      ++ended_sessions_[name];
    };
    sources_[spec.context.dataflow_name].push_back(source.get());
    specs_[spec.context.dataflow_name].push_back(spec);
    return std::unique_ptr<Source>(std::move(source));
  }
  Result<std::unique_ptr<Destination>> createDestination(const DestinationSpec&) const override {
    return std::unique_ptr<Destination>(std::make_unique<testing::FakeDestination>());
  }
  // The sources made for dataflow `name`, oldest first (owned by the engine's runners, or gone
  // with them: read `closed` only of one the engine still holds or just closed).
  std::vector<testing::FakeSource*> sources(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return sources_[name];
  }
  SourceSpec lastSpec(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return specs_[name].back();
  }
  // How many of dataflow `name`'s sources were told to end their broker session at stop.
  int endedSessions(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return ended_sessions_[name];
  }
  std::string failing;

 private:
  mutable std::map<std::string, int> ended_sessions_;  // guarded
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::vector<testing::FakeSource*>> sources_;  // guarded
  mutable std::map<std::string, std::vector<SourceSpec>> specs_;              // guarded
};

std::string profile(int instances) {
  return "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowProfile\n"
         "metadata:\n  name: default\nspec:\n  instanceCount: " +
         std::to_string(instances) + "\n";
}

std::string mqttEndpoint(const std::string& name, const std::string& host) {
  return "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: " +
         name + "\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n    host: " + host +
         "\n    authentication:\n      method: Anonymous\n";
}

std::string flow(const std::string& name, const std::string& destination,
                 const std::string& topic) {
  std::string text =
      config::testing::dataflow("local-mqtt", "[" + name + "/+]", destination, topic);
  text.replace(text.find("name: flow"), 10, "name: " + name);
  return text;
}

std::string manifests(const std::vector<std::string>& flows, int instances = 1,
                      const std::string& other_host = "localhost:1884") {
  std::string text = profile(instances) + "---\n" + mqttEndpoint("local-mqtt", "localhost:1883") +
                     "---\n" + mqttEndpoint("other-mqtt", other_host) + "---\n" +
                     config::testing::kKafkaEndpoint;
  for (const std::string& f : flows) text += "---\n" + f;
  return text;
}

std::shared_ptr<const config::Plan> planOf(const std::string& text) {
  auto loaded = config::testing::loadAndValidate(text);
  EXPECT_FALSE(loaded.diagnostics.hasErrors()) << loaded.lines().at(0);
  return std::make_shared<const config::Plan>(std::move(loaded.plan));
}

std::vector<std::string> namesOf(const Engine& engine) {
  std::vector<std::string> names;
  for (const auto& runner : engine.runners()) names.push_back(runner->name());
  return names;
}

// Instance 1 of profile `fast`, which dataflow a uses, with `instances` instances; without the
// profile when `with_profile` is false.
std::string fastProfile(int instances, bool with_profile) {
  std::string t = manifests({});
  if (with_profile) {
    std::string p = profile(instances);
    p.replace(p.find("name: default"), 13, "name: fast");
    std::string f = flow("flow-a", "kafka", "out-a");
    f.replace(f.find("spec:\n"), 6, "spec:\n  profileRef: fast\n");
    t += "---\n" + p + "---\n" + f;
  }
  return t;
}

class EngineReload : public ::testing::Test {
 protected:
  void start(const std::string& text, EngineOptions options = {}) {
    initial_ = planOf(text);
    std::vector<std::string> errors;
    options.drain = 0ms;
    engine_ = Engine::build(*initial_, options, factory_, files_, clock_, errors);
    ASSERT_TRUE(engine_) << errors.at(0);
    engine_->start();
  }
  void TearDown() override {
    if (engine_) engine_->stop(0ms);
  }

  // Instance 1 of profile `fast` with 2 instances, running flow-a.
  void startFast() {
    EngineOptions options;
    options.profile = "fast";
    options.instance_id = 1;
    start(fastProfile(2, true), options);
    ASSERT_EQ(namesOf(*engine_), std::vector<std::string>{"flow-a"});
  }

  NamedFactory factory_;
  config::MountedFiles files_;
  SystemClock clock_;
  std::shared_ptr<const config::Plan> initial_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineReload, OnlyWhatChangedIsRestartedNewOnesStartRemovedOnesStop) {
  start(manifests({flow("flow-a", "kafka", "out-a"), flow("flow-b", "kafka", "out-b")}));
  testing::FakeSource* a = factory_.sources("flow-a").at(0);

  // a: same meaning, other text (a comment, quotes, flow style); b: another topic; c: new.
  std::string a_rewritten = flow("flow-a", "kafka", "'out-a'  # the same topic");
  ASSERT_TRUE(engine_
                  ->apply(planOf(manifests({a_rewritten, flow("flow-b", "kafka", "out-b2"),
                                            flow("flow-c", "kafka", "out-c")})),
                          "test")
                  .isOk());
  EXPECT_EQ(factory_.sources("flow-a").size(), 1u);  // untouched
  EXPECT_FALSE(a->stopped);
  EXPECT_FALSE(a->closed);
  EXPECT_EQ(factory_.sources("flow-b").size(), 2u);  // restarted: the old one drained and closed
  EXPECT_EQ(factory_.sources("flow-c").size(), 1u);
  EXPECT_EQ(namesOf(*engine_), (std::vector<std::string>{"flow-a", "flow-b", "flow-c"}));
  for (const auto& runner : engine_->runners()) EXPECT_EQ(runner->state(), RunnerState::Running);

  ASSERT_TRUE(engine_->apply(planOf(manifests({a_rewritten})), "test").isOk());
  EXPECT_EQ(namesOf(*engine_), std::vector<std::string>{"flow-a"});
  EXPECT_EQ(factory_.sources("flow-a").size(), 1u);
  EXPECT_FALSE(a->closed);
  EXPECT_EQ(engine_->reloadsApplied(), 2u);
  EXPECT_EQ(engine_->reloadsRefused(), 0u);
}

TEST_F(EngineReload, AnEndpointChangeRestartsOnlyTheDataflowsThatUseIt) {
  start(manifests({flow("flow-a", "kafka", "out-a"), flow("flow-b", "other-mqtt", "out/b")}));
  ASSERT_TRUE(engine_
                  ->apply(planOf(manifests({flow("flow-a", "kafka", "out-a"),
                                            flow("flow-b", "other-mqtt", "out/b")},
                                           1, "localhost:2883")),
                          "test")
                  .isOk());
  EXPECT_EQ(factory_.sources("flow-a").size(), 1u);
  EXPECT_EQ(factory_.sources("flow-b").size(), 2u);
}

TEST_F(EngineReload, AnInstanceCountChangeRestartsEveryDataflowWithSharedSubscriptions) {
  start(manifests({flow("flow-a", "kafka", "out-a")}));
  ASSERT_TRUE(
      engine_->apply(planOf(manifests({flow("flow-a", "kafka", "out-a")}, 2)), "test").isOk());
  ASSERT_EQ(factory_.sources("flow-a").size(), 2u);
  EXPECT_EQ(factory_.lastSpec("flow-a").topics, std::vector<std::string>{"$share/flow-a/flow-a/+"});
  // Same client id, same session: the plain filter is unsubscribed, or it keeps delivering.
  EXPECT_EQ(factory_.lastSpec("flow-a").retired_topics, std::vector<std::string>{"flow-a/+"});
}

TEST_F(EngineReload, AReloadThatCannotBeBuiltChangesNothingAndIsCountedRefused) {
  start(manifests({flow("flow-a", "kafka", "out-a"), flow("flow-b", "kafka", "out-b")}));
  factory_.failing = "flow-c";
  Status refused = engine_->apply(
      planOf(manifests({flow("flow-b", "kafka", "out-b2"), flow("flow-c", "kafka", "out-c")})),
      "test");
  EXPECT_FALSE(refused.isOk());
  EXPECT_NE(refused.message().find("dataflow flow-c: cannot be made here"), std::string::npos)
      << refused.message();
  EXPECT_EQ(namesOf(*engine_), (std::vector<std::string>{"flow-a", "flow-b"}));
  EXPECT_FALSE(factory_.sources("flow-a").at(0)->stopped);
  EXPECT_FALSE(factory_.sources("flow-b").at(0)->stopped);  // b's change was not applied either
  EXPECT_EQ(engine_->reloadsRefused(), 1u);
  EXPECT_EQ(engine_->reloadsApplied(), 0u);
}


TEST_F(EngineReload, AScaleDownThatRemovesThisInstanceStopsItsDataflowsAndEndsTheirSessions) {
  ASSERT_NO_FATAL_FAILURE(startFast());
  // instanceCount 2 -> 1: instance 1 is no longer one of the instances.
  ASSERT_TRUE(engine_->apply(planOf(fastProfile(1, true)), "test").isOk());
  EXPECT_TRUE(engine_->runners().empty());
  EXPECT_EQ(factory_.endedSessions("flow-a"), 1);
  EXPECT_EQ(engine_->reloadsRefused(), 0u);
  // Scaled up again: it runs again, with a fresh source.
  ASSERT_TRUE(engine_->apply(planOf(fastProfile(2, true)), "test").isOk());
  EXPECT_EQ(namesOf(*engine_), std::vector<std::string>{"flow-a"});
  EXPECT_EQ(factory_.sources("flow-a").size(), 2u);
  EXPECT_EQ(factory_.endedSessions("flow-a"), 1);
}

TEST_F(EngineReload, AProfileGoneIsRefused) {
  ASSERT_NO_FATAL_FAILURE(startFast());
  const DataflowRunner* running = engine_->runners()[0].get();
  Status gone = engine_->apply(planOf(fastProfile(2, false)), "test");
  EXPECT_EQ(gone.message(), "reload refused: no DataflowProfile named \"fast\"");
  ASSERT_EQ(engine_->runners().size(), 1u);
  EXPECT_EQ(engine_->runners()[0].get(), running);
  EXPECT_EQ(running->state(), RunnerState::Running);
  EXPECT_FALSE(factory_.sources("flow-a").at(0)->stopped);
  EXPECT_EQ(factory_.endedSessions("flow-a"), 0);
  EXPECT_EQ(engine_->reloadsRefused(), 1u);
}

TEST_F(EngineReload, AFailedDataflowIsStartedAgainByAReload) {
  start(manifests({flow("flow-a", "kafka", "out-a")}));
  factory_.sources("flow-a").at(0)->fail("broker gone for good");
  ASSERT_EQ(engine_->runners()[0]->state(), RunnerState::Failed);
  ASSERT_TRUE(engine_->apply(planOf(manifests({flow("flow-a", "kafka", "out-a")})), "test").isOk());
  EXPECT_EQ(factory_.sources("flow-a").size(), 2u);
  EXPECT_EQ(engine_->runners()[0]->state(), RunnerState::Running);
}

TEST_F(EngineReload, AnEngineWithoutDataflowsWaitsUntilAReloadBringsOne) {
  start(manifests({}));
  ASSERT_TRUE(engine_->runners().empty());
  Engine::Outcome outcome = Engine::Outcome::AllFailed;
  std::thread supervisor([&] { outcome = engine_->supervise(); });
  engine_->requestApply(planOf(manifests({flow("flow-a", "kafka", "out-a")})), "test");
  EXPECT_TRUE(dataflow::testing::waitFor([&] { return engine_->reloadsApplied() == 1; }, 20s));
  EXPECT_EQ(engine_->reloadsApplied(), 1u);
  engine_->requestStop();
  supervisor.join();
  EXPECT_EQ(outcome, Engine::Outcome::StopRequested);
  EXPECT_EQ(namesOf(*engine_), std::vector<std::string>{"flow-a"});
}

TEST(DataflowModel, IgnoresFormattingCommentsKeyOrderAndMetadataButNotValues) {
  auto model = [](const std::string& f) {
    auto plan = planOf(manifests({f}));
    return dataflowModel(plan->dataflows.at(0));
  };
  const std::string base = model(flow("flow-a", "kafka", "out-a"));
  std::string reordered =
      "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\nmetadata:\n"
      "  name: flow-a\n  labels: {team: x}  # metadata beyond the name changes nothing\nspec:\n"
      "  operations:\n  - sourceSettings: {dataSources: ['flow-a/+'], endpointRef: local-mqtt}\n"
      "    operationType: Source\n  - operationType: Destination\n    destinationSettings:\n"
      "      dataDestination: \"out-a\"\n      endpointRef: kafka\n";
  EXPECT_EQ(model(reordered), base);
  EXPECT_NE(model(flow("flow-a", "kafka", "out-b")), base);
  EXPECT_NE(model(flow("flow-a", "other-mqtt", "out-a")), base);
}

}  // namespace
}  // namespace dataflow::runtime
