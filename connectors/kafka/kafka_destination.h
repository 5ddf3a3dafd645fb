// A Destination that produces to Kafka (contract: engine/core/destination.h): one dataflow's lane
// of a KafkaProducer (kafka_producer.h), which says how messages, failures, outages and restarts
// are handled. The producer is either shared with the other dataflows that write through the same
// endpoint (ProducerPool, the engine's way) or the destination's own (Options, e.g. in tests).
//
// Produces `message`: topic, key (absent = null key, empty = empty key), payload byte for byte
// (read in place by librdkafka until the delivery report: no copy), headers in order with
// duplicates, timestamp_ms as CreateTime. Message::partition, when set, is the Static strategy's
// instance ordinal: it is reduced with staticPartition() using the topic's partition count from
// metadata (cached per topic); until that count is known send() waits, like for a full queue.
// Otherwise the partitioner (murmur2_random) decides. During an outage or a producer restart the
// message is accepted and parked. Fatal without taking the message when librdkafka refuses it
// synchronously for good: larger than message.max.bytes or an unusable topic name.
#pragma once

#include <memory>
#include <mutex>

#include "connectors/kafka/kafka_producer.h"
#include "engine/core/destination.h"

namespace dataflow::kafka {

class KafkaDestination final : public Destination {
 public:
  using Options = KafkaProducer::Options;

  // With a producer of its own, bounded by its queue (queue.buffering.max.messages / .kbytes).
  explicit KafkaDestination(Options options);
  // A lane of `producer` bounded by `limits`; per-message warnings go to `logger`.
  KafkaDestination(std::shared_ptr<KafkaProducer> producer, runtime::FlightLimits limits,
                   std::shared_ptr<spdlog::logger> logger);
  ~KafkaDestination() override;  // close()
  KafkaDestination(const KafkaDestination&) = delete;
  KafkaDestination& operator=(const KafkaDestination&) = delete;

  // Joins the producer (the first destination creates its librdkafka producer, which starts
  // connecting at once). Fatal when librdkafka refuses the configuration.
  Status start(DeliveryHandler& handler) override;
  bool awaitCapacity(size_t bytes) override;
  Status send(Message&& message) override;
  // Waits up to `timeout` for every message of this destination to be reported (the producer
  // sends lingering batches at once meanwhile). Returns how many are unreported.
  size_t flush(std::chrono::milliseconds timeout) override;
  // Unblocks send() and leaves the producer: messages of this destination still in flight or
  // parked are abandoned unreported; the other dataflows' are not touched. Idempotent.
  void close() override;

  bool connected() const override { return producer_->connected(); }
  // The producer's (shared with the endpoint's other dataflows): connected(), the latest
  // connection problem, the statistics' connection counters and producer restarts; and this
  // destination's own messages produced again (resentCount).
  ConnectionHealth health() const override;

  uint64_t restartCount() const { return producer_->restartCount(); }
  // This destination's messages produced again after an outage or a restart; how many of those
  // may have reached Kafka already.
  uint64_t resentCount() const;
  uint64_t possibleDuplicateCount() const;
  const KafkaProducer& producer() const { return *producer_; }

 private:
  const std::shared_ptr<KafkaProducer> producer_;
  const runtime::FlightLimits limits_;
  const std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex mutex_;  // lane_ and closed_
  std::shared_ptr<KafkaProducer::Lane> lane_;  // set by start(), kept after close()
  std::atomic<KafkaProducer::Lane*> live_{nullptr};  // lane_ while started and not closed
  bool closed_ = false;
};

}  // namespace dataflow::kafka
