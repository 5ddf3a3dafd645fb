#include "bench/harness/report.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

namespace dataflow::bench {

namespace {

constexpr double kRatioTarget = 0.8;
constexpr double kLatencyTargetMs = 20;
constexpr double kRssTargetMiB = 64;
constexpr double kGrowthTolerance = 0.2;
constexpr double kFlatMemoryMiB = 1;  // RSS growth allowed over the outage's second half
constexpr double kHundredP99TargetMs = 50;
constexpr double kHundredRssTargetMiB = 128;
constexpr double kStartTargetS = 5;
constexpr double kKeptUpDrainS = 1;  // the last messages arrived within this after the load

std::string machineCpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

long memTotalMiB() {
  std::ifstream in("/proc/meminfo");
  std::string name;
  long kib = 0;
  in >> name >> kib;
  return kib / 1024;
}

std::string utcNow() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

// The slower of the two baselines for the same QoS, size and properties.
struct Comparison {
  const ScenarioResult* engine;
  double mqtt_alone = -1;
  double kafka_alone = -1;
  double slower() const {
    if (mqtt_alone < 0) return kafka_alone;
    if (kafka_alone < 0) return mqtt_alone;
    return std::min(mqtt_alone, kafka_alone);
  }
  double ratio() const {
    const Phase* p = engine->phase("closed");
    return p != nullptr && slower() > 0 ? p->rate / slower() : -1;
  }
};

double closedRate(const std::vector<ScenarioResult>& all, Path path, int qos, size_t size,
                  int properties) {
  for (const ScenarioResult& r : all) {
    const Scenario& s = r.scenario;
    if (s.path == path && (path == Path::KafkaAlone || s.qos == qos) && s.payload_size == size &&
        s.properties == properties && s.dataflows == 1 && s.filters == 1 &&
        s.reader_fetch_wait_ms == 1) {
      const Phase* p = r.phase("closed");
      return p != nullptr ? p->rate : -1;
    }
  }
  return -1;
}

std::vector<Comparison> comparisons(const std::vector<ScenarioResult>& all) {
  std::vector<Comparison> out;
  for (const ScenarioResult& r : all) {
    const Scenario& s = r.scenario;
    if (s.path != Path::MqttToKafka && s.path != Path::KafkaToMqtt) continue;
    Comparison c{&r};
    c.mqtt_alone = closedRate(all, Path::MqttAlone, s.qos, s.payload_size, s.properties);
    c.kafka_alone = closedRate(all, Path::KafkaAlone, s.qos, s.payload_size, s.properties);
    out.push_back(c);
  }
  return out;
}

std::string fmt(double v, const char* format = "%.1f") {
  if (v < 0) return "-";
  char text[64];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

struct Verdict {
  std::string target;
  std::string measured;
  std::optional<bool> met;  // nullopt: not measured in this run
};

// The growth run with `dataflows` dataflows and one filter each, or null.
const ScenarioResult* growthRun(const RunReport& report, int dataflows) {
  for (const ScenarioResult& r : report.growth) {
    if (r.scenario.dataflows == dataflows && r.scenario.filters == 1 && r.error.empty()) return &r;
  }
  return nullptr;
}

// (idle RSS at 100 dataflows - at 1) / 99, once every dataflow is ready; -1e10 when not run.
double idleKiBPerDataflow(const RunReport& report) {
  const ScenarioResult* one = growthRun(report, 1);
  const ScenarioResult* hundred = growthRun(report, 100);
  if (one == nullptr || hundred == nullptr || one->engine_idle_rss_kib < 0 ||
      hundred->engine_idle_rss_kib < 0) {
    return -1e10;
  }
  return static_cast<double>(hundred->engine_idle_rss_kib - one->engine_idle_rss_kib) / 99.0;
}

// The worst open-loop p99 of the scenarios whose path `counts`, against kLatencyTargetMs.
template <class Counts>
Verdict worstLatency(const RunReport& report, std::string target, Counts counts) {
  Verdict v{std::move(target), "", {}};
  double worst = -1;
  std::string worst_id;
  for (const ScenarioResult& r : report.scenarios) {
    const Phase* p = r.phase("open");
    if (!counts(r.scenario.path) || p == nullptr || p->latency.samples == 0) continue;
    if (p->latency.p99_ms > worst) {
      worst = p->latency.p99_ms;
      worst_id = r.scenario.id();
    }
  }
  if (worst >= 0) {
    v.measured = "worst p99 " + fmt(worst, "%.2f") + " ms (" + worst_id + ")";
    v.met = worst < kLatencyTargetMs;
  }
  return v;
}

std::vector<Verdict> verdicts(const RunReport& report) {
  std::vector<Verdict> out;
  // 1. MQTT -> Kafka, QoS 1, 100 B against the slower baseline.
  {
    Verdict v{"MQTT->Kafka QoS 1 100 B closed-loop rate >= 80% of the slower baseline", "", {}};
    for (const Comparison& c : comparisons(report.scenarios)) {
      const Scenario& s = c.engine->scenario;
      if (s.path == Path::MqttToKafka && s.qos == 1 && s.payload_size == 100 && s.properties == 0 &&
          c.ratio() >= 0) {
        v.measured = fmt(c.ratio() * 100, "%.0f%%") + " (engine " +
                     fmt(c.engine->phase("closed")->rate, "%.0f") + " msg/s, slower baseline " +
                     fmt(c.slower(), "%.0f") + ")";
        v.met = c.ratio() >= kRatioTarget;
      }
    }
    out.push_back(v);
  }
  // 2. p99 at half the maximum rate, every engine scenario.
  out.push_back(worstLatency(report,
                             "p99 end-to-end < 20 ms at half the maximum rate (every engine "
                             "scenario)",
                             [](Path path) {
                               return path == Path::MqttToKafka || path == Path::KafkaToMqtt;
                             }));
  // 3. Peak RSS at steady load.
  {
    Verdict v{"engine peak RSS < 64 MB at steady load (one dataflow, every scenario)", "", {}};
    long worst = -1;
    std::string worst_id;
    for (const ScenarioResult& r : report.scenarios) {
      if (r.engine_peak_rss_kib > worst) {
        worst = r.engine_peak_rss_kib;
        worst_id = r.scenario.id();
      }
    }
    if (worst >= 0) {
      v.measured = fmt(worst / 1024.0) + " MiB (" + worst_id + ")";
      v.met = worst / 1024.0 < kRssTargetMiB;
    }
    out.push_back(v);
  }
  // 4. Flat memory during the outage.
  {
    Verdict v{
        "flat engine memory during a Kafka outage at constant input (<= 1 MiB growth over "
        "the outage's second half), nothing lost",
        "",
        {}};
    const OutageResult& o = report.outage;
    if (report.outage_ran && o.error.empty()) {
      v.measured = "RSS " + fmt(o.rss_at_outage_start_kib / 1024.0) + " -> max " +
                   fmt(o.rss_max_during_outage_kib / 1024.0) + " MiB, second half +" +
                   fmt(o.rss_growth_second_half_kib / 1024.0, "%.2f") + " MiB; " +
                   std::to_string(o.in_kafka) + " of " + std::to_string(o.sent) + " in Kafka";
      v.met = o.rss_growth_second_half_kib / 1024.0 <= kFlatMemoryMiB &&
              o.in_kafka >= static_cast<int64_t>(o.sent);
    }
    out.push_back(v);
  }
  // 5. CPU per message from 1 to 100 dataflows.
  {
    Verdict v{"engine CPU per message within +-20% from 1 to 100 dataflows", "", {}};
    double one = -1;
    double hundred = -1;
    for (const ScenarioResult& r : report.growth) {
      const Phase* p = r.phase("open");
      if (p == nullptr || r.scenario.filters != 1) continue;
      if (r.scenario.dataflows == 1) one = p->engine_cpu_s_per_million;
      if (r.scenario.dataflows == 100) hundred = p->engine_cpu_s_per_million;
    }
    if (one > 0 && hundred > 0) {
      v.measured = fmt(one, "%.2f") + " -> " + fmt(hundred, "%.2f") + " CPU s per million (" +
                   fmt((hundred / one - 1) * 100, "%+.0f%%") + ")";
      v.met = std::abs(hundred / one - 1) <= kGrowthTolerance;
    }
    out.push_back(v);
  }
  // Issue 18: 100 dataflows at 10,000 msg/s, their memory and their start-up.
  const ScenarioResult* hundred = growthRun(report, 100);
  const Phase* hundred_open = hundred != nullptr ? hundred->phase("open") : nullptr;
  {
    Verdict v{"100 dataflows keep up with 10,000 msg/s in total, p99 < 50 ms", "", {}};
    if (hundred_open != nullptr) {
      const bool kept_up = hundred_open->rate >= 0.99 * report.growth_rate &&
                           hundred_open->drain_s < kKeptUpDrainS;
      v.measured = fmt(hundred_open->rate, "%.0f") + " of " + fmt(report.growth_rate, "%.0f") +
                   " msg/s, drain " + fmt(hundred_open->drain_s, "%.1f") + " s, p99 " +
                   fmt(hundred_open->latency.p99_ms, "%.2f") + " ms";
      v.met = report.growth_rate >= 10000 && kept_up &&
              hundred_open->latency.p99_ms < kHundredP99TargetMs;
      if (report.growth_rate < 10000) v.measured += " (rate below 10,000: use --growth-rate)";
    }
    out.push_back(v);
  }
  {
    Verdict v{"engine peak RSS < 128 MB with 100 dataflows", "", {}};
    if (hundred != nullptr && hundred->engine_peak_rss_kib >= 0) {
      v.measured = fmt(hundred->engine_peak_rss_kib / 1024.0) + " MiB (idle " +
                   fmt(hundred->engine_idle_rss_kib / 1024.0) + " MiB; " +
                   std::to_string(hundred->engine_threads) + " threads)";
      v.met = hundred->engine_peak_rss_kib / 1024.0 < kHundredRssTargetMiB;
    }
    out.push_back(v);
  }
  {
    Verdict v{"100 dataflows connected and flowing within 5 s of start", "", {}};
    if (hundred != nullptr && hundred->start_s >= 0) {
      v.measured = fmt(hundred->start_s, "%.2f") + " s";
      v.met = hundred->start_s < kStartTargetS;
    }
    out.push_back(v);
  }
  out.push_back(worstLatency(
      report, "p99 end-to-end < 20 ms at half the maximum rate (every MQTT->Kafka scenario)",
      [](Path path) { return path == Path::MqttToKafka; }));
  return out;
}

void printPhaseRow(const ScenarioResult& r, const Phase& p) {
  std::printf("%-28s %-6s %9s %9s %8s %7s %7s %7s %7s %7s %6s %6s %5s\n", r.scenario.id().c_str(),
              p.mode.c_str(), fmt(p.offered, "%.0f").c_str(), fmt(p.rate, "%.0f").c_str(),
              fmt(p.mb_per_s, "%.2f").c_str(), fmt(p.latency.p50_ms, "%.2f").c_str(),
              fmt(p.latency.p99_ms, "%.2f").c_str(), fmt(p.latency.p999_ms, "%.2f").c_str(),
              fmt(p.engine_cpu_s_per_million, "%.2f").c_str(),
              fmt(p.broker_cpu_s_per_million, "%.2f").c_str(),
              fmt(r.engine_peak_rss_kib / 1024.0).c_str(), std::to_string(p.lost).c_str(),
              std::to_string(p.duplicates).c_str());
}

nlohmann::json phaseJson(const Phase& p) {
  return {{"mode", p.mode},
          {"offered", p.offered},
          {"messages_per_s", p.rate},
          {"mb_per_s", p.mb_per_s},
          {"latency_ms",
           {{"samples", p.latency.samples},
            {"p50", p.latency.p50_ms},
            {"p99", p.latency.p99_ms},
            {"p999", p.latency.p999_ms},
            {"max", p.latency.max_ms}}},
          {"engine_cpu_s_per_million", p.engine_cpu_s_per_million},
          {"broker_cpu_s_per_million", p.broker_cpu_s_per_million},
          {"sent", p.sent},
          {"drain_s", p.drain_s},
          {"lost", p.lost},
          {"duplicates", p.duplicates}};
}

nlohmann::json scenarioJson(const ScenarioResult& r) {
  const Scenario& s = r.scenario;
  nlohmann::json phases = nlohmann::json::array();
  for (const Phase& p : r.phases) phases.push_back(phaseJson(p));
  nlohmann::json out = {{"id", s.id()},
                        {"path", pathName(s.path)},
                        {"qos", s.qos},
                        {"payload_bytes", s.payload_size},
                        {"properties", s.properties},
                        {"dataflows", s.dataflows},
                        {"filters", s.filters},
                        {"engine_peak_rss_kib", r.engine_peak_rss_kib},
                        {"engine_threads", r.engine_threads},
                        {"ready_s", r.ready_s},
                        {"start_s", r.start_s},
                        {"engine_idle_rss_kib", r.engine_idle_rss_kib},
                        {"phases", phases}};
  if (!r.error.empty()) out["error"] = r.error;
  return out;
}

struct Spread {
  std::vector<double> values;
  double median() const {
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    if (v.empty()) return -1;
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  double min() const { return values.empty() ? -1 : *std::min_element(values.begin(), values.end()); }
  double max() const { return values.empty() ? -1 : *std::max_element(values.begin(), values.end()); }
};

// Every figure --repeat summarises, by name, in first-seen order.
std::vector<std::pair<std::string, Spread>> repeatFigures(const std::vector<RunReport>& rounds) {
  std::vector<std::pair<std::string, Spread>> out;
  auto add = [&](const std::string& name, double value) {
    if (value < 0) return;
    for (auto& [existing, spread] : out) {
      if (existing == name) {
        spread.values.push_back(value);
        return;
      }
    }
    out.push_back({name, Spread{{value}}});
  };
  for (const RunReport& round : rounds) {
    for (const Comparison& c : comparisons(round.scenarios)) {
      add(c.engine->scenario.id() + " closed rate / slower baseline", c.ratio());
    }
    for (const ScenarioResult& r : round.scenarios) {
      const Path path = r.scenario.path;
      const Phase* open = r.phase("open");
      if ((path == Path::MqttToKafka || path == Path::KafkaToMqtt) && open != nullptr) {
        add(r.scenario.id() + " open-loop p99 ms", open->latency.p99_ms);
      }
      if (r.engine_peak_rss_kib >= 0) add(r.scenario.id() + " peak RSS MiB", r.engine_peak_rss_kib / 1024.0);
    }
    const ScenarioResult* one = growthRun(round, 1);
    const Phase* base = one != nullptr ? one->phase("open") : nullptr;
    for (const ScenarioResult& r : round.growth) {
      const Phase* p = r.phase("open");
      if (p == nullptr) continue;
      const std::string id = r.scenario.id();
      add(id + " CPU s per million", p->engine_cpu_s_per_million);
      if (base != nullptr && base->engine_cpu_s_per_million > 0) {
        add(id + " CPU per message vs 1 dataflow",
            p->engine_cpu_s_per_million / base->engine_cpu_s_per_million);
      }
      add(id + " p99 ms", p->latency.p99_ms);
      add(id + " msg/s", p->rate);
      add(id + " peak RSS MiB", r.engine_peak_rss_kib / 1024.0);
      add(id + " start s", r.start_s);
      add(id + " threads", static_cast<double>(r.engine_threads));
    }
    if (const double per = idleKiBPerDataflow(round); per > -1e9) {
      add("idle KiB per added dataflow", std::max(0.0, per));
    }
  }
  return out;
}

}  // namespace

void printRepeats(const std::vector<RunReport>& rounds) {
  std::printf("\n== %zu rounds: median [min - max] of each figure, ratios taken within a round\n",
              rounds.size());
  for (const auto& [name, spread] : repeatFigures(rounds)) {
    std::printf("%-70s %10s  [%s - %s]  n=%zu\n", name.c_str(), fmt(spread.median(), "%.3g").c_str(),
                fmt(spread.min(), "%.3g").c_str(), fmt(spread.max(), "%.3g").c_str(),
                spread.values.size());
  }
  std::fflush(stdout);
}

nlohmann::json repeatsJson(const std::vector<RunReport>& rounds) {
  nlohmann::json out = {{"rounds", rounds.size()}, {"figures", nlohmann::json::array()}};
  for (const auto& [name, spread] : repeatFigures(rounds)) {
    out["figures"].push_back({{"name", name},
                              {"median", spread.median()},
                              {"min", spread.min()},
                              {"max", spread.max()},
                              {"values", spread.values}});
  }
  return out;
}

void printHeader() {
  std::printf("%-28s %-6s %9s %9s %8s %7s %7s %7s %7s %7s %6s %6s %5s\n", "scenario", "loop",
              "offered", "msg/s", "MB/s", "p50ms", "p99ms", "p999ms", "engCPU", "mqtCPU", "RSSMiB",
              "lost", "dups");
}

void printProgress(const ScenarioResult& result) {
  if (!result.error.empty()) {
    std::printf("%-28s FAILED: %s\n", result.scenario.id().c_str(), result.error.c_str());
  }
  for (const Phase& p : result.phases) printPhaseRow(result, p);
  std::fflush(stdout);
}

void printReport(const RunReport& report) {
  std::printf(
      "\n== All phases (closed: window in messages; open: offered msg/s; latency from "
      "the open loop's scheduled send time; CPU in seconds per million messages)\n");
  printHeader();
  for (const ScenarioResult& r : report.scenarios) printProgress(r);

  std::printf("\n== Engine (closed loop) / slower baseline\n");
  std::printf("%-28s %10s %12s %12s %7s\n", "scenario", "engine", "mqtt-alone", "kafka-alone",
              "ratio");
  for (const Comparison& c : comparisons(report.scenarios)) {
    const Phase* p = c.engine->phase("closed");
    std::printf("%-28s %10s %12s %12s %7s\n", c.engine->scenario.id().c_str(),
                fmt(p ? p->rate : -1, "%.0f").c_str(), fmt(c.mqtt_alone, "%.0f").c_str(),
                fmt(c.kafka_alone, "%.0f").c_str(), fmt(c.ratio() * 100, "%.0f%%").c_str());
  }

  if (!report.growth.empty()) {
    std::printf("\n== Cost growth (MQTT->Kafka QoS 1 100 B, open loop at %.0f msg/s)\n",
                report.growth_rate);
    std::printf("%-34s %9s %10s %8s %8s %8s %10s %9s %8s %8s\n", "scenario", "msg/s", "CPU s/M",
                "vs 1", "p99ms", "drain s", "RSS MiB", "idle MiB", "start s", "threads");
    double base = -1;
    for (const ScenarioResult& r : report.growth) {
      const Phase* p = r.phase("open");
      if (p == nullptr) {
        printProgress(r);
        continue;
      }
      if (r.scenario.dataflows == 1 && r.scenario.filters == 1) base = p->engine_cpu_s_per_million;
      std::printf("%-34s %9s %10s %8s %8s %8s %10s %9s %8s %8ld\n", r.scenario.id().c_str(),
                  fmt(p->rate, "%.0f").c_str(), fmt(p->engine_cpu_s_per_million, "%.2f").c_str(),
                  base > 0 ? fmt(p->engine_cpu_s_per_million / base, "%.2fx").c_str() : "-",
                  fmt(p->latency.p99_ms, "%.2f").c_str(), fmt(p->drain_s, "%.1f").c_str(),
                  fmt(r.engine_peak_rss_kib / 1024.0).c_str(),
                  fmt(r.engine_idle_rss_kib / 1024.0).c_str(), fmt(r.start_s, "%.2f").c_str(),
                  r.engine_threads);
    }
    if (const double per = idleKiBPerDataflow(report); per > -1e9) {
      std::printf("idle memory per added dataflow (1 -> 100 dataflows, once ready): %.0f KiB\n",
                  per);
    }
  }

  if (report.outage_ran) {
    const OutageResult& o = report.outage;
    std::printf(
        "\n== Kafka outage (MQTT->Kafka QoS 1 100 B at %.0f msg/s: %d s up, %d s down, "
        "%d s up)\n",
        o.rate, o.before_s, o.outage_s, o.after_s);
    if (!o.error.empty()) std::printf("FAILED: %s\n", o.error.c_str());
    std::printf("engine RSS MiB, one reading a second:");
    for (size_t i = 0; i < o.rss_kib.size(); ++i) {
      std::printf("%s%.1f", i % 10 == 0 ? "\n  " : " ", o.rss_kib[i] / 1024.0);
    }
    std::printf(
        "\nsent %llu, in Kafka %lld, everything in Kafka %.1f s after the brokers "
        "returned\n",
        static_cast<unsigned long long>(o.sent), static_cast<long long>(o.in_kafka), o.recovery_s);
  }

  std::printf("\n== Targets\n");
  for (const Verdict& v : verdicts(report)) {
    std::printf("[%s] %s: %s\n", !v.met ? "NOT RUN" : (*v.met ? "MET" : "MISSED"), v.target.c_str(),
                v.measured.empty() ? "-" : v.measured.c_str());
  }
  std::fflush(stdout);
}

nlohmann::json toJson(const RunReport& report) {
  utsname names{};
  ::uname(&names);
  nlohmann::json out;
  out["date"] = utcNow();
  out["machine"] = {{"cpu", machineCpu()},
                    {"cores", std::thread::hardware_concurrency()},
                    {"memory_mib", memTotalMiB()},
                    {"kernel", std::string(names.sysname) + " " + names.release}};
  out["kafka"] = report.kafka;
  out["timing"] = {{"warmup_s", report.timing.warmup_s}, {"measure_s", report.timing.measure_s}};
  out["scenarios"] = nlohmann::json::array();
  for (const ScenarioResult& r : report.scenarios) out["scenarios"].push_back(scenarioJson(r));
  out["cost_growth"] = {{"rate", report.growth_rate}, {"runs", nlohmann::json::array()}};
  for (const ScenarioResult& r : report.growth)
    out["cost_growth"]["runs"].push_back(scenarioJson(r));
  out["comparisons"] = nlohmann::json::array();
  for (const Comparison& c : comparisons(report.scenarios)) {
    out["comparisons"].push_back({{"id", c.engine->scenario.id()},
                                  {"mqtt_alone", c.mqtt_alone},
                                  {"kafka_alone", c.kafka_alone},
                                  {"ratio_to_slower", c.ratio()}});
  }
  if (report.outage_ran) {
    const OutageResult& o = report.outage;
    out["outage"] = {{"rate", o.rate},
                     {"before_s", o.before_s},
                     {"outage_s", o.outage_s},
                     {"after_s", o.after_s},
                     {"rss_kib", o.rss_kib},
                     {"rss_at_outage_start_kib", o.rss_at_outage_start_kib},
                     {"rss_max_during_outage_kib", o.rss_max_during_outage_kib},
                     {"rss_growth_second_half_kib", o.rss_growth_second_half_kib},
                     {"sent", o.sent},
                     {"in_kafka", o.in_kafka},
                     {"recovery_s", o.recovery_s},
                     {"error", o.error}};
  }
  out["targets"] = nlohmann::json::array();
  for (const Verdict& v : verdicts(report)) {
    out["targets"].push_back({{"target", v.target},
                              {"measured", v.measured},
                              {"met", v.met ? nlohmann::json(*v.met) : nlohmann::json()}});
  }
  return out;
}

}  // namespace dataflow::bench
