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
  partition.outstanding.insert(offset);
  partition.last_received = offset;
  partition.end = offset + 1;
  return partition.generation;
}

bool OffsetTracker::acknowledge(uint64_t generation, const TopicPartition& tp, int64_t offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || it->second.generation != generation) return false;
  return it->second.outstanding.erase(offset) > 0;
}

void OffsetTracker::abandonFrom(const TopicPartition& tp, int64_t offset) {
  auto it = partitions_.find(tp);
  if (it == partitions_.end()) return;
  Partition& partition = it->second;
  partition.abandoned = true;
  partition.outstanding.erase(partition.outstanding.lower_bound(offset),
                              partition.outstanding.end());
  if (partition.end && *partition.end > offset) partition.end = offset;
}

bool OffsetTracker::settled(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it == partitions_.end() || it->second.outstanding.empty();
}

size_t OffsetTracker::outstanding() const {
  size_t count = 0;
  for (const auto& [tp, partition] : partitions_) count += partition.outstanding.size();
  return count;
}

std::optional<int64_t> OffsetTracker::committable(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  if (it == partitions_.end() || !it->second.end) return std::nullopt;
  const Partition& partition = it->second;
  if (partition.outstanding.empty()) return partition.end;
  return std::min(*partition.outstanding.begin(), *partition.end);
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
