#include "bench/harness/load.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <thread>

#include "bench/harness/stamp.h"
#include "tests/support/process.h"

namespace dataflow::bench {

namespace {

class MqttSender : public Sender {
 public:
  MqttSender(WireOptions options, std::vector<std::string> topics, int qos, size_t payload_size,
             std::vector<UserProperty> properties)
      : Sender(payload_size, std::move(properties)),
        client_(std::move(options)),
        topics_(std::move(topics)),
        qos_(qos) {}
  void flush() override { client_.flush(); }
  size_t routes() const override { return topics_.size(); }
  std::string routeName(size_t route) const override { return "MQTT topic " + topics_[route]; }

 protected:
  void send(const std::string& payload) override {
    client_.publish(topics_[next_topic_], payload, qos_, properties());
    if (++next_topic_ == topics_.size()) next_topic_ = 0;
  }
  void sendTo(size_t route, const std::string& payload) override {
    client_.publish(topics_[route], payload, qos_, properties());
  }

 private:
  MqttWireClient client_;
  std::vector<std::string> topics_;
  size_t next_topic_ = 0;
  int qos_;
};

class KafkaSender : public Sender {
 public:
  KafkaSender(const std::string& bootstrap_servers, const std::string& topic, int partitions,
              size_t payload_size, std::vector<UserProperty> headers)
      : Sender(payload_size, std::move(headers)),
        producer_(bootstrap_servers, topic),
        topic_(topic),
        partitions_(partitions) {}
  void flush() override {}  // librdkafka batches on its own (linger.ms=5)
  size_t routes() const override { return static_cast<size_t>(partitions_); }
  std::string routeName(size_t route) const override {
    return "Kafka topic " + topic_ + " partition " + std::to_string(route);
  }

 protected:
  void send(const std::string& payload) override { producer_.produce(payload, properties()); }
  void sendTo(size_t route, const std::string& payload) override {
    producer_.produce(payload, properties(), static_cast<int32_t>(route));
  }

