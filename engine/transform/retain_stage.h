// MQTT destination `retain: Never` (MQTT -> MQTT only): the destination publishes with the retain
// flag cleared. `Keep` needs no stage.
#pragma once

#include "engine/transform/stage.h"

namespace dataflow::transform {

class ClearRetainStage final : public Stage {
 public:
  std::string_view name() const override { return "clear-retain"; }
  Outcome apply(Message& message, StageContext& /*context*/) const override {
    message.retain = false;
    return Outcome::Forward;
  }
};

}  // namespace dataflow::transform
