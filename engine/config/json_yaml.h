// JSON <-> YAML conversion for generated documents (CRDs) and for tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace dataflow::config {

// Block-style YAML of `value`; strings that YAML would read as another type are quoted.
std::string toYaml(const nlohmann::json& value);

}  // namespace dataflow::config
