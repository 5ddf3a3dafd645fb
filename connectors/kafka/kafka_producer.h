// One librdkafka producer shared by every dataflow that writes through the same Kafka endpoint
// (same client configuration): one set of librdkafka threads, one connection per broker and
// batches that fill up whatever the number of dataflows. Each dataflow has a Lane, its share:
// its DeliveryHandler, its in-flight bound and counters, its warnings. KafkaDestination
// (kafka_destination.h) is a Lane seen as a Destination; ProducerPool hands out the producers.
//
// Threads:
//   send()                 source threads of any lane, any number at once. They produce under a
//                          shared lock of client_mutex_ (never while waiting).
//   delivery thread        started by the first attach(); the only thread that calls
//                          rd_kafka_poll, hence the only one that runs librdkafka callbacks
//                          (delivery reports, errors, logs via log.queue) and calls a lane's
//                          DeliveryHandler. It also is the only thread that replaces the
//                          producer (holding client_mutex_ exclusively), produces taken-back
//                          messages again and detaches lanes.
//   attach/flush/detach    the runtime's threads; connected() and the counters any thread.
// Data crosses threads at the InFlight slot given to librdkafka as msg_opaque (filled by send(),
// read back by the delivery report, which finds the lane through it: no lookup per message),
// the parked_ list and the condition variable `changed_`. A slot comes from its lane's own pool,
// under the lane's lock: no lock shared by the dataflows on the per-message path.
//
// Bounded memory: every accepted message holds a slot of its lane until it is reported, whether
// librdkafka or the parked_ list holds it; a lane's awaitCapacity()/send() wait at its bounds,
// and every sender waits when librdkafka's queue (queue.buffering.max.messages / .kbytes) is
// full. librdkafka retries retriable errors itself, forever (message.timeout.ms=0), so only
// permanent refusals reach a handler as Fatal.
//
// Three kinds of failure, never confused:
//   - a record Kafka refuses for good (too large, not authorised, invalid): reported Fatal to its
//     lane (counted, logged rate-limited by that dataflow, acknowledged by the runtime).
//   - the producer itself fails for good (librdkafka's instance-fatal error, e.g. an idempotent
//     producer's sequence desynchronisation): the delivery thread takes back every message the
//     producer held, of every lane (rd_kafka_purge; a report that never comes counts as taken
//     back), destroys it, creates a new one from the same configuration and produces them again
//     in acceptance order. At least once: a message that was in flight may be written twice
//     (possibleDuplicateCount()). Logged once per restart with the reason; restartCount().
//     A producer that cannot be re-created reports DeliveryHandler::onFailure to every lane, and
//     ProducerPool gives later dataflows a new one.
//   - an outage (librdkafka's "all brokers down"): new messages are parked instead of produced,
//     and what librdkafka still queues is taken back (rd_kafka_purge of its queues, again every
//     probe interval while the outage lasts, since requests that fail put their messages back in
//     the queues). When a broker answers again the parked messages are produced in order.
// Message expiry (Message::expires_at) holds wherever a message waits here: before a parked
// message is produced again its Message Expiry Interval header is rewritten to what remains, and
// one that has expired is not produced but reported through its lane's onExpired.
//
// A lane that leaves (detach(), the dataflow stops) takes nothing from the others: its parked
// messages are dropped and those librdkafka holds are abandoned (their reports are ignored); no
// purge touches the producer, whose other lanes go on. The last lane to leave ends the producer
// (destructor).
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

class KafkaProducer {
 public:
  struct Options {
    ProducerConfig config;                   // from producerConfig(), applied in order
    std::shared_ptr<spdlog::logger> logger;  // the producer's own lines; null: spdlog's default
    const Clock* clock = nullptr;            // outlives the producer; null: the system clock
    std::string endpoint_name;  // the endpoint's name, for connection failure lines (may be empty)
    // Managed identity: where the OAUTHBEARER refresh callback takes tokens from; null otherwise.
    std::shared_ptr<const OAuthBearerTokens> oauthbearer;
  };

  struct InFlight;
  // One dataflow's share of the producer. Created by attach(); the producer keeps it until its
  // last slot came back (a report may arrive after the dataflow left).
  class Lane;

  explicit KafkaProducer(Options options);
  ~KafkaProducer();  // stops the delivery thread, purges and destroys the producer
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // The bounds a lane gets when none are given: the producer queue's
  // (queue.buffering.max.messages / .kbytes of the configuration).
  runtime::FlightLimits defaultLimits() const;

