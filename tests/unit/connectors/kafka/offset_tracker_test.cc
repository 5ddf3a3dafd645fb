// OffsetTracker: what the Kafka source may commit, whatever order acknowledgements arrive in.
#include "connectors/kafka/offset_tracker.h"

#include <gtest/gtest.h>

namespace dataflow::kafka {
namespace {

constexpr TopicPartition kP0{0, 0};
constexpr TopicPartition kP1{0, 1};
constexpr TopicPartition kOther{1, 0};

class OffsetTrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    generation_ = tracker_.beginGeneration();
    tracker_.addPartition(kP0);
    tracker_.addPartition(kP1);
  }
  void receive(const TopicPartition& tp, int64_t first, int64_t last) {
    for (int64_t offset = first; offset <= last; ++offset) {
      ASSERT_EQ(tracker_.received(tp, offset), generation_) << offset;
    }
  }
  bool ack(const TopicPartition& tp, int64_t offset) {
    return tracker_.acknowledge(generation_, tp, offset);
  }

  OffsetTracker tracker_;
  uint64_t generation_ = 0;
};

TEST_F(OffsetTrackerTest, NothingIsCommittableBeforeTheFirstRecord) {
  EXPECT_EQ(tracker_.committable(kP0), std::nullopt);
  EXPECT_TRUE(tracker_.uncommitted().empty());
  EXPECT_TRUE(tracker_.settled(kP0));
}

TEST_F(OffsetTrackerTest, InOrderAcksAdvanceTheCommitOneByOne) {
  receive(kP0, 10, 12);
  EXPECT_EQ(tracker_.committable(kP0), 10);
  EXPECT_TRUE(ack(kP0, 10));
  EXPECT_EQ(tracker_.committable(kP0), 11);
  EXPECT_TRUE(ack(kP0, 11));
  EXPECT_TRUE(ack(kP0, 12));
  EXPECT_EQ(tracker_.committable(kP0), 13);  // the next offset to consume
  EXPECT_TRUE(tracker_.settled(kP0));
}

TEST_F(OffsetTrackerTest, OutOfOrderAcksCommitOnlyTheContiguousPrefix) {
  receive(kP0, 0, 4);
  EXPECT_TRUE(ack(kP0, 3));
  EXPECT_TRUE(ack(kP0, 1));
  EXPECT_EQ(tracker_.committable(kP0), 0);  // 0 is still outstanding
  EXPECT_TRUE(ack(kP0, 0));
  EXPECT_EQ(tracker_.committable(kP0), 2);  // 2 is still outstanding
  EXPECT_TRUE(ack(kP0, 4));
  EXPECT_EQ(tracker_.committable(kP0), 2);
  EXPECT_TRUE(ack(kP0, 2));
  EXPECT_EQ(tracker_.committable(kP0), 5);
}

TEST_F(OffsetTrackerTest, GapsInOffsetsAreNotWaitedFor) {
  // Compaction or transaction markers: offsets 1, 2 and 5 never arrive.
  receive(kP0, 0, 0);
  receive(kP0, 3, 4);
  receive(kP0, 6, 6);
  EXPECT_TRUE(ack(kP0, 0));
  EXPECT_EQ(tracker_.committable(kP0), 3);
  EXPECT_TRUE(ack(kP0, 4));
  EXPECT_TRUE(ack(kP0, 3));
  EXPECT_EQ(tracker_.committable(kP0), 6);
  EXPECT_TRUE(ack(kP0, 6));
  EXPECT_EQ(tracker_.committable(kP0), 7);
}

TEST_F(OffsetTrackerTest, DuplicateAndUnknownAcksAreIgnored) {
  receive(kP0, 0, 1);
  EXPECT_TRUE(ack(kP0, 0));
  EXPECT_FALSE(ack(kP0, 0));     // duplicate
  EXPECT_FALSE(ack(kP0, 7));     // never received
  EXPECT_FALSE(ack(kOther, 0));  // partition not assigned
  EXPECT_EQ(tracker_.committable(kP0), 1);
}

TEST_F(OffsetTrackerTest, DuplicateOrOlderRecordsAreRefused) {
  receive(kP0, 5, 6);
  EXPECT_EQ(tracker_.received(kP0, 6), std::nullopt);
  EXPECT_EQ(tracker_.received(kP0, 2), std::nullopt);
  EXPECT_EQ(tracker_.received(kOther, 0), std::nullopt);
  EXPECT_EQ(tracker_.outstanding(), 2u);
}

