#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/cli/commands.h"
#include "engine/config/loader.h"
#include "engine/config/validate.h"

namespace dataflow::cli {

namespace {

struct ValidateArgs {
  std::vector<std::string> paths;
  std::string secrets_dir;
  std::string configmaps_dir;
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
  config::Manifests manifests;
  config::loadPaths(args.paths, manifests, diagnostics);
  config::ValidateOptions options;
  if (!args.secrets_dir.empty()) options.secrets_dir = args.secrets_dir;
  if (!args.configmaps_dir.empty()) options.configmaps_dir = args.configmaps_dir;
  config::Plan plan = config::validate(std::move(manifests), options, diagnostics);
  diagnostics.sort();
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
    std::cerr << diagnostics.errorCount() << " error" << (diagnostics.errorCount() == 1 ? "" : "s")
              << "\n";
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
  auto count = [](size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  std::cout << "valid: " << count(m.dataflows.size(), "dataflow") << ", "
            << count(m.endpoints.size(), "endpoint") << ", " << count(profiles, "profile")
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
  cmd->add_option("paths", args->paths, "Manifest files, or folders read recursively for *.yaml")
      ->required();
  cmd->add_option("--secrets-dir", args->secrets_dir,
                  "Folder of mounted secrets (DIR/<secret>/<key>); checks secretRef")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--configmaps-dir", args->configmaps_dir,
                  "Folder of mounted ConfigMaps (DIR/<configmap>/<key>); checks CA references")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--output", args->output, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  return [args]() { return runValidate(*args); };
}

}  // namespace dataflow::cli
