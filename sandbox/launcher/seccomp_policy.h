// The seccomp-bpf policy of a box payload, compiled once per network mode when the
// launcher starts and loaded with a plain prctl in each box (compiling per box costs
// more than the rest of a launch).
#pragma once
#include <linux/filter.h>

#include <string>
#include <vector>

#include "sandbox/spec.h"

namespace envforge::sandbox::launcher {

// The policy in two stacked filters whose conjunction is the whole policy. The kernel's
// cost of loading a filter grows with its length, so the long one is loaded while a
// spare box waits for its request; it leaves out the mount calls that the request's
// own set-up still makes (a tmpfs resize, read-only binds, pivot_root), and the short
// one, loaded once the root is finished, kills exactly those.
struct SeccompPrograms {
  std::vector<sock_filter> early;  // everything but the set-up's mount calls
  std::vector<sock_filter> late;   // the set-up's mount calls
};

// Throws std::runtime_error when libseccomp cannot build a filter.
SeccompPrograms build_seccomp_programs(Network network);

}  // namespace envforge::sandbox::launcher
