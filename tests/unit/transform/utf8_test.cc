// MQTT v5 string rules (§1.5.4): table of boundary cases, then exhaustive checks against a
// straightforward reference decoder.
#include "engine/core/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "tests/unit/transform/test_support.h"

namespace dataflow::transform {
namespace {

struct Utf8Row {
  const char* label;
  std::string bytes;
  bool valid;
};

void PrintTo(const Utf8Row& row, std::ostream* os) {
  *os << row.label << " \"" << escapeBytes(row.bytes) << "\"";
}

class TransformUtf8Table : public ::testing::TestWithParam<Utf8Row> {};

TEST_P(TransformUtf8Table, MatchesMqttRules) {
  const Utf8Row& row = GetParam();
  EXPECT_EQ(isValidMqttUtf8(row.bytes), row.valid);
  EXPECT_EQ(isValidMqttString(row.bytes), row.valid);
  // The same bytes past the 16-byte fast path, and at an odd offset inside ASCII.
  std::string padded = std::string(21, 'a') + row.bytes + std::string(19, 'z');
  EXPECT_EQ(isValidMqttUtf8(padded), row.valid);
}

using namespace std::string_literals;

INSTANTIATE_TEST_SUITE_P(
    Rows, TransformUtf8Table,
    ::testing::Values(
        Utf8Row{"empty", "", true}, Utf8Row{"ascii", "hello", true},
        Utf8Row{"U+0000 alone", "\0"s, false}, Utf8Row{"U+0000 inside", "a\0b"s, false},
        Utf8Row{"U+0001", "\x01", true}, Utf8Row{"U+007F", "\x7f", true},
        Utf8Row{"U+0080", "\xc2\x80", true}, Utf8Row{"U+07FF", "\xdf\xbf", true},
        Utf8Row{"U+0800", "\xe0\xa0\x80", true}, Utf8Row{"U+D7FF", "\xed\x9f\xbf", true},
        Utf8Row{"U+D800 surrogate", "\xed\xa0\x80", false},
        Utf8Row{"U+DBFF surrogate", "\xed\xaf\xbf", false},
        Utf8Row{"U+DC00 surrogate", "\xed\xb0\x80", false},
        Utf8Row{"U+DFFF surrogate (Paho misses it)", "\xed\xbf\xbf", false},
        Utf8Row{"U+E000", "\xee\x80\x80", true}, Utf8Row{"U+FEFF BOM kept", "\xef\xbb\xbfx", true},
        Utf8Row{"U+FFFE non-character allowed", "\xef\xbf\xbe", true},
        Utf8Row{"U+FFFF", "\xef\xbf\xbf", true}, Utf8Row{"U+10000", "\xf0\x90\x80\x80", true},
        Utf8Row{"U+10FFFF", "\xf4\x8f\xbf\xbf", true},
        Utf8Row{"U+110000 above range", "\xf4\x90\x80\x80", false},
        Utf8Row{"F5 lead", "\xf5\x80\x80\x80", false}, Utf8Row{"FF byte", "\xff", false},
        Utf8Row{"FE byte", "\xfe", false}, Utf8Row{"overlong U+0000 (C0 80)", "\xc0\x80", false},
        Utf8Row{"overlong U+007F (C1 BF)", "\xc1\xbf", false},
        Utf8Row{"overlong 3-byte U+007F", "\xe0\x81\xbf", false},
        Utf8Row{"overlong 3-byte U+07FF", "\xe0\x9f\xbf", false},
        Utf8Row{"overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf", false},
        Utf8Row{"overlong 4-byte U+0000", "\xf0\x80\x80\x80", false},
        Utf8Row{"stray continuation", "\x80", false},
        Utf8Row{"continuation after ascii", "a\xbf", false},
        Utf8Row{"truncated 2-byte", "\xc3", false}, Utf8Row{"truncated 3-byte", "\xe2\x82", false},
        Utf8Row{"truncated 4-byte", "\xf0\x9f\x98", false},
        Utf8Row{"bad second byte", "\xc3\x28", false},
        Utf8Row{"bad third byte", "\xe2\x82\x28", false},
        Utf8Row{"bad fourth byte", "\xf0\x9f\x98\x28", false},
        Utf8Row{"emoji", "\xf0\x9f\x98\x80", true},
        Utf8Row{"Event Hubs AMQP string \\xa1\\x03bar",
                "\xa1\x03"
                "bar",
                false},
        Utf8Row{"Event Hubs AMQP double 11.9", "\x82\x40\x27\xcc\xcc\xcc\xcc\xcc\xcd", false},
        Utf8Row{"CESU-8 surrogate pair", "\xed\xa0\xbd\xed\xb8\x80", false},
        Utf8Row{"mixed scripts", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xe6\x97\xa5",
                true}));

TEST(TransformUtf8, LengthLimitIs65535Bytes) {
  const std::string at_limit(kMaxMqttStringBytes, 'x');
  const std::string over_limit(kMaxMqttStringBytes + 1, 'x');
  EXPECT_TRUE(isValidMqttString(at_limit));
  EXPECT_FALSE(isValidMqttString(over_limit));
  EXPECT_TRUE(isValidMqttUtf8(over_limit));  // the encoding itself is fine
}

TEST(TransformUtf8, NulFoundAtEveryPositionOfTheFastPath) {
  for (size_t position = 0; position < 40; ++position) {
    std::string text(40, 'q');
    text[position] = '\0';
    EXPECT_FALSE(isValidMqttUtf8(text)) << position;
    text[position] = '\x80';
    EXPECT_FALSE(isValidMqttUtf8(text)) << position;
    text[position] = '\x7f';
    EXPECT_TRUE(isValidMqttUtf8(text)) << position;
  }
}

// Reference: decode per RFC 3629 literally, then apply the MQTT exclusions.
bool referenceValid(const std::string& bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    int length;
    uint32_t code_point;
    if (b0 < 0x80) {
      length = 1, code_point = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      length = 2, code_point = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      length = 3, code_point = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      length = 4, code_point = b0 & 0x07;
    } else {
      return false;
    }
    if (i + length > bytes.size()) return false;
    for (int k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(bytes[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (b & 0x3F);
    }
    const uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < minimum[length]) return false;                  // overlong
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;  // surrogate
    if (code_point > 0x10FFFF || code_point == 0) return false;
    i += length;
  }
  return true;
}

std::string encode(uint32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

TEST(TransformUtf8, EveryCodePointEncodedShortest) {
  for (uint32_t code_point = 0; code_point <= 0x10FFFF; ++code_point) {
    const bool expected = code_point != 0 && (code_point < 0xD800 || code_point > 0xDFFF);
    ASSERT_EQ(isValidMqttUtf8(encode(code_point)), expected) << std::hex << code_point;
  }
}

TEST(TransformUtf8, EveryTwoByteSequenceMatchesReference) {
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string bytes{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_EQ(isValidMqttUtf8(bytes), referenceValid(bytes)) << escapeBytes(bytes);
    }
  }
}

TEST(TransformUtf8, EveryThreeByteSequenceWithMultiByteLeadMatchesReference) {
  for (int a = 0xC0; a < 256; ++a) {
    for (int b = 0x70; b < 0xD0; ++b) {
      for (int c = 0x70; c < 0xD0; ++c) {
        const std::string bytes{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        ASSERT_EQ(isValidMqttUtf8(bytes), referenceValid(bytes)) << escapeBytes(bytes);
      }
    }
  }
}

TEST(TransformUtf8, RandomStringsMatchReference) {
  std::mt19937 random(20240601);
  // Bytes drawn mostly from the interesting region, in strings long enough to use the fast path.
  // (Built from an array, not `"..."s + '\0'`: GCC 12 reports a false -Warray-bounds inside
  // libstdc++ for that operator+ when it inlines it.)
  static constexpr char kAlphabet[] =
      "abc\x01\x7f\x80\xbf\xc2\xdf\xe0\xed\xef\xf0\xf4\xa0\x9f\x90\x8f\xff\0";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);  // with the explicit NUL
  for (int n = 0; n < 100000; ++n) {
    std::string bytes;
    const size_t length = random() % 40;
    for (size_t i = 0; i < length; ++i) {
      bytes += random() % 3 == 0 ? alphabet[random() % alphabet.size()] : 'a';
    }
    ASSERT_EQ(isValidMqttUtf8(bytes), referenceValid(bytes)) << escapeBytes(bytes);
  }
}

}  // namespace
}  // namespace dataflow::transform
