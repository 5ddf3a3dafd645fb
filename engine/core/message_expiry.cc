#include "engine/core/message_expiry.h"

#include <algorithm>
#include <string>

#include "engine/core/property_names.h"

namespace dataflow {

std::optional<uint32_t> remainingSeconds(std::chrono::steady_clock::time_point expires_at,
                                         std::chrono::steady_clock::time_point now) {
  if (now >= expires_at) return std::nullopt;
  const auto left = expires_at - now;
  const auto whole = std::chrono::duration_cast<std::chrono::seconds>(left);
  const int64_t seconds = whole.count() + (whole < left ? 1 : 0);
  return static_cast<uint32_t>(std::min<int64_t>(seconds, UINT32_MAX));
}

bool refreshExpiry(Message& message, std::chrono::steady_clock::time_point now) {
  if (!message.expires_at) return true;
  const std::optional<uint32_t> remaining = remainingSeconds(*message.expires_at, now);
  if (!remaining) return false;
  if (message.mqtt.message_expiry_interval) {
    message.mqtt.message_expiry_interval = *remaining;
    return true;  // an MQTT message: a user property of that name is the publisher's, not ours
  }
  for (Property& property : message.properties) {
    if (property.name == kMessageExpiryIntervalHeader) {
      property.value = std::to_string(*remaining);
      break;
    }
  }
  return true;
}

}  // namespace dataflow
