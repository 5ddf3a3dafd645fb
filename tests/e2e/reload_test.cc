// Reload without a restart, as an operator meets it: `dataflow run -f FOLDER` while a load flows
// through dataflow a (MQTT -> MQTT on one mosquitto); dataflow b is added, changed and removed by
// editing files in the folder, an invalid edit is refused, SIGHUP reloads. a loses nothing and
// never reconnects (mosquitto logs one connection per client id). And a profile without a
// dataflow waits for one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/load_publisher.h"
#include "tests/e2e/mqtt_watcher.h"
#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/kubernetes_mount.h"
#include "tests/support/random_name.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ReloadE2E : public EngineE2E {
 protected:
  void SetUp() override {
    EngineE2E::SetUp();
    manifests_ = dir_->file("manifests");
    fs::create_directories(manifests_);
  }

  // Writes `name` in the manifests folder as editors and Kubernetes do: a new file renamed over
  // the old one, so the engine never reads half a file.
  void writeFile(const std::string& name, const std::string& text) {
    const std::string tmp = manifests_ + "/." + name + ".tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, manifests_ + "/" + name);
  }

  std::string base() const {
    return "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowProfile\n"
           "metadata:\n  name: default\nspec:\n  instanceCount: 1\n---\n"
           "apiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: mqtt\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n"
           "    host: " +
           mosquitto_->address() +
           "\n    qos: 1\n    authentication:\n      method: Anonymous\n"
           "    tls:\n      mode: Disabled\n";
  }

  // Dataflow `name`: plant/<name>/+ on `mqtt` -> `destination` on `endpoint`.
  static std::string flow(const std::string& name, const std::string& destination,
                          const std::string& destination_key = "dataDestination",
                          const std::string& endpoint = "mqtt") {
    return "# dataflow " + name +
           "\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
           "metadata:\n  name: " +
           name +
           "\nspec:\n  operations:\n  - operationType: Source\n    sourceSettings:\n"
           "      endpointRef: mqtt\n      dataSources: ['plant/" +
           name +
           "/+']\n  - operationType: Destination\n    destinationSettings:\n"
           "      endpointRef: " +
           endpoint + "\n      " + destination_key + ": '" + destination + "'\n";
  }

  void run(const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{DATAFLOW_EXE, "run", "-f", path, "--drain-timeout", "5"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    engine_ = std::make_unique<ChildProcess>(argv, dir_->file("engine.log"));
  }

  // Waits until the engine log holds `text` `count` times.
  bool logged(const std::string& text, size_t count = 1) {
    return waitFor(
        [&] {
          const std::string log = engineLog();
          size_t found = 0;
          for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
            ++found;
          }
          return found >= count;
        },
        kDeadline);
  }

  // The topic on which `payload` arrived at `watcher` (waits for it; empty if it never does).
  static std::string topicOf(const MqttWatcher& watcher, const std::string& payload) {
    std::string topic;
    waitFor(
        [&] {
          for (const ObservedMessage& m : watcher.messages()) {
            if (m.payload == payload) topic = m.topic;
          }
          return !topic.empty();
        },
        kDeadline);
    return topic;
  }

  // Which of "<prefix>-0" .. "<prefix>-<count-1>" have not arrived at `watcher` (waits for them).
  static std::vector<size_t> missingOf(const MqttWatcher& watcher, const std::string& prefix,
                                       size_t count) {
    std::vector<size_t> missing;
    waitFor(
        [&] {
          std::set<std::string> seen;
          for (const ObservedMessage& m : watcher.messages()) seen.insert(m.payload);
          missing.clear();
          for (size_t i = 0; i < count; ++i) {
            if (!seen.count(prefix + "-" + std::to_string(i))) missing.push_back(i);
          }
          return missing.empty();
        },
        std::chrono::seconds(60), std::chrono::milliseconds(100));
    return missing;
  }

  size_t connectionsOf(const std::string& client_id) const {
    const std::string log = mosquitto_->log();
    const std::string text = " as " + client_id + " (";
    size_t found = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++found;
    return found;
  }

  std::string manifests_;
};

