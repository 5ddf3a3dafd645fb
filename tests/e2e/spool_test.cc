// The disk spool end to end (issue 17): `dataflow run --spool-dir` with MQTT -> Kafka, against a
// real mosquitto and librdkafka's mock cluster. The engine is SIGKILLed at random moments, Kafka
// goes away for a minute while mosquitto keeps its default queue limit, the spool's filesystem
// fills up, and the engine restarts with messages in its spool. Every test publishes numbered
// QoS 1 messages and checks, by number, which reached Kafka.
#include <gmock/gmock.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/load_publisher.h"
#include "tests/support/wait.h"

namespace dataflow::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SpoolE2E : public EngineE2E {
 protected:
  std::string spoolDir() const { return dir_->path() + "/spool"; }
  std::vector<std::string> spoolArgs() const {
    return {"--spool-dir", spoolDir(), "--spool-all", "--drain-timeout", "2"};
  }
  size_t count(const std::string& text) const {
    const std::string log = engineLog();
    size_t n = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  }
};

// SIGKILL at 20 random moments under a full-speed QoS 1 load, restarted each time: the source
// acknowledges a message once it is in the spool, and the spool sends again whatever Kafka had
// not acknowledged (and a torn tail is cut). Nothing is missing; duplicates are counted.
TEST_F(SpoolE2E, SigkillTwentyTimesAtRandomMomentsUnderLoadLosesNothing) {
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine(spoolArgs());
  constexpr size_t kCount = 30'000;
  constexpr int kKills = 20;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "kill", kCount, 0us);
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> jitter_ms(0, 200);
  for (int kill = 1; kill <= kKills; ++kill) {
    ASSERT_TRUE(waitFor([&] { return publisher.acknowledged() >= kCount * kill / (kKills + 1); },
                        60s));
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter_ms(random)));  // the moment
    engine_->signal(SIGKILL);
    ASSERT_TRUE(engine_->wait(30s).has_value());
    startEngine(spoolArgs());
  }
  publisher.join();
  const std::vector<size_t> lost = missing("kill", kCount, 120s);
  std::cout << "[ measure ] spool, " << kKills << " SIGKILLs under load: " << lost.size()
            << " of " << kCount << " QoS 1 messages missing, " << duplicates("kill")
            << " duplicates\n";
  RecordProperty("spool_sigkill_lost", static_cast<int>(lost.size()));
  RecordProperty("spool_sigkill_duplicates", static_cast<int>(duplicates("kill")));
  EXPECT_THAT(lost, IsEmpty());
  EXPECT_EQ(stopEngine(), 0);
}

// Stopped with messages in the spool (Kafka down): they are kept, named in the log, and sent by
// the next start, even though the broker was told they were safe.
TEST_F(SpoolE2E, AStopKeepsTheSpoolAndTheNextStartSendsIt) {
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine(spoolArgs());
  kafka_->setAllBrokersDown(true);
  constexpr size_t kCount = 500;
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "kept", kCount, 0us);
  publisher.join();
  EXPECT_EQ(stopEngine(SIGTERM), 0);
  EXPECT_THAT(engineLog(), HasSubstr("stay in the spool"));
  kafka_->setAllBrokersDown(false);
  startEngine(spoolArgs());
  EXPECT_THAT(missing("kept", kCount, 60s), IsEmpty());
  EXPECT_THAT(engineLog(), HasSubstr("from before the restart to send again"));
  EXPECT_EQ(stopEngine(), 0);
}

