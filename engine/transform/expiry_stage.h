// Message Expiry Interval (MQTT v5 §3.3.2.3.3, AIO "The Message Expiry Interval property"): the
// destination sees the interval minus the whole seconds the message waited since it was received;
// a message whose remaining interval is <= 0 is dropped as expired.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "engine/core/clock.h"
#include "engine/transform/counters.h"
#include "engine/transform/stage.h"

namespace dataflow::transform {

// interval - whole seconds between `received_at` and `now` (a negative wait counts as 0), or
// nullopt when that is <= 0. An interval of 0 is therefore always expired: AIO's rule is "<= 0
// is not emitted", and MQTT says an absent property, not 0, means "never expires".
std::optional<uint32_t> remainingExpiry(uint32_t interval_seconds,
                                        std::chrono::steady_clock::time_point received_at,
                                        std::chrono::steady_clock::time_point now);

// Rewrites Message::mqtt.message_expiry_interval and sets Message::expires_at, or drops with
// Outcome::DropExpired. Messages without the property pass untouched. `clock` and `counters` outlive the stage.
class ExpiryStage final : public Stage {
 public:
  ExpiryStage(const Clock& clock, PipelineCounters& counters)
      : clock_(clock), counters_(counters) {}
  std::string_view name() const override { return "expiry"; }
  Outcome apply(Message& message, StageContext& context) const override;

 private:
  const Clock& clock_;
  PipelineCounters& counters_;
};

}  // namespace dataflow::transform
