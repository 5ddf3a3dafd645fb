// The destination side of a dataflow: an asynchronous sender with a bounded amount of data in
// flight. Pure interface: no client library header here (architecture page).
#pragma once

#include <chrono>
#include <cstddef>

#include "engine/core/connection_health.h"
#include "engine/core/message.h"
#include "engine/core/status.h"

namespace dataflow {

// Implemented by the runtime. A destination reports each message it accepted exactly once.
class DeliveryHandler {
 public:
  virtual ~DeliveryHandler() = default;
  // Called from the destination's delivery thread. Ok: the broker has the message. Fatal: the
  // broker refused it for good (record too large, not authorised, ...); the message is dropped
  // and `status` says why in one sentence. Retriable failures never reach the handler: the
  // destination retries them itself until close().
  virtual void onDelivery(const AckToken& token, const Status& status) = 0;
  // Called from the destination's threads for a message it dropped on purpose because its
  // Message Expiry Interval ran out while the destination held it (Message::expires_at, e.g.
  // during an outage). Counted as expired; the source acknowledges it.
  virtual void onExpired(const AckToken& token) = 0;
  // The destination can no longer work and will not recover by itself (a thread of its own ended
  // on an exception, a client it could not re-create): the runtime stops the dataflow visibly.
  // Any destination thread, at most a few times; must not block. Retriable trouble (an outage)
  // and a fatal client error the destination recovers from (re-creating its client) never come
  // here.
  virtual void onFailure(const Status& reason) = 0;
};

class Destination {
 public:
  virtual ~Destination() = default;

  // Begins connecting and returns without waiting for the broker; reconnects on its own with
  // backoff. Fatal: the settings can never work. `handler` outlives the destination.
  virtual Status start(DeliveryHandler& handler) = 0;

  // Blocks until the destination can take one more message of about `bytes` bytes within its
  // in-flight bound, or until close() (then returns false). The runtime calls it before it
  // transforms a message, so a message that waits here is not transformed yet and its expiry keeps
  // running. Called from a source's receive thread(s).
  virtual bool awaitCapacity(size_t bytes) = 0;

  // Takes the message for asynchronous delivery; its outcome arrives through onDelivery. Blocks
  // while the destination's in-flight bound is reached (normally awaitCapacity() has waited
  // already): that block is the backpressure. Returns
  // Retriable without taking the message only when close() is called while it waits. Fatal: the
  // message can never be sent (e.g. larger than any batch); it is not reported to the handler.
  // Called from a source's receive thread(s).
  virtual Status send(Message&& message) = 0;

  // Waits up to `timeout` for every accepted message to be reported. Returns how many are still
  // unreported when it returns (0 = all delivered or refused).
  virtual size_t flush(std::chrono::milliseconds timeout) = 0;

  // Unblocks send() and releases the connection. No handler call happens after close() returns;
  // messages still in flight then are abandoned (the runtime counts them).
  virtual void close() = 0;

  virtual bool connected() const = 0;

  // The connection's state, latest problem and counters, for metrics and /readyz. Any thread;
  // never blocks on the broker.
  virtual ConnectionHealth health() const { return healthOf(connected()); }
};

}  // namespace dataflow
