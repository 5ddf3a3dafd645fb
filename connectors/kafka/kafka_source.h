// A Source that consumes Kafka topics as a member of the endpoint's consumer group, with
// librdkafka's C API (contract: engine/core/source.h).
//
// Topics: the dataflow's Kafka topics; a name starting with `^` is a regular expression matched
// against the cluster's topic names (librdkafka's subscribe; an extension over AIO, which names
// topics literally). Topics created later match after librdkafka's next metadata refresh
// (topic.metadata.refresh.interval.ms, 5 minutes by default). A topic that does not exist is
// logged once and the others are consumed meanwhile.
//
// Threads:
//   consumer thread   the only caller of rd_kafka_consumer_poll, hence the only thread that runs
//                     librdkafka's callbacks: rebalances, commit results, errors, logs
//                     (log.queue). No record reaches it (see below), so it never waits for the
//                     handler: the group membership, the rebalances and max.poll.interval.ms never
//                     depend on the destination. It also commits, and pauses the partitions
//                     after stopReceiving().
//   dispatch thread   reads records from the dispatch queue (rd_kafka_consume_queue) in order and
//                     calls MessageHandler::onMessage, which may block for minutes (backpressure).
//   any thread        ack() (the destination's delivery thread), connected().
//   runtime thread    start, stopReceiving, drainReceived, close. close() unsubscribes and lets
//                     the consumer thread run the last revoke before ending it.
// Data crosses threads through librdkafka's dispatch queue and, under mutex_, the OffsetTracker,
// the topic table and the flags below, with `changed_` signalling every change.
//
// Backpressure: every assigned partition's fetch queue is forwarded to one dispatch queue
// (rd_kafka_queue_forward, before the partition is assigned), so records never reach the consumer
// queue that rd_kafka_consumer_poll serves. While onMessage blocks, records wait in that queue and
// librdkafka stops fetching once it holds queued.max.messages.kbytes (consumerConfig) or
// queued.min.messages: the bound is librdkafka's own, and nothing is dropped and fetched again.
// (Pausing partitions whenever a small hand-off filled up was tried first: every pause drops
// librdkafka's prefetched records and a resume waits for the fetch in flight, which under steady
// backpressure capped throughput at a few hundred records per second.)
//
// At-least-once: an offset is committed only when every record before it in its partition was
// acknowledged (OffsetTracker); a record counts as received when the dispatch thread hands it
// over. Commits: asynchronous every commit_interval when the committable offset moved;
// synchronous for the revoked partitions on a rebalance; synchronous at close().
// enable.auto.commit is off: only this class decides what is done.
//
// Rebalances (eager, see consumerConfig): on a revoke the revoked partitions stop being handed
// over (records of theirs still queued are dropped unacknowledged: the next owner replays them);
// the records already handed to the handler get up to revoke_ack_wait to be acknowledged; then
// what is contiguous is committed and the partitions are unassigned. Acknowledgements that arrive
// later carry the old generation (AckToken::sequence) and are ignored. A lost assignment (session
// timed out, another member owns the partitions already) commits nothing.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "connectors/kafka/connection_diagnostics.h"
#include "connectors/kafka/client_statistics.h"
#include "connectors/kafka/kafka_settings.h"
#include "connectors/kafka/oauthbearer.h"
#include "connectors/kafka/offset_tracker.h"
#include "connectors/kafka/rdkafka_handles.h"
#include "engine/core/clock.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/core/source.h"

namespace spdlog {
class logger;
}

namespace dataflow::kafka {

class KafkaSource final : public Source {
 public:
  struct Options {
    ConsumerConfig config;                   // from consumerConfig(), applied in order
    std::vector<std::string> topics;         // names, or `^regex`
    std::shared_ptr<spdlog::logger> logger;  // names the dataflow; null: spdlog's default
    const Clock* clock = nullptr;            // outlives the source; null: the system clock
    // Managed identity: where the OAUTHBEARER refresh callback takes tokens from; null otherwise.
    std::shared_ptr<const OAuthBearerTokens> oauthbearer;
    // How often committable offsets are committed (asynchronously) while consuming.
    std::chrono::milliseconds commit_interval{1000};
    // How long a revoke waits for the acknowledgements of records already handed to the handler.
    // Longer than a healthy destination needs; short enough that the rest of the group is not
    // held up for long when the destination is down (the records are then replayed).
    std::chrono::milliseconds revoke_ack_wait{10'000};
    std::string endpoint_name;  // the endpoint's name, for connection failure lines (may be empty)
  };

  explicit KafkaSource(Options options);
  ~KafkaSource() override;  // close()
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // Creates the consumer, subscribes and starts both threads; returns without waiting for the
  // cluster (an unreachable cluster is retried by librdkafka and logged, rate-limited). Fatal when
  // there are no topics, librdkafka refuses the configuration or the subscription, or on a
  // second call.
  Status start(MessageHandler& handler) override;

  // Acknowledges a record handed to onMessage (token.sequence is its assignment generation).
  // Ignored when its partition has been revoked or reassigned since. Any thread.
  void ack(const AckToken& token) override;

  // Stops handing records to the handler and pauses the assigned partitions (librdkafka stops
  // fetching); the consumer stays in its group (serving rebalances and committing) until close().
  // Returns at once.
  void stopReceiving() override;

  // Waits until the record in onMessage (if any) has returned, or until `deadline`. Returns 0:
  // records librdkafka fetched but the source did not hand over are left to Kafka rather than lost
  // (never acknowledged, so never committed: the group's next consumer replays them), so they are
  // not counted as lost.
  size_t drainReceived(std::chrono::steady_clock::time_point deadline) override;

