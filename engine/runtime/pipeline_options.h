// Turns a planned dataflow into the transform's PipelineOptions: the one place where manifest
// settings become transform settings.
#pragma once

#include <cstdint>

#include "engine/config/validate.h"
#include "engine/transform/options.h"

namespace dataflow::runtime {

transform::PipelineOptions pipelineOptions(const config::PlannedDataflow& planned,
                                           uint32_t instance_id);

}  // namespace dataflow::runtime
