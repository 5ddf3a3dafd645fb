// The benchmark's scenarios: the two baselines, the engine in both directions, cost growth with
// dataflows and topic filters, and a Kafka outage under constant input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/harness/environment.h"
#include "bench/harness/tally.h"

namespace dataflow::bench {

enum class Path { MqttAlone, KafkaAlone, MqttToKafka, KafkaToMqtt };
const char* pathName(Path path);

struct Scenario {
  Path path = Path::MqttToKafka;
  int qos = 1;  // MQTT side; ignored for KafkaAlone
  size_t payload_size = 100;
  int properties = 0;  // user properties (MQTT) or headers (Kafka) per message
  int dataflows = 1;
  int filters = 1;  // topic filters per dataflow
  // fetch.wait.max.ms of the benchmark's own Kafka reader (KafkaLoadConsumer). 100 (the engine's
  // Kafka source's) shows what the mock cluster's fetch wait does to a Kafka reader.
  int reader_fetch_wait_ms = 1;
  std::string variant;     // appended to the id: a second run of the same shape (e.g. "growth")
  std::string id() const;  // e.g. "mqtt-kafka.q1.100B.p8" (".d10", ".f4" when not 1)
};

struct Timing {
  double warmup_s = 1;
  double measure_s = 2.5;
};

struct Phase {
  std::string mode;     // "closed" or "open"
  double offered = 0;   // closed: window (messages); open: rate (messages/s)
  double rate = 0;      // messages/s received over the measurement window
  double mb_per_s = 0;  // payload bytes only
  LatencySummary latency;
  double engine_cpu_s_per_million = -1;  // -1: no engine in this scenario
  double broker_cpu_s_per_million = -1;
  uint64_t sent = 0;
  double drain_s = 0;  // after the load stopped, until everything sent had arrived
  uint64_t lost = 0;
  uint64_t duplicates = 0;
};

struct ScenarioResult {
  Scenario scenario;
  std::vector<Phase> phases;
  long engine_peak_rss_kib = -1;
  long engine_threads = -1;  // at the end of the scenario
  double ready_s = -1;  // the readiness barrier: until a probe had come back along every route
  // From launching the scenario's clients and engine until that barrier was passed: how long
  // the engine took to have every dataflow connected and flowing.
  double start_s = -1;
  long engine_idle_rss_kib = -1;  // the engine's RSS once ready, before any load
  std::string error;    // set when the scenario could not run; the others go on
  const Phase* phase(const std::string& mode) const;
};

// Closed loop; then, when `open_rate_fraction` > 0 (engine scenarios), open loop at that fraction
// of the closed-loop rate, for latency.
// --repeat: round `round` (from 1) names its topics, groups and client ids apart from the others'.
void beginRound(int round);

ScenarioResult runScenario(Environment& env, const Scenario& scenario, const Timing& timing,
                           double open_rate_fraction);

// Open loop at `rate` only (cost growth: the same rate for 1 .. 100 dataflows).
ScenarioResult runFixedRate(Environment& env, const Scenario& scenario, const Timing& timing,
                            double rate);

struct OutageResult {
  double rate = 0;
  int before_s = 0;
  int outage_s = 0;
  int after_s = 0;
  std::vector<long> rss_kib;  // the engine's RSS, one reading a second from the start
  long rss_at_outage_start_kib = -1;
  long rss_max_during_outage_kib = -1;
  long rss_at_outage_end_kib = -1;
  long rss_growth_second_half_kib = 0;  // RSS at the end minus at the middle of the outage
  uint64_t sent = 0;
  int64_t in_kafka = 0;    // by the log end offsets, the readiness probes not counted
  double recovery_s = -1;  // from the brokers' return until Kafka holds everything sent
  std::string error;
};

// MQTT -> Kafka, QoS 1, 100 B at a constant `rate`: `before_s` normal, `outage_s` with every
// broker down, `after_s` back; then waits until the log end offsets hold everything sent.
OutageResult runOutage(Environment& env, double rate, int before_s, int outage_s, int after_s);

}  // namespace dataflow::bench
