// `dataflow run`: loads and validates the manifests, runs every enabled dataflow of one profile
// until SIGINT or SIGTERM, then drains and exits. A change to the manifests, or SIGHUP, reloads
// them without a restart (ManifestReloader, Engine::apply).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/kubernetes_source.h"
#include "cli/kubernetes_status.h"
#include "cli/manifest_reloader.h"
#include "cli/manifest_sources.h"
#include "connectors/registry.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/ignored_settings.h"
#include "engine/runtime/log_fields.h"
#include "engine/runtime/logging.h"
#include "engine/runtime/ops_server.h"

namespace dataflow::cli {

namespace {

constexpr int kDefaultPrometheusPort = 9600;  // AIO's, when no profile says otherwise
// How long `run --kubernetes` waits for the first list of every collection before it starts.
constexpr std::chrono::seconds kKubernetesSyncWait{30};

struct RunArgs {
  ManifestSources sources;
  std::string profile = config::kDefaultProfile;
  uint32_t instance_id = 0;
  bool instance_id_given = false;
  KubernetesOptions kubernetes;
  std::string log_level;  // empty: the profile's diagnostics.logs.level
  std::string log_format = "text";
  double drain_timeout_s = 10;
  size_t max_in_flight_messages = runtime::FlightLimits{}.max_messages;
  size_t max_in_flight_mib = runtime::FlightLimits{}.max_bytes >> 20;
  int metrics_port = -1;  // -1: the profile's diagnostics.metrics.prometheusPort
  std::string metrics_address = "0.0.0.0";
  std::string spool_dir;
  bool spool_all = false;
  uint64_t spool_max_mib = runtime::SpoolSettings{}.max_bytes >> 20;
  uint64_t spool_max_age_s = 0;
};

// Serves /metrics and the probes; without it the dataflows still run (said once, loudly).
std::unique_ptr<runtime::OpsServer> startOpsServer(const RunArgs& args,
                                                   const config::DataflowProfile* profile,
                                                   std::shared_ptr<const runtime::Telemetry> t,
                                                   std::chrono::milliseconds drain) {
  auto log = runtime::logger("engine");
  runtime::OpsServer::Options options;
  options.address = args.metrics_address;
  options.port = args.metrics_port >= 0 ? args.metrics_port
                 : profile             ? static_cast<int>(profile->spec.diagnostics.metrics.prometheus_port)
                                       : kDefaultPrometheusPort;
  options.version = DATAFLOW_VERSION;
  options.liveness_base = std::chrono::minutes(2);
  options.liveness_per_dataflow = drain;
  auto server = runtime::OpsServer::start(std::move(t), options);
  if (!server.isOk()) {
    log->error("metrics and probes are not served: {}", server.status().message());
    return nullptr;
  }
  log->info("metrics and probes on http://{}:{} (/metrics, /livez, /healthz, /readyz)",
            options.address, server.value()->port());
  return std::move(server).value();
}

// A line about the run as a whole that is not an engine log event (manifest problems, the exit
// summary): on stderr as it is in the text format; an `engine` line in the JSON format, so that a
// log collector reads nothing but JSON.
void report(runtime::LogFormat format, spdlog::level::level_enum level, const std::string& text) {
  if (format == runtime::LogFormat::Text) {
    std::cerr << text << "\n";
    return;
  }
  runtime::logger("engine")->log(level, "{}", text);
}

// Loads and validates; reports every problem. Returns false when the manifests are invalid.
bool loadPlan(const RunArgs& args, runtime::LogFormat format, config::Plan& plan,
              config::Diagnostics& diagnostics) {
  plan = args.sources.loadPlan(diagnostics);
  for (const config::Diagnostic& d : diagnostics.items()) {
    const bool error = d.severity == config::Diagnostic::Severity::Error;
    runtime::LogFields fields({{"file", d.file},
                               {"line", int64_t{d.line}},
                               {"column", int64_t{d.column}},
                               {"path", d.path}});
    report(format, error ? spdlog::level::err : spdlog::level::warn, d.format());
  }
  if (!diagnostics.hasErrors()) return true;
  report(format, spdlog::level::err,
         countOf(diagnostics.errorCount(), "error") + "; nothing started");
  return false;
}

const config::DataflowProfile* findProfile(const config::Plan& plan, const std::string& name) {
  for (const auto& p : plan.manifests.profiles) {
    if (p.metadata.name == name) return &p;
  }
  return nullptr;
}

// Settings the manifests write but this engine does not act on: said once at start, never
// silently (runtime::ignoredSettings decides which).
void warnUnsupported(const config::Plan& plan, const std::string& profile) {
  auto log = runtime::logger("engine");
  for (const std::string& line : runtime::ignoredSettings(plan, profile)) log->warn("{}", line);
}

// A reloaded profile's diagnostics: the log levels take effect at once (unless --log-level set
// them); a different prometheusPort only at the next start, which is said.
// `serving_port`: the port the metrics were started on from the profile (-1: from a flag).
void applyProfileDiagnostics(const RunArgs& args, int64_t serving_port,
                             const config::Plan& reloaded) {
  auto log = runtime::logger("engine");
  const config::DataflowProfile* profile = findProfile(reloaded, args.profile);
  const config::ProfileDiagnostics diagnostics =
      profile ? profile->spec.diagnostics : config::ProfileDiagnostics{};
  const std::string level_text = profile ? diagnostics.logs.level : std::string("info");
  if (args.log_level.empty()) {
    Result<runtime::LogLevels> levels = runtime::parseLogLevels(level_text);
    if (!levels.isOk()) {
      log->error("reload: profile {}'s log level kept as it was: {}", args.profile,
                 levels.status().message());
    } else if (!(levels.value() == runtime::currentLogLevels())) {
      runtime::setLogLevels(levels.value());
      log->info("reload: log level now \"{}\" (profile {})", level_text, args.profile);
    }
  }
  const int64_t port = profile ? diagnostics.metrics.prometheus_port : kDefaultPrometheusPort;
  if (serving_port >= 0 && port != serving_port) {
    log->warn(
        "reload: profile {}'s prometheusPort is now {}; metrics and probes stay on {} until the "
        "next start",
        args.profile, port, serving_port);
  }
}

int runEngine(const RunArgs& given) {
  RunArgs args = given;
  const runtime::LogFormat format = runtime::parseLogFormat(args.log_format).value();
  // Until the profile's levels are known: info, so that every manifest problem (warning or
  // error) shows in either format, as the text format always printed them.
  runtime::initLogging(runtime::LogLevels{}, format);
  // Every thread started from here on (the Kubernetes watches included) inherits the blocked
  // mask; only sigwait() sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reload, not stop: see the signal thread below
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::unique_ptr<KubernetesSource> kubernetes;
  if (args.kubernetes.enabled) {
    auto started = KubernetesSource::start(args.kubernetes, kKubernetesSyncWait);
    if (!started.isOk()) {
      report(format, spdlog::level::err, "--kubernetes: " + started.status().message());
      return kExitUsage;
    }
    kubernetes = std::move(started).value();
    kubernetes->applyTo(args.sources);
    if (!args.instance_id_given) args.instance_id = instanceIdFromPod();
  }
  const uint64_t loaded_digest = manifestDigest(args.sources.paths);  // before reading them
  config::Plan plan;
  config::Diagnostics load_diagnostics;
  if (!loadPlan(args, format, plan, load_diagnostics)) {
    // From the API server, an invalid resource is someone's mistake to fix while the pod runs:
    // it waits for a valid change (reload) instead of exiting into a crash loop.
    if (!kubernetes) return kExitUsage;
    report(format, spdlog::level::err,
           "the resources read from Kubernetes have errors; waiting for a valid change");
    config::Diagnostics none;
    plan = config::validate(config::Manifests{}, config::ValidateOptions{}, none);  // waits
  }
  const config::DataflowProfile* profile = findProfile(plan, args.profile);
  Result<runtime::LogLevels> levels =
      runtime::parseLogLevels(!args.log_level.empty() ? args.log_level
                              : profile               ? profile->spec.diagnostics.logs.level
                                                      : std::string("info"));
  if (!levels.isOk()) {
    report(format, spdlog::level::err, "--log-level: " + levels.status().message());
    return kExitUsage;
  }
  runtime::initLogging(levels.value(), format);
  auto log = runtime::logger("engine");


  const config::MountedFiles files = args.sources.mountedFiles();
  runtime::EngineOptions options;
  options.telemetry = std::make_shared<runtime::Telemetry>();
  options.profile = args.profile;
  options.instance_id = args.instance_id;
  options.limits.max_messages = args.max_in_flight_messages;
  options.limits.max_bytes = args.max_in_flight_mib << 20;
  options.spool.root = args.spool_dir;
  options.spool.all = args.spool_all;
  options.spool.max_bytes = args.spool_max_mib << 20;
  options.spool.max_age = std::chrono::seconds(args.spool_max_age_s);
  const auto drain = std::chrono::milliseconds(static_cast<int64_t>(args.drain_timeout_s * 1000));
  options.drain = drain;
  SystemClock clock;
  auto factory = connectors::makeConnectorFactory();
  std::vector<std::string> errors;
  auto engine = runtime::Engine::build(plan, options, *factory, files, clock, errors);
  for (const std::string& e : errors) report(format, spdlog::level::err, "error: " + e);
  if (!engine) {
    report(format, spdlog::level::err, countOf(errors.size(), "error") + "; nothing started");
    return kExitUsage;
  }
  for (const std::string& name : runtime::unusedLoggerNames(levels.value())) {
    log->warn("log level set for \"{}\", which is neither a dataflow of this profile nor engine",
              name);
  }
  warnUnsupported(plan, args.profile);
  const auto ops = startOpsServer(args, profile, options.telemetry, drain);
  const int64_t serving_port =
      args.metrics_port >= 0 ? -1
      : profile              ? profile->spec.diagnostics.metrics.prometheus_port
                             : kDefaultPrometheusPort;
  const size_t running = engine->start();
  if (engine->runners().empty()) {
    log->info(
        "waiting: no enabled dataflow uses profile {} yet; dataflows start as they appear in the "
        "manifests",
        args.profile);
  }
  log->info(
      "running {} of {} dataflow{} of profile {} as instance {}; manifest changes and SIGHUP "
      "reload, SIGINT or SIGTERM stop",
      running, engine->runners().size(), engine->runners().size() == 1 ? "" : "s", args.profile,
      args.instance_id);
  if (Status watched = engine->watchMountedFiles(drain); !watched.isOk()) {
    log->warn("rotated Secrets and ConfigMaps will not be picked up until a restart: {}",
              watched.message());
  }

  // Instance 0 writes the status of the resources (one writer, so instances never flap it).
  std::unique_ptr<StatusWriter> status;
  if (kubernetes && args.instance_id == 0) {
    status = std::make_unique<StatusWriter>(kubernetes->client(), kubernetes->mirror(),
                                            kubernetes->namespaceName(), options.telemetry);
    status->loaded(load_diagnostics);
  }

  // The signal thread turns SIGHUP into a reload and SIGINT/SIGTERM into requestStop(); the main
  // thread supervises: it applies reloads, stops each dataflow that fails, and returns when a stop
  // is requested or every dataflow has failed.
  auto reloader = std::make_unique<ManifestReloader>(
      args.sources, *engine, loaded_digest,
      [&](const config::Plan* reloaded, const config::Diagnostics& diagnostics) {
        if (reloaded) applyProfileDiagnostics(args, serving_port, *reloaded);
        if (status) status->loaded(diagnostics);
      });
  int signal_number = 0;
  std::thread signal_thread([&] {
    while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGHUP) {
      reloader->requestReload("SIGHUP");
    }
    engine->requestStop();
  });
  const runtime::Engine::Outcome outcome = engine->supervise();
  if (outcome == runtime::Engine::Outcome::AllFailed) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // ends its sigwait
  }
  signal_thread.join();
  reloader.reset();  // no reload after this point
  if (outcome == runtime::Engine::Outcome::AllFailed) {
    log->error("every dataflow has failed ({}); exiting", engine->failedCount());
  } else {
    log->info("{} received: stopping sources, delivering what is in flight (up to {} ms)",
              signal_number == SIGINT ? "SIGINT" : "SIGTERM", drain.count());
  }
  options.telemetry->draining = true;  // /readyz answers 503 from here on
  const uint64_t lost = engine->stop(drain);
  if (lost == 0 && outcome == runtime::Engine::Outcome::StopRequested) {
    log->info("stopped; everything received was delivered");
  }
  const size_t failed = engine->failedCount();
  if (outcome != runtime::Engine::Outcome::AllFailed && failed > 0) {
    report(format, spdlog::level::err,
           countOf(failed, "dataflow") + " failed while running (see the log)");
  }
  spdlog::shutdown();
  return outcome == runtime::Engine::Outcome::AllFailed ? kExitFailed : kExitOk;
}

}  // namespace

