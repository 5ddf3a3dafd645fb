// The load loop: stamped messages sent closed-loop (at most `window` sent but not yet received, as
// fast as that allows: the highest rate the path sustains without loss) or open-loop (a fixed
// rate, each message stamped with its scheduled send time so a stalled sender cannot hide
// latency), with the receiving side's counts, CPU and memory read over a measurement window.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/harness/kafka_load.h"
#include "bench/harness/mqtt_wire.h"
#include "bench/harness/tally.h"

namespace dataflow::bench {

// Sends stamped payloads of a fixed size with fixed properties (MQTT user properties or Kafka
// headers). Sequence numbers are the sender's own, continuing across load phases.
class Sender {
 public:
  virtual ~Sender() = default;
  uint64_t sent() const { return next_sequence_; }
  // Sends the next message stamped `stamp_ns`.
  void sendNext(uint64_t stamp_ns);
  // Hands what is buffered to the transport.
  virtual void flush() = 0;

  // The routes a message can take from this sender: each MQTT topic it round-robins over, or each
  // partition of its Kafka topic. The readiness barrier (waitReady) probes every one.
  virtual size_t routes() const = 0;
  virtual std::string routeName(size_t route) const = 0;  // for error messages
  // Sends readiness probe `probe_number` along `route` and flushes: the size and properties of a
  // message, the probe stamp of stamp.h. Sequence numbers are not touched.
  void sendProbe(size_t route, uint64_t probe_number);

 protected:
  Sender(size_t payload_size, std::vector<UserProperty> properties);
  virtual void send(const std::string& payload) = 0;
  virtual void sendTo(size_t route, const std::string& payload) = 0;
  const std::vector<UserProperty>& properties() const { return properties_; }

 private:
  size_t payload_size_;
  std::vector<UserProperty> properties_;
  std::string buffer_;
  std::string probe_buffer_;
  uint64_t next_sequence_ = 0;
};

// Round-robin over `topics`, one connection, QoS 0 or 1.
std::unique_ptr<Sender> mqttSender(const std::string& host, int port,
                                   std::vector<std::string> topics, int qos, size_t payload_size,
                                   std::vector<UserProperty> properties);
// Records go where librdkafka's partitioner puts them; `partitions` is the topic's partition count
// (the routes that readiness probes take).
std::unique_ptr<Sender> kafkaSender(const std::string& bootstrap_servers, const std::string& topic,
                                    int partitions, size_t payload_size,
                                    std::vector<UserProperty> headers);

// The eight properties of a "props8" scenario: names p0..p7, 12-byte values.
std::vector<UserProperty> benchProperties(int count);

// How long past its planned end a closed-loop window in which nothing has arrived yet is held
// open (drive); a path silent that long fails its phase.
constexpr std::chrono::seconds kStallLimit{60};

struct LoadPlan {
  bool closed = true;
  uint64_t window = 1000;  // closed loop
  double rate = 0;         // open loop, messages/s
  double warmup_s = 1;
  double measure_s = 3;        // from when the measurement actually starts
  std::vector<pid_t> watched;  // CPU read over the measurement window, per process
  // Called once for each whole second of the phase, with that second (1, 2, ...; outage
  // scenario); a call the loop was too busy to make on time is made late, never skipped.
  std::function<void(double)> every_second;
};

struct LoadOutcome {
  uint64_t sent_before = 0;  // by this sender before the phase
  uint64_t sent = 0;         // by this sender when the phase ended (total)
  uint64_t measure_from_ns = 0;
  uint64_t measure_to_ns = 0;
  uint64_t received_in_window = 0;
  std::vector<double> cpu_seconds;  // per watched process, over the measurement window
};

// testing::cpuSeconds of each process, in order.
std::vector<double> cpuSecondsOf(const std::vector<pid_t>& pids);

// `tally` may be null for an open loop whose deliveries are counted another way. A closed-loop
// window in which nothing has arrived when it should end is held open until something arrives,
// up to kStallLimit longer, so a slow machine measures a low rate rather than none.
LoadOutcome drive(Sender& sender, const Tally* tally, const LoadPlan& plan);

// How long the readiness barrier waits, and how often it sends a new probe along a route that is
// still silent (a QoS 0 probe may be dropped, e.g. before a subscription is in place).
constexpr std::chrono::seconds kReadyTimeout{60};
constexpr std::chrono::milliseconds kProbeResendInterval{1000};

// The readiness barrier, run before any phase is measured: sends a probe along every route of
// `sender` and returns once `arrived(probe_number)` holds for one probe of each route, i.e. once
// the whole path (publisher or producer, engine, subscriber or reader) has carried a message of
// the scenario's shape end to end. Throws std::runtime_error naming the silent routes when
// `timeout` passes: a path that never gets ready is an error, never a measured rate of zero.
// Returns the seconds it took.
double waitReady(Sender& sender, const std::function<bool(uint64_t)>& arrived,
                 std::chrono::milliseconds timeout = kReadyTimeout);

// Waits until `tally` saw every sequence number below `sent` once, or nothing new arrived for
// `quiet_ms` (long enough that a busy machine's late message is not counted lost); true when
// complete.
bool waitDelivered(const Tally& tally, uint64_t sent, int quiet_ms = 30000);

}  // namespace dataflow::bench
