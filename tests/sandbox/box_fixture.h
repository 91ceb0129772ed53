// Shared fixture of the sandbox suites: one Sandbox per test, run either with the host's
// root (cgroups) or rootless (the launcher dropped to uid 65534, user namespaces only),
// and a leftover check after every test: no box process left (only idle spare boxes,
// which die with the launcher), no new mount on the host, no box cgroup once the
// launcher is gone, no host file owned by a box.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

namespace envforge::sandbox::testing {

enum class HostMode { kRoot, kRootless };

std::string read_host_file(const std::string& path);
std::set<std::string> host_mounts();
int parent_of(int pid);  // 0 when gone
// Every process whose parent chain reaches `ancestor`.
std::vector<int> descendants(int ancestor);
// Box cgroup dirs under the launcher's envforge-<pid> cgroups.
std::vector<std::string> box_cgroups(int launcher_pid);
// Entries directly under `dir` owned by a box's host uid.
std::vector<std::string> box_owned_entries(const std::string& dir);

class BoxTest : public ::testing::TestWithParam<HostMode> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A spec running the hostile program `mode` (tests/sandbox/attack.c) from /work.
  Spec attack(const std::string& mode, std::vector<std::string> args = {}) const;
  Spec shell(const std::string& script) const;
  Result run(const Spec& spec) { return sandbox_->run(spec); }
  void expect_no_escape(const Result& r) const;

  std::unique_ptr<Sandbox> sandbox_;
  std::set<std::string> mounts_before_;
};

std::string host_mode_name(const ::testing::TestParamInfo<HostMode>& info);

}  // namespace envforge::sandbox::testing
