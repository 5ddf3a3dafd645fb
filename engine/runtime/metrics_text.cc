#include "engine/runtime/metrics_text.h"

#include <charconv>
#include <cmath>
#include <map>
#include <tuple>
#include <nlohmann/json.hpp>
#include <utility>

namespace dataflow::runtime {

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : "NaN";
}

// Label values escape backslash, double quote and line feed; HELP text backslash and line feed.
std::string escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

class Exposition {
 public:
  void family(const std::string& name, const char* type, const std::string& help) {
    text_ += "# HELP " + name + " " + escape(help, false) + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const Labels& labels, double value) {
    text_ += name;
    if (!labels.empty()) {
      text_ += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) text_ += ',';
        text_ += labels[i].first + "=\"" + escape(labels[i].second, true) + '"';
      }
      text_ += '}';
    }
    text_ += ' ' + number(value) + '\n';
  }
  // Bucket bounds and sum are kLatencyBoundsMs times `scale` (1: milliseconds, 0.001: seconds).
  void histogram(const std::string& name, const Labels& labels, const LatencySnapshot& h,
                 double scale) {
    for (size_t i = 0; i < kLatencyBoundsMs.size(); ++i) {
      Labels with_le = labels;
      with_le.emplace_back("le", number(kLatencyBoundsMs[i] * scale));
      sample(name + "_bucket", with_le, static_cast<double>(h.cumulative[i]));
    }
    Labels with_inf = labels;
    with_inf.emplace_back("le", "+Inf");
    sample(name + "_bucket", with_inf, static_cast<double>(h.count));
    sample(name + "_sum", labels, h.sum_ms * scale);
    sample(name + "_count", labels, static_cast<double>(h.count));
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

double u(uint64_t v) { return static_cast<double>(v); }

bool connected(const ConnectionHealth& side) { return side.state == ConnectionState::Connected; }

bool refusing(const DataflowReading& d) { return d.refused_in_a_row >= kRefusingAfter; }

// A spool that is full or cannot write: the source is not being acknowledged.
bool spoolStuck(const DataflowReading& d) { return d.spool && !d.spool->problem.empty(); }

bool dataflowReady(const DataflowReading& d) {
  return d.attached && d.state == RunnerState::Running && connected(d.source) &&
         connected(d.destination) && !refusing(d) && !spoolStuck(d);
}

// Per endpoint of every dataflow: `value` of its ConnectionHealth, labelled dataflow, endpoint
// and side. A Kafka destination's is that of the endpoint's producer, which its dataflows share:
// the same values under each of them.
template <class Value>
void perEndpoint(const EngineReading& r, Exposition& out, const std::string& name,
                 const char* type, const std::string& help, Value value) {
  out.family(name, type, help);
  for (const DataflowReading& d : r.dataflows) {
    out.sample(name,
               {{"dataflow", d.info.name}, {"endpoint", d.info.source_endpoint}, {"side", "source"}},
               value(d.source));
    out.sample(name,
               {{"dataflow", d.info.name},
                {"endpoint", d.info.destination_endpoint},
                {"side", "destination"}},
               value(d.destination));
  }
}

void renderConnections(const EngineReading& r, Exposition& out) {
  perEndpoint(r, out, "dataflow_endpoint_connected", "gauge",
              "1 when the dataflow's connection to the endpoint is up.",
              [](const ConnectionHealth& h) { return connected(h) ? 1.0 : 0.0; });
  out.family("dataflow_endpoint_state", "gauge",
             "The connection's state, one series per state: 1 for the current one.");
  for (const DataflowReading& d : r.dataflows) {
    for (const auto& [side, endpoint, health] :
         {std::tuple{"source", &d.info.source_endpoint, &d.source},
          std::tuple{"destination", &d.info.destination_endpoint, &d.destination}}) {
      for (ConnectionState state : {ConnectionState::Connecting, ConnectionState::Connected,
                                    ConnectionState::AuthenticationFailed}) {
        out.sample("dataflow_endpoint_state",
                   {{"dataflow", d.info.name},
                    {"endpoint", *endpoint},
                    {"side", side},
                    {"state", toString(state)}},
                   health->state == state ? 1 : 0);
      }
    }
  }
  perEndpoint(r, out, "dataflow_endpoint_connection_attempts_total", "counter",
              "Connections tried, successful or not (Kafka: to every broker, as librdkafka counts "
              "them every 5 s).",
              [](const ConnectionHealth& h) { return u(h.connection_attempts); });
  perEndpoint(r, out, "dataflow_endpoint_disconnects_total", "counter",
              "Connections that were up and were lost: reconnects follow (Kafka: per broker, "
              "idle closes included).",
              [](const ConnectionHealth& h) { return u(h.disconnects); });
  perEndpoint(r, out, "dataflow_endpoint_request_retries_total", "counter",
              "Kafka protocol requests librdkafka sent again after a timeout or transport error "
              "(0 for MQTT).",
              [](const ConnectionHealth& h) { return u(h.request_retries); });
  perEndpoint(r, out, "dataflow_endpoint_client_restarts_total", "counter",
              "Client instances re-created after a fatal error (a Kafka producer's, shared by "
              "the dataflows of its endpoint), their messages produced again.",
              [](const ConnectionHealth& h) { return u(h.client_restarts); });
}

// AIO's metrics: one series per service type, summed over the dataflows of that type.
void renderAio(const EngineReading& r, Exposition& out) {
  struct BySide {
    std::map<std::string, double> values;
    void add(const std::string& type, double v) { values[type] += v; }
  };
  BySide received, received_bytes, sent, sent_bytes, expired, processing_errors, payload_errors,
      retried;
  std::map<std::string, LatencySnapshot> latency;
  // (target type, success) and (source type, target type, success).
  std::map<std::pair<std::string, bool>, LatencySnapshot> upload;
  std::map<std::tuple<std::string, std::string, bool>, LatencySnapshot> transformation;
  double active = 0;
  for (const DataflowReading& d : r.dataflows) {
    const std::string& from = d.info.source_service_type;
    const std::string& to = d.info.destination_service_type;
    received.add(from, u(d.counters.received));
    received_bytes.add(from, u(d.counters.received_bytes));
    sent.add(to, u(d.counters.delivered));
    sent_bytes.add(to, u(d.counters.delivered_bytes));
    expired.add(to, u(d.transform.expired + d.counters.expired));
    processing_errors.add(
        to, u(d.transform.unresolved_topic + d.transform.invalid_topic + d.counters.refused));
    payload_errors.add(to, u(d.counters.refused));
    retried.add(to, u(d.destination.messages_resent));
    latency[from] += d.latency;
    upload[{to, true}] += d.stages.upload_ok;
    upload[{to, false}] += d.stages.upload_failed;
    transformation[{from, to, true}] += d.stages.transformation_ok;
    transformation[{from, to, false}] += d.stages.transformation_failed;
    if (d.attached && d.state == RunnerState::Running) ++active;
  }
  auto counter = [&](const std::string& name, const char* label, const BySide& side,
                     const std::string& help) {
    out.family(name, "counter", help);
    for (const auto& [type, v] : side.values) out.sample(name, {{label, type}}, v);
  };
  counter("aio_dataflow_messages_received", "source_service_type", received,
          "Messages received from sources (AIO metric).");
  counter("aio_dataflow_messages_sent", "target_service_type", sent,
          "Messages acknowledged by destinations (AIO metric).");
  counter("aio_dataflow_messages_retried", "target_service_type", retried,
          "Messages a destination sent again after a failed attempt (AIO metric).");
  counter("aio_dataflow_messages_expired", "target_service_type", expired,
          "Messages dropped because their MQTT v5 Message Expiry Interval ran out (AIO metric).");
  counter("aio_dataflow_messages_dropped_processing_errors", "target_service_type",
          processing_errors,
          "Messages dropped: topic template unresolvable or invalid, or refused by the "
          "destination (too large, say) (AIO metric).");
  counter("aio_dataflow_bytes_received", "source_service_type", received_bytes,
          "Payload bytes received from sources (AIO metric).");
  counter("aio_dataflow_bytes_sent", "target_service_type", sent_bytes,
          "Payload bytes acknowledged by destinations (AIO metric).");
  out.family("aio_dataflow_errors", "counter",
             "Messages a destination refused for good, by error code (AIO metric).");
  for (const auto& [type, v] : payload_errors.values) {
    out.sample("aio_dataflow_errors", {{"target_service_type", type}, {"error_code", "PayloadError"}},
               v);
  }
  out.family("aio_dataflow_processing_latency", "histogram",
             "Milliseconds from receiving a message to its destination's acknowledgement (AIO "
             "metric).");
  for (const auto& [type, h] : latency) {
    out.histogram("aio_dataflow_processing_latency", {{"source_service_type", type}}, h, 1.0);
  }
  out.family("aio_dataflow_upload_latency", "histogram",
             "Milliseconds from handing a message to the destination to its acknowledgement "
             "(success=true) or refusal (success=false) (AIO metric).");
  for (const auto& [key, h] : upload) {
    out.histogram("aio_dataflow_upload_latency",
                  {{"target_service_type", key.first}, {"success", key.second ? "true" : "false"}},
                  h, 1.0);
  }
  out.family("aio_dataflow_transformation_latency", "histogram",
             "Milliseconds from receiving a message to its being ready to send (success=true) or "
             "dropped by the pipeline (success=false) (AIO metric).");
  for (const auto& [key, h] : transformation) {
    out.histogram("aio_dataflow_transformation_latency",
                  {{"source_service_type", std::get<0>(key)},
                   {"target_service_type", std::get<1>(key)},
                   {"success", std::get<2>(key) ? "true" : "false"}},
                  h, 1.0);
  }
  out.family("aio_dataflow_active_dataflows", "gauge", "Dataflows running (AIO metric).");
  out.sample("aio_dataflow_active_dataflows", {}, active);
  out.family("aio_dataflow_version", "counter", "The engine's version, as a label (AIO metric).");
  out.sample("aio_dataflow_version", {{"version", r.version}}, 1);
}

// The disk spools, for the dataflows that have one.
void renderSpools(const EngineReading& r, Exposition& out) {
  auto perSpool = [&](const std::string& name, const char* type, const std::string& help,
                      auto value) {
    out.family(name, type, help);
    for (const DataflowReading& d : r.dataflows) {
      if (d.spool) out.sample(name, {{"dataflow", d.info.name}}, value(*d.spool));
    }
  };
  using S = spool::SpoolStats;
  perSpool("dataflow_spool_bytes", "gauge", "Bytes of the dataflow's spool on disk.",
           [](const S& s) { return u(s.bytes); });
  perSpool("dataflow_spool_messages", "gauge",
           "Messages in the spool not yet acknowledged by the destination.",
           [](const S& s) { return u(s.records); });
  perSpool("dataflow_spool_oldest_age_seconds", "gauge",
           "Seconds the oldest message in the spool has waited (0: none waits).",
           [](const S& s) { return s.oldest_age_seconds; });
  perSpool("dataflow_spool_full", "gauge",
           "1 while the spool cannot take messages (a limit reached, or a disk error): its source "
           "is not acknowledged.",
           [](const S& s) { return s.problem.empty() ? 0.0 : 1.0; });
  perSpool("dataflow_spool_full_total", "counter",
           "Times the spool reached its size or age limit.",
           [](const S& s) { return u(s.full_waits); });
  perSpool("dataflow_spool_commits_total", "counter",
           "Group commits (one write and fdatasync each).",
           [](const S& s) { return u(s.commits); });
  perSpool("dataflow_spool_committed_messages_total", "counter",
           "Messages made durable by the group commits (divided by the commits: the batch size).",
           [](const S& s) { return u(s.committed_records); });
  perSpool("dataflow_spool_committed_bytes_total", "counter",
           "Bytes written by the group commits, record headers included.",
           [](const S& s) { return u(s.committed_bytes); });
  out.family("dataflow_spool_fsync_seconds", "histogram",
             "Seconds each group commit took (write and fdatasync).");
  for (const DataflowReading& d : r.dataflows) {
    if (!d.spool) continue;
    const Labels labels{{"dataflow", d.info.name}};
    for (size_t i = 0; i < spool::kFsyncBoundsUs.size(); ++i) {
      Labels with_le = labels;
      with_le.emplace_back("le", number(static_cast<double>(spool::kFsyncBoundsUs[i]) / 1e6));
      out.sample("dataflow_spool_fsync_seconds_bucket", with_le,
                 u(d.spool->fsync_cumulative[i]));
    }
    Labels with_inf = labels;
    with_inf.emplace_back("le", "+Inf");
    out.sample("dataflow_spool_fsync_seconds_bucket", with_inf, u(d.spool->commits));
    out.sample("dataflow_spool_fsync_seconds_sum", labels, d.spool->fsync_seconds_sum);
    out.sample("dataflow_spool_fsync_seconds_count", labels, u(d.spool->commits));
  }
  perSpool("dataflow_spool_replayed_messages_total", "counter",
           "Messages found in the spool at start, not acknowledged before the stop or crash, and "
           "sent again.",
           [](const S& s) { return u(s.replayed); });
  perSpool("dataflow_spool_truncations_total", "counter",
           "Damaged spool tails (a crash mid-write, corruption) cut off at start.",
           [](const S& s) { return u(s.truncations); });
  perSpool("dataflow_spool_truncated_bytes_total", "counter",
           "Bytes cut off with those tails.", [](const S& s) { return u(s.truncated_bytes); });
  perSpool("dataflow_spool_write_errors_total", "counter",
           "Failed spool writes or reads (ENOSPC, EIO): retried; the source is not acknowledged "
           "meanwhile.",
           [](const S& s) { return u(s.write_errors); });
  perSpool("dataflow_spool_undecodable_total", "counter",
           "Spool records with a good checksum that are not a message (a newer format): "
           "skipped, logged.",
           [](const S& s) { return u(s.undecodable); });
}

void renderOwn(const EngineReading& r, Exposition& out) {
  auto perDataflow = [&](const std::string& name, const char* type, const std::string& help,
                         auto value) {
    out.family(name, type, help);
    for (const DataflowReading& d : r.dataflows) {
      out.sample(name, {{"dataflow", d.info.name}}, value(d));
    }
  };
  perDataflow("dataflow_messages_received_total", "counter",
              "Messages the dataflow's source handed over.",
              [](const DataflowReading& d) { return u(d.counters.received); });
  perDataflow("dataflow_received_bytes_total", "counter", "Payload bytes of the received messages.",
              [](const DataflowReading& d) { return u(d.counters.received_bytes); });
  perDataflow("dataflow_messages_delivered_total", "counter",
              "Messages the destination's broker acknowledged.",
              [](const DataflowReading& d) { return u(d.counters.delivered); });
  perDataflow("dataflow_delivered_bytes_total", "counter",
              "Payload bytes of the delivered messages, as sent.",
              [](const DataflowReading& d) { return u(d.counters.delivered_bytes); });
  out.family("dataflow_messages_dropped_total", "counter",
             "Messages dropped on purpose (acknowledged at the source, counted and logged), by "
             "reason.");
  for (const DataflowReading& d : r.dataflows) {
    const std::pair<const char*, uint64_t> reasons[] = {
        {"expired", d.transform.expired + d.counters.expired},
        {"unresolved_topic", d.transform.unresolved_topic},
        {"invalid_topic", d.transform.invalid_topic},
        {"refused_by_destination", d.counters.refused}};
    for (const auto& [reason, v] : reasons) {
      out.sample("dataflow_messages_dropped_total", {{"dataflow", d.info.name}, {"reason", reason}},
                 u(v));
    }
  }
  perDataflow("dataflow_messages_not_accepted_total", "counter",
              "Messages received while stopping or failed and never accepted by the destination: "
              "left unacknowledged at the source, which delivers them again.",
              [](const DataflowReading& d) { return u(d.counters.abandoned); });
  out.family("dataflow_properties_removed_total", "counter",
             "User properties or headers removed from forwarded messages, by reason.");
  for (const DataflowReading& d : r.dataflows) {
    const std::pair<const char*, uint64_t> reasons[] = {
        {"invalid_utf8", d.transform.properties_removed_invalid_utf8},
        {"too_long", d.transform.properties_removed_too_long},
        {"shadowed_by_built_in", d.transform.properties_shadowed}};
    for (const auto& [reason, v] : reasons) {
      out.sample("dataflow_properties_removed_total",
                 {{"dataflow", d.info.name}, {"reason", reason}}, u(v));
    }
  }
  perDataflow("dataflow_messages_in_flight", "gauge",
              "Messages accepted by the destination and not yet acknowledged.",
              [](const DataflowReading& d) { return u(d.in_flight); });
  perDataflow("dataflow_in_flight_bytes", "gauge",
              "Payload bytes of the messages in flight.",
              [](const DataflowReading& d) { return u(d.in_flight_bytes); });
  perDataflow("dataflow_messages_resent_total", "counter",
              "Messages the destination sent again after a failed attempt (MQTT: PUBLISHes "
              "republished; Kafka: produced again after an outage or a producer restart).",
              [](const DataflowReading& d) { return u(d.destination.messages_resent); });
  renderSpools(r, out);
  renderConnections(r, out);
  perDataflow("dataflow_ready", "gauge",
              "1 when the dataflow runs with both endpoints connected (what /readyz checks).",
              [](const DataflowReading& d) { return dataflowReady(d) ? 1.0 : 0.0; });
  perDataflow("dataflow_failures_total", "counter",
              "Times the dataflow failed (a connector that could no longer work).",
              [](const DataflowReading& d) { return u(d.failures); });
  out.family("dataflow_kafka_consumer_lag", "gauge",
             "A Kafka source's records up to each partition's end not yet committed (delivered "
             "and acknowledged), as librdkafka last measured it (every 5 s).");
  for (const DataflowReading& d : r.dataflows) {
    for (const PartitionLag& p : d.lag) {
      out.sample("dataflow_kafka_consumer_lag",
                 {{"dataflow", d.info.name},
                  {"topic", p.topic},
                  {"partition", std::to_string(p.partition)}},
                 static_cast<double>(p.lag));
    }
  }
  out.family("dataflow_delivery_latency_seconds", "histogram",
             "Seconds from receiving a message to its destination's acknowledgement.");
  for (const DataflowReading& d : r.dataflows) {
    out.histogram("dataflow_delivery_latency_seconds", {{"dataflow", d.info.name}}, d.latency,
                  0.001);
  }
  out.family("dataflow_rotations_total", "counter",
             "Dataflows rebuilt because a Secret or ConfigMap they read changed.");
  out.sample("dataflow_rotations_total", {}, u(r.rotations));
  out.family("dataflow_reloads_total", "counter", "Configuration reloads, by outcome.");
  out.sample("dataflow_reloads_total", {{"outcome", "applied"}}, u(r.reloads_applied));
  out.sample("dataflow_reloads_total", {{"outcome", "refused"}}, u(r.reloads_refused));
  out.family("dataflow_build_info", "gauge", "The engine's version, as a label; always 1.");
  out.sample("dataflow_build_info", {{"version", r.version}}, 1);
}

void renderProcess(const ProcessReading& p, Exposition& out) {
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
  out.sample("process_cpu_seconds_total", {}, p.cpu_seconds);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.sample("process_resident_memory_bytes", {}, p.resident_bytes);
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
  out.sample("process_start_time_seconds", {}, p.start_time_seconds);
  out.family("process_open_fds", "gauge", "Number of open file descriptors.");
  out.sample("process_open_fds", {}, p.open_fds);
  out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  out.sample("process_max_fds", {}, p.max_fds);
}

// "" when the side is up; else what /readyz says about it.
std::string notConnected(const char* side, const std::string& endpoint, const ConnectionHealth& h) {
  if (connected(h)) return "";
  std::string text = std::string(side) + " endpoint " + endpoint;
  if (h.state == ConnectionState::AuthenticationFailed) {
    return text + " authentication failed" + (h.problem.empty() ? "" : ": " + h.problem);
  }
  return text + " connecting" + (h.problem.empty() ? "" : " (latest problem: " + h.problem + ")");
}

nlohmann::json sideEntry(const ConnectionHealth& h) {
  nlohmann::json side{{"state", toString(h.state)}};
  if (!connected(h) && !h.problem.empty()) side["problem"] = h.problem;
  return side;
}

}  // namespace

