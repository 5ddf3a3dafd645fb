#include "engine/core/utf8.h"

#include <cstdint>
#include <cstring>

namespace dataflow {

namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// True when all 8 bytes are in 0x01..0x7F. A byte with its high bit set shows in `v`; a zero byte
// (the lowest one, with every byte below it non-zero) borrows to 0xFF in `v - kOnes`.
inline bool allAsciiNonZero(uint64_t v) { return ((v | (v - kOnes)) & kHighBits) == 0; }

inline bool isContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

// Decodes by the well-formed byte sequence table of Unicode §3.9 (Table 3-7), which rejects
// overlong forms, surrogates and code points above U+10FFFF by the ranges of the second byte.
bool isValidMqttUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* const end = p + text.size();
  while (p < end) {
    // Runs of ASCII: 8 bytes at a time, then byte by byte up to the next non-ASCII byte.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if (!allAsciiNonZero(word)) break;
      p += 8;
    }
    while (p < end && *p < 0x80) {
      if (*p == 0) return false;
      ++p;
    }
    if (p == end) return true;
    const unsigned char lead = *p;
    if (lead < 0xC2) return false;  // stray continuation byte, or overlong 2-byte form
    if (lead < 0xE0) {
      if (end - p < 2 || !isContinuation(p[1])) return false;
      p += 2;
      continue;
    }
    if (lead < 0xF0) {
      if (end - p < 3) return false;
      const unsigned char second = p[1];
      const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;   // overlong below U+0800
      const unsigned char high = lead == 0xED ? 0x9F : 0xBF;  // surrogates U+D800..U+DFFF
      if (second < low || second > high || !isContinuation(p[2])) return false;
      p += 3;
      continue;
    }
    if (lead < 0xF5) {
      if (end - p < 4) return false;
      const unsigned char second = p[1];
      const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;   // overlong below U+10000
      const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;  // above U+10FFFF
      if (second < low || second > high || !isContinuation(p[2]) || !isContinuation(p[3])) {
        return false;
      }
      p += 4;
      continue;
    }
    return false;  // 0xF5..0xFF never appear in UTF-8
  }
  return true;
}

}  // namespace dataflow