  // Adds a lane for `handler` (outlives the lane) with `limits`, logging its per-message warnings
  // to `logger`. The first attach creates the producer (it starts connecting at once) and the
  // delivery thread; Fatal when librdkafka refuses the configuration (e.g. an unreadable CA or
  // client key), then and for every later attach.
  Result<std::shared_ptr<Lane>> attach(DeliveryHandler& handler, runtime::FlightLimits limits,
                       std::shared_ptr<spdlog::logger> logger);

  // The Destination contract (engine/core/destination.h), for one lane.
  bool awaitCapacity(Lane& lane, size_t bytes);
  Status send(Lane& lane, Message&& message);
  // Waits up to `timeout` for every message of `lane` to be reported; returns how many are not.
  size_t flush(Lane& lane, std::chrono::milliseconds timeout);
  // Unblocks the lane's senders and waits for them to leave; then no handler call for the lane
  // happens any more. Its parked messages are dropped, those librdkafka holds are abandoned
  // (reports ignored). Returns how many messages it left unreported. Idempotent.
  size_t detach(Lane& lane);

  // Whether a broker answered since the last "all brokers down". Any thread.
  bool connected() const;
  ConnectionHealth health() const;
  // The producer failed for good and was not re-created: it serves no one any more.
  bool failed() const { return failed_.load(); }
  uint64_t restartCount() const { return restarts_.load(); }
  uint64_t resentCount() const { return resent_.load(); }
  uint64_t possibleDuplicateCount() const { return possible_duplicates_.load(); }
  // health() with `lane`'s own count of messages produced again.
  ConnectionHealth health(const Lane& lane) const;
  static uint64_t resentCount(const Lane& lane);
  static uint64_t possibleDuplicateCount(const Lane& lane);
  size_t laneCount() const;

 private:
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
  Status start();  // mutex_ held by attach()
  Status createProducer();
  // Produces `slot` on the live producer; client_mutex_ held (shared or exclusive). `refusal`
  // says why on Refused and NoMetadata.
  Attempt produce(InFlight& slot, bool refresh_metadata, Status& refusal);
  InFlight* acquireSlot(Lane& lane);
  void releaseSlot(InFlight* slot);
  void park(InFlight* slot);
  // Reports and frees a slot: delivered or refused (`status`), or expired.
  void finish(InFlight* slot, const Status& status);
  void expire(InFlight* slot);
  void abandon(InFlight* slot);
  void failAll(const Status& reason);

  // Waits on changed_ until `done()` or `deadline`; returns done().
  template <class Done>
  bool waitUntil(std::chrono::steady_clock::time_point deadline, Done done);
  void notifyWaiters();

  // Delivery thread (the recovery part in kafka_producer_recovery.cc).
  void deliveryLoop();
  void detachRequested();
  void release(Lane& lane);  // mutex_ held: the lane leaves now
  void delivered(rd_kafka_t* producer, const rd_kafka_message_t& report);
  void reportDelivery(Lane& lane, const AckToken& ack, const Status& status);
  void clientError(rd_kafka_t* producer, int error, const char* reason);
  void requestRestart(const std::string& reason);
  void restartProducer();
  void reclaim(int purge_flags);
  void produceParked();
  void expireParked();
  void setConnection(Connection now, const char* reason);
  void probeConnection();

