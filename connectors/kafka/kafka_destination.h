// A Destination that produces to Kafka with librdkafka's C API (contract:
// engine/core/destination.h).
//
// Threads:
//   send()                 source threads, any number at once.
//   delivery thread        started by start(); the only thread that calls rd_kafka_poll, hence
//                          the only one that runs librdkafka callbacks (delivery reports, errors,
//                          logs via log.queue) and DeliveryHandler::onDelivery.
//   start/flush/close      the runtime's thread; connected() any thread.
// Data crosses threads at two points: the InFlight slot given to librdkafka as msg_opaque (filled
// by send(), read back by the delivery report) and the condition variable `changed_`.
//
// Bounded memory: the producer queue bounds (queue.buffering.max.messages / .kbytes, from the
// FlightLimits) make produce fail with QUEUE_FULL, and send() then waits for delivery reports to
// free space, until close(). librdkafka retries retriable errors itself, forever
// (message.timeout.ms=0), so only permanent refusals reach the handler as Fatal.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_settings.h"
#include "connectors/kafka/rdkafka_handles.h"
#include "connectors/kafka/topic_table.h"
#include "engine/core/clock.h"
#include "engine/core/destination.h"
#include "engine/transform/rate_limited_warning.h"

namespace spdlog {
class logger;
}

namespace dataflow::kafka {

class KafkaDestination final : public Destination {
 public:
  struct Options {
    ProducerConfig config;                   // from producerConfig(), applied in order
    std::shared_ptr<spdlog::logger> logger;  // names the dataflow; null: spdlog's default
    const Clock* clock = nullptr;            // outlives the destination; null: the system clock
  };

  explicit KafkaDestination(Options options);
  ~KafkaDestination() override;  // close()
  KafkaDestination(const KafkaDestination&) = delete;
  KafkaDestination& operator=(const KafkaDestination&) = delete;

  // Creates the producer (it starts connecting at once) and the delivery thread. Fatal when
  // librdkafka refuses the configuration (e.g. an unreadable CA or client key).
  Status start(DeliveryHandler& handler) override;

  // Blocks until one more message of about `bytes` payload bytes fits within the producer queue's
  // bounds (queue.buffering.max.messages / .kbytes of the configuration; an empty queue always
  // takes one), or until close() (then false). Any source thread.
  bool awaitCapacity(size_t bytes) override;

  // Produces `message`: topic, key (absent = null key, empty = empty key), payload byte for byte
  // (read in place by librdkafka until the delivery report: no copy), headers in order with
  // duplicates, timestamp_ms as CreateTime. Message::partition, when set, is the Static
  // strategy's instance ordinal: it is reduced with transform::staticPartition() using the
  // topic's partition count from metadata (cached per topic); until that count is known send()
  // waits, like for a full queue. Otherwise the partitioner (murmur2_random) decides.
  // Fatal without taking the message when librdkafka refuses it synchronously for good: larger
  // than message.max.bytes, an unusable topic name, or a producer that hit a fatal error.
  Status send(Message&& message) override;

  // Waits up to `timeout` for every accepted message to be reported (the delivery thread calls
  // rd_kafka_flush meanwhile, so lingering batches leave at once). Returns how many are
  // unreported.
  size_t flush(std::chrono::milliseconds timeout) override;

  // Unblocks send(), waits for senders to leave, stops the delivery thread, purges and destroys
  // the producer. Messages still in flight are abandoned unreported. Idempotent.
  void close() override;

  // Whether a broker answered since the last "all brokers down": set by a delivery or by a
  // metadata probe the delivery thread sends while disconnected; cleared by librdkafka's
  // ERR__ALL_BROKERS_DOWN.
  bool connected() const override;

 private:
  // An accepted message's token and payload, kept until its delivery report. Its address is the
  // msg_opaque; slots are reused, so steady-state sending allocates nothing here.
  struct InFlight {
    AckToken ack;
    std::string payload;
  };
  enum class Connection { Unknown, Up, Down };

  static void onDeliveryReport(rd_kafka_t* producer, const rd_kafka_message_t* report,
                               void* opaque);
  static void onError(rd_kafka_t* producer, int error, const char* reason, void* opaque);
  static void onLog(const rd_kafka_t* producer, int level, const char* facility, const char* line);

  Status produce(TopicTable::Topic& topic, int32_t partition, const Message& message,
                 InFlight& slot, HeadersHandle& headers);
  Result<int32_t> staticPartitionFor(TopicTable::Topic& topic, int32_t ordinal, bool refresh);
  InFlight* acquireSlot();
  void releaseSlot(InFlight* slot);

  // Waits on changed_ until `done()` or `deadline`; returns done().
  template <class Done>
  bool waitUntil(std::chrono::steady_clock::time_point deadline, Done done);
  void notifyWaiters();

  void deliveryLoop();
  void delivered(const rd_kafka_message_t& report);
  void reportDelivery(const AckToken& ack, const Status& status);
  void clientError(rd_kafka_t* producer, int error, const char* reason);
  void setConnection(Connection now, const char* reason);
  void probeConnection();

  const ProducerConfig config_;
  const std::string bootstrap_servers_;
  const std::shared_ptr<spdlog::logger> logger_;
  const Clock& clock_;
  const transform::WarningSink warning_sink_;
  transform::RateLimitedWarning refused_warning_;   // permanent delivery failures
  transform::RateLimitedWarning metadata_warning_;  // Static partitioning waiting for metadata

  DeliveryHandler* handler_ = nullptr;  // set by start(); read by the delivery thread only

  std::mutex mutex_;
  std::condition_variable changed_;      // space freed, flush progress, close, senders gone
  std::deque<InFlight> slots_;           // guarded by mutex_; a deque keeps addresses stable
  std::vector<InFlight*> free_slots_;    // guarded by mutex_
  const size_t max_in_flight_messages_;  // the producer queue's bounds, from config_
  const size_t max_in_flight_bytes_;
  std::atomic<size_t> in_flight_{0};        // accepted (or being produced), not yet reported
  std::atomic<size_t> in_flight_bytes_{0};  // their payload bytes
  std::atomic<uint64_t> polls_{0};          // poll rounds that served events: space may be free
  std::atomic<int> waiters_{0};             // threads in waitUntil()
  std::atomic<int> flush_requests_{0};      // flush() calls in progress
  std::atomic<int> active_senders_{0};      // send() calls in progress
  std::atomic<bool> closed_{false};
  std::atomic<bool> stopping_{false};  // tells the delivery thread to end
  std::atomic<Connection> connection_{Connection::Unknown};

  std::mutex close_mutex_;  // serialises close()
  ClientHandle producer_;   // after slots_: destroyed before the payloads it points into
  std::unique_ptr<TopicTable> topics_;  // destroyed before producer_
  std::thread delivery_thread_;
};

}  // namespace dataflow::kafka
