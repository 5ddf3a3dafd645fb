#include "connectors/kubernetes/leader_election.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

namespace dataflow::kubernetes {

namespace {

constexpr double kJitter = 1.2;  // client-go's JitterFactor

// A MicroTime as the API server writes it: 2026-12-05T21:04:05.123456Z.
std::string microTimeNow() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  std::tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                now.tv_nsec / 1000);
  return text;
}

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

}  // namespace

Status LeaderElectionOptions::validate() const {
  if (identity.empty()) return Status::fatal("leader election needs an identity");
  if (lease_name.empty()) return Status::fatal("leader election needs a Lease name");
  if (retry_period.count() <= 0) return Status::fatal("the retry period must be positive");
  if (lease_duration.count() % 1000 != 0) {
    return Status::fatal("the lease duration must be whole seconds (leaseDurationSeconds)");
  }
  if (static_cast<double>(renew_deadline.count()) <=
      kJitter * static_cast<double>(retry_period.count())) {
    return Status::fatal("the renew deadline (" + std::to_string(seconds(renew_deadline)) +
                         " s) must be longer than 1.2 × the retry period (" +
                         std::to_string(seconds(retry_period)) + " s)");
  }
  if (lease_duration <= renew_deadline) {
    return Status::fatal("the lease duration must be longer than the renew deadline, or a leader "
                         "that cannot renew would still think it leads after the others took "
                         "over");
  }
  return Status::ok();
}

std::string defaultIdentity() {
  std::string base;
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') {
    base = pod;
  } else {
    char host[256] = {};
    base = ::gethostname(host, sizeof host - 1) == 0 ? host : "dataflow-operator";
  }
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(random()));
  return base + "_" + suffix;
}

LeaderElector::LeaderElector(ApiClient& client, LeaderElectionOptions options,
                             std::shared_ptr<spdlog::logger> logger)
    : client_(client), options_(std::move(options)), logger_(std::move(logger)) {}

LeaderElector::~LeaderElector() { stop(); }

std::string LeaderElector::collection() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + options_.namespace_name + "/leases";
}

std::string LeaderElector::leasePath() const {
  return collection() + "/" + options_.lease_name;
}

std::string LeaderElector::holder() const {
  std::lock_guard lock(mutex_);
  return holder_;
}

void LeaderElector::report(const std::string& problem) {
  if (problem == last_problem_) return;
  last_problem_ = problem;
  if (!problem.empty()) logger_->warn("leader election: {}", problem);
}

bool LeaderElector::tryAcquireOrRenew() {
  const std::string path = leasePath();
  const auto now = std::chrono::steady_clock::now();
  const std::string stamp = microTimeNow();
  const int64_t lease_seconds = options_.lease_duration.count() / 1000;
  Response current = client_.get(path);
  if (current.status == 404) {
    const nlohmann::json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.lease_name}, {"namespace", options_.namespace_name}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", lease_seconds},
          {"acquireTime", stamp},
          {"renewTime", stamp},
          {"leaseTransitions", 0}}}};
    Response created = client_.post(collection(), lease);
    if (created.status == 409) return false;  // another candidate created it first
    if (!created.ok()) {
      report("cannot create Lease " + options_.lease_name + ": " + created.describe());
      return false;
    }
    std::lock_guard lock(mutex_);
    holder_ = options_.identity;
    observed_spec_ = lease["spec"];
    observed_at_ = now;
    report("");
    return true;
  }
  if (!current.ok()) {
    report("cannot read Lease " + options_.lease_name + ": " + current.describe());
    return false;
  }
  nlohmann::json lease = current.body;
  nlohmann::json spec = lease.value("spec", nlohmann::json::object());
  const std::string holder = spec.value("holderIdentity", std::string());
  {
    std::lock_guard lock(mutex_);
    if (spec != observed_spec_) {
      observed_spec_ = spec;
      observed_at_ = now;
    }
    holder_ = holder;
    // Held by another whose lease has not run out on our clock since we saw it renewed.
    if (!holder.empty() && holder != options_.identity) {
      const auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", int64_t{0}));
      if (observed_at_ + duration > now) {
        report("");
        return false;
      }
    }
  }
  const bool renewing = holder == options_.identity;
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = lease_seconds;
  spec["renewTime"] = stamp;
  if (!renewing) {
    spec["acquireTime"] = stamp;
    spec["leaseTransitions"] = spec.value("leaseTransitions", int64_t{0}) + 1;
  }
  lease["spec"] = spec;  // metadata.resourceVersion as read: the PUT is conditional on it
  Response updated = client_.put(path, lease);
  if (updated.status == 409) return false;  // changed since we read it: another got there first
  if (!updated.ok()) {
    report("cannot " + std::string(renewing ? "renew" : "take") + " Lease " +
           options_.lease_name + ": " + updated.describe());
    return false;
  }
  std::lock_guard lock(mutex_);
  holder_ = options_.identity;
  observed_spec_ = spec;
  observed_at_ = now;
  report("");
  return true;
}