Command addRunCommand(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand(
      "run",
      "Run every enabled dataflow of a profile until SIGINT/SIGTERM. Manifests are validated "
      "first: any error exits 2 and nothing starts; a profile that no dataflow uses yet waits "
      "for one. A dataflow whose client can no longer work is stopped (state Failed, logged) "
      "while the others run; when every dataflow has failed the command exits 3. The -f files "
      "and folders are watched: a change, or SIGHUP, reloads them without a restart. Only the "
      "dataflows whose manifest, endpoints, instanceCount or Secrets/ConfigMaps changed are "
      "restarted, new ones start, removed ones stop (each drains first, up to --drain-timeout); "
      "an invalid change is logged and refused, and what runs stays. A dataflow whose mounted "
      "Secret or ConfigMap changes reconnects with the new content the same way. Metrics "
      "(/metrics) and probes (/livez, /healthz, /readyz) are served on the profile's "
      "prometheusPort. Logs go to stderr, one line per event: text, or with --log-format json "
      "one JSON object per line (time, level, logger, dataflow, endpoint, message, fields), "
      "manifest errors included.");
  auto* files = run->add_option("-f,--file", args->sources.paths,
                                "Manifest files or folders (multi-document YAML; watched, see "
                                "above)")
                    ->check(CLI::ExistingPath);
  auto* kubernetes =
      run->add_flag("--kubernetes", args->kubernetes.enabled,
                    "Read the DataflowEndpoints, Dataflows and DataflowProfiles of a namespace, "
                    "and the Secrets and ConfigMaps they reference, from the Kubernetes API "
                    "server (list and watch; changes reload as file changes do) instead of -f");
  files->excludes(kubernetes);
  kubernetes->excludes(files);
  run->add_option("--namespace", args->kubernetes.namespace_name,
                  "With --kubernetes: the namespace to read (default: the kubeconfig context's, "
                  "else the pod's)")
      ->needs(kubernetes);
  run->add_option("--kubeconfig", args->kubernetes.kubeconfig,
                  "With --kubernetes: a kubeconfig to reach the API server from outside a pod "
                  "(token authentication); default $KUBECONFIG, else the pod's service account")
      ->needs(kubernetes);
  args->sources.addMountOptions(*run);
  args->sources.addTokenDirOption(*run);
  run->add_option("--profile", args->profile, "DataflowProfile whose dataflows to run")
      ->capture_default_str();
  run->add_option("--instance-id", args->instance_id,
                  "This instance's ordinal, 0 to instanceCount-1 (Static partitions, client ids). "
                  "With --kubernetes the default is $POD_INDEX, else the ordinal ending "
                  "$POD_NAME")
      ->capture_default_str()
      ->each([args](const std::string&) { args->instance_id_given = true; });
  run->add_option("--log-level", args->log_level,
                  "trace|debug|info|warn|error|off, optionally followed by ,NAME=LEVEL pairs "
                  "(NAME: engine or a dataflow). Default: the profile's diagnostics.logs.level, "
                  "which a reload applies at once");
  run->add_option("--log-format", args->log_format,
                  "text: time level [logger] message; json: one JSON object per line with time, "
                  "level, logger, dataflow, endpoint (when the line is about one), message and "
                  "fields (when the line has any)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  run->add_option("--drain-timeout", args->drain_timeout_s,
                  "Seconds to deliver what is in flight after SIGINT/SIGTERM, and for a dataflow "
                  "a reload or a rotation stops or restarts")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  run->add_option("--metrics-port", args->metrics_port,
                  "Port of /metrics, /livez, /healthz and /readyz; 0: any free port (logged). "
                  "Default: the profile's diagnostics.metrics.prometheusPort (9600)")
      ->check(CLI::Range(0, 65535))
      ->envname("DATAFLOW_METRICS_PORT");
  run->add_option("--metrics-address", args->metrics_address,
                  "Address the metrics and probes listen on")
      ->capture_default_str()
      ->envname("DATAFLOW_METRICS_ADDRESS");
  run->add_option("--max-in-flight-messages", args->max_in_flight_messages,
                  "Per dataflow: messages held for the destination before the source waits")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run->add_option("--max-in-flight-mib", args->max_in_flight_mib,
                  "Per dataflow: MiB held for the destination before the source waits")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* spool_dir =
      run->add_option("--spool-dir", args->spool_dir,
                      "Folder of the disk spools: a dataflow with requestDiskPersistence: Enabled "
                      "(or every one with --spool-all) and an MQTT source acknowledges its broker "
                      "once a message is on disk here, in <folder>/<dataflow>/<instance id>")
          ->envname("DATAFLOW_SPOOL_DIR");
  run->add_flag("--spool-all", args->spool_all,
                "Spool every dataflow with an MQTT source, not only those that request it")
      ->needs(spool_dir);
  run->add_option("--spool-max-mib", args->spool_max_mib,
                  "Per dataflow: MiB the spool may hold on disk; when full its source is no "
                  "longer acknowledged (the broker keeps the messages) until it drains")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  run->add_option("--spool-max-age", args->spool_max_age_s,
                  "Per dataflow: seconds the oldest spooled message may wait before the source is "
                  "no longer acknowledged; 0: no age limit")
      ->capture_default_str();
  run->callback([files, kubernetes] {
    if (files->count() == 0 && kubernetes->count() == 0) {
      throw CLI::RequiredError("-f,--file or --kubernetes");
    }
  });
  return [args] { return runEngine(*args); };
}

}  // namespace dataflow::cli
