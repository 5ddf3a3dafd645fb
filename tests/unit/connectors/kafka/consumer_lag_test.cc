// ConsumerLag: the per-partition lag read from librdkafka's statistics document.
#include "connectors/kafka/consumer_lag.h"

#include <gmock/gmock.h>

namespace dataflow::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A statistics document as librdkafka 2.0.2 writes it, reduced to the fields read.
std::string statistics(const std::string& partitions) {
  return R"({"name":"c#consumer-1","type":"consumer","topics":{"t":{"topic":"t","partitions":{)" +
         partitions + "}}}}";
}

std::string partition(int id, bool desired, int64_t lo, int64_t hi, int64_t committed,
                      int64_t consumer_lag) {
  return "\"" + std::to_string(id) + "\":{\"partition\":" + std::to_string(id) +
         ",\"desired\":" + (desired ? "true" : "false") + ",\"lo_offset\":" + std::to_string(lo) +
         ",\"hi_offset\":" + std::to_string(hi) + ",\"committed_offset\":" +
         std::to_string(committed) + ",\"consumer_lag\":" + std::to_string(consumer_lag) + "}";
}

TEST(ConsumerLag, CommittedPartitionsUseLibrdkafkasLagAndUncommittedOnesTheirStart) {
  ConsumerLag lag;
  lag.update(statistics(partition(1, true, 0, 40, 30, 10) + "," +
                        partition(0, true, 5, 25, -1001, -1) + "," +
                        partition(-1, false, -1, -1, -1001, -1)));
  EXPECT_THAT(lag.read(), ElementsAre(PartitionLag{"t", 0, 20}, PartitionLag{"t", 1, 10}));
}

TEST(ConsumerLag, PartitionsNotAssignedOrWithoutAKnownEndAreLeftOut) {
  ConsumerLag lag;
  lag.update(statistics(partition(0, false, 0, 40, 30, 10) + "," +
                        partition(1, true, -1, -1, -1001, -1)));
  EXPECT_THAT(lag.read(), IsEmpty());
}

TEST(ConsumerLag, ADocumentThatDoesNotParseKeepsTheLastReading) {
  ConsumerLag lag;
  lag.update(statistics(partition(0, true, 0, 4, 2, 2)));
  lag.update("{\"topics\":");
  EXPECT_THAT(lag.read(), ElementsAre(PartitionLag{"t", 0, 2}));
}

}  // namespace
}  // namespace dataflow::kafka