TEST_F(OffsetTrackerTest, PartitionsAreIndependent) {
  receive(kP0, 0, 1);
  receive(kP1, 100, 101);
  EXPECT_TRUE(ack(kP1, 100));
  EXPECT_TRUE(ack(kP1, 101));
  EXPECT_EQ(tracker_.committable(kP0), 0);
  EXPECT_EQ(tracker_.committable(kP1), 102);
  const std::vector<CommitPosition> expected = {{kP0, 0}, {kP1, 102}};
  EXPECT_EQ(tracker_.uncommitted(), expected);
}

TEST_F(OffsetTrackerTest, UncommittedListsOnlyPositionsBeyondTheConfirmedCommit) {
  receive(kP0, 0, 2);
  receive(kP1, 0, 0);
  EXPECT_TRUE(ack(kP0, 0));
  EXPECT_TRUE(ack(kP1, 0));
  tracker_.committed(kP0, 1);
  tracker_.committed(kP1, 1);
  EXPECT_TRUE(tracker_.uncommitted().empty());  // nothing changed since
  tracker_.committed(kP0, 0);                   // a late answer to an older commit
  EXPECT_TRUE(tracker_.uncommitted().empty());
  EXPECT_TRUE(ack(kP0, 1));
  const std::vector<CommitPosition> expected = {{kP0, 2}};
  EXPECT_EQ(tracker_.uncommitted(), expected);
  const std::vector<TopicPartition> only = {kP1};
  EXPECT_TRUE(tracker_.uncommitted(&only).empty());
}

TEST_F(OffsetTrackerTest, AbandonedRecordsHoldTheCommitBackAndAreNotWaitedFor) {
  receive(kP0, 0, 5);  // 0..2 handed to the handler, 3..5 left in the hand-off
  tracker_.abandonFrom(kP0, 3);
  EXPECT_FALSE(tracker_.settled(kP0));
  EXPECT_TRUE(ack(kP0, 2));
  EXPECT_TRUE(ack(kP0, 0));
  EXPECT_EQ(tracker_.committable(kP0), 1);
  EXPECT_TRUE(ack(kP0, 1));
  EXPECT_TRUE(tracker_.settled(kP0));
  EXPECT_EQ(tracker_.committable(kP0), 3);  // not 6: 3..5 are replayed by the next owner
  EXPECT_FALSE(ack(kP0, 4));
  EXPECT_EQ(tracker_.received(kP0, 6), std::nullopt);  // nothing more after abandoning
}

TEST_F(OffsetTrackerTest, AbandoningEverythingCommitsNothingNew) {
  receive(kP0, 7, 9);
  tracker_.abandonFrom(kP0, 7);
  EXPECT_TRUE(tracker_.settled(kP0));
  EXPECT_EQ(tracker_.committable(kP0), 7);
}

TEST_F(OffsetTrackerTest, AcksForARevokedPartitionAreIgnored) {
  receive(kP0, 0, 1);
  tracker_.removePartition(kP0);
  EXPECT_FALSE(ack(kP0, 0));
  EXPECT_TRUE(tracker_.settled(kP0));
  EXPECT_EQ(tracker_.committable(kP0), std::nullopt);
  EXPECT_FALSE(tracker_.tracks(kP0));
}

TEST_F(OffsetTrackerTest, AcksFromAnOlderGenerationAreIgnoredAfterReassignment) {
  receive(kP0, 0, 1);
  const uint64_t old_generation = generation_;
  tracker_.removePartition(kP0);
  generation_ = tracker_.beginGeneration();
  EXPECT_GT(generation_, old_generation);
  tracker_.addPartition(kP0);
  receive(kP0, 0, 1);  // replayed from the last commit
  EXPECT_FALSE(tracker_.acknowledge(old_generation, kP0, 0));
  EXPECT_EQ(tracker_.committable(kP0), 0);
  EXPECT_TRUE(ack(kP0, 0));
  EXPECT_EQ(tracker_.committable(kP0), 1);
}

TEST_F(OffsetTrackerTest, PartitionKeepsTheGenerationItWasAssignedIn) {
  const uint64_t first = generation_;
  tracker_.beginGeneration();  // e.g. a revoke of other partitions
  EXPECT_EQ(tracker_.received(kP0, 0), first);
  EXPECT_TRUE(tracker_.acknowledge(first, kP0, 0));
}

TEST_F(OffsetTrackerTest, CountsOutstandingRecordsAcrossPartitions) {
  receive(kP0, 0, 2);
  receive(kP1, 0, 1);
  EXPECT_EQ(tracker_.outstanding(), 5u);
  EXPECT_TRUE(ack(kP1, 1));
  EXPECT_EQ(tracker_.outstanding(), 4u);
  const std::vector<TopicPartition> expected = {kP0, kP1};
  EXPECT_EQ(tracker_.partitions(), expected);
}

}  // namespace
}  // namespace dataflow::kafka
