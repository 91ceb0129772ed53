#include "sandbox/launcher/seccomp_policy.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace envforge::sandbox::launcher {
namespace {

// System calls that have no business in a box: they either escape isolation, reach the
// kernel's rarely-hardened corners, or change the machine. The process dies (SIGSYS) so
// the run is reported as killed by policy.
constexpr const char* kKilled[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
    "chroot", "unshare", "setns", "kexec_load", "kexec_file_load", "reboot", "init_module",
    "finit_module", "delete_module", "bpf", "perf_event_open", "keyctl", "add_key",
    "request_key", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm",
    "swapon", "swapoff", "acct", "quotactl", "lookup_dcookie", "vhangup", "syslog",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "fsopen", "fsmount",
    "fsconfig", "fspick", "move_mount", "open_tree", "mount_setattr", "uselib", "sysfs",
    "kcmp", "pidfd_getfd", "quotactl_fd", "fanotify_init", "nfsservctl", "vm86", "vm86old",
    "create_module", "get_kernel_syms", "query_module", "setdomainname", "sethostname",
    "landlock_create_ruleset",
};

// Killed by the late filter only: the set-up of a box makes these after the early filter
// is in place (see SeccompPrograms).
constexpr const char* kSetupCalls[] = {"mount", "umount2", "pivot_root", "open_tree", "move_mount", "mount_setattr"};

bool is_setup_call(const char* name) {
  for (const char* s : kSetupCalls)
    if (std::strcmp(s, name) == 0) return true;
  return false;
}

// Refused with an error the program can handle: io_uring bypasses the filter's view of
// system calls; clone3 hides its flags from seccomp, so libc falls back to clone.
struct Errno {
  const char* name;
  int err;
};
constexpr Errno kRefused[] = {
    {"io_uring_setup", ENOSYS}, {"io_uring_enter", ENOSYS}, {"io_uring_register", ENOSYS},
    {"clone3", ENOSYS},
};

constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,
                                             CLONE_NEWNET,  CLONE_NEWIPC, CLONE_NEWUTS,
                                             CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */};

void check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string("seccomp policy: ") + what + ": " + std::strerror(-rc));
}

int syscall_nr(const char* name) { return seccomp_syscall_resolve_name(name); }

struct FilterContext {
  scmp_filter_ctx ctx;
  FilterContext() : ctx(seccomp_init(SCMP_ACT_ALLOW)) {
    if (!ctx) throw std::runtime_error("seccomp policy: seccomp_init failed");
    check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "bad-arch action");
    check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "nnp attribute");
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);  // binary tree: cheaper per syscall
  }
  ~FilterContext() { seccomp_release(ctx); }
  FilterContext(const FilterContext&) = delete;
  FilterContext& operator=(const FilterContext&) = delete;
};

std::vector<sock_filter> export_program(scmp_filter_ctx ctx) {
  int fd = memfd_create("envforge-seccomp", MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("seccomp policy: memfd_create: ") + std::strerror(errno));
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) {
    close(fd);
    check(rc, "export");
  }
  off_t size = lseek(fd, 0, SEEK_END);
  std::vector<sock_filter> prog(static_cast<std::size_t>(size) / sizeof(sock_filter));
  ssize_t got = pread(fd, prog.data(), prog.size() * sizeof(sock_filter), 0);
  close(fd);
  if (got != static_cast<ssize_t>(prog.size() * sizeof(sock_filter)) || prog.empty())
    throw std::runtime_error("seccomp policy: could not read the exported filter");
  return prog;
}

std::vector<sock_filter> build_late() {
  FilterContext f;
  for (const char* name : kSetupCalls) {
    int nr = syscall_nr(name);
    if (nr == __NR_SCMP_ERROR || nr < 0) continue;  // not on this architecture
    check(seccomp_rule_add(f.ctx, SCMP_ACT_KILL_PROCESS, nr, 0), name);
  }
  return export_program(f.ctx);
}

std::vector<sock_filter> build_early(Network network) {
  FilterContext f;
  scmp_filter_ctx ctx = f.ctx;
  for (const char* name : kKilled) {
    if (is_setup_call(name)) continue;  // the late filter's
    int nr = syscall_nr(name);
    if (nr == __NR_SCMP_ERROR || nr < 0) continue;  // not on this architecture
    check(seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0), name);
  }
  for (const auto& r : kRefused) {
    int nr = syscall_nr(r.name);
    if (nr == __NR_SCMP_ERROR || nr < 0) continue;
    check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(r.err), nr, 0), r.name);
  }
  // New namespaces through clone(2): the flags are the first argument on x86_64.
  for (unsigned long flag : kNamespaceFlags) {
    check(seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)),
          "clone namespace flags");
  }
  // personality: only the query (0xffffffff) is allowed; changing the persona (e.g.
  // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC) weakens the box.
  check(seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(personality), 1,
                         SCMP_A0(SCMP_CMP_NE, 0xffffffffULL)),
        "personality");
  // Terminal input injection.
  check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                         SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, TIOCSTI)),
        "ioctl TIOCSTI");

  // Socket families: AF_UNIX always; AF_INET/AF_INET6 only with loopback networking.
  for (int sys : {SCMP_SYS(socket), SCMP_SYS(socketpair)}) {
    check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), sys, 1, SCMP_A0(SCMP_CMP_LT, AF_UNIX)), "socket");
    if (network == Network::kLoopback) {
      for (int fam = AF_UNIX + 1; fam < AF_INET6; ++fam) {
        if (fam == AF_INET) continue;
        check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), sys, 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(fam))), "socket");
      }
      check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), sys, 1, SCMP_A0(SCMP_CMP_GT, AF_INET6)), "socket");
    } else {
      check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), sys, 1, SCMP_A0(SCMP_CMP_GT, AF_UNIX)), "socket");
    }
  }

  return export_program(ctx);
}

}  // namespace

SeccompPrograms build_seccomp_programs(Network network) { return {build_early(network), build_late()}; }

}  // namespace envforge::sandbox::launcher
