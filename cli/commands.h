// The envforge subcommands. Each takes the arguments after its own name
// (argv[0] is the subcommand) and returns the process exit code.
#pragma once

namespace envforge::cli {

int cmd_synth(int argc, char** argv);
int cmd_audit(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_sandbox(int argc, char** argv);
int cmd_merge(int argc, char** argv);
int cmd_endpoint(int argc, char** argv);

// Exit code for usage errors and for capabilities that have not landed.
inline constexpr int kUsageError = 2;

}  // namespace envforge::cli