TEST_F(ReloadE2E, DataflowsAreAddedChangedAndRemovedWhileAnotherFlowsUntouched) {
  writeFile("base.yaml", base());
  writeFile("a.yaml", flow("flow-a", "out/a"));
  MqttWatcher out_a(mosquitto_->port(), "out/a", dir_->file("watch-a.log"));
  MqttWatcher out_b(mosquitto_->port(), "out/b/#", dir_->file("watch-b.log"));
  run(manifests_);
  ASSERT_TRUE(logged("subscribed")) << engineLog();

  // A load on flow-a for the whole scenario: stopped at the end, and every message the broker
  // acknowledged by then must have come through.
  auto load = std::make_unique<LoadPublisher>(mosquitto_->address(), "plant/flow-a/data", "n",
                                              1'000'000, 1000us);
  ASSERT_TRUE(waitFor([&] { return load->acknowledged() > 0; }, kDeadline));
  const size_t before_reloads = load->acknowledged();

  // Added.
  writeFile("b.yaml", flow("flow-b", "out/b/one"));
  ASSERT_TRUE(
      logged("reload (manifest files changed) applied: started flow-b; restarted none; "
             "stopped none; 1 unchanged"))
      << engineLog();
  ASSERT_TRUE(logged("subscribed", 2)) << engineLog();
  publish("plant/flow-b/data", "b1");
  ASSERT_EQ(topicOf(out_b, "b1"), "out/b/one");

  // Changed while a load runs on it too (and a comment edit of a, which changes nothing): b is
  // drained and restarted, and loses nothing either.
  auto load_b = std::make_unique<LoadPublisher>(mosquitto_->address(), "plant/flow-b/data", "m",
                                                1'000'000, 1000us);
  ASSERT_TRUE(waitFor([&] { return load_b->acknowledged() > 0; }, kDeadline));
  const size_t before_restart = load_b->acknowledged();
  writeFile("a.yaml", "# edited: only a comment\n" + flow("flow-a", "out/a"));
  writeFile("b.yaml", flow("flow-b", "out/b/two"));
  ASSERT_TRUE(logged("applied: started none; restarted flow-b; stopped none; 1 unchanged"))
      << engineLog();
  publish("plant/flow-b/data", "b2");
  ASSERT_EQ(topicOf(out_b, "b2"), "out/b/two");
  const size_t count_b = load_b->acknowledged();
  load_b.reset();
  EXPECT_GT(count_b, before_restart);  // the load on b went on across its restart
  const std::vector<size_t> missing_b = missingOf(out_b, "m", count_b);
  std::cout << "[ measure ] " << count_b << " messages through flow-b across its restart, "
            << missing_b.size() << " missing\n";
  EXPECT_THAT(missing_b, ::testing::IsEmpty());

  // Invalid: refused with file:line, what runs stays.
  writeFile("b.yaml", flow("flow-b", "out/b/three", "dataDestinaton"));
  ASSERT_TRUE(logged("refused: 2 errors in the manifests; the running configuration stays"))
      << engineLog();
  EXPECT_THAT(
      engineLog(),
      ::testing::HasSubstr(
          manifests_ +
          "/b.yaml:15:7: spec.operations[1].destinationSettings.dataDestinaton: unknown field"));
  publish("plant/flow-b/data", "b3");
  ASSERT_EQ(topicOf(out_b, "b3"), "out/b/two");

  // Removed.
  fs::remove(manifests_ + "/b.yaml");
  ASSERT_TRUE(logged("applied: started none; restarted none; stopped flow-b; 1 unchanged"))
      << engineLog();
  // SIGHUP reloads even though nothing changed.
  engine_->signal(SIGHUP);
  ASSERT_TRUE(
      logged("reload (SIGHUP) applied: started none; restarted none; stopped none; "
             "1 unchanged"))
      << engineLog();

  const size_t count = load->acknowledged();
  load.reset();                      // stops publishing
  EXPECT_GT(count, before_reloads);  // the load went on through every reload
  const std::vector<size_t> missing = missingOf(out_a, "n", count);
  std::cout << "[ measure ] " << count << " messages through flow-a during the reloads, "
            << missing.size() << " missing\n";
  EXPECT_THAT(missing, ::testing::IsEmpty());
  // a was never reconnected: one connection per client id in the broker's log; b had two.
  EXPECT_EQ(connectionsOf("dataflow-flow-a-0"), 1u) << mosquitto_->log();
  EXPECT_EQ(connectionsOf("dataflow-flow-a-0-out"), 1u) << mosquitto_->log();
  EXPECT_EQ(connectionsOf("dataflow-flow-b-0"), 2u) << mosquitto_->log();
  EXPECT_EQ(stopEngine(), 0) << engineLog();
}

