// The disk spool end to end (issue 17): `dataflow run --spool-dir` with MQTT -> Kafka, against a
// real mosquitto and librdkafka's mock cluster. The engine is SIGKILLed at random moments, the
// spool's filesystem fills up, and the engine restarts with messages in its spool (the minute-long
// Kafka outage is spool_long_test.cc). Every test publishes numbered
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
