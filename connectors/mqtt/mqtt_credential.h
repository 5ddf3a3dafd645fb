// What an MQTT CONNECT authenticates with besides a client certificate: the v5 Authentication
// Method and Authentication Data properties (K8S-SAT for the AIO broker, OAUTH2-JWT for Azure
// Event Grid), from a source that is asked again before every CONNECT.
//
// Renewal: paho cannot send an AUTH packet, so a connection renews its credential by a graceful
// reconnect (DISCONNECT, then CONNECT with the new credential, the session kept). It does so when
// the source calls the `changed` callback given to watch() and fetch() then returns different
// data, and at Credential::renew_at (before the credential expires).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "engine/core/status.h"

namespace dataflow::mqtt {

struct Credential {
  std::string method;  // Authentication Method, e.g. "K8S-SAT", "OAUTH2-JWT"
  std::string data;    // Authentication Data: a secret, never logged
  // Reconnect with a fresh credential by then; absent: only when the source says it changed.
  // A time already past when fetched is ignored (renewing again at once would not help).
  std::optional<std::chrono::system_clock::time_point> renew_at;
};

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;

  // Connection thread, before every CONNECT and after each `changed` call. Errors name the
  // endpoint's file or provider, never the credential; Retriable (the connection backs off and
  // asks again) unless the configuration can never work.
  virtual Result<Credential> fetch() = 0;

  // Starts watching for a new credential; `changed` may be called from any thread, must not
  // block, and may fire without a real change (the connection compares). An empty `changed`
  // stops watching and returns after any callback in progress. Default: no watching. An error
  // (e.g. out of inotify watches) leaves the source usable, renewed only by renew_at and
  // reconnects.
  virtual Status watch(std::function<void()> changed) {
    (void)changed;
    return Status::ok();
  }

  // Where the credential comes from, for log lines (e.g. "service account token file /x/aud").
  virtual std::string describe() const = 0;
};

}  // namespace dataflow::mqtt