TEST_F(ReloadE2E, AProfileWithoutDataflowWaitsAndStartsOneWrittenLater) {
  const std::string file = manifests_ + "/all.yaml";
  writeFile("all.yaml", base());
  run(file);
  ASSERT_TRUE(logged("waiting: no enabled dataflow uses profile default yet")) << engineLog();
  ASSERT_TRUE(engine_->running());
  MqttWatcher out(mosquitto_->port(), "out/late", dir_->file("watch.log"));
  writeFile("all.yaml", base() + "---\n" + flow("late-flow", "out/late"));
  ASSERT_TRUE(logged("applied: started late-flow; restarted none; stopped none; 0 unchanged"))
      << engineLog();
  ASSERT_TRUE(logged("subscribed")) << engineLog();
  publish("plant/late-flow/data", "hello");
  EXPECT_EQ(out.waitFor(1, kDeadline).at(0).payload, "hello");
  EXPECT_EQ(stopEngine(), 0) << engineLog();
}

// The profile's diagnostics.logs.level takes effect without restarting any dataflow.
TEST_F(ReloadE2E, AProfilesLogLevelChangeAppliesWithoutRestartingADataflow) {
  const std::string profile_line = "spec:\n  instanceCount: 1\n";
  auto manifests = [&](const std::string& level) {
    std::string text = base();
    text.replace(text.find(profile_line), profile_line.size(),
                 profile_line + "  diagnostics:\n    logs:\n      level: '" + level + "'\n");
    // plant/steady/<a>/<b> -> out/<b>; plant/steady/<a> has no fourth level: dropped, warned.
    return text +
           "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
           "metadata:\n  name: steady\nspec:\n  operations:\n  - operationType: Source\n"
           "    sourceSettings:\n      endpointRef: mqtt\n      dataSources: ['plant/steady/#']\n"
           "  - operationType: Destination\n    destinationSettings:\n      endpointRef: mqtt\n"
           "      dataDestination: 'out/${inputTopic.4}'\n";
  };
  // The dataflow's own lines are off at first; the engine's are not.
  writeFile("all.yaml", manifests("error,engine=info"));
  MqttWatcher out(mosquitto_->port(), "out/#", dir_->file("watch.log"));
  run(manifests_ + "/all.yaml");
  ASSERT_TRUE(logged("running 1 of 1 dataflow")) << engineLog();
  // Flowing (the source has subscribed) before the change.
  ASSERT_TRUE(waitFor(
      [&] {
        publish("plant/steady/a/before", "before");
        return !out.messages().empty();
      },
      kDeadline))
      << engineLog();
  writeFile("all.yaml", manifests("info"));
  ASSERT_TRUE(logged("reload: log level now \"info\" (profile default)")) << engineLog();
  ASSERT_TRUE(logged("applied: started none; restarted none; stopped none; 1 unchanged"))
      << engineLog();
  // The dataflow's logger follows at once: its warning about an unroutable message shows.
  publish("plant/steady/a", "unroutable");
  ASSERT_TRUE(logged("cannot be resolved for input topic 'plant/steady/a'")) << engineLog();
  publish("plant/steady/a/after", "after");
  EXPECT_EQ(topicOf(out, "after"), "out/after");
  EXPECT_EQ(connectionsOf("dataflow-steady-0"), 1u) << "the dataflow never reconnected";
  EXPECT_EQ(stopEngine(), 0) << engineLog();
}

// A Kafka source's dataflow changed by a reload while records keep arriving: the old consumer
// commits what was delivered and leaves the group, the new one resumes from there. Every record
// arrives (at least once), under the old destination topic or the new one.
TEST_F(ReloadE2E, AKafkaSourcesDataflowRestartedByAReloadLosesNoRecord) {
  MockKafka kafka(1);
  const std::string topic = randomName("reload-");
  kafka.createTopic(topic, 2);
  const std::string group = randomName("group-");
  auto manifests = [&](const std::string& destination) {
    return base() +
           "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n"
           "    host: " +
           kafka.bootstrapServers() + "\n    consumerGroupId: " + group +
           "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n"
           "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
           "metadata:\n  name: from-kafka\nspec:\n  operations:\n"
           "  - operationType: Source\n    sourceSettings:\n      endpointRef: kafka\n"
           "      dataSources: ['" +
           topic +
           "']\n  - operationType: Destination\n    destinationSettings:\n"
           "      endpointRef: mqtt\n      dataDestination: '" +
           destination + "'\n";
  };
  KafkaWriter writer(kafka.bootstrapServers());
  auto write = [&](int from, int to) {
    std::vector<KafkaRecord> records;
    for (int i = from; i < to; ++i) {
      KafkaRecord r;
      r.topic = topic;
      r.partition = i % 2;
      r.value = "rec-" + std::to_string(i);
      records.push_back(r);
    }
    writer.write(records);
  };
  MqttWatcher out(mosquitto_->port(), "out/#", dir_->file("watch.log"));
  writeFile("all.yaml", manifests("out/first"));
  run(manifests_ + "/all.yaml");
  write(0, 40);
  ASSERT_EQ(missingOf(out, "rec", 40), std::vector<size_t>{}) << engineLog();

  // Records keep arriving while the dataflow is drained and started again.
  std::string load_error;
  std::thread load([&] {
    try {
      for (int batch = 4; batch < 12; ++batch) {
        write(batch * 10, batch * 10 + 10);
        std::this_thread::sleep_for(100ms);  // paces the load; nothing is asserted about time
      }
    } catch (const std::exception& e) {
      load_error = e.what();
    }
  });
  writeFile("all.yaml", manifests("out/second"));
  const bool applied =
      logged("applied: started none; restarted from-kafka; stopped none; 0 unchanged");
  load.join();
  ASSERT_TRUE(applied) << engineLog();
  ASSERT_EQ(load_error, "");
  EXPECT_EQ(missingOf(out, "rec", 120), std::vector<size_t>{}) << engineLog();
  // The new dataflow delivers what comes after it, under its own topic.
  write(120, 121);
  EXPECT_EQ(topicOf(out, "rec-120"), "out/second") << engineLog();
  EXPECT_EQ(stopEngine(), 0) << engineLog();
}

