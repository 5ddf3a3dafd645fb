// What a benchmark runs against: a mosquitto on a free loopback port, a Kafka cluster (librdkafka's
// mock in this process, or a real one named by KAFKA_BOOTSTRAP_SERVERS) and the engine binary.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "tests/support/kafka/kafka_test_support.h"
#include "tests/support/mosquitto.h"
#include "tests/support/process.h"

namespace dataflow::bench {

// The broker settings every scenario (baselines included) runs with; README documents them.
//  - set_tcp_nodelay: without it, Nagle's algorithm holds small PUBLISHes back for tens of ms.
//  - max_inflight_messages 100: the Receive Maximum mosquitto grants publishers, the engine's
//    default maxInflightMessages for what it receives.
//  - max_queued_messages 1000000000 (from the test support): nothing dropped for a paused subscriber.
extern const char* const kBrokerConfig;

class Environment {
 public:
  // `kafka_bootstrap` empty: start the mock cluster (one broker).
  // `max_inflight`: the engine's maxInflightMessages (0: the manifest default, 100); above 100 the
  // broker's max_inflight_messages (the Receive Maximum its publishers get) is raised with it.
  // `spool`: every engine spools its MQTT sources (--spool-all) in a folder under dir().
  Environment(std::string engine_exe, const std::string& kafka_bootstrap, int max_inflight = 0,
              bool spool = false);
  ~Environment();

  const std::string& engineExe() const { return engine_exe_; }
  std::string mqttAddress() const { return broker_->address(); }
  int mqttPort() const { return broker_->port(); }
  pid_t brokerPid() const { return broker_->pid(); }
  const std::string& kafkaBootstrap() const { return bootstrap_; }
  bool mockKafka() const { return mock_ != nullptr; }
  int maxInflight() const { return max_inflight_; }
  bool spool() const { return spool_; }
  const testing::TempDir& dir() const { return dir_; }

  void createTopic(const std::string& name, int partitions);
  // Mock cluster only: every broker refuses connections (true) or serves again (false).
  void setKafkaDown(bool down);
  // Mock cluster only: the sum of `topic`'s log end offsets, i.e. every record it took, including
  // those its retention already deleted (MockKafka::endOffsets).
  int64_t endOffsets(const std::string& topic);

 private:
  std::string engine_exe_;
  int max_inflight_ = 0;
  bool spool_ = false;
  testing::TempDir dir_;
  std::unique_ptr<testing::Mosquitto> broker_;
  std::unique_ptr<testing::MockKafka> mock_;
  std::string bootstrap_;
};

// One `dataflow run` over the manifests given, logging to a file in the environment's folder.
class EngineProcess {
 public:
  // Starts the engine and waits up to 60 s until its log holds `ready_text` `ready_count` times;
  // throws std::runtime_error (with the log's tail) if it exits or never gets there.
  EngineProcess(const Environment& env, const std::string& name, const std::string& manifests,
                const std::string& ready_text, int ready_count);
  // How long stop() waits after SIGTERM: the engine's drain deadline (10 s) and a wide margin for
  // a busy machine; past it, the engine is killed and counted as not exiting cleanly.
  static constexpr std::chrono::seconds kStopWait{60};

  ~EngineProcess();  // SIGTERM, then SIGKILL after kStopWait

  pid_t pid() const { return process_->pid(); }
  // SIGTERM and wait for the exit; the exit code (-1 on timeout).
  int stop();
  std::string log() const { return process_->log(); }

 private:
  std::unique_ptr<testing::ChildProcess> process_;
};

}  // namespace dataflow::bench
