// Where a command reads its manifests from: the paths, and the folders of mounted Secrets and
// ConfigMaps. Shared by `validate` and `run`, so both load and check manifests the same way.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine/config/diagnostics.h"
#include "engine/config/mounted_files.h"
#include "engine/config/validate.h"

namespace dataflow::cli {

struct ManifestSources {
  std::vector<std::string> paths;
  std::string secrets_dir;     // empty: not given
  std::string configmaps_dir;  // empty: not given
  std::string sat_token_dir = config::kDefaultTokenDirectory;

  // Registers --secrets-dir and --configmaps-dir on `command`.
  void addMountOptions(CLI::App& command);
  // Registers --sat-token-dir (only `run` reads tokens; they are read at each connect).
  void addTokenDirOption(CLI::App& command);
  config::MountedFiles mountedFiles() const;
  // Loads every path and validates the result; `diagnostics` gets every problem, sorted.
  config::Plan loadPlan(config::Diagnostics& diagnostics) const;
};

// "1 error", "3 errors".
std::string countOf(size_t n, const char* what);

}  // namespace dataflow::cli
