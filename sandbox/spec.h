// What to run in a box: command, files, binds, limits. Plain data, no behaviour.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace envforge::sandbox {

// A file written into the box work dir (/work) before the payload starts.
// `name` is relative to /work (sub-directories are created); `mode` is applied as given.
struct WorkFile {
  std::string name;
  std::string bytes;
  unsigned mode = 0644;
};

// A host file or directory made visible, read-only, at `box_path` (absolute) inside the box.
struct RoBind {
  std::string host_path;
  std::string box_path;
};

enum class Network {
  kNone,      // a network namespace with no usable interface, and only AF_UNIX sockets
  kLoopback,  // a namespace whose only interface is `lo`; AF_INET/AF_INET6 allowed
};

// Every limit applies to the whole box (all processes) unless said otherwise.
struct Limits {
  std::int64_t wall_ms = 10'000;      // wall clock from payload start
  std::int64_t cpu_ms = 10'000;       // all processes of the box together, ms granularity
  std::int64_t memory_mb = 512;       // cgroup memory when delegated, else address space
  int max_pids = 64;                  // processes + threads (cgroup pids, else RLIMIT_NPROC)
  int open_files = 256;               // RLIMIT_NOFILE
  std::int64_t file_size_mb = 64;     // largest single file (RLIMIT_FSIZE)
  std::int64_t tmpfs_mb = 64;         // total bytes writable in /work and /tmp together
  std::size_t stdout_bytes = 1 << 20; // kept; more is an output-limit verdict
  std::size_t stderr_bytes = 256 << 10;
};

struct Spec {
  // argv[0] is an absolute path inside the box (e.g. /usr/bin/python3); no PATH search.
  std::vector<std::string> argv;
  // "KEY=VALUE" entries; nothing from the host environment leaks in.
  std::vector<std::string> env;
  std::vector<WorkFile> files;
  std::vector<RoBind> ro_binds;
  std::string stdin_data;  // one-shot runs only; sessions speak over stdin
  Limits limits;
  Network network = Network::kNone;
  // Paths relative to /work to return in Result::files (regular files only, read
  // without following links, each at most `collect_max_bytes`).
  std::vector<std::string> collect;
  std::size_t collect_max_bytes = 1 << 20;
};

}  // namespace envforge::sandbox
