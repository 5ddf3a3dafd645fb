#include "engine/runtime/dataflow_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "engine/core/thread_name.h"

namespace dataflow::runtime {

namespace {
constexpr auto kWarningInterval = std::chrono::seconds(10);
constexpr auto kRelaxed = std::memory_order_relaxed;
}  // namespace

DataflowRunner::DataflowRunner(std::string name, std::unique_ptr<transform::Pipeline> pipeline,
                               std::unique_ptr<Source> source,
                               std::unique_ptr<Destination> destination,
                               std::shared_ptr<spdlog::logger> logger, const Clock& clock,
                               std::shared_ptr<DataflowTelemetry> telemetry)
    : name_(std::move(name)),
      pipeline_(std::move(pipeline)),
      source_(std::move(source)),
      destination_(std::move(destination)),
      logger_(std::move(logger)),
      clock_(clock),
      warning_sink_([logger = logger_](std::string_view line) { logger->warn("{}", line); }),
      refused_warning_(clock, warning_sink_, kWarningInterval),
      telemetry_(std::move(telemetry)) {}

DataflowRunner::~DataflowRunner() {
  if (!closed_) drainAndClose(std::chrono::milliseconds(0));
  if (telemetry_) telemetry_->detach(*this);
}

Status DataflowRunner::start() {
  if (telemetry_) telemetry_->attach(*this);
  if (spool_options_) {
    auto opened = spool::Spool::open(*spool_options_, clock_, logger_,
                                      [this](const AckToken& token) { source_->ack(token); });
    if (!opened.isOk()) {
      onFailure(opened.status());
      return opened.status();
    }
    std::lock_guard lock(spool_mutex_);
    spool_ = std::move(opened).value();
  }
  Status status = destination_->start(*this);
  if (status.isOk()) status = source_->start(*this);
  if (!status.isOk()) {
    onFailure(status);
    return status;
  }
  if (spool_) {
    sender_ = std::thread([this] {
      nameThisThread("df-spool-send");
      sendFromSpool();
    });
  }
  RunnerState expected = RunnerState::Created;
  state_.compare_exchange_strong(expected, RunnerState::Running);
  return Status::ok();
}

void DataflowRunner::onFailure(const Status& reason) {
  {
    std::lock_guard lock(failure_mutex_);
    if (state_.load() == RunnerState::Failed || state_.load() == RunnerState::Stopped) return;
    failure_reason_ = reason.message();
    state_.store(RunnerState::Failed);
  }
  logger_->error(
      "dataflow failed: {}; stopping it (what it has not delivered stays unacknowledged at its "
      "source), the other dataflows go on",
      reason.message());
  if (on_failure_) on_failure_();
}

std::string DataflowRunner::failureReason() const {
  std::lock_guard lock(failure_mutex_);
  return failure_reason_;
}

void DataflowRunner::onMessage(Message&& message) {
  received_.fetch_add(1, kRelaxed);
  received_bytes_.fetch_add(message.payload.size(), kRelaxed);
  if (state_.load() == RunnerState::Failed) {
    abandoned_.fetch_add(1, kRelaxed);  // not acknowledged: the source's broker keeps it
    return;
  }
  if (!spool_) {
    forward(std::move(message));
    return;
  }
  const AckToken token = message.ack;
  const Status status = spool_->put(std::move(message));
  if (status.isOk()) return;  // the spool acknowledges it to the source once it is durable
  if (status.isFatal()) {
    refused_.fetch_add(1, kRelaxed);
    refusedBy(status);
    refused_warning_.report([&] { return "message refused: " + status.message(); });
    source_->ack(token);
  } else {
    abandoned_.fetch_add(1, kRelaxed);  // the spool is closing: the source's broker keeps it
  }
}

void DataflowRunner::sendFromSpool() {
  try {
    while (std::optional<Message> message = spool_->take()) forward(std::move(*message));
  } catch (const std::exception& e) {
    onFailure(Status::fatal(std::string("sending from the spool failed: ") + e.what()));
  }
}

void DataflowRunner::settle(const AckToken& token) {
  if (spool_) {
    spool_->acknowledge(token.sequence);
  } else {
    source_->ack(token);
  }
}

void DataflowRunner::forward(Message&& message) {
  // A message from the spool that is not sent stays in the spool: it is not abandoned.
  const bool spooled = spool_ != nullptr;
  if (spooled && state_.load() == RunnerState::Failed) return;
  const AckToken token = message.ack;
  // Wait for room before transforming: the expiry stage then counts the time spent waiting.
  if (!destination_->awaitCapacity(message.payload.size() + message.topic.size())) {
    if (!spooled) abandoned_.fetch_add(1, kRelaxed);
    return;
  }
  const bool forward = pipeline_->process(message) == transform::Outcome::Forward;
  const auto ready = clock_.steadyNow();
  const auto transformed_in = ready - message.received_at;
  if (!forward) {
    // Counted and reported (rate-limited) by the pipeline itself.
    transformation_failed_.record(transformed_in);
    dropped_.fetch_add(1, kRelaxed);
    settle(token);
    return;
  }
  transformation_ok_.record(transformed_in);
  // Travels with the message and comes back in its delivery report.
  message.ack.received_at = message.received_at;
  message.ack.payload_bytes = static_cast<uint32_t>(message.payload.size());
  const int64_t after_us =
      std::chrono::duration_cast<std::chrono::microseconds>(transformed_in).count();
  message.ack.sent_after_us = static_cast<uint32_t>(
      std::clamp<int64_t>(after_us, 0, std::numeric_limits<uint32_t>::max()));
  // Counted before send: the delivery report may arrive before send() returns.
  const AckToken sent_token = message.ack;
  sent_bytes_.fetch_add(sent_token.payload_bytes, kRelaxed);
  sent_.fetch_add(1, kRelaxed);
  Status status = destination_->send(std::move(message));
  if (status.isOk()) return;
  if (status.isFatal()) {
    // Sent and refused at once: it still leaves inFlight() unchanged.
    refused_.fetch_add(1, kRelaxed);
    unsettled(sent_token);
    recordUpload(sent_token, clock_.steadyNow(), false);
    refusedBy(status);
    refused_warning_.report(
        [&] { return "message refused by the destination: " + status.message(); });
    settle(token);
  } else {
    sent_.fetch_sub(1, kRelaxed);
    sent_bytes_.fetch_sub(sent_token.payload_bytes, kRelaxed);
    if (!spooled) abandoned_.fetch_add(1, kRelaxed);
  }
}

void DataflowRunner::unsettled(const AckToken& token) {
  dropped_bytes_.fetch_add(token.payload_bytes, kRelaxed);
}

void DataflowRunner::recordUpload(const AckToken& token, std::chrono::steady_clock::time_point now,
                                  bool ok) {
  if (token.received_at == std::chrono::steady_clock::time_point{}) return;  // not sent by us
  const auto sent_at = token.received_at + std::chrono::microseconds(token.sent_after_us);
  (ok ? upload_ok_ : upload_failed_).record(now - sent_at);
}

StageLatencies DataflowRunner::stageLatencies() const {
  StageLatencies s;
  s.transformation_ok = transformation_ok_.snapshot();
  s.transformation_failed = transformation_failed_.snapshot();
  s.upload_ok = upload_ok_.snapshot();
  s.upload_failed = upload_failed_.snapshot();
  return s;
}

void DataflowRunner::refusedBy(const Status& status) {
  refused_in_a_row_.fetch_add(1, kRelaxed);
  std::lock_guard lock(refusal_mutex_);
  last_refusal_ = status.message();
}

std::string DataflowRunner::lastRefusal() const {
  std::lock_guard lock(refusal_mutex_);
  return last_refusal_;
}

uint64_t DataflowRunner::inFlightBytes() const {
  // Reported before sent, as in counters(): never more reported than sent in one reading.
  const uint64_t settled = delivered_bytes_.load(kRelaxed) + dropped_bytes_.load(kRelaxed);
  const uint64_t sent = sent_bytes_.load(kRelaxed);
  return sent > settled ? sent - settled : 0;
}

void DataflowRunner::onDelivery(const AckToken& token, const Status& status) {
  // The destination has logged a refusal (rate-limited) with its topic and reason.
  const auto now = clock_.steadyNow();
  recordUpload(token, now, status.isOk());
  if (status.isOk()) {
    delivered_.fetch_add(1, kRelaxed);
    delivered_bytes_.fetch_add(token.payload_bytes, kRelaxed);
    if (refused_in_a_row_.load(kRelaxed) != 0) refused_in_a_row_.store(0, kRelaxed);
    if (token.received_at != std::chrono::steady_clock::time_point{}) {
      latency_.record(now - token.received_at);
    }
  } else {
    refused_.fetch_add(1, kRelaxed);
    unsettled(token);
    refusedBy(status);
  }
  settle(token);
}

void DataflowRunner::onExpired(const AckToken& token) {
  // The destination has logged it (rate-limited); the pipeline counts the ones it drops itself.
  expired_.fetch_add(1, kRelaxed);
  unsettled(token);
  settle(token);
}

std::optional<spool::SpoolStats> DataflowRunner::spoolStats() const {
  std::lock_guard lock(spool_mutex_);
  if (!spool_) return std::nullopt;
  return spool_->stats();
}

void DataflowRunner::stopReceiving() {
  if (!closed_) source_->stopReceiving();
}

uint64_t DataflowRunner::drainAndClose(std::chrono::milliseconds timeout) {
  if (closed_) return 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // First let the source hand over what it has buffered, so the flush below covers it too.
  const size_t not_handed_over = source_->drainReceived(deadline);
  if (spool_) {
    // What the spool holds is safe, but a dataflow that is removed would leave it behind: send
    // it while the deadline allows, then stop taking (what is not sent stays for the next start).
    while (!spool_->drained() && state_.load() != RunnerState::Failed &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    spool_->stopTaking();
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  const size_t unreported = destination_->flush(std::max(left, std::chrono::milliseconds(0)));
  destination_->close();  // unblocks the sender thread
  if (sender_.joinable()) sender_.join();
  uint64_t kept = 0;
  if (spool_) {
    spool_->close();  // commits what was put and acknowledges it to the source
    kept = spool_->stats().records;
  }
  source_->close();
  closed_ = true;
  {
    std::lock_guard lock(failure_mutex_);
    if (state_.load() != RunnerState::Failed) state_.store(RunnerState::Stopped);
  }
  const uint64_t abandoned = abandoned_.load();
  // With a spool, what was in flight is still in the spool: not lost.
  const uint64_t lost = (spool_ ? 0 : unreported) + abandoned + not_handed_over;
  if (lost > 0) {
    logger_->error(
        "{} received message{} not delivered before the {} ms drain deadline ({} in flight, {} "
        "not yet accepted by the destination, {} still buffered in the source)",
        lost, lost == 1 ? "" : "s", timeout.count(), spool_ ? 0 : unreported, abandoned,
        not_handed_over);
  }
  if (kept > 0) {
    logger_->info("{} message{} stay in the spool {} and are sent at the next start", kept,
                  kept == 1 ? "" : "s", spool_->directory());
  }
  return lost;
}

RunnerCounters DataflowRunner::counters() const {
  // Completions before what they complete: a reading taken while messages flow then shows at
  // most a few more in flight than there were, rather than more delivered than sent
  // (inFlight() is never negative either way).
  RunnerCounters c;
  c.delivered = delivered_.load(kRelaxed);
  c.delivered_bytes = delivered_bytes_.load(kRelaxed);
  c.refused = refused_.load(kRelaxed);
  c.expired = expired_.load(kRelaxed);
  c.dropped = dropped_.load(kRelaxed);
  c.sent = sent_.load(kRelaxed);
  c.received = received_.load(kRelaxed);
  c.received_bytes = received_bytes_.load(kRelaxed);
  c.abandoned = abandoned_.load(kRelaxed);
  return c;
}

}  // namespace dataflow::runtime