 private:
  KafkaLoadProducer producer_;
  std::string topic_;
  int partitions_;
};

}  // namespace

Sender::Sender(size_t payload_size, std::vector<UserProperty> properties)
    : payload_size_(payload_size), properties_(std::move(properties)) {}

void Sender::sendNext(uint64_t stamp_ns) {
  stampPayload(buffer_, payload_size_, next_sequence_, stamp_ns);
  send(buffer_);
  ++next_sequence_;
}

void Sender::sendProbe(size_t route, uint64_t probe_number) {
  stampProbe(probe_buffer_, payload_size_, probe_number);
  sendTo(route, probe_buffer_);
  flush();
}

std::unique_ptr<Sender> mqttSender(const std::string& host, int port,
                                   std::vector<std::string> topics, int qos, size_t payload_size,
                                   std::vector<UserProperty> properties) {
  WireOptions options;
  options.host = host;
  options.port = port;
  options.client_id = "bench-publisher";
  return std::make_unique<MqttSender>(std::move(options), std::move(topics), qos, payload_size,
                                      std::move(properties));
}

std::unique_ptr<Sender> kafkaSender(const std::string& bootstrap_servers, const std::string& topic,
                                    int partitions, size_t payload_size,
                                    std::vector<UserProperty> headers) {
  return std::make_unique<KafkaSender>(bootstrap_servers, topic, partitions, payload_size,
                                       std::move(headers));
}

std::vector<UserProperty> benchProperties(int count) {
  std::vector<UserProperty> out;
  for (int i = 0; i < count; ++i) {
    out.push_back(UserProperty{"p" + std::to_string(i), "value-" + std::to_string(100000 + i)});
  }
  return out;
}

std::vector<double> cpuSecondsOf(const std::vector<pid_t>& pids) {
  std::vector<double> out;
  for (pid_t pid : pids) out.push_back(testing::cpuSeconds(pid));
  return out;
}

LoadOutcome drive(Sender& sender, const Tally* tally, const LoadPlan& plan) {
  if (plan.closed && tally == nullptr) throw std::logic_error("a closed loop needs a tally");
  LoadOutcome out;
  out.sent_before = sender.sent();
  constexpr uint64_t kSecondNs = 1'000'000'000ULL;
  const uint64_t start = nowNs();
  const uint64_t measure_from = start + static_cast<uint64_t>(plan.warmup_s * 1e9);
  // The window lasts measure_s from when it actually starts, however late the loop gets there.
  uint64_t end = std::numeric_limits<uint64_t>::max();
  uint64_t stall_limit = end;
  const double interval_ns = plan.rate > 0 ? 1e9 / plan.rate : 0;
  uint64_t scheduled = 0;  // open loop: messages due so far in this phase
  bool measuring = false;
  uint64_t received_from = 0;
  std::vector<double> cpu_from;
  uint64_t next_second = start + kSecondNs;
  // A closed-loop window in which nothing has arrived yet stays open until something does, up to
  // kStallLimit past its end: on a slow or overloaded machine the rate comes out low, never zero.
  auto stalled = [&](uint64_t now) {
    return measuring && plan.closed && tally->received() == received_from && now < stall_limit;
  };
  for (uint64_t now = nowNs(); now < end || stalled(now); now = nowNs()) {
    if (!measuring && now >= measure_from) {
      measuring = true;
      out.measure_from_ns = now;
      end = now + static_cast<uint64_t>(plan.measure_s * 1e9);
      stall_limit = end + static_cast<uint64_t>(std::chrono::nanoseconds(kStallLimit).count());
      received_from = tally != nullptr ? tally->received() : 0;
      cpu_from = cpuSecondsOf(plan.watched);
    }
    // One call per second of the phase, late ones caught up (a QoS 1 publish can block the loop).
    while (plan.every_second && now >= next_second) {
      plan.every_second(static_cast<double>(next_second - start) / 1e9);
      next_second += kSecondNs;
    }
    if (plan.closed) {
      // Up to the window, in bursts of at most 256 between flushes so the receiver sees a steady
      // stream; then wait for the receiving side.
      int burst = 0;
      while (sender.sent() - tally->received() < plan.window && burst < 256) {
        sender.sendNext(nowNs());
        ++burst;
      }
      sender.flush();
      if (burst == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    } else {
      // Everything due by now, stamped with when it was due.
      while (start + static_cast<uint64_t>(static_cast<double>(scheduled) * interval_ns) <= now) {
        sender.sendNext(start +
                        static_cast<uint64_t>(static_cast<double>(scheduled) * interval_ns));
        ++scheduled;
      }
      sender.flush();
      const uint64_t due =
          start + static_cast<uint64_t>(static_cast<double>(scheduled) * interval_ns);
      const uint64_t after = nowNs();
      if (due > after + 100'000)
        std::this_thread::sleep_for(std::chrono::nanoseconds(due - after - 50'000));
    }
  }
  out.measure_to_ns = nowNs();
  out.received_in_window = tally != nullptr ? tally->received() - received_from : 0;
  const std::vector<double> cpu_to = cpuSecondsOf(plan.watched);
  for (size_t i = 0; i < cpu_to.size(); ++i) {
    out.cpu_seconds.push_back(i < cpu_from.size() ? cpu_to[i] - cpu_from[i] : 0);
  }
  out.sent = sender.sent();
  // The seconds the loop left before its last pass saw them: still one call each.
  while (plan.every_second && next_second <= end) {
    plan.every_second(static_cast<double>(next_second - start) / 1e9);
    next_second += kSecondNs;
  }
  return out;
}

double waitReady(Sender& sender, const std::function<bool(uint64_t)>& arrived,
                 std::chrono::milliseconds timeout) {
  using std::chrono::steady_clock;
  const auto start = steady_clock::now();
  const auto deadline = start + timeout;
  std::vector<std::vector<uint64_t>> probes(sender.routes());  // the numbers sent, per route
  std::vector<bool> ready(sender.routes(), false);
  uint64_t next_probe = 0;
  auto next_send = steady_clock::now();
  for (;;) {
    std::vector<size_t> silent;
    for (size_t route = 0; route < ready.size(); ++route) {
      for (size_t i = 0; !ready[route] && i < probes[route].size(); ++i) {
        ready[route] = arrived(probes[route][i]);
      }
      if (!ready[route]) silent.push_back(route);
    }
    if (silent.empty()) return std::chrono::duration<double>(steady_clock::now() - start).count();
    const auto now = steady_clock::now();
    if (now >= deadline) {
      std::string names;
      for (size_t i = 0; i < std::min<size_t>(silent.size(), 3); ++i) {
        names += (i > 0 ? ", " : "") + sender.routeName(silent[i]);
      }
      if (silent.size() > 3) names += " and " + std::to_string(silent.size() - 3) + " more";
      throw std::runtime_error(
          "the path was not ready: no readiness probe came back within " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
          " s through " + names + " (" + std::to_string(silent.size()) + " of " +
          std::to_string(ready.size()) + " routes silent)");
    }
    if (now >= next_send) {
      for (size_t route : silent) {
        sender.sendProbe(route, next_probe);
        probes[route].push_back(next_probe++);
      }
      next_send = now + kProbeResendInterval;
    }
    // Polling the receiver's tally, as waitDelivered does: it has no other signal.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool waitDelivered(const Tally& tally, uint64_t sent, int quiet_ms) {
  uint64_t last = tally.unique();
  auto last_progress = std::chrono::steady_clock::now();
  while (tally.unique() < sent) {
    const uint64_t now_unique = tally.unique();
    if (now_unique != last) {
      last = now_unique;
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress >
               std::chrono::milliseconds(quiet_ms)) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace dataflow::bench