// The manifests in a ConfigMap mounted as a folder: Kubernetes swaps `..data` to a new hidden
// folder, and the visible files are links through it.
TEST_F(ReloadE2E, AMountedConfigMapOfManifestsIsReloadedWhenKubernetesUpdatesIt) {
  const std::string mount = dir_->file("configmap");
  writeKubernetesMount(mount, {{"base.yaml", base()}, {"flows.yaml", flow("flow-a", "out/one")}});
  MqttWatcher out(mosquitto_->port(), "out/#", dir_->file("watch.log"));
  run(mount);
  ASSERT_TRUE(logged("subscribed")) << engineLog();
  writeKubernetesMount(mount, {{"base.yaml", base()}, {"flows.yaml", flow("flow-a", "out/two")}});
  ASSERT_TRUE(logged("applied: started none; restarted flow-a; stopped none; 0 unchanged"))
      << engineLog();
  ASSERT_TRUE(logged("subscribed", 2)) << engineLog();
  publish("plant/flow-a/data", "x");
  EXPECT_EQ(out.waitFor(1, kDeadline).at(0).topic, "out/two");
  EXPECT_EQ(stopEngine(), 0) << engineLog();
}

// Reloads that involve a SASL Secret (a dataflow added that reads it, the Secret rotated, then a
// reload refused because its password key is gone), at debug level: no value in any line.
TEST_F(ReloadE2E, ReloadsAroundASecretNeverPrintItsValue) {
  const std::string secrets = dir_->file("secrets");
  writeKubernetesMount(secrets + "/creds",
                       {{"username", "reload-user-x"}, {"password", "reload-S3cret-one"}});
  const std::string kafka =
      "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
      "metadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n    host: " +
      kafka_->bootstrapServers() +
      "\n    authentication:\n      method: Sasl\n      saslSettings:\n"
      "        saslType: Plain\n        secretRef: creds\n    tls:\n      mode: Disabled\n";
  writeFile("base.yaml", base() + kafka);
  run(manifests_, {"--secrets-dir", secrets, "--log-level", "debug"});
  ASSERT_TRUE(logged("waiting: no enabled dataflow uses profile default yet")) << engineLog();
  writeFile("k.yaml", flow("flow-k", topic(), "dataDestination", "kafka"));
  ASSERT_TRUE(logged("applied: started flow-k;")) << engineLog();
  writeKubernetesMount(secrets + "/creds",
                       {{"username", "reload-user-x"}, {"password", "reload-S3cret-two"}});
  engine_->signal(SIGHUP);
  // The reload restarts flow-k, unless the Secret's own watcher got there first.
  ASSERT_TRUE(waitFor(
      [&] {
        const std::string log = engineLog();
        return log.find("restarted flow-k;") != std::string::npos ||
               log.find("mounted content changed") != std::string::npos;
      },
      kDeadline))
      << engineLog();
  writeKubernetesMount(secrets + "/creds", {{"username", "reload-user-x"}});
  engine_->signal(SIGHUP);
  ASSERT_TRUE(logged("reload (SIGHUP) refused")) << engineLog();
  EXPECT_EQ(stopEngine(), 0) << engineLog();
  const std::string log = engineLog();
  for (const char* secret : {"reload-S3cret-one", "reload-S3cret-two"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " printed:\n" << log;
  }
}

}  // namespace
}  // namespace dataflow::testing
