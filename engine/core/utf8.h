// MQTT v5 string rules (§1.5.4, §1.5.7): a UTF-8 Encoded String is well-formed UTF-8 per RFC 3629,
// encodes no surrogate (U+D800..U+DFFF), no U+0000, nothing above U+10FFFF, and is at most 65,535
// bytes long. Overlong forms are ill-formed. Control characters and non-characters are allowed
// (the spec says SHOULD NOT, a receiver MAY reject; we forward them).
//
// Standalone on purpose: no dependency beyond the standard library, so the config validator can
// reuse it. Thread-safe, allocation-free.
#pragma once

#include <cstddef>
#include <string_view>

namespace dataflow {

// Largest number of bytes an MQTT UTF-8 string, binary data field or string pair element may hold.
inline constexpr size_t kMaxMqttStringBytes = 65'535;

// True when `text` obeys the MQTT encoding rules, whatever its length.
bool isValidMqttUtf8(std::string_view text);

// True when `text` is a valid MQTT UTF-8 Encoded String: the encoding rules above and at most
// kMaxMqttStringBytes bytes.
inline bool isValidMqttString(std::string_view text) {
  return text.size() <= kMaxMqttStringBytes && isValidMqttUtf8(text);
}

}  // namespace dataflow
