#include "engine/runtime/dataflow_telemetry.h"

#include <algorithm>

#include "engine/runtime/dataflow_runner.h"

namespace dataflow::runtime {

namespace {

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

RunnerCounters& RunnerCounters::operator+=(const RunnerCounters& other) {
  received += other.received;
  received_bytes += other.received_bytes;
  sent += other.sent;
  delivered += other.delivered;
  delivered_bytes += other.delivered_bytes;
  refused += other.refused;
  dropped += other.dropped;
  expired += other.expired;
  abandoned += other.abandoned;
  return *this;
}

const char* toString(RunnerState state) {
  switch (state) {
    case RunnerState::Created:
      return "created";
    case RunnerState::Running:
      return "running";
    case RunnerState::Failed:
      return "failed";
    case RunnerState::Stopped:
      return "stopped";
  }
  return "unknown";
}

std::string serviceType(const config::DataflowEndpoint& endpoint) {
  using config::HostType;
  if (endpoint.spec.host_type) {
    switch (*endpoint.spec.host_type) {
      case HostType::FabricRT:
        return "Fabric RTI";
      case HostType::EventGrid:
        return "Event Grid";
      case HostType::LocalBroker:
        return "Local AIO MQTT Broker";
      case HostType::Eventhub:
        return "Event Hubs";
      case HostType::CustomMqtt:
        return "Unknown Mqtt Broker";
      case HostType::CustomKafka:
        return "Unknown Kafka Broker";
    }
  }
  if (endpoint.spec.kafka) {
    return contains(endpoint.spec.kafka->host, ".servicebus.") ? "Event Hubs"
                                                                : "Unknown Kafka Broker";
  }
  const std::string host = endpoint.spec.mqtt ? endpoint.spec.mqtt->host : "";
  if (host.empty() || contains(host, "aio-broker")) return "Local AIO MQTT Broker";
  if (contains(host, ".eventgrid.azure.net")) return "Event Grid";
  return "Unknown Mqtt Broker";
}

void DataflowTelemetry::attach(const DataflowRunner& runner) {
  std::lock_guard lock(mutex_);
  if (std::find(live_.begin(), live_.end(), &runner) == live_.end()) live_.push_back(&runner);
}

void DataflowTelemetry::detach(const DataflowRunner& runner) {
  std::lock_guard lock(mutex_);
  auto it = std::find(live_.begin(), live_.end(), &runner);
  if (it == live_.end()) return;
  retired_ += runner.counters();
  retired_transform_ += runner.transformCounters();
  retired_latency_ += runner.latency();
  retired_stages_ += runner.stageLatencies();
  if (runner.state() == RunnerState::Failed) ++retired_failures_;
  retired_source_.addCounters(runner.sourceHealth());
  retired_destination_.addCounters(runner.destinationHealth());
  if (const auto spool = runner.spoolStats()) {
    if (!retired_spool_) retired_spool_.emplace();
    retired_spool_->addCounters(*spool);
  }
  live_.erase(it);
}

DataflowReading DataflowTelemetry::read() const {
  std::lock_guard lock(mutex_);
  DataflowReading r;
  r.info = info_;
  r.counters = retired_;
  r.transform = retired_transform_;
  r.latency = retired_latency_;
  r.stages = retired_stages_;
  r.failures = retired_failures_;
  ConnectionHealth source = retired_source_;
  ConnectionHealth destination = retired_destination_;
  ConnectionHealth newest_source;
  ConnectionHealth newest_destination;
  std::optional<spool::SpoolStats> newest_spool;
  std::optional<spool::SpoolStats> spool_counters = retired_spool_;
  for (const DataflowRunner* runner : live_) {
    newest_spool = runner->spoolStats();
    if (newest_spool) {
      if (!spool_counters) spool_counters.emplace();
      spool_counters->addCounters(*newest_spool);
    }
    const RunnerCounters counters = runner->counters();
    r.counters += counters;
    r.in_flight += counters.inFlight();
    r.in_flight_bytes += runner->inFlightBytes();
    r.transform += runner->transformCounters();
    r.latency += runner->latency();
    r.stages += runner->stageLatencies();
    if (runner->state() == RunnerState::Failed) ++r.failures;
    newest_source = runner->sourceHealth();
    newest_destination = runner->destinationHealth();
    source.addCounters(newest_source);
    destination.addCounters(newest_destination);
  }
  if (!live_.empty()) {
    const DataflowRunner& newest = *live_.back();
    r.attached = true;
    r.state = newest.state();
    source.state = newest_source.state;
    source.problem = std::move(newest_source.problem);
    destination.state = newest_destination.state;
    destination.problem = std::move(newest_destination.problem);
    r.lag = newest.sourceLag();
    if (newest_spool) {
      r.spool = *spool_counters;  // every spool's counters, the newest one's gauges
      r.spool->bytes = newest_spool->bytes;
      r.spool->records = newest_spool->records;
      r.spool->oldest_age_seconds = newest_spool->oldest_age_seconds;
      r.spool->full = newest_spool->full;
      r.spool->problem = std::move(newest_spool->problem);
    }
    r.refused_in_a_row = newest.refusedInARow();
    if (r.refused_in_a_row > 0) r.last_refusal = newest.lastRefusal();
    if (r.state == RunnerState::Failed) r.failure = newest.failureReason();
  }
  r.source = std::move(source);
  r.destination = std::move(destination);
  return r;
}

std::shared_ptr<DataflowTelemetry> Telemetry::dataflow(const DataflowInfo& info) {
  std::lock_guard lock(mutex_);
  for (const auto& d : dataflows_) {
    if (d->name() == info.name) return d;
  }
  auto created = std::make_shared<DataflowTelemetry>(info);
  auto at = std::lower_bound(dataflows_.begin(), dataflows_.end(), info.name,
                             [](const auto& d, const std::string& name) { return d->name() < name; });
  dataflows_.insert(at, created);
  return created;
}

void Telemetry::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  std::erase_if(dataflows_, [&](const auto& d) { return d->name() == name; });
}

std::vector<DataflowReading> Telemetry::read() const {
  std::vector<std::shared_ptr<DataflowTelemetry>> dataflows;
  {
    std::lock_guard lock(mutex_);
    dataflows = dataflows_;
  }
  std::vector<DataflowReading> readings;
  readings.reserve(dataflows.size());
  for (const auto& d : dataflows) readings.push_back(d->read());
  return readings;
}

size_t Telemetry::dataflowCount() const {
  std::lock_guard lock(mutex_);
  return dataflows_.size();
}

int64_t Telemetry::nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Telemetry::heartbeat() { heartbeat_ms_.store(nowMs(), std::memory_order_relaxed); }

std::chrono::milliseconds Telemetry::sinceHeartbeat() const {
  return std::chrono::milliseconds(nowMs() - heartbeat_ms_.load(std::memory_order_relaxed));
}

}  // namespace dataflow::runtime
