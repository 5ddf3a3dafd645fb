// What a running dataflow was built from, as a comparable value: a reload restarts a dataflow
// only when this differs (or the content of the Secrets and ConfigMaps it reads does, which the
// Engine fingerprints separately).
#pragma once

#include <string>

#include "engine/config/validate.h"

namespace dataflow::runtime {

// A canonical text of the parsed manifests that shape `planned`: the Dataflow's spec, the spec
// of its source and destination endpoints (with their names) and the profile's instanceCount.
// Built from the parsed YAML with mapping keys sorted, so a comment, a quoting style, an
// indentation or a key order edit gives the same text; an added default written out gives a
// different one (a restart that was not needed, never a change missed). Metadata other than the
// names (labels, annotations, Kubernetes bookkeeping) is left out: it changes nothing at run time.
std::string dataflowModel(const config::PlannedDataflow& planned);

}  // namespace dataflow::runtime
