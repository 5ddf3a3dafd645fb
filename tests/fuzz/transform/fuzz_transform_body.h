// The transform fuzz target's body, shared by the libFuzzer binary (fuzz_transform.cc) and the
// unit test that replays random inputs in the normal build (tests/unit/transform).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dataflow::transform::fuzz {

// Decodes `data` into pipeline options and a source message (headers / user properties, key,
// built-ins, topic), runs it through the pipeline and checks the invariants: no crash; on an
// MQTT destination every string obeys the MQTT string rules; headers keep their order; the fast
// UTF-8 validator agrees with a naive reference decoder. Aborts on a violation. Returns 0.
int runOneInput(const uint8_t* data, size_t size);

// Called with a description of a violated invariant. The default prints it and aborts (what
// libFuzzer needs); a unit test may install one that throws, to report through gtest instead.
// The handler must not return.
using ViolationHandler = void (*)(const char* what);
void setViolationHandler(ViolationHandler handler);

}  // namespace dataflow::transform::fuzz
