#include "cli/commands.h"

int main(int argc, char** argv) {
  using namespace dataflow::cli;
  CLI::App app{
      "dataflow: moves messages between MQTT v5 brokers and Kafka, configured by Azure IoT "
      "Operations manifests (DataflowEndpoint, Dataflow, DataflowProfile)."};
  app.require_subcommand(1);
  Command run = addRunCommand(app);
  Command validate = addValidateCommand(app);
  Command dev_kafka = addDevKafkaCommand(app);
  Command crds = addCrdsCommand(app);
  Command op = addOperatorCommand(app);
  Command spool = addSpoolCommand(app);
  Command version = addVersionCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  for (auto [name, command] :
       {std::pair{"run", run}, std::pair{"validate", validate}, std::pair{"dev-kafka", dev_kafka},
        std::pair{"crds", crds}, std::pair{"operator", op}, std::pair{"spool", spool},
        std::pair{"version", version}}) {
    if (app.got_subcommand(name)) return command();
  }
  return kExitUsage;
}
