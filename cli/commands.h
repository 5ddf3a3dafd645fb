// The subcommands of the `dataflow` executable. Each registers its options on the CLI11 app and
// returns the process exit code when run.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace dataflow::cli {

using Command = std::function<int()>;

Command addValidateCommand(CLI::App& app);
Command addCrdsCommand(CLI::App& app);
Command addVersionCommand(CLI::App& app);
Command addRunCommand(CLI::App& app);
Command addDevKafkaCommand(CLI::App& app);
Command addOperatorCommand(CLI::App& app);
Command addSpoolCommand(CLI::App& app);  // `spool inspect`

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
// validate: the manifests have errors; spool inspect: the spool has a problem.
inline constexpr int kExitInvalid = 1;
// A bad command line; spool inspect: also a folder or file that cannot be read.
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFailed = 3;  // run: every dataflow failed; operator: lost its Lease

}  // namespace dataflow::cli