  const ProducerConfig config_;
  const std::string bootstrap_servers_;  // and the endpoint's name: where, in log lines
  const std::shared_ptr<spdlog::logger> logger_;
  const std::shared_ptr<const OAuthBearerTokens> oauthbearer_;
  const Clock& clock_;
  const WarningSink warning_sink_;
  ConnectionDiagnostics diagnostics_;  // TLS and SASL failures; librdkafka threads use it too
  ClientStatistics statistics_;        // served by the delivery thread's poll
  const size_t queue_messages_;        // librdkafka's queue bounds, from config_
  const size_t queue_bytes_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // space freed, flush progress, detach done, senders gone
  std::vector<std::shared_ptr<Lane>> lanes_;  // guarded by mutex_: attached and leaving ones
  std::vector<Lane*> detach_requests_;        // guarded by mutex_: served by the delivery thread
  std::map<uint64_t, InFlight*> parked_;      // guarded by mutex_: by order, to produce again
  std::string restart_reason_;                // guarded by mutex_
  Status start_status_ = Status::ok();        // guarded by mutex_: the first attach's outcome
  bool started_ = false;                      // guarded by mutex_
  std::atomic<uint64_t> next_order_{0};
  // Set (under mutex_) during an outage or a restart: send() parks instead of producing. Read
  // without the lock on send()'s fast path; a message produced just as it is set is taken back
  // by the purge that follows.
  std::atomic<bool> parking_{false};
  std::atomic<bool> restart_requested_{false};
  std::atomic<uint64_t> polls_{0};      // poll rounds that served events: space may be free
  std::atomic<int> waiters_{0};         // threads in waitUntil()
  std::atomic<int> flush_requests_{0};  // flush() calls in progress
  std::atomic<bool> detach_pending_{false};
  std::atomic<size_t> left_lanes_{0};  // detached lanes still in lanes_ (slots not all back)
  std::atomic<bool> running_{false};   // the delivery thread serves lanes
  std::atomic<bool> stopping_{false};  // tells the delivery thread to end
  std::atomic<bool> failed_{false};
  std::atomic<Connection> connection_{Connection::Unknown};
  std::atomic<uint64_t> restarts_{0};
  std::atomic<uint64_t> resent_{0};
  std::atomic<uint64_t> possible_duplicates_{0};

  // Delivery thread only.
  bool discarding_ = false;   // destroying an abandoned producer: its reports are ignored
  bool reclaim_now_ = false;  // an outage began: take back what librdkafka queues

  std::shared_mutex client_mutex_;  // producer_ and topics_: shared to use, exclusive to replace
  ClientHandle producer_;           // after lanes_: destroyed before the payloads it points into
  std::unique_ptr<TopicTable> topics_;  // destroyed before producer_
  std::thread delivery_thread_;
};

// An accepted message, kept until its delivery report: librdkafka reads its payload in place, and
// the whole message is what a re-send produces again. Its address is the msg_opaque; slots are
// reused, so steady-state sending allocates nothing here.
struct KafkaProducer::InFlight {
  Message message;
  Lane* lane = nullptr;  // whose it is; null once its lane left (the report is then ignored)
  int32_t partition = RD_KAFKA_PARTITION_UA;  // chosen partition (Static); kept for a re-send
  uint64_t order = 0;                         // acceptance order
  bool in_client = false;   // produced and not reported yet: librdkafka holds it
  bool maybe_sent = false;  // taken back from a request in flight: a re-send may duplicate it
  bool parked = false;      // in parked_
};

class KafkaProducer::Lane {
 public:
  Lane(DeliveryHandler& handler, runtime::FlightLimits limits, std::shared_ptr<spdlog::logger> logger,
       const Clock& clock);

 private:
  friend class KafkaProducer;
  DeliveryHandler* handler;  // null once detached
  const runtime::FlightLimits limits;
  const std::shared_ptr<spdlog::logger> logger;
  const WarningSink sink;
  RateLimitedWarning refused_warning;   // permanent delivery failures
  RateLimitedWarning metadata_warning;  // Static partitioning waiting for metadata
  RateLimitedWarning expired_warning;   // messages that expired while parked
  std::atomic<size_t> in_flight{0};     // accepted (or being produced), not yet reported
  std::atomic<size_t> in_flight_bytes{0};
  std::atomic<int> active_senders{0};
  std::atomic<bool> closed{false};
  std::atomic<uint64_t> resent{0};  // produced again after an outage or a restart
  std::atomic<uint64_t> possible_duplicates{0};
  bool detached = false;  // guarded by the producer's mutex_
  size_t held = 0;        // slots in use, abandoned ones included; guarded by slots_mutex
  std::mutex slots_mutex;
  std::deque<InFlight> slots;       // a deque keeps addresses stable
  std::vector<InFlight*> free_slots;
};

// The producers of the process, one per endpoint and client configuration (client.id aside),
// shared by the dataflows writing through that endpoint. Any thread.
class ProducerPool {
 public:
  // The live producer for `key`, or a new one made with `options` (kept while a destination
  // holds it). One that failed for good is not given out again.
  std::shared_ptr<KafkaProducer> get(const std::string& key, KafkaProducer::Options options);
  // The producers alive now (for tests and the thread count).
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::weak_ptr<KafkaProducer>> producers_;
};

}  // namespace dataflow::kafka
