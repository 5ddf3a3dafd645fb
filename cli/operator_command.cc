// `dataflow operator`: reconciles the DataflowProfiles of a namespace into StatefulSets of
// `dataflow run --kubernetes` pods (connectors/kubernetes/profile_operator.h) until SIGINT or
// SIGTERM, while it holds the leader-election Lease (connectors/kubernetes/leader_election.h) when
// --leader-elect is on (the default). Serves /livez (200 while running), /readyz (200 on a standby,
// and on the leader once a reconciliation succeeded) and /metrics on --metrics-port. Losing the
// Lease stops reconciling and exits 3, so the restarted pod campaigns again, as controller-runtime
// does.
#include <httplib.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <filesystem>

#include "cli/commands.h"
#include "cli/kubernetes_source.h"
#include "connectors/kubernetes/api_client.h"
#include "connectors/kubernetes/leader_election.h"
#include "connectors/kubernetes/profile_operator.h"
#include "engine/runtime/logging.h"

namespace dataflow::cli {

namespace {

struct OperatorArgs {
  KubernetesOptions kubernetes;
  kubernetes::OperatorOptions operator_options;
  std::string log_level = "info";
  std::string log_format = "text";
  int metrics_port = 9600;
  std::string metrics_address = "0.0.0.0";
  int resync_seconds = 30;
  bool leader_elect = true;
  kubernetes::LeaderElectionOptions election;
  double lease_duration_s = 15;
  double renew_deadline_s = 10;
  double retry_period_s = 2;
};

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0 + 0.5));
}

int runOperator(const OperatorArgs& args) {
  runtime::initLogging(runtime::parseLogLevels(args.log_level).value(),
                       runtime::parseLogFormat(args.log_format).value());
  auto log = runtime::logger("engine");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  Result<ResolvedApiServer> resolved = resolveApiServer(args.kubernetes);
  if (!resolved.isOk()) {
    log->error("operator: {}", resolved.status().message());
    return kExitUsage;
  }
  std::string dir = std::filesystem::temp_directory_path().string() + "/dataflow-operator-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    log->error("operator: cannot create a temporary folder");
    return kExitUsage;
  }
  auto client = kubernetes::ApiClient::create(resolved.value().server, dir);
  if (!client.isOk()) {
    log->error("operator: {}", client.status().message());
    return kExitUsage;
  }
  kubernetes::OperatorOptions options = args.operator_options;
  options.namespace_name = resolved.value().namespace_name;
  options.log_level = args.log_level;
  options.log_format = args.log_format;
  options.resync = std::chrono::seconds(args.resync_seconds);
  kubernetes::ProfileOperator reconciler(*client.value(), options, log);
  kubernetes::LeaderElectionOptions election = args.election;
  election.namespace_name = options.namespace_name;
  election.lease_duration = millis(args.lease_duration_s);
  election.renew_deadline = millis(args.renew_deadline_s);
  election.retry_period = millis(args.retry_period_s);
  if (election.identity.empty()) election.identity = kubernetes::defaultIdentity();
  if (args.leader_elect) {
    if (Status valid = election.validate(); !valid.isOk()) {
      log->error("operator: {}", valid.message());
      return kExitUsage;
    }
  }
  kubernetes::LeaderElector elector(*client.value(), election, log);
  std::atomic<bool> lost{false};

  httplib::Server probes;
  probes.Get("/livez", [](const httplib::Request&, httplib::Response& r) {
    r.set_content("ok\n", "text/plain");
  });
  probes.Get("/readyz", [&](const httplib::Request&, httplib::Response& r) {
    if (args.leader_elect && !elector.leading()) {  // a standby is healthy and ready to take over
      const std::string holder = elector.holder();
      r.set_content("standby (leader: " + (holder.empty() ? std::string("none yet") : holder) +
                        ")\n",
                    "text/plain");
      return;
    }
    const bool ready = reconciler.reconciled() > 0;
    r.status = ready ? 200 : 503;
    r.set_content(ready ? "ok\n" : "no reconciliation has succeeded yet\n", "text/plain");
  });
  probes.Get("/metrics", [&](const httplib::Request&, httplib::Response& r) {
    r.set_content("# HELP dataflow_operator_reconciliations_total Reconciliations that "
                  "succeeded.\n# TYPE dataflow_operator_reconciliations_total counter\n"
                  "dataflow_operator_reconciliations_total " +
                      std::to_string(reconciler.reconciled()) +
                      "\n# HELP dataflow_operator_leader 1 while this replica holds the "
                      "leader-election Lease (always 1 with --leader-elect=false).\n# TYPE "
                      "dataflow_operator_leader gauge\ndataflow_operator_leader " +
                      std::string(!args.leader_elect || elector.leading() ? "1" : "0") + "\n",
                  "text/plain; version=0.0.4; charset=utf-8");
  });
  const int port = args.metrics_port == 0
                       ? probes.bind_to_any_port(args.metrics_address.c_str())
                       : (probes.bind_to_port(args.metrics_address.c_str(), args.metrics_port)
                              ? args.metrics_port
                              : -1);
  if (port < 0) {
    log->error("operator: cannot listen on {}:{}", args.metrics_address, args.metrics_port);
    return kExitUsage;
  }
  std::thread serving([&] { probes.listen_after_bind(); });
  log->info("operator: reconciling the DataflowProfiles of namespace {} into StatefulSets of {} "
            "(probes and metrics on http://{}:{})",
            options.namespace_name, options.engine_image, args.metrics_address, port);
  const pthread_t main_thread = pthread_self();
  if (args.leader_elect) {
    elector.start([&] { reconciler.start(); },
                  [&] {
                    lost.store(true);
                    pthread_kill(main_thread, SIGTERM);  // ends the sigwait below
                  });
  } else {
    reconciler.start();
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  if (lost.load()) {
    log->error("operator: lost the leader-election Lease; stopping and exiting 3 so that the "
               "restarted process campaigns again");
  } else {
    log->info("operator: {} received; stopping", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  }
  elector.stop();
  reconciler.stop();
  if (!lost.load()) elector.release();
  probes.stop();
  serving.join();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return lost.load() ? kExitFailed : kExitOk;
}

}  // namespace

