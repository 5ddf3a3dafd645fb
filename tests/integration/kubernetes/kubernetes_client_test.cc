// The Kubernetes client pieces against tests/support/fake_kube_apiserver.py on loopback:
//   - in-cluster credentials as a pod has them (HTTPS verified with the service account's ca.crt,
//     the token file sent and re-read after a 401 when it was rotated, the namespace file);
//   - leader election over a Lease: one holder at a time, conditional updates, takeover only
//     after the lease ran out, release, and a leader that cannot renew giving up;
//   - the operator's StatefulSets and their spool volume: an emptyDir or a claim template, and a
//     StatefulSet that exists keeping the claim templates it has (the fake refuses a change of
//     them with 422, as the apiserver does) while the rest of it is updated and the profile's
//     status says so.
#include <gmock/gmock.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/kubernetes/api_client.h"
#include "connectors/kubernetes/api_server.h"
#include "connectors/kubernetes/leader_election.h"
#include "connectors/kubernetes/profile_operator.h"
#include "tests/support/capturing_sink.h"
#include "tests/support/process.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"

namespace dataflow::kubernetes {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::ChildProcess;
using testing::TempDir;
using testing::waitFor;

constexpr auto kDeadline = 30s;

std::shared_ptr<spdlog::logger> quietLogger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

class FakeApiServer {
 public:
  FakeApiServer(const TempDir& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{"/usr/bin/python3",
                                  std::string(DATAFLOW_SOURCE_DIR) +
                                      "/tests/support/fake_kube_apiserver.py",
                                  "--port", std::to_string(port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(argv, dir.file("api-server.log"));
    if (!waitFor([&] { return process_->log().find("listening on") != std::string::npos; },
                 kDeadline)) {
      throw std::runtime_error("the fake API server did not start: " + process_->log());
    }
  }
  int port() const { return port_; }

 private:
  int port_ = testing::freeTcpPort();
  std::unique_ptr<ChildProcess> process_;
};

// --- in-cluster credentials -------------------------------------------------------------------

class InCluster : public ::testing::Test {
 protected:
  InCluster() : pki_(dir_.file(""), "cluster"), server_cert_(pki_.server()) {
    std::filesystem::create_directories(dir_.file("serviceaccount"));
    std::ofstream(dir_.file("serviceaccount/ca.crt")) << readFile(pki_.caCert());
    std::ofstream(dir_.file("serviceaccount/namespace")) << "plant-ns";
    writeToken("token-1");
    ::setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    ::unsetenv("POD_NAMESPACE");  // the namespace comes from the file
  }
  ~InCluster() override {
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    ::unsetenv("KUBERNETES_SERVICE_PORT");
  }

  static std::string readFile(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // The pod's projected token and the one the server accepts, rotated together as the kubelet
  // and the token issuer do.
  void writeToken(const std::string& token) {
    std::ofstream(dir_.file("serviceaccount/token")) << token;
    std::ofstream(dir_.file("accepted-token")) << token;
  }
  std::unique_ptr<FakeApiServer> startServer() {
    auto server = std::make_unique<FakeApiServer>(
        dir_, std::vector<std::string>{"--tls-cert", server_cert_.chain, "--tls-key",
                                       server_cert_.key, "--token-file",
                                       dir_.file("accepted-token")});
    ::setenv("KUBERNETES_SERVICE_PORT", std::to_string(server->port()).c_str(), 1);
    return server;
  }

  TempDir dir_{"kubernetes-client"};
  testing::TestPki pki_;
  testing::TestCertificate server_cert_;
};

TEST_F(InCluster, ReachesTheApiServerWithTheServiceAccountAndRereadsARotatedToken) {
  auto server = startServer();
  auto found = inCluster(dir_.file("serviceaccount"));
  ASSERT_TRUE(found.isOk()) << found.status().message();
  const ApiServer& where = found.value();
  EXPECT_EQ(where.base_url, "https://127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(where.namespace_name, "plant-ns");
  auto client = ApiClient::create(where, dir_.path());
  ASSERT_TRUE(client.isOk()) << client.status().message();

  const std::string configmaps = "/api/v1/namespaces/plant-ns/configmaps";
  Response first = client.value()->get(configmaps);
  ASSERT_EQ(first.status, 200) << first.describe();
  EXPECT_EQ(first.body.value("kind", ""), "ConfigMapList");

  // The token is rotated: the cached one is refused with 401, the file is read again, and the
  // same request succeeds with the new token.
  writeToken("token-2");
  Response second = client.value()->get(configmaps);
  ASSERT_EQ(second.status, 200) << second.describe();
  // The server does refuse the old one.
  ApiServer stale = where;
  stale.token_file.clear();
  stale.token = "token-1";
  Response refused = ApiClient::create(stale, dir_.path()).value()->get(configmaps);
  EXPECT_EQ(refused.status, 401);
}

TEST_F(InCluster, AServerTheServiceAccountsCaDidNotSignIsRefused) {
  testing::TestPki other(dir_.file(""), "other");
  std::ofstream(dir_.file("serviceaccount/ca.crt")) << readFile(other.caCert());
  auto server = startServer();
  auto found = inCluster(dir_.file("serviceaccount"));
  ASSERT_TRUE(found.isOk()) << found.status().message();
  auto client = ApiClient::create(found.value(), dir_.path());
  ASSERT_TRUE(client.isOk()) << client.status().message();
  Response refused = client.value()->get("/api/v1/namespaces/plant-ns/configmaps");
  EXPECT_EQ(refused.status, 0);
  EXPECT_THAT(refused.describe(), HasSubstr("cannot reach the API server"));
}

TEST_F(InCluster, OutsideAPodItSaysSo) {
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  auto found = inCluster(dir_.file("serviceaccount"));
  ASSERT_FALSE(found.isOk());
  EXPECT_THAT(found.status().message(), HasSubstr("KUBERNETES_SERVICE_HOST"));
}

// --- leader election --------------------------------------------------------------------------

class LeaderElection : public ::testing::Test {
 protected:
  LeaderElection() {
    ApiServer where;
    where.base_url = "http://127.0.0.1:" + std::to_string(server_.port());
    client_ = std::move(ApiClient::create(where, dir_.path()).value());
  }

  LeaderElectionOptions options(const std::string& identity) const {
    LeaderElectionOptions o;
    o.namespace_name = "plant-ns";
    o.lease_name = "operator-lease";
    o.identity = identity;
    o.lease_duration = 2s;
    o.renew_deadline = 1500ms;
    o.retry_period = 200ms;
    return o;
  }
  std::unique_ptr<LeaderElector> elector(const std::string& identity) {
    return std::make_unique<LeaderElector>(*client_, options(identity), quietLogger());
  }
  nlohmann::json lease() {
    return client_->get("/apis/coordination.k8s.io/v1/namespaces/plant-ns/leases/operator-lease")
        .body;
  }

  TempDir dir_{"leader-election"};
  FakeApiServer server_{dir_};
  std::unique_ptr<ApiClient> client_;
};

TEST_F(LeaderElection, OptionsFollowClientGosRules) {
  EXPECT_TRUE(options("a").validate().isOk());
  LeaderElectionOptions o = options("a");
  o.renew_deadline = 2s;  // not shorter than the lease
  EXPECT_FALSE(o.validate().isOk());
  o = options("a");
  o.retry_period = 1300ms;  // 1.2 × 1.3 s > 1.5 s
  EXPECT_FALSE(o.validate().isOk());
  o = options("a");
  o.lease_duration = 2500ms;  // leaseDurationSeconds is an integer
  EXPECT_FALSE(o.validate().isOk());
  o = options("");
  EXPECT_FALSE(o.validate().isOk());
  EXPECT_THAT(defaultIdentity(), ::testing::MatchesRegex(".+_[0-9a-f]{8}"));
}

TEST_F(LeaderElection, TheFirstTakesTheLeaseAndTheSecondWaitsUntilItRunsOut) {
  auto a = elector("a");
  auto b = elector("b");
  ASSERT_TRUE(a->tryAcquireOrRenew());
  EXPECT_EQ(lease()["spec"]["holderIdentity"], "a");
  EXPECT_EQ(lease()["spec"]["leaseDurationSeconds"], 2);
  EXPECT_EQ(lease()["spec"]["leaseTransitions"], 0);
  EXPECT_FALSE(b->tryAcquireOrRenew());
  EXPECT_EQ(b->holder(), "a");
  ASSERT_TRUE(a->tryAcquireOrRenew());  // a renewal
  const std::string renewed = lease()["spec"]["renewTime"];
  // b first sees a's renewal now, so it may take over only once 2 s passed on its own clock.
  const auto seen = std::chrono::steady_clock::now();
  EXPECT_FALSE(b->tryAcquireOrRenew());
  ASSERT_TRUE(waitFor([&] { return b->tryAcquireOrRenew(); }, kDeadline, 50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - seen, 2s);
  const nlohmann::json taken = lease()["spec"];
  EXPECT_EQ(taken["holderIdentity"], "b");
  EXPECT_EQ(taken["leaseTransitions"], 1);
  EXPECT_NE(taken["renewTime"], renewed);
  EXPECT_EQ(taken["acquireTime"], taken["renewTime"]);
  EXPECT_FALSE(a->tryAcquireOrRenew());  // a's lease is b's now, and b's has not run out
}

TEST_F(LeaderElection, AReleasedLeaseIsTakenAtOnce) {
  auto a = elector("a");
  auto b = elector("b");
  std::atomic<int> started{0};
  a->start([&] { ++started; }, [] {});
  ASSERT_TRUE(waitFor([&] { return a->leading(); }, kDeadline));
  EXPECT_EQ(started.load(), 1);
  a->stop();
  a->release();
  EXPECT_FALSE(a->leading());
  EXPECT_EQ(lease()["spec"]["holderIdentity"], "");
  EXPECT_TRUE(b->tryAcquireOrRenew());  // no waiting for the lease to run out
  EXPECT_EQ(lease()["spec"]["holderIdentity"], "b");
}

TEST_F(LeaderElection, CandidatesCampaigningTogetherNeverLeadAtTheSameTime) {
  std::vector<std::unique_ptr<LeaderElector>> candidates;
  for (const char* name : {"a", "b", "c"}) candidates.push_back(elector(name));
  std::atomic<int> leaders{0};
  for (auto& c : candidates) c->start([&] { ++leaders; }, [] {});
  ASSERT_TRUE(waitFor([&] { return leaders.load() == 1; }, kDeadline));
  // Over several renewals, still exactly one.
  for (int i = 0; i < 10; ++i) {
    int leading = 0;
    for (auto& c : candidates) leading += c->leading() ? 1 : 0;
    EXPECT_EQ(leading, 1);
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(leaders.load(), 1);
  // The leader goes away without releasing (a crash): one of the others takes over.
  LeaderElector* first = nullptr;
  for (auto& c : candidates) {
    if (c->leading()) first = c.get();
  }
  ASSERT_NE(first, nullptr);
  first->stop();
  ASSERT_TRUE(waitFor([&] { return leaders.load() == 2; }, kDeadline));
  EXPECT_EQ(lease()["spec"]["leaseTransitions"], 1);
  for (auto& c : candidates) c->stop();
}

TEST_F(LeaderElection, ALeaderThatCannotRenewGivesUp) {
  auto a = elector("a");
  std::atomic<bool> lost{false};
  a->start([] {}, [&] { lost = true; });
  ASSERT_TRUE(waitFor([&] { return a->leading(); }, kDeadline));
  // Another process takes the Lease over (as after a network partition that outlasted it).
  nlohmann::json taken = lease();
  taken["spec"]["holderIdentity"] = "usurper";
  taken["spec"]["leaseDurationSeconds"] = 3600;
  ASSERT_TRUE(client_->put("/apis/coordination.k8s.io/v1/namespaces/plant-ns/leases/operator-lease",
                           taken)
                  .ok());
  ASSERT_TRUE(waitFor([&] { return lost.load(); }, kDeadline));
  EXPECT_FALSE(a->leading());
  EXPECT_EQ(a->holder(), "usurper");
  a->stop();
  a->release();  // not the holder: leaves the Lease alone
  EXPECT_EQ(lease()["spec"]["holderIdentity"], "usurper");
}

TEST_F(LeaderElection, AnUpdateFromAStaleReadIsAConflict) {
  auto a = elector("a");
  ASSERT_TRUE(a->tryAcquireOrRenew());
  nlohmann::json stale = lease();
  ASSERT_TRUE(a->tryAcquireOrRenew());  // changes the resourceVersion
  stale["spec"]["holderIdentity"] = "b";
  Response conflict = client_->put(
      "/apis/coordination.k8s.io/v1/namespaces/plant-ns/leases/operator-lease", stale);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_THAT(conflict.describe(), HasSubstr("the object has been modified"));
  EXPECT_EQ(lease()["spec"]["holderIdentity"], "a");
}

// --- the operator's StatefulSets and their spool -----------------------------------------------

class OperatorSpool : public ::testing::Test {
 protected:
  static constexpr const char* kSets = "/apis/apps/v1/namespaces/plant-ns/statefulsets";
  static constexpr const char* kProfiles =
      "/apis/connectivity.iotoperations.azure.com/v1/namespaces/plant-ns/dataflowprofiles";

  OperatorSpool() {
    where_.base_url = "http://127.0.0.1:" + std::to_string(server_.port());
    client_ = std::move(ApiClient::create(where_, dir_.path()).value());
    const Response created =
        client_->post(kProfiles, {{"apiVersion", "connectivity.iotoperations.azure.com/v1"},
                                  {"kind", "DataflowProfile"},
                                  {"metadata", {{"name", "line"}}},
                                  {"spec", {{"instanceCount", 2}}}});
    EXPECT_TRUE(created.ok()) << created.describe();
  }

  static OperatorOptions options(const std::string& size = "", const std::string& cls = "") {
    OperatorOptions o;
    o.namespace_name = "plant-ns";
    o.engine_image = "registry.example/dataflow-engine:test";
    o.spool = {size, cls};
    o.resync = 1s;
    return o;
  }
  // Runs an operator with `o` until `rounds` reconciliations succeeded (each is a resync apart);
  // false when they did not within the deadline, as when every update is refused. A client of
  // its own: stop() ends the watches of the client it has for good.
  bool reconcileWith(const OperatorOptions& o, uint64_t rounds = 1) {
    auto logger = std::make_shared<spdlog::logger>("operator", sink_);
    auto client = std::move(ApiClient::create(where_, dir_.path()).value());
    ProfileOperator op(*client, o, logger);
    op.start();
    const bool done = waitFor([&] { return op.reconciled() >= rounds; }, kDeadline, 50ms);
    op.stop();
    return done;
  }
  nlohmann::json statefulSet() {
    return client_->get(std::string(kSets) + "/aio-dataflow-line").body;
  }
  nlohmann::json spoolCondition() {
    for (const auto& c :
         client_->get(std::string(kProfiles) + "/line")
             .body.value("/status/conditions"_json_pointer, nlohmann::json::array())) {
      if (c.value("type", "") == "SpoolStorageApplied") return c;
    }
    return nullptr;
  }
  // PATCH requests the fake received for the StatefulSet so far.
  size_t patches() {
    httplib::Client http("127.0.0.1", server_.port());
    auto got = http.Get("/_test/requests");
    size_t n = 0;
    for (const auto& r : nlohmann::json::parse(got->body)) {
      n += r.get<std::string>() == std::string("PATCH ") + kSets + "/aio-dataflow-line" ? 1 : 0;
    }
    return n;
  }

  static const nlohmann::json& container(const nlohmann::json& set) {
    return set["spec"]["template"]["spec"]["containers"][0];
  }
  static nlohmann::json named(const nlohmann::json& list, const std::string& name) {
    for (const auto& item : list) {
      if (item.value("name", "") == name) return item;
    }
    return nullptr;
  }
  static bool hasArg(const nlohmann::json& set, const std::string& arg) {
    for (const auto& a : container(set)["args"]) {
      if (a == arg) return true;
    }
    return false;
  }
  // The engine gets --spool-dir with the spool volume's mount path.
  static void expectSpoolMounted(const nlohmann::json& set) {
    const nlohmann::json& args = container(set)["args"];
    const auto at = std::find(args.begin(), args.end(), "--spool-dir");
    ASSERT_NE(at, args.end()) << args;
    ASSERT_NE(at + 1, args.end());
    EXPECT_EQ(*(at + 1), "/var/lib/dataflow/spool");
    EXPECT_EQ(named(container(set)["volumeMounts"], "spool")["mountPath"],
              "/var/lib/dataflow/spool");
    // The volume is writable by the non-root engine: its group is the engine's.
    const nlohmann::json& pod = set["spec"]["template"]["spec"]["securityContext"];
    EXPECT_EQ(pod["runAsUser"], 65532);
    EXPECT_EQ(pod["fsGroup"], 65532);
  }

  TempDir dir_{"operator-spool"};
  FakeApiServer server_{dir_};
  ApiServer where_;
  std::unique_ptr<ApiClient> client_;
  std::shared_ptr<testing::CapturingSink> sink_ = std::make_shared<testing::CapturingSink>();
};

TEST_F(OperatorSpool, QuantitiesAreComparedAsQuantities) {
  EXPECT_EQ(quantityBytes("1Gi"), std::optional<long double>(1073741824.0L));
  EXPECT_EQ(quantityBytes("500M"), std::optional<long double>(5e8L));
  EXPECT_EQ(quantityBytes("1.5Ki"), std::optional<long double>(1536.0L));
  EXPECT_EQ(quantityBytes("2048"), std::optional<long double>(2048.0L));
  for (const char* bad : {"", "0", "0Gi", "1GB", "-1Gi", "1 Gi", "Gi", "1e9", "100m"}) {
    EXPECT_EQ(quantityBytes(bad), std::nullopt) << bad;
  }
  EXPECT_TRUE(sameSpoolStorage({"1Gi", "fast"}, {"1024Mi", "fast"}));
  EXPECT_FALSE(sameSpoolStorage({"1Gi", "fast"}, {"1Gi", ""}));
  EXPECT_FALSE(sameSpoolStorage({"1Gi", ""}, {"2Gi", ""}));
  EXPECT_FALSE(sameSpoolStorage({"", ""}, {"1Gi", ""}));
  EXPECT_TRUE(sameSpoolStorage({"", ""}, {"", ""}));
}

TEST_F(OperatorSpool, WithoutASizeEachPodSpoolsToAnEmptyDir) {
  ASSERT_TRUE(reconcileWith(options())) << ::testing::PrintToString(sink_->lines());
  const nlohmann::json set = statefulSet();
  expectSpoolMounted(set);
  EXPECT_FALSE(set["spec"].contains("volumeClaimTemplates")) << set["spec"];
  EXPECT_EQ(named(set["spec"]["template"]["spec"]["volumes"], "spool"),
            (nlohmann::json{{"name", "spool"}, {"emptyDir", nlohmann::json::object()}}));
  EXPECT_FALSE(hasArg(set, "--spool-all"));
  EXPECT_EQ(spoolCondition()["status"], "True");
  EXPECT_EQ(spoolCondition()["message"], "the StatefulSet's spool is on an emptyDir");
}

TEST_F(OperatorSpool, WithASizeEachPodGetsAClaimThatOutlivesIt) {
  OperatorOptions o = options("1Gi", "fast-ssd");
  o.spool_all = true;
  ASSERT_TRUE(reconcileWith(o)) << ::testing::PrintToString(sink_->lines());
  const nlohmann::json set = statefulSet();
  expectSpoolMounted(set);
  ASSERT_EQ(set["spec"]["volumeClaimTemplates"].size(), 1u) << set["spec"];
  const nlohmann::json& claim = set["spec"]["volumeClaimTemplates"][0];
  EXPECT_EQ(claim["metadata"]["name"], "spool");
  EXPECT_EQ(claim["spec"]["accessModes"], nlohmann::json::array({"ReadWriteOnce"}));
  EXPECT_EQ(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
  EXPECT_EQ(claim["spec"]["storageClassName"], "fast-ssd");
  // The claim template is the pod's volume: no emptyDir of the same name beside it.
  EXPECT_TRUE(named(set["spec"]["template"]["spec"]["volumes"], "spool").is_null());
  EXPECT_TRUE(hasArg(set, "--spool-all"));
  EXPECT_EQ(spoolCondition()["status"], "True");

  // Unchanged settings (the same size spelt otherwise) against the claim template the apiserver
  // defaulted: nothing to write, resync after resync.
  const size_t before = patches();
  o.spool.size = "1024Mi";
  ASSERT_TRUE(reconcileWith(o, 3)) << ::testing::PrintToString(sink_->lines());
  EXPECT_EQ(patches(), before);
  EXPECT_EQ(sink_->countContaining("volumeClaimTemplates cannot change"), 0u);
}

TEST_F(OperatorSpool, AStatefulSetThatExistsKeepsItsSpoolStorageAndTheStatusSaysSo) {
  ASSERT_TRUE(reconcileWith(options()));  // created with an emptyDir
  const nlohmann::json first = statefulSet();

  // Now a claim is asked for, and the log level changed: the claim template cannot be added, the
  // rest is updated, and reconciliation keeps succeeding instead of failing at every resync.
  OperatorOptions o = options("1Gi");
  o.spool_all = true;
  o.log_level = "debug";
  ASSERT_TRUE(reconcileWith(o, 3)) << ::testing::PrintToString(sink_->lines());
  nlohmann::json set = statefulSet();
  EXPECT_FALSE(set["spec"].contains("volumeClaimTemplates")) << set["spec"];
  EXPECT_EQ(named(set["spec"]["template"]["spec"]["volumes"], "spool"),
            named(first["spec"]["template"]["spec"]["volumes"], "spool"));
  expectSpoolMounted(set);
  EXPECT_TRUE(hasArg(set, "--spool-all"));
  EXPECT_TRUE(hasArg(set, "debug"));
  const nlohmann::json profile = client_->get(std::string(kProfiles) + "/line").body;
  EXPECT_EQ(profile["status"]["state"], "Reconciled");
  EXPECT_THAT(
      profile["status"]["message"].get<std::string>(),
      HasSubstr("keeps its spool on an emptyDir; the operator is configured for a claim of 1Gi"));
  nlohmann::json condition = spoolCondition();
  EXPECT_EQ(condition["status"], "False");
  EXPECT_EQ(condition["reason"], "ClaimTemplateImmutable");
  EXPECT_THAT(condition["message"].get<std::string>(),
              HasSubstr("kubectl delete statefulset aio-dataflow-line --cascade=orphan"));
  // Said once as a warning, not at every resync.
  EXPECT_EQ(sink_->countContaining("volumeClaimTemplates cannot change"), 1u);

  // The documented switch: the StatefulSet deleted, the operator recreates it with the claim.
  ASSERT_TRUE(client_->del(std::string(kSets) + "/aio-dataflow-line").ok());
  ASSERT_TRUE(reconcileWith(o));
  set = statefulSet();
  EXPECT_EQ(set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
            "1Gi");
  EXPECT_TRUE(named(set["spec"]["template"]["spec"]["volumes"], "spool").is_null());
  EXPECT_EQ(spoolCondition()["status"], "True");

  // Another size, then no claim at all: the claim of 1Gi stays the pods' spool volume.
  for (const std::string size : {"2Gi", ""}) {
    ASSERT_TRUE(reconcileWith(options(size), 2)) << size;
    set = statefulSet();
    EXPECT_EQ(set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
              "1Gi");
    EXPECT_TRUE(named(set["spec"]["template"]["spec"]["volumes"], "spool").is_null()) << size;
    expectSpoolMounted(set);
    condition = spoolCondition();
    EXPECT_EQ(condition["status"], "False") << size;
    EXPECT_THAT(condition["message"].get<std::string>(),
                HasSubstr("keeps its spool on a claim of 1Gi (the default storage class)"));
  }
}

}  // namespace
}  // namespace dataflow::kubernetes
