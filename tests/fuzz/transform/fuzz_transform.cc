// libFuzzer entry point for the transform pipeline (both directions). Build with
// -DDATAFLOW_FUZZ=ON (clang); run e.g. `fuzz_transform -max_total_time=60 corpus/`.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/transform/fuzz_transform_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return dataflow::transform::fuzz::runOneInput(data, size);
}
