// Reads manifests from files and folders into typed objects, collecting every problem.
#pragma once

#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "engine/config/diagnostics.h"
#include "engine/config/manifest.h"

namespace dataflow::config {

struct Manifests {
  std::vector<DataflowEndpoint> endpoints;
  std::vector<Dataflow> dataflows;
  std::vector<DataflowProfile> profiles;
  // Names of objects that were found but failed to parse, so that references to them are not
  // reported a second time as "not found".
  std::set<std::string> invalid_endpoints;
  std::set<std::string> invalid_profiles;
};

inline constexpr size_t kMaxManifestBytes = 8 * 1024 * 1024;

// The *.yaml and *.yml files under `folder`, recursively, sorted. Entries whose name starts with
// "." are skipped, folders included: editors' temporary files, and Kubernetes' timestamped
// `..2024_…` folder and `..data` link behind a mounted ConfigMap (whose visible entries already
// link to the same files). `ec` is set when the folder cannot be read.
std::vector<std::string> manifestFilesIn(const std::string& folder, std::error_code& ec);

// Loads every path: a file, or a folder read as manifestFilesIn() lists it.
// Problems (unreadable files, YAML syntax, schema violations) go to `diagnostics`.
void loadPaths(const std::vector<std::string>& paths, Manifests& out, Diagnostics& diagnostics);

// Loads the multi-document YAML `text` as if read from `file`. Never throws, whatever the bytes.
void loadText(const std::string& text, const std::string& file, Manifests& out,
              Diagnostics& diagnostics);

}  // namespace dataflow::config