// Kafka away for 60 s while 5,000 QoS 1 messages a second arrive, mosquitto at its default queue
// limit (1000 per session). The window (maxInflightMessages) is 1000 for both: with the spool the
// broker's backlog is what arrives while one commit's fdatasync runs, and with the default 100 an
// fsync stall of a quarter second on this disk at 5,000 msg/s already overflows mosquitto's 1000
// (measured: 3% lost at the broker with 100; the README's spool section says so). Two dataflows in one engine, each on its own mosquitto: "spooled"
// (requestDiskPersistence: Enabled) takes everything onto disk and loses nothing; "memory" (no
// spool) holds what its in-flight limit allows and the broker drops the rest (counted here, the
// figure the spool exists for). Long: about two to three minutes.
TEST_F(SpoolE2E, LongKafkaOutageOf60SecondsAt5000PerSecond) {
  Mosquitto::Options limited;
  limited.max_queued_messages = 1000;  // mosquitto's default
  mosquitto_ = std::make_unique<Mosquitto>(limited);
  mosquitto2_ = std::make_unique<Mosquitto>(limited);
  // 16 partitions: the mock cluster keeps at most 5 MiB per partition, and the reader must find
  // every record still there.
  createTopic(16);
  auto endpoint = [](const std::string& name, const Mosquitto& broker) {
    return "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
           "metadata:\n  name: " + name +
           "\nspec:\n  endpointType: Mqtt\n  mqttSettings:\n    host: " + broker.address() +
           "\n    qos: 1\n    maxInflightMessages: 1000\n"
           "    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n";
  };
  auto dataflow = [&](const std::string& name, const std::string& source,
                      const std::string& extra) {
    return "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: Dataflow\n"
           "metadata:\n  name: " + name + "\nspec:\n" + extra +
           "  operations:\n  - operationType: Source\n    sourceSettings:\n      endpointRef: " +
           source +
           "\n      dataSources: ['plant/+/data']\n  - operationType: Destination\n"
           "    destinationSettings:\n      endpointRef: kafka\n      dataDestination: '" +
           topic() + "'\n";
  };
  std::ofstream(dir_->path() + "/manifests.yaml")
      << endpoint("mqtt", *mosquitto_) << endpoint("mqtt2", *mosquitto2_)
      << "---\napiVersion: connectivity.iotoperations.azure.com/v1\nkind: DataflowEndpoint\n"
         "metadata:\n  name: kafka\nspec:\n  endpointType: Kafka\n  kafkaSettings:\n    host: "
      << kafka_->bootstrapServers()
      << "\n    authentication:\n      method: Anonymous\n    tls:\n      mode: Disabled\n"
      << dataflow("spooled", "mqtt", "  requestDiskPersistence: Enabled\n")
      << dataflow("memory", "mqtt2", "");
  startEngine({"--spool-dir", spoolDir()});
  ASSERT_TRUE(waitFor([&] { return count("subscribed") >= 2; }, kDeadline)) << engineLog();

  // Two publishers per broker at 2,500 msg/s each (one QoS 1 publisher waits for each PUBACK and
  // cannot pace 5,000 a second here).
  constexpr size_t kRate = 5000;
  constexpr auto kOutage = 60s;
  constexpr size_t kPerPublisher = kRate / 2 * 60;
  kafka_->setAllBrokersDown(true);
  const auto started = std::chrono::steady_clock::now();
  LoadPublisher spooled_a(mosquitto_->address(), "plant/a/data", "spooled_a", kPerPublisher, 400us);
  LoadPublisher spooled_b(mosquitto_->address(), "plant/b/data", "spooled_b", kPerPublisher, 400us);
  LoadPublisher memory_a(mosquitto2_->address(), "plant/a/data", "memory_a", kPerPublisher, 400us);
  LoadPublisher memory_b(mosquitto2_->address(), "plant/b/data", "memory_b", kPerPublisher, 400us);
  waitFor([&] { return std::chrono::steady_clock::now() - started >= kOutage; }, kOutage + 5s,
          100ms);  // the outage is the scenario
  const size_t during_outage = spooled_a.acknowledged() + spooled_b.acknowledged();
  kafka_->setAllBrokersDown(false);
  for (LoadPublisher* p : {&spooled_a, &spooled_b, &memory_a, &memory_b}) p->join();
  const double rate = static_cast<double>(during_outage) /
                      std::chrono::duration<double>(kOutage).count();
  const size_t spooled_lost = missing("spooled_a", kPerPublisher, 120s).size() +
                              missing("spooled_b", kPerPublisher, 120s).size();
  // The end of the "memory" streams, published once the spooled backlog is in Kafka (so the
  // engine has long delivered what it held of them, and mosquitto's queue has room for it).
  LoadPublisher(mosquitto2_->address(), "plant/m/data", "memory_end", 1, 0us).join();
  ASSERT_THAT(missing("memory_end", 1, 120s), IsEmpty()) << engineLog();
  const size_t memory_lost = missing("memory_a", kPerPublisher, 0s).size() +
                             missing("memory_b", kPerPublisher, 0s).size();
  const size_t total = 2 * kPerPublisher;
  std::cout << "[ measure ] Kafka down " << kOutage.count() << " s, " << rate
            << " msg/s per flow published during it, mosquitto max_queued_messages 1000: with the "
               "spool "
            << spooled_lost << " of " << total << " lost ("
            << duplicates("spooled_a") + duplicates("spooled_b") << " duplicates); without it "
            << memory_lost << " of " << total << " lost at the broker\n";
  RecordProperty("outage_spooled_lost", static_cast<int>(spooled_lost));
  RecordProperty("outage_memory_lost", static_cast<int>(memory_lost));
  EXPECT_EQ(spooled_lost, 0u);
  EXPECT_GT(memory_lost, 0u) << "the broker's queue limit did not bite: the comparison shows "
                                "nothing";
  EXPECT_EQ(stopEngine(), 0);
}

// The spool's filesystem is 1 MiB (a tmpfs) and Kafka is down: writes fail with ENOSPC, the
// engine says so, stops acknowledging (mosquitto keeps the rest), stays up, and once Kafka is back
// delivers everything. Needs the right to mount (root in CI); skipped, saying so, elsewhere.
TEST_F(SpoolE2E, AFullDiskStopsAcknowledgingSaysSoAndLosesNothing) {
  const std::string small = dir_->path() + "/small";
  std::filesystem::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs (" << std::strerror(errno)
                 << "): the full-disk test needs root";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{small};
  createTopic(1);
  writeManifests(FlowSpec());
  startEngine({"--spool-dir", small, "--spool-all", "--drain-timeout", "2"});
  kafka_->setAllBrokersDown(true);
  constexpr size_t kCount = 30'000;  // about 2 MiB of records
  LoadPublisher publisher(mosquitto_->address(), "plant/m1/data", "full", kCount, 0us);
  ASSERT_TRUE(waitFor([&] { return engineLog().find("No space left on device") !=
                                   std::string::npos; },
                      60s))
      << engineLog();
  EXPECT_THAT(engineLog(), HasSubstr("the source is not acknowledged until the spool can write "
                                     "again"));
  publisher.join();  // mosquitto keeps what the engine does not acknowledge
  EXPECT_TRUE(engine_->running());
  kafka_->setAllBrokersDown(false);
  EXPECT_THAT(missing("full", kCount, 120s), IsEmpty());
  EXPECT_TRUE(waitFor([&] { return engineLog().find("writing again") != std::string::npos; },
                      kDeadline))
      << engineLog();
  std::cout << "[ measure ] spool on a full 1 MiB filesystem: " << duplicates("full")
            << " duplicates, nothing lost\n";
  EXPECT_EQ(stopEngine(), 0);
}

}  // namespace
}  // namespace dataflow::testing
