// envforge: synthesize agentic RL environments and serve them to RL trainers.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"
#include "cli/version.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Subcommand kSubcommands[] = {
    {"synth", envforge::cli::cmd_synth, "synthesize environments and tasks into a corpus"},
    {"audit", envforge::cli::cmd_audit, "statistics and checks over a corpus"},
    {"merge", envforge::cli::cmd_merge, "merge shard corpora into one corpus"},
    {"export", envforge::cli::cmd_export, "export a corpus in trainer formats"},
    {"serve", envforge::cli::cmd_serve, "HTTP environment server for RL trainers"},
    {"endpoint", envforge::cli::cmd_endpoint, "OpenAI-compatible API on the embedded model"},
    {"generate", envforge::cli::cmd_generate, "run the embedded model on a prompt or chat"},
    {"bench", envforge::cli::cmd_bench, "run the built-in benchmarks"},
    {"sandbox", envforge::cli::cmd_sandbox, "sandbox doctor and one-off sandboxed runs"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "envforge %s: agentic RL environment synthesis\n\n", envforge::kVersion);
  std::fprintf(out, "usage: envforge SUBCOMMAND [OPTIONS]   (envforge SUBCOMMAND --help for options)\n\n");
  for (const auto& sub : kSubcommands) std::fprintf(out, "  %-10s %s\n", sub.name, sub.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return envforge::cli::kUsageError;
  }
  std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print_usage(stdout);
    return 0;
  }
  if (first == "--version") {
    std::printf("envforge %s (%s)\n", envforge::kVersion, envforge::git_revision());
    return 0;
  }
  for (const auto& sub : kSubcommands) {
    if (first == sub.name) return sub.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "envforge: unknown subcommand '%s' (see envforge --help)\n", argv[1]);
  return envforge::cli::kUsageError;
}