  // Waits for the record in onMessage (if any) to return and ends the dispatch thread;
  // unsubscribes, so that the consumer thread revokes the assignment and commits what is
  // contiguous synchronously (waiting up to 5 s for that); ends the consumer thread, commits
  // anything left, leaves the group (rd_kafka_consumer_close) and destroys the consumer. No
  // handler call and no commit after it returns. Acknowledgements are not waited for (the
  // runtime closes the destination first). Idempotent.
  void close() override;

  // Whether the consumer is a member of its group with a current assignment (possibly empty, when
  // the group has more members than partitions): set by an assignment, cleared by a revoke or a
  // lost assignment. A cluster outage shows here once librdkafka's session has timed out.
  bool connected() const override;
  std::vector<PartitionLag> partitionLag() const override { return statistics_.lag(); }
  // connected(), the latest connection problem (connection_diagnostics.h) and the statistics'
  // connection counters.
  ConnectionHealth health() const override;

 private:
  static void onRebalance(rd_kafka_t* consumer, rd_kafka_resp_err_t error,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void onCommit(rd_kafka_t* consumer, rd_kafka_resp_err_t error,
                       rd_kafka_topic_partition_list_t* offsets, void* opaque);
  static void onError(rd_kafka_t* consumer, int error, const char* reason, void* opaque);
  static void onLog(const rd_kafka_t* consumer, int level, const char* facility, const char* line);
  static int onCertificate(rd_kafka_t* consumer, const char* broker_name, int32_t broker_id,
                           int* x509_error, int depth, const char* der, size_t der_size,
                           char* errstr, size_t errstr_size, void* opaque);
  // The OAUTHBEARER token refresh callback, on librdkafka's background thread (oauthbearer.h).
  static void onTokenRefresh(rd_kafka_t* client, const char* oauthbearer_config, void* opaque);
  // librdkafka's statistics (statistics.interval.ms): the consumer lag per partition.
  static int onStatistics(rd_kafka_t* consumer, char* json, size_t json_length, void* opaque);

  Result<ConfHandle> makeConsumerConf();
  Status subscribe();
  void consumerLoop();
  void dispatchLoop();
  // The record as a Message when it may be handed over now (receiving, partition assigned).
  std::optional<Message> take(const rd_kafka_message_t& record);
  void strayRecord(const rd_kafka_message_t& record);
  void consumerError(const rd_kafka_message_t& record);
  void pause(const rd_kafka_topic_partition_list_t* partitions);
  // Sends the partition's records to the dispatch queue; false when librdkafka has no queue for it.
  bool forwardToDispatch(const char* topic, int32_t partition);
  void assigned(rd_kafka_topic_partition_list_t* partitions);
  void revoked(rd_kafka_topic_partition_list_t* partitions, bool lost);
  // Stops handing over records of `partitions` (all when null) in this generation; mutex_ held.
  void stopHandingOver(const std::vector<TopicPartition>* partitions);
  std::vector<CommitPosition> uncommitted(const std::vector<TopicPartition>* partitions);
  void commit(const std::vector<CommitPosition>& positions, bool synchronous);
  void commitResults(const rd_kafka_topic_partition_list_t& offsets);
  int32_t topicIndex(const char* name);  // mutex_ held
  std::vector<TopicPartition> topicPartitions(const rd_kafka_topic_partition_list_t& list);

  const ConsumerConfig config_;
  const std::vector<std::string> topics_;
  const std::string bootstrap_servers_;
  const std::shared_ptr<spdlog::logger> logger_;
  const std::shared_ptr<const OAuthBearerTokens> oauthbearer_;
  const Clock& clock_;
  const std::chrono::milliseconds commit_interval_;
  const std::chrono::milliseconds revoke_ack_wait_;
  const WarningSink warning_sink_;
  RateLimitedWarning error_warning_;    // consumer errors
  RateLimitedWarning ignored_warning_;  // acknowledgements of an old generation
  const WarningSink error_sink_;        // lines at error
  RateLimitedWarning stray_error_;      // stray records that cannot be fetched again (per record)
  ConnectionDiagnostics diagnostics_;   // TLS and SASL failures; librdkafka threads use it too
  ClientStatistics statistics_;         // served by the consumer thread's poll

  MessageHandler* handler_ = nullptr;  // set by start()

  std::mutex mutex_;
  std::condition_variable changed_;  // handler, acknowledgement or flag changes
  OffsetTracker tracker_;            // guarded by mutex_
  bool in_handler_ = false;          // guarded by mutex_: the dispatch thread is in onMessage
  bool receiving_ = true;            // guarded by mutex_: cleared by stopReceiving()/close()
  bool closing_ = false;             // guarded by mutex_: close() began; the dispatch thread ends
  bool stopping_ = false;            // guarded by mutex_: the consumer thread ends
  std::vector<std::string> topic_names_;  // guarded by mutex_; index = topic_index
  std::unordered_map<std::string, int32_t> topic_indexes_;  // guarded by mutex_
  std::set<std::string> missing_topics_;                    // guarded by mutex_; logged once each

  bool paused_ = false;  // consumer thread only: the assignment was paused after stopReceiving()

  std::atomic<bool> assigned_{false};
  std::mutex close_mutex_;  // serialises close()
  bool closed_ = false;     // guarded by close_mutex_
  ClientHandle consumer_;
  QueueHandle dispatch_queue_;  // destroyed before consumer_
  std::thread consumer_thread_;
  std::thread dispatch_thread_;
};

}  // namespace dataflow::kafka
