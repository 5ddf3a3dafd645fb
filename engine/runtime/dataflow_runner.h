// One running Dataflow: its source, its transform pipeline and its destination, wired together.
//
//   source thread:      Source -> onMessage -> Pipeline::process -> Destination::send (may block)
//   delivery thread:    Destination -> onDelivery / onExpired -> Source::ack
//   any connector thread: onFailure -> state Failed, the Engine's failure callback
//
// With a spool (useSpool(), engine/spool/spool.h) the spool is the point of safety:
//   source thread:      Source -> onMessage -> Spool::put (waits while the spool is full)
//   spool thread:       group commit -> Source::ack
//   sender thread:      Spool::take -> Pipeline::process -> Destination::send (may block)
//   delivery thread:    Destination -> onDelivery / onExpired -> Spool::acknowledge (the cursor)
//
// The runner owns the three parts and the dataflow's counters. Built by the Engine; start/stop
// are called from the Engine's (main) thread. A connector that can no longer work (or a handler
// that throws) reports onFailure: the runner marks itself Failed, logs the reason once and wakes
// the Engine, which stops it from the main thread (never from the failing connector's thread,
// whose own close() would join it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/core/clock.h"
#include "engine/core/destination.h"
#include "engine/core/source.h"
#include "engine/transform/pipeline.h"
#include "engine/core/rate_limited_warning.h"
#include "engine/runtime/dataflow_telemetry.h"
#include "engine/runtime/latency_histogram.h"
#include "engine/spool/spool.h"

namespace spdlog {
class logger;
}

namespace dataflow::runtime {


class DataflowRunner final : public MessageHandler, public DeliveryHandler {
 public:
  DataflowRunner(std::string name, std::unique_ptr<transform::Pipeline> pipeline,
                 std::unique_ptr<Source> source, std::unique_ptr<Destination> destination,
                 std::shared_ptr<spdlog::logger> logger, const Clock& clock,
                 std::shared_ptr<DataflowTelemetry> telemetry = nullptr);
  // Closes what is still open and hands the final counts to the telemetry.
  ~DataflowRunner() override;

  // Called (once, from the failing thread) when the runner turns Failed. Must not block. Set
  // before start().
  void setFailureCallback(std::function<void()> callback) { on_failure_ = std::move(callback); }

  // The dataflow spools (engine/spool/spool.h) in options.directory, opened by start(). Call
  // before start().
  void useSpool(spool::SpoolOptions options) { spool_options_ = std::move(options); }

  // Opens the spool (if any), starts the destination, then the source. Neither waits for its
  // broker. On failure the state is Failed with the reason.
  Status start();

  // Before a stop: this instance leaves for good, so the source ends its broker session when it
  // stops (Source::endSessionAtStop).
  void leavingForGood() { source_->endSessionAtStop(); }
  // Phase 1 of a stop: the source takes no new messages.
  void stopReceiving();
  // Phase 2: waits up to `timeout` for what is in flight (with a spool: until the spool is
  // empty), then releases both connections. Returns how many received messages were not
  // delivered and are not in a spool either (in flight at the deadline plus abandoned: their
  // sources still have them), and logs that count when it is not zero. What stays in a spool is
  // logged as such and sent at the next start.
  uint64_t drainAndClose(std::chrono::milliseconds timeout);

  const std::string& name() const { return name_; }
  RunnerState state() const { return state_.load(); }
  // Why the runner failed (empty unless Failed). Any thread.
  std::string failureReason() const;
  RunnerCounters counters() const;
  transform::CounterSnapshot transformCounters() const { return pipeline_->counters(); }
  LatencySnapshot latency() const { return latency_.snapshot(); }
  StageLatencies stageLatencies() const;
  ConnectionHealth sourceHealth() const { return source_->health(); }
  std::vector<PartitionLag> sourceLag() const { return source_->partitionLag(); }
  ConnectionHealth destinationHealth() const { return destination_->health(); }
  // Payload bytes accepted by the destination and not yet reported. Any thread.
  uint64_t inFlightBytes() const;
  // How many of the latest destination reports in a row were refusals (0 after a delivery), and
  // the latest refusal's reason. Any thread.
  uint64_t refusedInARow() const { return refused_in_a_row_.load(std::memory_order_relaxed); }
  std::string lastRefusal() const;
  // The spool's figures, when the dataflow spools and start() opened it. Any thread.
  std::optional<spool::SpoolStats> spoolStats() const;

  void onMessage(Message&& message) override;
  void onDelivery(const AckToken& token, const Status& status) override;
  void onExpired(const AckToken& token) override;
  // Both interfaces' onFailure: the first call marks the runner Failed; later ones are ignored.
  void onFailure(const Status& reason) override;

 private:
  using Counter = std::atomic<uint64_t>;

  // Transform and send (the source thread without a spool, the sender thread with one).
  void forward(Message&& message);
  // The sender thread: forward() what the spool holds, in order, until it stops giving.
  void sendFromSpool();
  // `token`'s message has left the engine's responsibility: the spool's cursor or the source.
  void settle(const AckToken& token);

  // A message sent and then refused or expired: its bytes leave the in-flight bytes (delivered
  // ones leave through delivered_bytes_).
  void unsettled(const AckToken& token);
  // Upload latency of a reported message (now: the report's time).
  void recordUpload(const AckToken& token, std::chrono::steady_clock::time_point now, bool ok);
  void refusedBy(const Status& status);

  std::string name_;
  std::unique_ptr<transform::Pipeline> pipeline_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<Destination> destination_;
  std::shared_ptr<spdlog::logger> logger_;
  const Clock& clock_;
  WarningSink warning_sink_;
  RateLimitedWarning refused_warning_;
  bool closed_ = false;  // the thread that stops the runner (one at a time)
  std::function<void()> on_failure_;
  std::atomic<RunnerState> state_{RunnerState::Created};
  mutable std::mutex failure_mutex_;
  std::string failure_reason_;  // guarded by failure_mutex_

  std::optional<spool::SpoolOptions> spool_options_;
  mutable std::mutex spool_mutex_;  // publishes spool_ to spoolStats()'s threads
  std::unique_ptr<spool::Spool> spool_;
  std::thread sender_;

  std::shared_ptr<DataflowTelemetry> telemetry_;
  Counter received_{0};
  Counter received_bytes_{0};
  Counter sent_{0};
  Counter delivered_{0};
  Counter delivered_bytes_{0};
  LatencyHistogram latency_;  // receive -> destination acknowledgement
  LatencyHistogram transformation_ok_;
  LatencyHistogram transformation_failed_;
  LatencyHistogram upload_ok_;
  LatencyHistogram upload_failed_;
  Counter refused_{0};
  Counter dropped_{0};
  Counter expired_{0};
  Counter abandoned_{0};
  Counter sent_bytes_{0};     // payload bytes of the messages counted in sent_
  Counter dropped_bytes_{0};  // ... of those refused or expired since
  Counter refused_in_a_row_{0};
  mutable std::mutex refusal_mutex_;
  std::string last_refusal_;  // guarded by refusal_mutex_
};

}  // namespace dataflow::runtime
