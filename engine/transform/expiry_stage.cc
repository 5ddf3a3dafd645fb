#include "engine/transform/expiry_stage.h"

namespace dataflow::transform {

std::optional<uint32_t> remainingExpiry(uint32_t interval_seconds,
                                        std::chrono::steady_clock::time_point received_at,
                                        std::chrono::steady_clock::time_point now) {
  const int64_t waited =
      now > received_at
          ? std::chrono::duration_cast<std::chrono::seconds>(now - received_at).count()
          : 0;
  const int64_t remaining = static_cast<int64_t>(interval_seconds) - waited;
  if (remaining <= 0) return std::nullopt;
  return static_cast<uint32_t>(remaining);
}

Outcome ExpiryStage::apply(Message& message, StageContext& /*context*/) const {
  std::optional<uint32_t>& interval = message.mqtt.message_expiry_interval;
  if (!interval) return Outcome::Forward;
  std::optional<uint32_t> remaining =
      remainingExpiry(*interval, message.received_at, clock_.steadyNow());
  if (!remaining) {
    PipelineCounters::add(counters_.expired);
    return Outcome::DropExpired;
  }
  // Destinations that hold the message later apply the same rule again (message_expiry.h).
  message.expires_at = message.received_at + std::chrono::seconds(*interval);
  interval = remaining;
  return Outcome::Forward;
}

}  // namespace dataflow::transform
