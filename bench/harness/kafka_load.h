// The Kafka half of the load generator: a producer of stamped records and a group-less reader
// that hands every record's value to a callback. Plain librdkafka, independent of the engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/harness/mqtt_wire.h"
#include "connectors/kafka/rdkafka_handles.h"

namespace dataflow::bench {

// Producer settings: the engine's Kafka destination defaults (acks=all with idempotence,
// linger.ms=5, batches up to 100,000 records / 1,000,000 bytes, no compression), so the "Kafka
// alone" baseline and the engine pay the same batching.
class KafkaLoadProducer {
 public:
  static constexpr int32_t kAnyPartition = -1;  // RD_KAFKA_PARTITION_UA: the partitioner decides

  // Creates the producer and asks for `topic`'s metadata at once (up to 10 s): librdkafka 2.0.2
  // asks for a new topic's metadata when the producer connects, but a topic first produced to
  // after that connection waits for the next topic scan, up to 1 s later, before any record of it
  // leaves. The topic must exist (a broker that auto-creates topics would create it here).
  KafkaLoadProducer(const std::string& bootstrap_servers, std::string topic);
  ~KafkaLoadProducer();  // flushes up to 10 s, then stops the poll thread
  // Queues one record (value copied, headers in order) for `partition`; waits while librdkafka's
  // queue is full.
  void produce(std::string_view value, const std::vector<UserProperty>& headers,
               int32_t partition = kAnyPartition);
  uint64_t delivered() const { return delivered_.load(); }
  uint64_t failed() const { return failed_.load(); }
  // Waits until every queued record was acknowledged or failed; false on timeout.
  bool flush(int timeout_ms);

 private:
  static void onDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
  std::string topic_;
  kafka::ClientHandle client_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<bool> stop_{false};
  std::thread poller_;  // serves delivery reports
};

// Reads partitions 0 .. partitions-1 of `topic` from offset 0 on its own thread, without a
// consumer group, and calls `handler` with each record's value (on that thread). Offset 0, not
// the logical "beginning": the benchmark's topics are new, and a logical offset is looked up first
// (ListOffsets), which librdkafka 2.0.2 retries only 500 ms later when, as here, the partition's
// leader is not known yet at the time of the assignment. An offset the cluster no longer has
// falls back to the earliest one (auto.offset.reset).
// `fetch_wait_ms` is fetch.wait.max.ms. The mock cluster answers a fetch that finds no data only
// after that whole wait, even when records arrive meanwhile (rdkafka_mock_handlers.c, Fetch: "we
// should cut the wait short ... but that is too much of a hassle"), so the measuring reader
// uses 1 ms; the engine's Kafka source uses 100 ms (kafka_settings.h, kConsumerFetchWaitMs).
class KafkaLoadConsumer {
 public:
  using Handler = std::function<void(std::string_view value)>;
  KafkaLoadConsumer(const std::string& bootstrap_servers, const std::string& topic, int partitions,
                    Handler handler, int fetch_wait_ms = 1);
  ~KafkaLoadConsumer();

 private:
  void run();
  kafka::ClientHandle client_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Creates `topic` with `partitions` partitions (replication factor 1) through the admin API, for
// a real cluster; "already exists" is success. Throws std::runtime_error on any other failure.
void createTopicWithAdminApi(const std::string& bootstrap_servers, const std::string& topic,
                             int partitions);

}  // namespace dataflow::bench
