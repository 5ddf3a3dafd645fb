// ClientStatistics: the per-partition lag and the connection counters read from librdkafka's
// statistics document.
#include "connectors/kafka/client_statistics.h"

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

TEST(ClientStatistics, CommittedPartitionsUseLibrdkafkasLagAndUncommittedOnesTheirStart) {
  ClientStatistics lag;
  lag.update(statistics(partition(1, true, 0, 40, 30, 10) + "," +
                        partition(0, true, 5, 25, -1001, -1) + "," +
                        partition(-1, false, -1, -1, -1001, -1)));
  EXPECT_THAT(lag.lag(), ElementsAre(PartitionLag{"t", 0, 20}, PartitionLag{"t", 1, 10}));
}

TEST(ClientStatistics, PartitionsNotAssignedOrWithoutAKnownEndAreLeftOut) {
  ClientStatistics lag;
  lag.update(statistics(partition(0, false, 0, 40, 30, 10) + "," +
                        partition(1, true, -1, -1, -1001, -1)));
  EXPECT_THAT(lag.lag(), IsEmpty());
}

TEST(ClientStatistics, ADocumentThatDoesNotParseKeepsTheLastReading) {
  ClientStatistics lag;
  lag.update(statistics(partition(0, true, 0, 4, 2, 2)));
  lag.update("{\"topics\":");
  EXPECT_THAT(lag.lag(), ElementsAre(PartitionLag{"t", 0, 2}));
}

// The brokers object as librdkafka 2.0.2 writes it, reduced to the fields read.
std::string brokers(uint64_t connects, uint64_t disconnects, uint64_t retries) {
  auto broker = [&](const char* name, const char* source, uint64_t factor) {
    return "\"" + std::string(name) + "\":{\"name\":\"" + name + "\",\"source\":\"" + source +
           "\",\"connects\":" + std::to_string(connects * factor) +
           ",\"disconnects\":" + std::to_string(disconnects * factor) +
           ",\"txretries\":" + std::to_string(retries * factor) + "}";
  };
  return R"({"name":"p#producer-1","type":"producer","brokers":{)" +
         broker("localhost:9092/bootstrap", "configured", 1) + "," +
         broker("localhost:9093/2", "learned", 2) + "," +
         broker("GroupCoordinator", "logical", 0) + "," +
         // An internal broker has no connection: whatever it says is not counted.
         broker(":0/internal", "internal", 100) + "}}";
}

TEST(ClientStatistics, ConnectionCountersAreSummedOverTheBrokersThatConnect) {
  ClientStatistics statistics;
  statistics.update(brokers(2, 1, 5));
  ConnectionHealth health;
  health.connection_attempts = 1;  // added to, not replaced
  statistics.addCounters(health);
  EXPECT_EQ(health.connection_attempts, 1u + 2 + 4);
  EXPECT_EQ(health.disconnects, 1u + 2);
  EXPECT_EQ(health.request_retries, 5u + 10);
}

TEST(ClientStatistics, AReplacedClientsCountsAreKeptAndTheNewOnesAdded) {
  ClientStatistics statistics;
  statistics.update(brokers(3, 1, 2));
  statistics.clientReplaced();
  ConnectionHealth between;
  statistics.addCounters(between);
  EXPECT_EQ(between.connection_attempts, 9u);
  statistics.update(brokers(1, 0, 0));  // the new instance counts from zero
  ConnectionHealth after;
  statistics.addCounters(after);
  EXPECT_EQ(after.connection_attempts, 9u + 3);
  EXPECT_EQ(after.disconnects, 3u);
  EXPECT_EQ(after.request_retries, 6u);
}

}  // namespace
}  // namespace dataflow::kafka
