// The benchmark's output: a table on stdout and the same figures, with the targets' verdicts and
// the machine they were taken on, as JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/harness/scenarios.h"

namespace dataflow::bench {

struct RunReport {
  std::vector<ScenarioResult> scenarios;  // baselines and the engine in both directions
  std::vector<ScenarioResult> growth;     // cost growth: dataflows and filters, fixed rate
  double growth_rate = 0;
  OutageResult outage;
  bool outage_ran = false;
  std::string kafka;  // "mock" or the bootstrap servers
  Timing timing;
};

// The column names of printProgress()'s lines.
void printHeader();
// One line per phase, as the scenario completes.
void printProgress(const ScenarioResult& result);
// The tables (all phases, engine vs baselines, cost growth, outage) and the targets.
void printReport(const RunReport& report);
nlohmann::json toJson(const RunReport& report);

// `--repeat N`: the same run N times (rounds). Each ratio (engine / slower baseline, CPU per
// message against one dataflow) is computed within its round, then summarised across rounds as
// median and range, with the rounds' values.
void printRepeats(const std::vector<RunReport>& rounds);
nlohmann::json repeatsJson(const std::vector<RunReport>& rounds);

}  // namespace dataflow::bench
