// Base64 decoding for what Kubernetes and JWTs carry: the standard alphabet and the URL-safe one
// (both accepted), padding optional, whitespace and line breaks ignored. Encoding in the standard
// alphabet with padding, as HTTP headers (Sec-WebSocket-Key) want it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dataflow {

// nullopt when `text` holds a character of neither alphabet.
std::optional<std::string> decodeBase64(std::string_view text);

// Standard alphabet, '=' padded, no line breaks.
std::string encodeBase64(std::string_view bytes);

}  // namespace dataflow
