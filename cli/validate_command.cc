#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/manifest_sources.h"

namespace dataflow::cli {

namespace {

struct ValidateArgs {
  ManifestSources sources;
  std::string output = "text";
};

std::string joinTopics(const std::vector<std::string>& topics) {
  std::string out;
  for (size_t i = 0; i < topics.size(); ++i) out += (i ? ", " : "") + topics[i];
  return out;
}

nlohmann::json summaryJson(const config::PlannedDataflow& p) {
  return {{"name", p.dataflow->metadata.name},
          {"profile", p.profile->metadata.name},
          {"enabled", p.enabled},
          {"direction", config::toString(p.direction)},
          {"source", {{"endpoint", p.source->metadata.name}, {"topics", p.source_topics}}},
          {"destination",
           {{"endpoint", p.destination->metadata.name}, {"topic", p.destination_topic.text()}}}};
}

int runValidate(const ValidateArgs& args) {
  config::Diagnostics diagnostics;
  config::Plan plan = args.sources.loadPlan(diagnostics);
  const bool valid = !diagnostics.hasErrors();

  if (args.output == "json") {
    nlohmann::json out{{"valid", valid}, {"diagnostics", diagnostics.toJson()}};
    out["dataflows"] = nlohmann::json::array();
    if (valid) {
      for (const auto& p : plan.dataflows) out["dataflows"].push_back(summaryJson(p));
    }
    std::cout << out.dump(2) << "\n";
    return valid ? kExitOk : kExitInvalid;
  }
  for (const config::Diagnostic& d : diagnostics.items()) std::cerr << d.format() << "\n";
  if (!valid) {
    std::cerr << countOf(diagnostics.errorCount(), "error") << "\n";
    return kExitInvalid;
  }
  for (const auto& p : plan.dataflows) {
    std::cout << p.dataflow->metadata.name << "  profile=" << p.profile->metadata.name << "  "
              << p.source->metadata.name << "[" << joinTopics(p.source_topics) << "] -> "
              << p.destination->metadata.name << "[" << p.destination_topic.text() << "]  "
              << config::toString(p.direction) << (p.enabled ? "" : "  (disabled)") << "\n";
  }
  const auto& m = plan.manifests;
  size_t profiles = 0;
  for (const auto& p : m.profiles) profiles += p.origin.implicit ? 0 : 1;
  std::cout << "valid: " << countOf(m.dataflows.size(), "dataflow") << ", "
            << countOf(m.endpoints.size(), "endpoint") << ", " << countOf(profiles, "profile")
            << (profiles < m.profiles.size() ? " (and the implicit default profile)" : "") << "\n";
  return kExitOk;
}

}  // namespace

Command addValidateCommand(CLI::App& app) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Check manifests and print one line per dataflow. Exit 0 when valid, 1 with every error "
      "as file:line:column: yaml.path: message, 2 on bad usage.");
  cmd->add_option("paths", args->sources.paths,
                  "Manifest files, or folders read recursively for *.yaml")
      ->required();
  args->sources.addMountOptions(*cmd);
  cmd->add_option("--output", args->output, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  return [args]() { return runValidate(*args); };
}

}  // namespace dataflow::cli
