// Runs a shell command as a user would and keeps what it printed, for the
// tests of `envforge merge`, `envforge synth --shard` and the Slurm launcher.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace envforge::cluster_test {

struct Ran {
  int status = -1;      // exit code, or 128 + signal
  std::string output;   // stdout and stderr together
};

inline Ran run_command(const std::string& command) {
  Ran r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return r;
}

// The envforge binary under test.
inline std::string envforge_bin() { return ENVFORGE_BIN; }

}  // namespace envforge::cluster_test
