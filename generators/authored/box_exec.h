// Runs one command of the generator agent (Python code, a bash script, an SQL query) in a
// fresh sandbox box holding a copy of the workspace, and reads back the files the box left
// in /work. The host only ever sees file contents: links and special files are left out, and
// a box that breaks its own read-back changes nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "generators/authored/workspace.h"
#include "sandbox/sandbox.h"

namespace envforge::generators::authored {

struct BoxLimits {
  std::chrono::milliseconds step{30000};   // the command itself; the box gets a little more
  std::int64_t memory_mb = 512;
  std::int64_t tmpfs_mb = 64;
  std::size_t output_bytes = 64u << 10;     // stdout and stderr each, kept for the model
  int max_pids = 64;
};

struct BoxOutcome {
  bool ran = false;            // the box ran and its workspace came back
  std::string error;           // !ran: why (the workspace is unchanged)
  bool sandbox_failure = false;  // the sandbox itself could not run a box
  int exit_code = -1;
  bool timed_out = false;
  std::string stdout_text;     // valid UTF-8, capped
  std::string stderr_text;
  std::vector<std::string> notes;          // files left out of the read-back, and why
  std::map<std::string, std::string> files;  // the workspace as the box left it (when ran)
  std::int64_t wall_ms = 0;
};

// `argv` runs with /work as its working directory; argv[0] is an absolute path in the box.
// `extra` are files for this run only, placed under kReservedDir (e.g. the code to run).
BoxOutcome run_in_box(const Workspace& workspace, const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& extra, const BoxLimits& limits,
                      sandbox::Sandbox& sandbox = sandbox::Sandbox::shared());

}  // namespace envforge::generators::authored
