// Manifest settings that `dataflow run` accepts but does not act on. None is accepted in silence:
// the engine logs each one once at start, naming the object, the field as a YAML path, and why it
// has no effect.
#pragma once

#include <string>
#include <vector>

#include "engine/config/validate.h"

namespace dataflow::runtime {

// One line per ignored setting, `<kind> <name>: <yaml.path> is ignored: <why> (<file>:<line>)`.
// Pure: reads the plan only. Looks at the running set alone: the DataflowProfile named `profile`,
// its enabled dataflows and the endpoints they use; disabled dataflows, other profiles and unused
// endpoints are never mentioned.
//
// A setting counts only when it is written in the manifest: the YAML document kept in each
// object's Origin tells a written default (`compression: None`) from one the schema filled in,
// which the typed structs cannot. An endpoint setting is reported only when no running dataflow
// uses the endpoint in the role that reads it (producer settings act when any running dataflow
// writes to the endpoint). Settings the validator already warns about (partitionKeyProperty
// without partitionStrategy Property, a CA ConfigMap with TLS disabled) are not repeated.
// Order: the profile, then dataflows, then endpoints, each in manifest order.
std::vector<std::string> ignoredSettings(const config::Plan& plan, const std::string& profile);

}  // namespace dataflow::runtime
