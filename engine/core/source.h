// The source side of a dataflow: a connection that receives messages and hands them, one at a
// time, to the runtime. Pure interface: no client library header here (architecture page).
#pragma once

#include <chrono>
#include <string>
#include <vector>
#include <cstddef>

#include "engine/core/connection_health.h"
#include "engine/core/message.h"
#include "engine/core/status.h"

namespace dataflow {

// Implemented by the runtime. A source calls it for every message it receives.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // Called from the source's receive thread, one message at a time per thread. May block for as
  // long as the destination applies backpressure: the source must then stop reading from its
  // broker rather than buffer without bound. The handler owns `message` from here on and
  // eventually calls Source::ack(message.ack) exactly once, delivered or dropped on purpose.
  virtual void onMessage(Message&& message) = 0;
  // The source can no longer work (a thread of its own ended on an exception, onMessage threw):
  // the runtime stops the dataflow visibly. Any source thread; must not block. The message whose
  // onMessage threw is not acknowledged.
  virtual void onFailure(const Status& reason) = 0;
};

// How far a Kafka source's consumer group is behind one partition it reads: records up to the
// partition's end not yet committed (what a restart would deliver again or still has to deliver).
struct PartitionLag {
  std::string topic;
  int32_t partition = -1;
  int64_t lag = 0;

  friend bool operator==(const PartitionLag&, const PartitionLag&) = default;
};

class Source {
 public:
  virtual ~Source() = default;

  // Begins connecting and returns without waiting for the broker. An unreachable broker is not
  // an error: the source retries on its own with capped exponential backoff and jitter, and
  // resubscribes after every reconnect. A fatal Status means the settings can never work
  // (e.g. an authentication method this build cannot perform). `handler` outlives the source.
  virtual Status start(MessageHandler& handler) = 0;

  // Acknowledges a message handed to onMessage. Any thread. A source whose protocol cannot defer
  // the acknowledgement (paho acks QoS 1 on receipt) uses it for accounting only.
  virtual void ack(const AckToken& token) = 0;

  // Stops taking new messages from the broker (MQTT: disconnect and leave the session to the
  // broker; Kafka: stop fetching). Messages the source has already received are still passed to
  // the handler. Returns within a bounded time even while onMessage is blocked.
  virtual void stopReceiving() = 0;

  // After stopReceiving(): waits until every message the source has already taken from its broker
  // has been passed to the handler and onMessage has returned, or until `deadline`. Returns how
  // many such messages were still not handed over at return (0 = all). A source that buffers
  // between its client library and the handler (MQTT) drains that buffer here; one that can
  // leave unread records to the broker (Kafka) only finishes the record in progress. Runtime
  // thread.
  virtual size_t drainReceived(std::chrono::steady_clock::time_point deadline) = 0;

  // Releases the connection. No handler call happens after close() returns.
  virtual void close() = 0;

  // This instance leaves for good (a scale-down removed it): the stop that follows also ends the
  // source's session at its broker, so that what the broker would still hand this instance (its
  // share of a shared subscription, queued in a session nobody will resume) goes to the
  // remaining instances at once. Call before stopReceiving(). Sources with no broker-side session
  // ignore it (a Kafka consumer leaves its group at close anyway). Runtime thread.
  virtual void endSessionAtStop() {}

  // Whether the connection is up now: for logs and health. Any thread.
  virtual bool connected() const = 0;

  // The connection's state, latest problem and counters, for metrics and /readyz. Any thread;
  // never blocks on the broker.
  virtual ConnectionHealth health() const { return healthOf(connected()); }

  // Kafka sources: the lag of every partition this instance reads, as last measured; other
  // sources have none. For metrics. Any thread.
  virtual std::vector<PartitionLag> partitionLag() const { return {}; }
};

}  // namespace dataflow