EngineReading readEngine(const Telemetry& telemetry, std::string version) {
  EngineReading r;
  r.dataflows = telemetry.read();
  r.version = std::move(version);
  r.rotations = telemetry.rotations.load(std::memory_order_relaxed);
  r.reloads_applied = telemetry.reloads_applied.load(std::memory_order_relaxed);
  r.reloads_refused = telemetry.reloads_refused.load(std::memory_order_relaxed);
  r.started = telemetry.started.load();
  r.draining = telemetry.draining.load();
  r.process = readProcess();
  return r;
}

std::string renderMetrics(const EngineReading& reading) {
  Exposition out;
  renderAio(reading, out);
  renderOwn(reading, out);
  renderProcess(reading.process, out);
  return out.take();
}

Readiness readiness(const EngineReading& reading) {
  nlohmann::json dataflows = nlohmann::json::array();
  bool all = reading.started && !reading.draining;
  for (const DataflowReading& d : reading.dataflows) {
    if (!d.attached) continue;  // removed or stopped on purpose
    nlohmann::json entry{{"name", d.info.name}, {"state", toString(d.state)}};
    const bool ready = dataflowReady(d);
    entry["ready"] = ready;
    if (!ready) {
      all = false;
      std::string reason;
      if (d.state == RunnerState::Failed) {
        reason = "failed: " + d.failure;
      } else if (d.state != RunnerState::Running) {
        reason = std::string(toString(d.state));
      } else {
        auto add = [&reason](const std::string& part) {
          if (!part.empty()) reason += (reason.empty() ? "" : "; ") + part;
        };
        add(notConnected("source", d.info.source_endpoint, d.source));
        add(notConnected("destination", d.info.destination_endpoint, d.destination));
        if (refusing(d)) {
          add("destination endpoint " + d.info.destination_endpoint + " refusing messages (" +
              std::to_string(d.refused_in_a_row) + " in a row, the latest: " + d.last_refusal +
              ")");
        }
        if (spoolStuck(d)) add("spool not taking messages: " + d.spool->problem);
      }
      entry["reason"] = reason;
    }
    entry["source"] = sideEntry(d.source);
    entry["destination"] = sideEntry(d.destination);
    if (d.spool) {
      nlohmann::json spool{{"bytes", d.spool->bytes},
                           {"messages", d.spool->records},
                           {"oldest_age_seconds", d.spool->oldest_age_seconds},
                           {"full", !d.spool->problem.empty()}};
      if (!d.spool->problem.empty()) spool["problem"] = d.spool->problem;
      entry["spool"] = std::move(spool);
    }
    dataflows.push_back(std::move(entry));
  }
  nlohmann::json body{{"ready", all},
                      {"starting", !reading.started},
                      {"draining", reading.draining},
                      {"dataflows", dataflows}};
  return {all, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace dataflow::runtime
