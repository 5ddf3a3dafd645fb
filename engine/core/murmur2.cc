#include "engine/core/murmur2.h"

namespace dataflow {

int32_t murmur2(std::string_view key) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const auto length = static_cast<uint32_t>(key.size());
  uint32_t h = kSeed ^ length;
  const size_t whole_words = key.size() / 4;
  for (size_t i = 0; i < whole_words; ++i) {
    const unsigned char* w = data + i * 4;
    uint32_t k = static_cast<uint32_t>(w[0]) | (static_cast<uint32_t>(w[1]) << 8) |
                 (static_cast<uint32_t>(w[2]) << 16) | (static_cast<uint32_t>(w[3]) << 24);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const unsigned char* tail = data + whole_words * 4;
  switch (key.size() % 4) {
    case 3:
      h ^= static_cast<uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= tail[0];
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t partitionForKey(std::string_view key, int32_t partition_count) {
  return static_cast<int32_t>((static_cast<uint32_t>(murmur2(key)) & 0x7fffffffU) %
                              static_cast<uint32_t>(partition_count));
}

int32_t staticPartition(uint32_t instance_ordinal, int32_t partition_count) {
  return static_cast<int32_t>(instance_ordinal % static_cast<uint32_t>(partition_count));
}

}  // namespace dataflow
