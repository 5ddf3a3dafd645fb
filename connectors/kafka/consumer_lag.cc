#include "connectors/kafka/consumer_lag.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

namespace dataflow::kafka {

namespace {

int64_t number(const nlohmann::json& partition, const char* key) {
  auto it = partition.find(key);
  return it != partition.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

}  // namespace

void ConsumerLag::update(std::string_view statistics) {
  const nlohmann::json stats = nlohmann::json::parse(statistics, nullptr, false);
  if (stats.is_discarded() || !stats.is_object()) return;
  std::vector<PartitionLag> lag;
  auto topics = stats.find("topics");
  if (topics != stats.end() && topics->is_object()) {
    for (const auto& [topic, t] : topics->items()) {
      auto partitions = t.find("partitions");
      if (partitions == t.end() || !partitions->is_object()) continue;
      for (const auto& [id, p] : partitions->items()) {
        const int64_t partition = number(p, "partition");
        if (partition < 0 || !p.value("desired", false)) continue;  // -1: librdkafka's own
        int64_t behind = number(p, "consumer_lag");
        if (behind < 0) {
          // No commit yet: everything from the partition's start is still to deliver.
          const int64_t end = number(p, "hi_offset");
          const int64_t start = number(p, "lo_offset");
          if (end < 0 || start < 0 || number(p, "committed_offset") >= 0) continue;
          behind = end - start;
        }
        lag.push_back({topic, static_cast<int32_t>(partition), behind});
      }
    }
  }
  std::sort(lag.begin(), lag.end(), [](const PartitionLag& a, const PartitionLag& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });
  std::lock_guard lock(mutex_);
  lag_ = std::move(lag);
}

std::vector<PartitionLag> ConsumerLag::read() const {
  std::lock_guard lock(mutex_);
  return lag_;
}

}  // namespace dataflow::kafka
