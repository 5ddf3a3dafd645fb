// What the runtime gives a connector factory to build one source or destination, and the factory
// interface itself. The runtime (engine/) knows no client library; connectors/registry.cc
// implements ConnectorFactory with one line per endpoint type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/manifest.h"
#include "engine/config/mounted_files.h"
#include "engine/core/clock.h"
#include "engine/core/destination.h"
#include "engine/core/source.h"
#include "engine/core/status.h"

namespace spdlog {
class logger;
}

namespace dataflow::runtime {

// Bounds on what one destination holds in flight (accepted by send() but not yet acknowledged by
// the broker). They bound memory during an outage and what a SIGKILL can lose; send() blocks at
// either bound.
struct FlightLimits {
  size_t max_messages = 10'000;
  size_t max_bytes = 16u << 20;
};

struct ConnectorContext {
  std::string dataflow_name;  // metadata.name of the Dataflow; used in logs and client ids
  const config::DataflowEndpoint* endpoint = nullptr;  // outlives the connector
  const config::MountedFiles* files = nullptr;         // secrets and ConfigMaps; outlives it
  const Clock* clock = nullptr;                        // outlives it
  std::shared_ptr<spdlog::logger> logger;              // names the dataflow (and endpoint)
  // For a client shared by the dataflows of the endpoint (a Kafka producer): names the endpoint
  // only. Null: `logger`.
  std::shared_ptr<spdlog::logger> shared_logger;
  uint32_t instance_id = 0;     // this engine instance's ordinal (--instance-id)
  uint32_t instance_count = 1;  // the profile's instanceCount
  // MQTT client id: `clientIdPrefix` (default "dataflow") + "-" + dataflow name + "-" + instance,
  // plus a role suffix for a destination. Stable across restarts, so the broker keeps the session.
  std::string client_id;
};

struct SourceSpec {
  ConnectorContext context;
  // MQTT filters or Kafka topics as they must be subscribed: `$share/<group>/` already added when
  // instance_count > 1 (MQTT), `$shared/` already normalised to `$share/`.
  std::vector<std::string> topics;
  // MQTT: filters the dataflow's previous source subscribed in the same persistent session that
  // `topics` no longer has (a reload changed its sources or instanceCount). The broker keeps a
  // session's subscriptions across connections, so they are unsubscribed once, after `topics`
  // are subscribed; else the session would go on delivering them (e.g. `a/+` next to
  // `$share/flow/a/+`, every message twice, after instanceCount grew past 1).
  std::vector<std::string> retired_topics;
};

struct DestinationSpec {
  ConnectorContext context;
  FlightLimits limits;
};

class ConnectorFactory {
 public:
  virtual ~ConnectorFactory() = default;
  // Fatal when the endpoint's settings cannot work in this build (the message says why).
  virtual Result<std::unique_ptr<Source>> createSource(const SourceSpec& spec) const = 0;
  virtual Result<std::unique_ptr<Destination>> createDestination(
      const DestinationSpec& spec) const = 0;
};

}  // namespace dataflow::runtime
