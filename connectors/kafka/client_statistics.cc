#include "connectors/kafka/client_statistics.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

namespace dataflow::kafka {

namespace {

int64_t number(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

uint64_t count(const nlohmann::json& object, const char* key) {
  const int64_t n = number(object, key);
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

std::vector<PartitionLag> lagOf(const nlohmann::json& stats) {
  std::vector<PartitionLag> lag;
  auto topics = stats.find("topics");
  if (topics == stats.end() || !topics->is_object()) return lag;
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
  std::sort(lag.begin(), lag.end(), [](const PartitionLag& a, const PartitionLag& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });
  return lag;
}

}  // namespace

void ClientStatistics::update(std::string_view statistics) {
  const nlohmann::json stats = nlohmann::json::parse(statistics, nullptr, false);
  if (stats.is_discarded() || !stats.is_object()) return;
  std::vector<PartitionLag> lag = lagOf(stats);
  BrokerTotals totals;
  auto brokers = stats.find("brokers");
  if (brokers != stats.end() && brokers->is_object()) {
    for (const auto& [name, b] : brokers->items()) {
      if (!b.is_object() || b.value("source", "") == "internal") continue;  // no connection
      totals.connects += count(b, "connects");
      totals.disconnects += count(b, "disconnects");
      totals.retries += count(b, "txretries");
    }
  }
  std::lock_guard lock(mutex_);
  lag_ = std::move(lag);
  current_ = totals;
}

void ClientStatistics::clientReplaced() {
  std::lock_guard lock(mutex_);
  replaced_.connects += current_.connects;
  replaced_.disconnects += current_.disconnects;
  replaced_.retries += current_.retries;
  current_ = BrokerTotals{};
  lag_.clear();
}

std::vector<PartitionLag> ClientStatistics::lag() const {
  std::lock_guard lock(mutex_);
  return lag_;
}

void ClientStatistics::addCounters(ConnectionHealth& into) const {
  std::lock_guard lock(mutex_);
  into.connection_attempts += replaced_.connects + current_.connects;
  into.disconnects += replaced_.disconnects + current_.disconnects;
  into.request_retries += replaced_.retries + current_.retries;
}

}  // namespace dataflow::kafka
