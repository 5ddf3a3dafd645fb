// The benchmark harness (bench/harness, `dataflow-bench`) run for a fraction of a second per
// phase: not a measurement (no figure is compared with a bound), a check that every path it
// measures still delivers everything, that the outage scenario takes Kafka down and back, and that
// the JSON it writes holds what bench/README.md says it does.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace dataflow::testing {
namespace {

nlohmann::json runBench(const TempDir& dir, std::vector<std::string> args) {
  const std::string out = dir.file("results.json");
  std::vector<std::string> argv{DATAFLOW_BENCH_EXE, "--out", out, "--warmup", "0.2",
                                "--seconds",        "0.5"};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess bench(argv, dir.file("bench.log"));
  // A guard against a hang only: the run takes seconds, but a busy machine may stretch it.
  const std::optional<int> code = bench.wait(std::chrono::minutes(10));
  EXPECT_EQ(code, 0) << bench.log();
  std::ifstream in(out);
  if (!in) {
    ADD_FAILURE() << "no JSON written; output:\n" << bench.log();
    return {};
  }
  return nlohmann::json::parse(in);
}

TEST(BenchSmoke, EveryPathDeliversEverythingItSendsAndIsComparedWithBothBaselines) {
  TempDir dir;
  const nlohmann::json results =
      runBench(dir, {"--only", "q1.100B.p8", "--only", "kafka-alone.100B.p8", "--skip-growth",
                     "--outage-seconds", "0"});
  ASSERT_TRUE(results.contains("scenarios"));
  std::set<std::string> ids;
  for (const nlohmann::json& s : results["scenarios"]) {
    ids.insert(s["id"]);
    EXPECT_FALSE(s.contains("error")) << s.dump(2);
    // Measured only after a probe came back along every route of the path (bench/README.md).
    EXPECT_GE(s["ready_s"].get<double>(), 0) << s["id"];
    ASSERT_EQ(s["phases"].size(), 2u) << s.dump(2);  // closed, then open at half that rate
    for (const nlohmann::json& phase : s["phases"]) {
      EXPECT_GT(phase["sent"].get<uint64_t>(), 0u) << s["id"];
      EXPECT_EQ(phase["lost"], 0) << s["id"];
      EXPECT_GT(phase["messages_per_s"].get<double>(), 0) << s["id"];
    }
    const bool engine = s["path"] == "mqtt-kafka" || s["path"] == "kafka-mqtt";
    EXPECT_EQ(s["engine_peak_rss_kib"].get<long>() > 0, engine) << s["id"];
    EXPECT_EQ(s["phases"][0]["engine_cpu_s_per_million"].get<double>() >= 0, engine) << s["id"];
  }
  EXPECT_EQ(ids, (std::set<std::string>{"mqtt-alone.q1.100B.p8", "kafka-alone.100B.p8",
                                        "mqtt-kafka.q1.100B.p8", "kafka-mqtt.q1.100B.p8"}));
  ASSERT_EQ(results["comparisons"].size(), 2u);
  for (const nlohmann::json& c : results["comparisons"]) {
    EXPECT_GT(c["mqtt_alone"].get<double>(), 0);
    EXPECT_GT(c["kafka_alone"].get<double>(), 0);
    EXPECT_GT(c["ratio_to_slower"].get<double>(), 0);
  }
  EXPECT_EQ(results["targets"].size(), 9u);  // issue 6's five and issue 18's four
  EXPECT_GT(results["machine"]["cores"].get<int>(), 0);
}

// --repeat: every round runs on its own topics and the summary has each ratio once per round.
TEST(BenchSmoke, RepeatedRoundsAreSummarisedWithEveryRoundsValue) {
  TempDir dir;
  const nlohmann::json results =
      runBench(dir, {"--only", "mqtt-kafka.q1.100B.p0", "--only", "mqtt-alone.q1.100B.p0",
                     "--only", "kafka-alone.100B.p0", "--skip-growth", "--outage-seconds", "0",
                     "--repeat", "2"});
  ASSERT_TRUE(results.contains("repeats")) << results.dump(2);
  EXPECT_EQ(results["repeats"]["rounds"], 2);
  bool ratio_seen = false;
  for (const nlohmann::json& figure : results["repeats"]["figures"]) {
    if (figure["name"] != "mqtt-kafka.q1.100B.p0 closed rate / slower baseline") continue;
    ratio_seen = true;
    ASSERT_EQ(figure["values"].size(), 2u) << figure.dump();
    EXPECT_GT(figure["median"].get<double>(), 0);
    EXPECT_LE(figure["min"].get<double>(), figure["median"].get<double>());
    EXPECT_GE(figure["max"].get<double>(), figure["median"].get<double>());
  }
  EXPECT_TRUE(ratio_seen) << results["repeats"].dump(2);
}

TEST(BenchSmoke, TheOutageScenarioDeliversEverythingAfterKafkaReturns) {
  TempDir dir;
  const nlohmann::json results =
      runBench(dir, {"--only", "none", "--skip-growth", "--outage-seconds", "3"});
  ASSERT_TRUE(results.contains("outage")) << results.dump(2);
  const nlohmann::json& outage = results["outage"];
  EXPECT_EQ(outage["error"], "");
  EXPECT_GT(outage["sent"].get<uint64_t>(), 0u);
  EXPECT_EQ(outage["in_kafka"].get<int64_t>(), outage["sent"].get<int64_t>());
  // One RSS reading for each second: 10 s before, 3 s down, 10 s after.
  EXPECT_EQ(outage["rss_kib"].size(), 23u);
  EXPECT_GT(outage["rss_at_outage_start_kib"].get<long>(), 0);
}

}  // namespace
}  // namespace dataflow::testing
