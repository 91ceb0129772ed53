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
//
// Read-only means no channel to the host: a bound socket or FIFO is refused, and every
// socket or FIFO found in a bound directory tree when the box starts is covered by an
// empty read-only file (a read-only mount stops neither connect() nor writes into a
// FIFO). One made in a bound directory by the host while the box runs is not covered:
// bind directories nobody creates sockets or FIFOs in.
//
// The one shared channel that stays: advisory locks. Locks live in the host kernel's
// table, per file and not per mount, and a read-only descriptor suffices for flock()
// (shared or exclusive) and for fcntl() read locks. So a box can hold a lock on a bound
// file that delays a host process waiting for a conflicting one (SQLite writers, for
// one), and two boxes binding the same file can see each other's locks (a covert
// channel between boxes, about one bit per lock attempt). Nothing else passes: the
// data is read-only. Bind only files nobody writes while boxes run (the world db is
// written before validation starts), and open SQLite files in a box with immutable=1.
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
  // All processes of the box together, reaped or not, at ms granularity: the box cgroup's
  // CPU counter where there is one; else each process's own time plus that of the
  // children it reaped, polled every 50 ms (a child reaped by the kernel because its
  // parent ignores SIGCHLD counts only as far as a poll saw it).
  std::int64_t cpu_ms = 10'000;
  // Memory of the whole box, its tmpfs included. With a memory cgroup: the cgroup limit.
  // Without: each process's address space, the tmpfs capped at this size, and the box's
  // total (every process's resident memory plus what the tmpfs holds) polled by the box's
  // reaper every 50 ms (a burst shorter than that can pass it, up to one address-space
  // limit per process).
  std::int64_t memory_mb = 512;
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