Command addOperatorCommand(CLI::App& app) {
  auto args = std::make_shared<OperatorArgs>();
  CLI::App* op = app.add_subcommand(
      "operator",
      "Reconcile every DataflowProfile of a namespace into a StatefulSet aio-dataflow-<profile> "
      "(replicas = instanceCount) of `dataflow run --kubernetes --profile <profile>` pods and a "
      "headless Service, owned by the profile; the implicit default profile when none exists. "
      "Each pod gets a spool volume (see --engine-spool-size) passed as --spool-dir. "
      "Runs until SIGINT/SIGTERM. Several replicas elect a leader through a Lease; only the "
      "leader reconciles, and one that loses the Lease exits 3.");
  op->add_option("--namespace", args->kubernetes.namespace_name,
                 "Namespace to watch (default: the kubeconfig context's, else the pod's)");
  op->add_option("--kubeconfig", args->kubernetes.kubeconfig,
                 "kubeconfig to reach the API server from outside a pod (default $KUBECONFIG, "
                 "else the pod's service account)");
  op->add_option("--engine-image", args->operator_options.engine_image,
                 "Image of the engine pods")
      ->required();
  op->add_option("--engine-service-account", args->operator_options.engine_service_account,
                 "ServiceAccount of the engine pods (default: the namespace's default)");
  CLI::Option* spool_size =
      op->add_option("--engine-spool-size", args->operator_options.spool.size,
                     "Give each engine pod's spool a PersistentVolumeClaim of this size (a "
                     "Kubernetes quantity: 1Gi, 500Mi, 10G), through a volumeClaimTemplate "
                     "`spool`: one claim per pod ordinal, ReadWriteOnce, which survives the pod's "
                     "deletion and rescheduling and stays after a scale-down or the profile's "
                     "deletion until you delete it. Without it: an emptyDir, which survives "
                     "container crashes and restarts but not the pod's deletion or rescheduling, "
                     "so what it holds is lost with the pod. Either is mounted at "
                     "/var/lib/dataflow/spool and passed as --spool-dir. A StatefulSet that exists "
                     "keeps the spool storage it was created with (the API server refuses changes "
                     "to volumeClaimTemplates); the profile's status says so and how to switch")
          ->check([](const std::string& v) {
            return kubernetes::quantityBytes(v) ? std::string()
                                                : "not a positive quantity such as 1Gi: " + v;
          });
  op->add_option("--engine-spool-storage-class", args->operator_options.spool.storage_class,
                 "StorageClass of those claims (default: the cluster's default StorageClass)")
      ->needs(spool_size);
  op->add_flag("--engine-spool-all", args->operator_options.spool_all,
               "Pass --spool-all to the engine pods: spool every dataflow with an MQTT source, not "
               "only those with requestDiskPersistence: Enabled");
  op->add_option("--log-level", args->log_level,
                 "Log level of the operator and of the engine pods it creates")
      ->check([](const std::string& v) {
        return runtime::parseLogLevels(v).isOk() ? std::string() : "bad log level " + v;
      })
      ->capture_default_str();
  op->add_option("--log-format", args->log_format, "text or json, here and in the engine pods")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  op->add_option("--metrics-port", args->metrics_port,
                 "Port of /livez, /readyz and /metrics here, and of the engine pods' metrics and "
                 "probes; 0 here: any free port")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  op->add_option("--metrics-address", args->metrics_address, "Address the probes listen on")
      ->capture_default_str();
  op->add_option("--resync-seconds", args->resync_seconds,
                 "Reconcile at least this often, besides every profile change")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  op->add_option("--leader-elect", args->leader_elect,
                 "Reconcile only while holding the leader-election Lease, so that several "
                 "replicas can run (true or false)")
      ->default_str("true");
  op->add_option("--leader-elect-resource-name", args->election.lease_name,
                 "Name of the coordination.k8s.io Lease in --namespace")
      ->capture_default_str();
  op->add_option("--leader-elect-identity", args->election.identity,
                 "This replica's holder identity (default: $POD_NAME or the host name, then _ and "
                 "8 random hex digits)");
  op->add_option("--leader-elect-lease-duration", args->lease_duration_s,
                 "Seconds (whole) a standby waits after the leader's last renewal before taking "
                 "over")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  op->add_option("--leader-elect-renew-deadline", args->renew_deadline_s,
                 "Seconds the leader keeps trying to renew before it gives up leading")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  op->add_option("--leader-elect-retry-period", args->retry_period_s,
                 "Seconds between attempts to take or renew the Lease")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return [args] {
    OperatorArgs a = *args;
    a.operator_options.metrics_port = a.metrics_port == 0 ? 9600 : a.metrics_port;
    return runOperator(a);
  };
}

}  // namespace dataflow::cli
