// Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
// it, so that of several `dataflow operator` replicas exactly one reconciles:
//   - a candidate reads the Lease every retry period (with up to 20% jitter); it takes the Lease
//     when it does not exist (create), when its holder is empty (released), or when the holder
//     has not renewed it for leaseDurationSeconds, measured on this process's own clock from the
//     moment it last saw the record change (so clocks of different nodes need not agree);
//   - taking and renewing are updates conditional on the resourceVersion read (PUT; a 409
//     Conflict means another candidate got there first), so two candidates never both win;
//   - the leader renews every retry period; if no renewal succeeded for renew_deadline it stops
//     leading (on_lost) before the lease can have expired for the others
//     (renew_deadline < lease_duration);
//   - release() at shutdown clears holderIdentity, so a standby takes over at its next retry
//     rather than after the lease duration.
// Lease fields written: holderIdentity, leaseDurationSeconds, acquireTime, renewTime (MicroTime),
// leaseTransitions (incremented when the holder changes).
//
// Threads: start() runs the campaign on a thread of its own, which calls on_started / on_lost;
// leading(), holder() from any thread; start/stop/release from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "connectors/kubernetes/api_client.h"
#include "engine/core/status.h"

namespace spdlog {
class logger;
}

namespace dataflow::kubernetes {

struct LeaderElectionOptions {
  std::string namespace_name;
  std::string lease_name = "dataflow-operator";
  std::string identity;  // unique per process: see defaultIdentity()
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};

  // client-go's rules: lease_duration > renew_deadline > 1.2 × retry_period > 0, whole seconds
  // for the lease (leaseDurationSeconds is an integer), and an identity.
  Status validate() const;
};

// "<$POD_NAME or the host name>_<8 random hex digits>", as client-go's callers build it.
std::string defaultIdentity();

class LeaderElector {
 public:
  LeaderElector(ApiClient& client, LeaderElectionOptions options,
                std::shared_ptr<spdlog::logger> logger);
  ~LeaderElector();  // stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Campaigns until stop(): on_started once this process holds the Lease; on_lost once it could
  // not renew it within renew_deadline (the campaign then ends: a process that lost leadership
  // should stop its work and exit, as controller-runtime does, and campaign afresh when
  // restarted).
  void start(std::function<void()> on_started, std::function<void()> on_lost);
  // Ends the campaign; no callback runs after it returns. Does not release the Lease.
  void stop();
  // When this process holds the Lease: clears its holderIdentity so a standby takes over at once.
  void release();

  // One attempt (what the campaign does every retry period): true when this process holds the
  // Lease afterwards.
  bool tryAcquireOrRenew();

  bool leading() const { return leading_.load(); }
  // The holder last seen ("" when none or not read yet).
  std::string holder() const;
  const std::string& identity() const { return options_.identity; }

 private:
  void run();
  // Sleeps `wait` unless stopped; false when stopped.
  bool sleep(std::chrono::milliseconds wait);
  std::string collection() const;
  std::string leasePath() const;  // collection()/<the Lease's name>
  void report(const std::string& problem);

  ApiClient& client_;
  const LeaderElectionOptions options_;
  const std::shared_ptr<spdlog::logger> logger_;
  std::function<void()> on_started_;
  std::function<void()> on_lost_;
  std::atomic<bool> leading_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;                       // guarded by mutex_
  std::string holder_;                      // guarded by mutex_
  nlohmann::json observed_spec_;            // guarded by mutex_: the Lease's spec last read
  std::chrono::steady_clock::time_point observed_at_{};  // guarded by mutex_: when it changed
  std::chrono::steady_clock::time_point renewed_at_{};   // campaign thread: last renewal
  std::string last_problem_;                // campaign thread: logged once per change
  std::thread thread_;
};

}  // namespace dataflow::kubernetes
