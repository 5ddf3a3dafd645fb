// The Message Expiry Interval rule wherever a message waits: "a message that has expired before it
// is emitted is not emitted, and one that is emitted carries the remaining interval" (AIO, MQTT v5
// §3.3.2.3.3). The expiry stage applies it when a message is transformed; a destination applies it
// again before every (re)send of a message it held. Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "engine/core/message.h"

namespace dataflow {

// The whole seconds left until `expires_at`, rounded up, or nullopt when `now` is at or past it.
// With expires_at = received_at + interval this is exactly interval - whole seconds waited.
std::optional<uint32_t> remainingSeconds(std::chrono::steady_clock::time_point expires_at,
                                         std::chrono::steady_clock::time_point now);

// Applies the rule to `message` at `now`. Returns false when it has expired (the caller drops it,
// counted as expired). Otherwise rewrites the interval it carries to what remains: the MQTT
// property (mqtt.message_expiry_interval) when set; otherwise the value of the first "Message
// Expiry Interval" header, which the MQTT->Kafka stage made from the property (it removes user
// properties of that name, so the first one is the built-in). A message without
// expires_at is untouched and returns true.
bool refreshExpiry(Message& message, std::chrono::steady_clock::time_point now);

}  // namespace dataflow
