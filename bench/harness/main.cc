// dataflow-bench: the engine against mosquitto and Kafka on this machine, with both brokers
// measured alone in the same run. See bench/README.md for how to read the output.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "bench/harness/environment.h"
#include "bench/harness/report.h"
#include "bench/harness/scenarios.h"

using namespace dataflow::bench;

namespace {

bool selected(const std::vector<std::string>& only, const std::string& id) {
  if (only.empty()) return true;
  for (const std::string& part : only) {
    if (id.find(part) != std::string::npos) return true;
  }
  return false;
}

std::vector<Scenario> matrix() {
  std::vector<Scenario> out;
  const size_t sizes[] = {100, 1024, 65536};
  for (Path path : {Path::MqttAlone, Path::KafkaAlone, Path::MqttToKafka, Path::KafkaToMqtt}) {
    for (int qos : {0, 1}) {
      if (path == Path::KafkaAlone && qos == 1) continue;  // no MQTT side
      for (size_t size : sizes) {
        for (int properties : {0, 8}) {
          Scenario s;
          s.path = path;
          s.qos = qos;
          s.payload_size = size;
          s.properties = properties;
          out.push_back(s);
        }
      }
    }
  }
  // Kafka alone read the way the engine's Kafka source reads (fetch.wait.max.ms=100,
  // kConsumerFetchWaitMs): the mock cluster's share of Kafka -> MQTT latency.
  Scenario slow_reader;
  slow_reader.path = Path::KafkaAlone;
  slow_reader.reader_fetch_wait_ms = 100;
  out.push_back(slow_reader);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Benchmarks the engine (MQTT->Kafka, Kafka->MQTT) against mosquitto alone and Kafka alone, "
      "measured in the same run; prints a table and writes JSON. Kafka is librdkafka's mock "
      "cluster unless KAFKA_BOOTSTRAP_SERVERS names a real one."};
  std::string engine = DATAFLOW_EXE;
  std::string out_path = "bench-results.json";
  std::vector<std::string> only;
  Timing timing;
  timing.warmup_s = 0.5;
  timing.measure_s = 2;
  int outage_s = 60;
  bool skip_growth = false;
  int max_inflight = 0;
  bool spool = false;
  int repeat = 1;
  double growth_rate = 0;
  app.add_option("--engine", engine, "The dataflow binary")->capture_default_str();
  app.add_option("--out", out_path, "Where to write the JSON results")->capture_default_str();
  app.add_option("--only", only,
                 "Run only the scenarios whose id contains this text (repeatable), e.g. "
                 "mqtt-kafka.q1.100B; baselines are selected the same way");
  app.add_option("--warmup", timing.warmup_s, "Seconds of load before each measurement")
      ->capture_default_str();
  app.add_option("--seconds", timing.measure_s, "Seconds measured per phase")
      ->capture_default_str();
  app.add_option("--outage-seconds", outage_s,
                 "Length of the Kafka outage scenario; 0 skips it (mock cluster only)")
      ->capture_default_str();
  app.add_flag("--skip-growth", skip_growth,
               "Skip cost growth (1/10/100 dataflows, 1/4/16 filters)");
  app.add_flag("--spool", spool,
               "The engine spools every MQTT source on disk (--spool-all, a folder under the "
               "run's temporary folder): acknowledged once on disk, not once Kafka has it");
  app.add_option("--max-inflight", max_inflight,
                 "The engine's maxInflightMessages (default: the manifest's, 100); above 100 the "
                 "broker's max_inflight_messages is raised with it")
      ->check(CLI::Range(0, 65535));
  app.add_option("--repeat", repeat,
                 "Run everything selected this many times and report the median and range of "
                 "each ratio, taken within a run (single runs here vary by about 15%)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--growth-rate", growth_rate,
                 "Total rate of the cost-growth shapes in msg/s (default: half of what one "
                 "dataflow sustains in the closed loop when measured, at most 10,000)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);

  const char* bootstrap = std::getenv("KAFKA_BOOTSTRAP_SERVERS");
  std::vector<RunReport> rounds;
  try {
    Environment env(engine, bootstrap != nullptr ? bootstrap : "", max_inflight, spool);
    std::printf("mosquitto at %s, Kafka at %s (%s)\n", env.mqttAddress().c_str(),
                env.kafkaBootstrap().c_str(), env.mockKafka() ? "librdkafka mock cluster" : "real");
    for (int round = 1; round <= repeat; ++round) {
      RunReport& report = rounds.emplace_back();
      report.timing = timing;
      report.kafka = bootstrap != nullptr && *bootstrap != '\0' ? bootstrap : "mock";
      beginRound(round);
      if (repeat > 1) std::printf("\n== round %d of %d\n", round, repeat);
      printHeader();
      for (const Scenario& s : matrix()) {
        if (!selected(only, s.id())) continue;
        // Every path, baselines included, also runs open-loop at half its own maximum: the
        // baselines' latency there is the floor the brokers and the load generator set.
        report.scenarios.push_back(runScenario(env, s, timing, 0.5));
        printProgress(report.scenarios.back());
      }

      if (!skip_growth) {
        // The same total rate for every shape, so CPU per message compares like with like: half
        // of what one dataflow sustained, when that was measured.
        report.growth_rate = 10000;
        for (const ScenarioResult& r : report.scenarios) {
          const Scenario& s = r.scenario;
          const Phase* closed = r.phase("closed");
          if (s.path == Path::MqttToKafka && s.qos == 1 && s.payload_size == 100 &&
              s.properties == 0 && closed != nullptr && closed->rate > 0) {
            report.growth_rate = std::min(report.growth_rate, closed->rate / 2);
          }
        }
        if (growth_rate > 0) report.growth_rate = growth_rate;
        for (auto [dataflows, filters] : {std::pair{1, 1}, {10, 1}, {100, 1}, {1, 4}, {1, 16}}) {
          Scenario s;
          s.dataflows = dataflows;
          s.filters = filters;
          s.variant = "growth";
          report.growth.push_back(runFixedRate(env, s, timing, report.growth_rate));
          printProgress(report.growth.back());
        }
      }

      // Once, in the last round: it takes over a minute and measures memory, not a ratio.
      if (round == repeat && outage_s > 0 && env.mockKafka()) {
        report.outage = runOutage(env, 2000, 10, outage_s, 10);
        report.outage_ran = true;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dataflow-bench: %s\n", e.what());
    return 1;
  }
  const RunReport& report = rounds.back();
  printReport(report);
  nlohmann::json json = toJson(report);  // the last round's figures in full
  if (repeat > 1) {
    printRepeats(rounds);
    json["repeats"] = repeatsJson(rounds);
  }
  std::ofstream out(out_path);
  out << json.dump(2) << "\n";
  std::printf("\nJSON written to %s\n", out_path.c_str());
  // A scenario that could not run (e.g. a path that never got ready) fails the whole run, after
  // the others have run and everything was reported.
  size_t failed = report.outage_ran && !report.outage.error.empty() ? 1 : 0;
  for (const RunReport& round : rounds) {
    for (const auto* results : {&round.scenarios, &round.growth}) {
      for (const ScenarioResult& r : *results) failed += r.error.empty() ? 0 : 1;
    }
  }
  if (failed > 0) {
    std::fprintf(stderr, "dataflow-bench: %zu scenario(s) FAILED (see above)\n", failed);
    return 1;
  }
  return 0;
}
