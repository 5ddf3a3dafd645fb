// At-least-once bookkeeping of the Kafka source: which offsets of each assigned topic-partition
// were taken from Kafka and not yet acknowledged, and so which offset may be committed. Pure (no
// librdkafka, no clock) and NOT thread-safe: KafkaSource guards it with its mutex.
//
// Rule: the committable offset of a partition is the lowest offset received and not yet
// acknowledged, or one past the last received offset when every received record is
// acknowledged. Committing it says "everything before it is done", so a record is never skipped
// however out of order the acknowledgements arrive; a record that is never acknowledged (left in
// the source's hand-off at a rebalance or shutdown) holds the commit back, and the next owner of
// the partition replays it and everything after it.
//
// Offsets within a partition may have gaps (compaction, transaction markers): only offsets that
// were received count. Acknowledgements carry the assignment generation they were received in; an
// acknowledgement for a partition that is not assigned now, or that was assigned again since (a
// newer generation), is ignored: its record is replayed by whoever owns the partition now.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

namespace dataflow::kafka {

struct TopicPartition {
  int32_t topic_index = -1;  // index into the source's topic-name table
  int32_t partition = -1;

  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

struct CommitPosition {
  TopicPartition topic_partition;
  int64_t offset = -1;  // the next offset to consume, as Kafka commits it

  friend bool operator==(const CommitPosition&, const CommitPosition&) = default;
};

class OffsetTracker {
 public:
  // Starts a new assignment generation and returns it (1, 2, ...). Partitions added after this
  // call belong to it; acknowledgements must carry it.
  uint64_t beginGeneration();
  uint64_t generation() const { return generation_; }

  // Tracks `tp` from now on, in the current generation, forgetting any earlier state of it.
  void addPartition(const TopicPartition& tp);
  // Stops tracking `tp`: later acknowledgements for it are ignored.
  void removePartition(const TopicPartition& tp);
  bool tracks(const TopicPartition& tp) const { return partitions_.contains(tp); }
  std::vector<TopicPartition> partitions() const;

  // Records that the record at `offset` was taken from Kafka and returns the generation its
  // acknowledgement must carry. nullopt (and nothing changes) when `tp` is not tracked, `offset`
  // is not above every offset received before (a duplicate), or records of `tp` were abandoned.
  std::optional<uint64_t> received(const TopicPartition& tp, int64_t offset);

  // Acknowledges the record at `offset`, received in `generation`. False (ignored) when the
  // partition is not tracked, was (re)assigned in another generation, or the offset is not
  // outstanding (never received, abandoned, or already acknowledged).
  bool acknowledge(uint64_t generation, const TopicPartition& tp, int64_t offset);

  // The records of `tp` from `offset` on were never handed to the handler and never will be in
  // this generation: they stop being outstanding, and the committable offset stays at or below
  // `offset`. Used on a revoke and at shutdown. No effect on an untracked partition.
  void abandonFrom(const TopicPartition& tp, int64_t offset);

  // Whether every received record of `tp` (not abandoned) is acknowledged. True when untracked.
  bool settled(const TopicPartition& tp) const;
  // How many received records of every partition are outstanding.
  size_t outstanding() const;

  // The offset that may be committed for `tp` now; nullopt before its first record.
  std::optional<int64_t> committable(const TopicPartition& tp) const;

  // The positions of the given partitions (all tracked ones when `only` is null) whose
  // committable offset is above what was last confirmed committed: what a commit should send.
  std::vector<CommitPosition> uncommitted(const std::vector<TopicPartition>* only = nullptr) const;

  // Kafka confirmed `offset` as committed for `tp`. Ignored when untracked or not above the
  // last confirmed offset (a late answer to an older commit).
  void committed(const TopicPartition& tp, int64_t offset);

 private:
  struct Partition {
    uint64_t generation = 0;
    // Received and not abandoned, in offset order (records arrive in order, so push_back),
    // acknowledged ones flagged; acknowledged ones at the front are popped, so the front, when
    // any, is the lowest outstanding offset. No allocation per record, unlike a node-based set.
    struct Slot {
      int64_t offset = -1;
      bool acknowledged = false;
    };
    std::deque<Slot> slots;
    size_t outstanding = 0;      // slots not acknowledged
    std::optional<int64_t> end;  // one past the last received record (or first abandoned)
    int64_t last_received = -1;
    bool abandoned = false;  // abandonFrom() was called: nothing more is received
    int64_t last_committed = -1;
  };

  uint64_t generation_ = 0;
  std::map<TopicPartition, Partition> partitions_;
};

}  // namespace dataflow::kafka
