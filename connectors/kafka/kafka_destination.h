// A Destination that produces to Kafka with librdkafka's C API (contract:
// engine/core/destination.h).
//
// Threads:
//   send()                 source threads, any number at once. They produce under a shared lock
//                          of client_mutex_ (never while waiting).
//   delivery thread        started by start(); the only thread that calls rd_kafka_poll, hence
//                          the only one that runs librdkafka callbacks (delivery reports, errors,
//                          logs via log.queue) and DeliveryHandler::onDelivery/onExpired. It is
//                          also the only thread that replaces the producer (holding client_mutex_
//                          exclusively) and that produces taken-back messages again.
//   start/flush/close      the runtime's thread; connected() and the counters any thread.
// Data crosses threads at the InFlight slot given to librdkafka as msg_opaque (filled by send(),
// read back by the delivery report), the parked_ list and the condition variable `changed_`.
//
// Bounded memory: every accepted message holds a slot until it is reported, whether librdkafka
// or the parked_ list holds it; awaitCapacity()/send() wait at the producer queue's bounds
// (queue.buffering.max.messages / .kbytes, from the FlightLimits). librdkafka retries retriable
// errors itself, forever (message.timeout.ms=0), so only permanent refusals reach the handler as
// Fatal.
//
// Three kinds of failure, never confused:
//   - a record Kafka refuses for good (too large, not authorised, invalid): reported Fatal
//     (counted, logged rate-limited, acknowledged by the runtime); the flow goes on.
//   - the producer itself fails for good (librdkafka's instance-fatal error, e.g. an idempotent
//     producer's sequence desynchronisation): the delivery thread takes back every message the
//     producer held (rd_kafka_purge; a report that never comes counts as taken back), destroys
//     it, creates a new one from the same configuration and produces them again in acceptance
//     order. At least once: a message that was in flight may be written twice (counted as
//     possibleDuplicateCount()). Logged once per restart with the reason; restartCount().
//     A producer that cannot be re-created reports DeliveryHandler::onFailure.
//   - an outage (librdkafka's "all brokers down"): new messages are parked instead of produced,
//     and what librdkafka still queues is taken back (rd_kafka_purge of its queues, again every
//     probe interval while the outage lasts, since requests that fail put their messages back in
//     the queues). When a broker answers again the parked messages are produced in order.
// Message expiry (Message::expires_at) holds wherever a message waits here: before a parked
// message is produced again its Message Expiry Interval header is rewritten to what remains, and
// one that has expired is not produced but reported through onExpired (parked messages are also
// checked while the outage lasts). A message librdkafka is sending when a partial outage starts
// (one partition leader unreachable, the others fine) stays with librdkafka and keeps the header
// it was produced with.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/client_statistics.h"
#include "connectors/kafka/connection_diagnostics.h"
#include "connectors/kafka/kafka_settings.h"
#include "connectors/kafka/oauthbearer.h"
#include "connectors/kafka/rdkafka_handles.h"
#include "connectors/kafka/topic_table.h"
#include "engine/core/clock.h"
#include "engine/core/destination.h"
#include "engine/core/rate_limited_warning.h"

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
    std::string endpoint_name;  // the endpoint's name, for connection failure lines (may be empty)
    // Managed identity: where the OAUTHBEARER refresh callback takes tokens from; null otherwise.
    std::shared_ptr<const OAuthBearerTokens> oauthbearer;
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
  // strategy's instance ordinal: it is reduced with staticPartition() using the topic's partition
  // count from metadata (cached per topic); until that count is known send() waits, like for a
  // full queue. Otherwise the partitioner (murmur2_random) decides. During an outage or a
  // producer restart the message is accepted and parked (see above).
  // Fatal without taking the message when librdkafka refuses it synchronously for good: larger
  // than message.max.bytes or an unusable topic name.
  Status send(Message&& message) override;

  // Waits up to `timeout` for every accepted message to be reported (the delivery thread calls
  // rd_kafka_flush meanwhile, so lingering batches leave at once). Returns how many are
  // unreported.
  size_t flush(std::chrono::milliseconds timeout) override;

  // Unblocks send(), waits for senders to leave, stops the delivery thread, purges and destroys
  // the producer. Messages still in flight or parked are abandoned unreported. Idempotent.
  void close() override;

  // Whether a broker answered since the last "all brokers down": set by a delivery or by a
  // metadata probe the delivery thread sends while disconnected; cleared by librdkafka's
  // ERR__ALL_BROKERS_DOWN.
  bool connected() const override;
  // connected(), the latest connection problem (connection_diagnostics.h), the statistics'
  // connection counters, messages produced again (resentCount) and producer restarts.
  ConnectionHealth health() const override;

  // How often the producer was re-created after a fatal error; how many messages were produced
  // again after being taken back; how many of those may have reached Kafka already (taken back
  // from a request in flight). Any thread.
  uint64_t restartCount() const { return restarts_.load(); }
  uint64_t resentCount() const { return resent_.load(); }
  uint64_t possibleDuplicateCount() const { return possible_duplicates_.load(); }

 private:
  // An accepted message, kept until its delivery report: librdkafka reads its payload in place,
  // and the whole message is what a re-send produces again. Its address is the msg_opaque; slots
  // are reused, so steady-state sending allocates nothing here.
  struct InFlight {
    Message message;
    int32_t partition = RD_KAFKA_PARTITION_UA;  // chosen partition (Static); kept for a re-send
    uint64_t order = 0;                         // acceptance order
    bool in_client = false;  // produced and not reported yet: librdkafka holds it
    bool maybe_sent = false;  // taken back from a request in flight: a re-send may duplicate it
  };
  enum class Connection { Unknown, Up, Down };
  enum class Attempt { Produced, QueueFull, NoMetadata, ClientFatal, Refused };

  static void onDeliveryReport(rd_kafka_t* producer, const rd_kafka_message_t* report,
                               void* opaque);
  static void onError(rd_kafka_t* producer, int error, const char* reason, void* opaque);
  static void onLog(const rd_kafka_t* producer, int level, const char* facility, const char* line);
  static int onStatistics(rd_kafka_t* producer, char* json, size_t json_length, void* opaque);
  static int onCertificate(rd_kafka_t* producer, const char* broker_name, int32_t broker_id,
                           int* x509_error, int depth, const char* der, size_t der_size,
                           char* errstr, size_t errstr_size, void* opaque);
  // The OAUTHBEARER token refresh callback, on librdkafka's background thread (oauthbearer.h).
  static void onTokenRefresh(rd_kafka_t* client, const char* oauthbearer_config, void* opaque);

  static std::string fatalReason(rd_kafka_t* producer);
  Status createProducer();
  // Produces `slot` on the live producer; client_mutex_ held (shared or exclusive). `refusal`
  // says why on Refused and NoMetadata.
  Attempt produce(InFlight& slot, bool refresh_metadata, Status& refusal);
  InFlight* acquireSlot();
  void releaseSlot(InFlight* slot);
  void park(InFlight* slot);
  // Reports and frees a slot: delivered or refused (`status`), or expired.
  void finish(InFlight* slot, const Status& status);
  void expire(InFlight* slot);

  // Waits on changed_ until `done()` or `deadline`; returns done().
  template <class Done>
  bool waitUntil(std::chrono::steady_clock::time_point deadline, Done done);
  void notifyWaiters();

  // Delivery thread (the recovery part in kafka_destination_recovery.cc).
  void deliveryLoop();
  void delivered(rd_kafka_t* producer, const rd_kafka_message_t& report);
  void reportDelivery(const AckToken& ack, const Status& status);
  void clientError(rd_kafka_t* producer, int error, const char* reason);
  void requestRestart(const std::string& reason);
  void restartProducer();
  void reclaim(int purge_flags);
  void produceParked();
  void expireParked();
  void setConnection(Connection now, const char* reason);
  void probeConnection();

  const ProducerConfig config_;
  const std::string bootstrap_servers_;
  const std::shared_ptr<spdlog::logger> logger_;
  const std::shared_ptr<const OAuthBearerTokens> oauthbearer_;
  const Clock& clock_;
  const WarningSink warning_sink_;
  RateLimitedWarning refused_warning_;   // permanent delivery failures
  RateLimitedWarning metadata_warning_;  // Static partitioning waiting for metadata
  RateLimitedWarning expired_warning_;   // messages that expired while parked
  ConnectionDiagnostics diagnostics_;    // TLS and SASL failures; librdkafka threads use it too
  ClientStatistics statistics_;          // served by the delivery thread's poll

  DeliveryHandler* handler_ = nullptr;  // set by start(); read by the delivery thread only

  std::mutex mutex_;
  std::condition_variable changed_;       // space freed, flush progress, close, senders gone
  std::deque<InFlight> slots_;            // guarded by mutex_; a deque keeps addresses stable
  std::vector<InFlight*> free_slots_;     // guarded by mutex_
  std::map<uint64_t, InFlight*> parked_;  // guarded by mutex_: by order, waiting to be produced
  uint64_t next_order_ = 0;               // guarded by mutex_
  std::string restart_reason_;            // guarded by mutex_
  // Set (under mutex_) during an outage or a restart: send() parks instead of producing. Read
  // without the lock on send()'s fast path; a message produced just as it is set is taken back
  // by the purge that follows.
  std::atomic<bool> parking_{false};
  std::atomic<bool> restart_requested_{false};
  const size_t max_in_flight_messages_;  // the producer queue's bounds, from config_
  const size_t max_in_flight_bytes_;
  std::atomic<size_t> in_flight_{0};        // accepted (or being produced), not yet reported
  std::atomic<size_t> in_flight_bytes_{0};  // their payload bytes
  std::atomic<uint64_t> polls_{0};          // poll rounds that served events: space may be free
  std::atomic<int> waiters_{0};             // threads in waitUntil()
  std::atomic<int> flush_requests_{0};      // flush() calls in progress
  std::atomic<int> active_senders_{0};      // send() calls in progress
  std::atomic<bool> started_{false};
  std::atomic<bool> closed_{false};
  std::atomic<bool> stopping_{false};  // tells the delivery thread to end
  std::atomic<Connection> connection_{Connection::Unknown};
  std::atomic<uint64_t> restarts_{0};
  std::atomic<uint64_t> resent_{0};
  std::atomic<uint64_t> possible_duplicates_{0};

  // Delivery thread only.
  bool discarding_ = false;  // destroying an abandoned producer: its reports are ignored
  bool reclaim_now_ = false;  // an outage began: take back what librdkafka queues

  std::mutex close_mutex_;         // serialises close()
  std::shared_mutex client_mutex_;  // producer_ and topics_: shared to use, exclusive to replace
  ClientHandle producer_;          // after slots_: destroyed before the payloads it points into
  std::unique_ptr<TopicTable> topics_;  // destroyed before producer_
  std::thread delivery_thread_;
};

}  // namespace dataflow::kafka