void LeaderElector::start(std::function<void()> on_started, std::function<void()> on_lost) {
  on_started_ = std::move(on_started);
  on_lost_ = std::move(on_lost);
  {
    std::lock_guard lock(mutex_);
    stop_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

bool LeaderElector::sleep(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, wait, [&] { return stop_; });
}

void LeaderElector::run() {
  std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(1.0, kJitter);
  auto period = [&] {
    return std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(options_.retry_period.count()) * jitter(random)));
  };
  logger_->info("leader election: campaigning for Lease {}/{} as {}", options_.namespace_name,
                options_.lease_name, options_.identity);
  std::string announced_holder;
  // Candidate: until this process holds the Lease.
  while (!tryAcquireOrRenew()) {
    const std::string now_holding = holder();
    if (now_holding != announced_holder && !now_holding.empty()) {
      logger_->info("leader election: {} leads; standing by", now_holding);
      announced_holder = now_holding;
    }
    if (!sleep(period())) return;
  }
  {
    std::lock_guard lock(mutex_);
    if (stop_) return;
  }
  renewed_at_ = std::chrono::steady_clock::now();
  leading_.store(true);
  logger_->info("leader election: this process ({}) now leads", options_.identity);
  if (on_started_) on_started_();
  // Leader: renew every retry period; give up once renew_deadline passed without a renewal.
  while (sleep(options_.retry_period)) {
    if (tryAcquireOrRenew()) {
      renewed_at_ = std::chrono::steady_clock::now();
      continue;
    }
    if (std::chrono::steady_clock::now() - renewed_at_ >= options_.renew_deadline) {
      leading_.store(false);
      logger_->error("leader election: Lease {} not renewed for {} s (holder now: {}); no longer "
                     "leading",
                     options_.lease_name, seconds(options_.renew_deadline),
                     holder().empty() ? "unknown" : holder());
      if (on_lost_) on_lost_();
      return;
    }
  }
}

void LeaderElector::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaderElector::release() {
  if (!leading_.exchange(false)) return;
  const std::string path = leasePath();
  Response current = client_.get(path);
  if (!current.ok()) {
    logger_->warn("leader election: cannot release Lease {}: {}; the others take over once it "
                  "expires",
                  options_.lease_name, current.describe());
    return;
  }
  nlohmann::json lease = current.body;
  nlohmann::json& spec = lease["spec"];
  if (spec.value("holderIdentity", std::string()) != options_.identity) return;
  const std::string stamp = microTimeNow();
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["acquireTime"] = stamp;
  spec["renewTime"] = stamp;
  Response updated = client_.put(path, lease);
  if (!updated.ok()) {
    logger_->warn("leader election: cannot release Lease {}: {}; the others take over once it "
                  "expires",
                  options_.lease_name, updated.describe());
    return;
  }
  logger_->info("leader election: Lease {} released", options_.lease_name);
}

}  // namespace dataflow::kubernetes
