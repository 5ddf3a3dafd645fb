// murmur2 must hash exactly as the Java client (Utils.murmur2) so keyed records land where Java
// producers put them. Vectors: apache/kafka clients/src/test/java/org/apache/kafka/common/utils/
// UtilsTest.java testMurmur2 (commit f55581dc), and librdkafka src/rdmurmur2.c unittest_murmur2
// (`java_murmur2_results`, which it checks against the Java client).
#include "engine/core/murmur2.h"

#include <gtest/gtest.h>

#include <string>

namespace dataflow::transform {
namespace {

struct HashRow {
  std::string key;
  int32_t java_hash;
};

void PrintTo(const HashRow& row, std::ostream* os) { *os << '"' << row.key << '"'; }

class TransformMurmur2KafkaUtilsTest : public ::testing::TestWithParam<HashRow> {};
TEST_P(TransformMurmur2KafkaUtilsTest, MatchesJava) {
  EXPECT_EQ(murmur2(GetParam().key), GetParam().java_hash);
}
INSTANTIATE_TEST_SUITE_P(
    Rows, TransformMurmur2KafkaUtilsTest,
    ::testing::Values(HashRow{"21", -973932308}, HashRow{"foobar", -790332482},
                      HashRow{"a-little-bit-long-string", -985981536},
                      HashRow{"a-little-bit-longer-string", -1486304829},
                      HashRow{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
                      HashRow{"abc", 479470107}));

class TransformMurmur2Librdkafka : public ::testing::TestWithParam<HashRow> {};
TEST_P(TransformMurmur2Librdkafka, MatchesJava) {
  EXPECT_EQ(murmur2(GetParam().key), GetParam().java_hash);
}
INSTANTIATE_TEST_SUITE_P(
    Rows, TransformMurmur2Librdkafka,
    ::testing::Values(
        HashRow{"kafka", static_cast<int32_t>(0xd067cf64)},
        HashRow{"giberish123456789", static_cast<int32_t>(0x8f552b0c)},
        HashRow{"1234", static_cast<int32_t>(0x9fc97b14)},
        HashRow{"234", static_cast<int32_t>(0xe7c009ca)},
        HashRow{"34", static_cast<int32_t>(0x873930da)},
        HashRow{"4", static_cast<int32_t>(0x5a4b5ca1)},
        HashRow{"PreAmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0x78424f1c)},
        HashRow{"reAmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0x4a62b377)},
        HashRow{"eAmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0xe0e4e09e)},
        HashRow{"AmbleWillBeRemoved,ThePrePartThatIs", static_cast<int32_t>(0x62b8b43f)},
        HashRow{"", static_cast<int32_t>(0x106e08d9)}));

// Java: Utils.toPositive(Utils.murmur2(key)) % numPartitions, i.e. (hash & 0x7fffffff) % n.
TEST(TransformMurmur2, PartitionIsPositiveHashModuloCount) {
  // "21": -973932308 & 0x7fffffff = 1173551340.
  EXPECT_EQ(partitionForKey("21", 1), 0);
  EXPECT_EQ(partitionForKey("21", 3), 1173551340 % 3);
  EXPECT_EQ(partitionForKey("21", 7), 1173551340 % 7);
  // "abc": positive already.
  EXPECT_EQ(partitionForKey("abc", 6), 479470107 % 6);
  // librdkafka "kafka": 0xd067cf64 & 0x7fffffff = 1348980580 (its older test's expectation).
  EXPECT_EQ(partitionForKey("kafka", 12), 1348980580 % 12);
  // An empty key is a key: hashed, not spread.
  EXPECT_EQ(partitionForKey("", 10), (0x106e08d9 & 0x7fffffff) % 10);
}

TEST(TransformMurmur2, PartitionAlwaysInRange) {
  for (int32_t count : {1, 2, 3, 7, 64, 1000}) {
    for (int i = 0; i < 200; ++i) {
      const int32_t partition = partitionForKey("device-" + std::to_string(i), count);
      ASSERT_GE(partition, 0);
      ASSERT_LT(partition, count);
    }
  }
}

TEST(TransformMurmur2, HashesBytesNotCharacters) {
  // Bytes >= 0x80 are taken unsigned, as Java's `data[i] & 0xff`.
  EXPECT_NE(murmur2(std::string("\xff\xfe", 2)), murmur2(std::string("\x7f\x7e", 2)));
  EXPECT_EQ(murmur2(std::string("a\0b", 3)), murmur2(std::string("a\0b", 3)));
  EXPECT_NE(murmur2(std::string("a\0b", 3)), murmur2("ab"));
}

struct StaticRow {
  uint32_t ordinal;
  int32_t partitions;
  int32_t expected;
};
class TransformStaticPartition : public ::testing::TestWithParam<StaticRow> {};
TEST_P(TransformStaticPartition, OrdinalModuloCount) {
  EXPECT_EQ(staticPartition(GetParam().ordinal, GetParam().partitions), GetParam().expected);
}
INSTANTIATE_TEST_SUITE_P(Rows, TransformStaticPartition,
                         ::testing::Values(StaticRow{0, 1, 0}, StaticRow{0, 4, 0},
                                           StaticRow{3, 4, 3}, StaticRow{4, 4, 0},
                                           StaticRow{7, 3, 1}, StaticRow{5, 1, 0},
                                           StaticRow{4294967295u, 7, 3}));

}  // namespace
}  // namespace dataflow::transform
