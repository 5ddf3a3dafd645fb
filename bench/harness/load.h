// The load loop: stamped messages sent closed-loop (at most `window` sent but not yet received, as
// fast as that allows: the highest rate the path sustains without loss) or open-loop (a fixed
// rate, each message stamped with its scheduled send time so a stalled sender cannot hide
// latency), with the receiving side's counts, CPU and memory read over a measurement window.
#pragma once

#include <sys/types.h>

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

 protected:
  Sender(size_t payload_size, std::vector<UserProperty> properties);
  virtual void send(const std::string& payload) = 0;
  const std::vector<UserProperty>& properties() const { return properties_; }

 private:
  size_t payload_size_;
  std::vector<UserProperty> properties_;
  std::string buffer_;
  uint64_t next_sequence_ = 0;
};

// Round-robin over `topics`, one connection, QoS 0 or 1.
std::unique_ptr<Sender> mqttSender(const std::string& host, int port,
                                   std::vector<std::string> topics, int qos, size_t payload_size,
                                   std::vector<UserProperty> properties);
std::unique_ptr<Sender> kafkaSender(const std::string& bootstrap_servers, const std::string& topic,
                                    size_t payload_size, std::vector<UserProperty> headers);

// The eight properties of a "props8" scenario: names p0..p7, 12-byte values.
std::vector<UserProperty> benchProperties(int count);

struct LoadPlan {
  bool closed = true;
  uint64_t window = 1000;  // closed loop
  double rate = 0;         // open loop, messages/s
  double warmup_s = 1;
  double measure_s = 3;
  std::vector<pid_t> watched;  // CPU read over the measurement window, per process
  // Called about once a second with the seconds since the phase started (outage scenario).
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

// `tally` may be null for an open loop whose deliveries are counted another way.
LoadOutcome drive(Sender& sender, const Tally* tally, const LoadPlan& plan);

// Waits until `tally` saw every sequence number below `sent` once, or nothing new arrived for
// `quiet_ms`; true when complete.
bool waitDelivered(const Tally& tally, uint64_t sent, int quiet_ms = 5000);

}  // namespace dataflow::bench
