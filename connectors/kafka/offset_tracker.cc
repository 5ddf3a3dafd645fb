#include "connectors/kafka/offset_tracker.h"

#include <algorithm>

namespace dataflow::kafka {

uint64_t OffsetTracker::beginGeneration() { return ++generation_; }

void OffsetTracker::addPartition(const TopicPartition& tp) {
  Partition& partition = partitions_[tp];
  partition = Partition();
  partition.generation = generation_;
}

void OffsetTracker::removePartition(const TopicPartition& tp) { partitions_.erase(tp); }

std::vector<TopicPartition> OffsetTracker::partitions() const {
  std::vector<TopicPartition> out;
  out.reserve(partitions_.size());
  for (const auto& [tp, partition] : partitions_) out.push_back(tp);
  return out;
}

std::optional<uint64_t> OffsetTracker::received(const TopicPartition& tp, int64_t offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return std::nullopt;
  Partition& partition = it->second;
  if (partition.abandoned || offset < 0 || offset <= partition.last_received) return std::nullopt;
  partition.slots.push_back({offset, false});
  ++partition.outstanding;
  partition.last_received = offset;
  partition.end = offset + 1;
  return partition.generation;
}

bool OffsetTracker::acknowledge(uint64_t generation, const TopicPartition& tp, int64_t offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || it->second.generation != generation) return false;
  Partition& partition = it->second;
  auto slot = std::lower_bound(partition.slots.begin(), partition.slots.end(), offset,
                               [](const Partition::Slot& s, int64_t o) { return s.offset < o; });
  if (slot == partition.slots.end() || slot->offset != offset || slot->acknowledged) return false;
  slot->acknowledged = true;
  --partition.outstanding;
  while (!partition.slots.empty() && partition.slots.front().acknowledged) {
    partition.slots.pop_front();
  }
  return true;
}

void OffsetTracker::abandonFrom(const TopicPartition& tp, int64_t offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return;
  Partition& partition = it->second;
  partition.abandoned = true;
  while (!partition.slots.empty() && partition.slots.back().offset >= offset) {
    if (!partition.slots.back().acknowledged) --partition.outstanding;
    partition.slots.pop_back();
  }
  if (partition.end && *partition.end > offset) partition.end = offset;
}

bool OffsetTracker::settled(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it == partitions_.end() || it->second.outstanding == 0;
}

size_t OffsetTracker::outstanding() const {
  size_t count = 0;
  for (const auto& [tp, partition] : partitions_) count += partition.outstanding;
  return count;
}

std::optional<int64_t> OffsetTracker::committable(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || !it->second.end) return std::nullopt;
  const Partition& partition = it->second;
  // The front is never an acknowledged slot (acknowledge() pops those).
  if (partition.outstanding == 0) return partition.end;
  return std::min(partition.slots.front().offset, *partition.end);
}

std::vector<CommitPosition> OffsetTracker::uncommitted(
    const std::vector<TopicPartition>* only) const {
  std::vector<CommitPosition> out;
  auto consider = [&](const TopicPartition& tp) {
    auto it = partitions_.find(tp);
    if (it == partitions_.end()) return;
    const std::optional<int64_t> offset = committable(tp);
    if (offset && *offset > it->second.last_committed) out.push_back({tp, *offset});
  };
  if (only) {
    for (const TopicPartition& tp : *only) consider(tp);
  } else {
    for (const auto& [tp, partition] : partitions_) consider(tp);
  }
  return out;
}

void OffsetTracker::committed(const TopicPartition& tp, int64_t offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return;
  it->second.last_committed = std::max(it->second.last_committed, offset);
}

}  // namespace dataflow::kafka
