// libFuzzer target: arbitrary bytes as a manifest file. The loader and validator must never
// crash, hang or throw, and every diagnostic must carry the file name and a sane position.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/config/loader.h"
#include "engine/config/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dataflow::config;
  std::string text(reinterpret_cast<const char*>(data), size);
  Diagnostics diagnostics;
  Manifests manifests;
  loadText(text, "fuzz.yaml", manifests, diagnostics);
  Plan plan = validate(std::move(manifests), ValidateOptions{}, diagnostics);
  for (const Diagnostic& d : diagnostics.items()) {
    if (d.file != "fuzz.yaml" || d.line < 0 || d.column < 0 || d.message.empty()) std::abort();
    (void)d.format();
  }
  for (const PlannedDataflow& p : plan.dataflows) {
    if (p.source == nullptr || p.destination == nullptr || p.profile == nullptr) std::abort();
  }
  return 0;
}
