// In-memory Source and Destination for runtime tests: they record what the runtime does and let
// the test play the broker (deliver, refuse, block).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "engine/core/destination.h"
#include "engine/core/source.h"

namespace dataflow::runtime::testing {

class FakeSource final : public Source {
 public:
  Status start(MessageHandler& handler) override {
    handler_ = &handler;
    return start_status;
  }
  void ack(const AckToken& token) override {
    std::lock_guard lock(mutex_);
    acked.push_back(token.sequence);
  }
  void stopReceiving() override { stopped = true; }
  size_t drainReceived(std::chrono::steady_clock::time_point) override { return not_handed_over; }
  void close() override { closed = true; }
  void endSessionAtStop() override {
    if (on_end_session) on_end_session();
  }
  bool connected() const override { return true; }
  ConnectionHealth health() const override { return health_reading; }

  // Plays the broker: hands one message to the runtime on the calling thread.
  void receive(Message m) { handler_->onMessage(std::move(m)); }
  // Plays a source thread that died.
  void fail(const std::string& why) { handler_->onFailure(Status::fatal(why)); }
  std::vector<uint64_t> ackedSequences() {
    std::lock_guard lock(mutex_);
    return acked;
  }

  Status start_status;
  std::function<void()> on_end_session;  // called by endSessionAtStop() (may outlive the source)
  bool stopped = false;
  bool closed = false;
  size_t not_handed_over = 0;  // what drainReceived() reports
  ConnectionHealth health_reading = healthOf(true);  // what health() reports

 private:
  MessageHandler* handler_ = nullptr;
  std::mutex mutex_;
  std::vector<uint64_t> acked;  // guarded by mutex_
};

class FakeDestination final : public Destination {
 public:
  Status start(DeliveryHandler& handler) override {
    handler_ = &handler;
    return Status::ok();
  }
  bool awaitCapacity(size_t) override { return !closed; }
  Status send(Message&& m) override {
    if (!send_status.isOk()) return send_status;
    std::lock_guard lock(mutex_);
    pending.push_back(std::move(m));
    return Status::ok();
  }
  size_t flush(std::chrono::milliseconds) override {
    std::lock_guard lock(mutex_);
    return pending.size();
  }
  void close() override { closed = true; }
  bool connected() const override { return true; }
  ConnectionHealth health() const override { return health_reading; }

  // Plays the broker: acknowledges (or refuses) the oldest pending message.
  void deliverOldest(Status status = Status::ok()) {
    Message m;
    {
      std::lock_guard lock(mutex_);
      m = std::move(pending.front());
      pending.pop_front();
    }
    handler_->onDelivery(m.ack, status);
  }
  // Plays a message that expired while the destination held it.
  void expireOldest() {
    Message m;
    {
      std::lock_guard lock(mutex_);
      m = std::move(pending.front());
      pending.pop_front();
    }
    handler_->onExpired(m.ack);
  }
  // Plays a destination thread that died.
  void fail(const std::string& why) { handler_->onFailure(Status::fatal(why)); }
  size_t pendingCount() {
    std::lock_guard lock(mutex_);
    return pending.size();
  }
  Message oldest() {
    std::lock_guard lock(mutex_);
    return pending.front();
  }

  Status send_status;
  bool closed = false;
  ConnectionHealth health_reading = healthOf(true);  // what health() reports

 private:
  DeliveryHandler* handler_ = nullptr;
  std::mutex mutex_;
  std::deque<Message> pending;  // guarded by mutex_
};

}  // namespace dataflow::runtime::testing
