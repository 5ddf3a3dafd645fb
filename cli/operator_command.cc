// `dataflow operator`: reconciles the DataflowProfiles of a namespace into StatefulSets of
// `dataflow run --kubernetes` pods (connectors/kubernetes/profile_operator.h) until SIGINT or
// SIGTERM. Serves /livez (200 while running) and /readyz (200 once a reconciliation succeeded) and
// /metrics on --metrics-port.
#include <httplib.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <filesystem>

#include "cli/commands.h"
#include "cli/kubernetes_source.h"
#include "connectors/kubernetes/api_client.h"
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
};

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

  httplib::Server probes;
  probes.Get("/livez", [](const httplib::Request&, httplib::Response& r) {
    r.set_content("ok\n", "text/plain");
  });
  probes.Get("/readyz", [&](const httplib::Request&, httplib::Response& r) {
    const bool ready = reconciler.reconciled() > 0;
    r.status = ready ? 200 : 503;
    r.set_content(ready ? "ok\n" : "no reconciliation has succeeded yet\n", "text/plain");
  });
  probes.Get("/metrics", [&](const httplib::Request&, httplib::Response& r) {
    r.set_content("# HELP dataflow_operator_reconciliations_total Reconciliations that "
                  "succeeded.\n# TYPE dataflow_operator_reconciliations_total counter\n"
                  "dataflow_operator_reconciliations_total " +
                      std::to_string(reconciler.reconciled()) + "\n",
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
  reconciler.start();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log->info("operator: {} received; stopping", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  reconciler.stop();
  probes.stop();
  serving.join();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return kExitOk;
}

}  // namespace

Command addOperatorCommand(CLI::App& app) {
  auto args = std::make_shared<OperatorArgs>();
  CLI::App* op = app.add_subcommand(
      "operator",
      "Reconcile every DataflowProfile of a namespace into a StatefulSet aio-dataflow-<profile> "
      "(replicas = instanceCount) of `dataflow run --kubernetes --profile <profile>` pods and a "
      "headless Service, owned by the profile; the implicit default profile when none exists. "
      "Runs until SIGINT/SIGTERM. One replica: there is no leader election yet.");
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
  return [args] {
    OperatorArgs a = *args;
    a.operator_options.metrics_port = a.metrics_port == 0 ? 9600 : a.metrics_port;
    return runOperator(a);
  };
}

}  // namespace dataflow::cli
