#include "sandbox/launcher/box_init.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ftw.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "sandbox/launcher/reaper.h"
#include "sandbox/spec_check.h"
#include "sandbox/status_record.h"

namespace envforge::sandbox::launcher {
namespace {

// The new root is built on a tmpfs mounted over /tmp in the box's own mount namespace
// (the host's /tmp is untouched and nothing is created on the host).
constexpr const char* kRoot = "/tmp";
// Entries of a bound directory tree checked for sockets and FIFOs, at most.
constexpr std::size_t kMaxBindEntries = 200'000;

[[noreturn]] void fail(const std::string& what, int err) {
  StatusRecord rec;
  rec.kind = BoxEnd::kSetupError;
  rec.error = err;
  std::string msg = what + (err ? std::string(": ") + std::strerror(err) : std::string());
  std::snprintf(rec.message, sizeof rec.message, "%s", msg.c_str());
  (void)!write(kBoxStatusFd, &rec, sizeof rec);
  _exit(125);
}

void must(int rc, const std::string& what) {
  if (rc != 0) fail(what, errno);
}

void write_text(const std::string& path, const std::string& text, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) fail("create " + path, errno);
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write " + path, errno);
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (fchmod(fd, mode) != 0) fail("chmod " + path, errno);
  close(fd);
}

// Creates the missing directories of `path` below `base` (which exists).
void mkdirs(const std::string& base, const std::string& path, mode_t mode) {
  for (std::size_t pos = base.size() + 1; pos <= path.size(); ++pos) {
    if (pos == path.size() || path[pos] == '/') {
      std::string part = path.substr(0, pos);
      if (mkdir(part.c_str(), mode) != 0 && errno != EEXIST) fail("mkdir " + part, errno);
    }
  }
}

// Mount flags a read-only bind must keep: in a user namespace the flags inherited from
// the host mount are locked and a remount that drops them is refused.
unsigned long locked_flags(int fd) {
  struct statvfs sv;
  unsigned long f = MS_RDONLY | MS_NOSUID | MS_NODEV;
  if (fstatvfs(fd, &sv) != 0) return f;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// Binds what `src_fd` refers to at `target`, read-only (with nosuid and nodev), mounts
// below it included: a host may have mounts inside /usr (drivers, store paths), and in
// a user namespace those are locked to their parent, so only a recursive bind is
// allowed. The mount API clones and seals the whole tree before it becomes visible;
// kernels without it get a bind through /proc/self/fd and a read-only remount.
void bind_ro_fd(int src_fd, const std::string& target, const std::string& label) {
  int tree = static_cast<int>(syscall(SYS_open_tree, src_fd, "",
                                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
  if (tree >= 0) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    int rc = static_cast<int>(syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr));
    if (rc != 0) {
      int err = errno;
      close(tree);
      fail("read-only bind of " + label, err);
    }
    rc = static_cast<int>(syscall(SYS_move_mount, tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH));
    int err = errno;
    close(tree);
    if (rc != 0) fail("bind " + label, err);
    return;
  }
  if (errno != ENOSYS) fail("bind " + label, errno);
  std::string src = "/proc/self/fd/" + std::to_string(src_fd);
  if (mount(src.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) fail("bind " + label, errno);
  if (mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | locked_flags(src_fd), nullptr) != 0)
    fail("read-only remount of " + label, errno);
}

// Host directories an interpreter needs: merged-/usr symlinks are recreated as links,
// real directories are bound read-only.
void add_system_tree(const char* name) {
  std::string host = std::string("/") + name, box = std::string(kRoot) + "/" + name;
  struct stat st;
  if (lstat(host.c_str(), &st) != 0) return;
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlink(host.c_str(), target, sizeof target - 1);
    if (n <= 0) return;
    target[n] = 0;
    must(symlink(target, box.c_str()), "symlink " + box);
    return;
  }
  if (!S_ISDIR(st.st_mode)) return;
  int fd = open(host.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("open " + host, errno);
  must(mkdir(box.c_str(), 0755), "mkdir " + box);
  bind_ro_fd(fd, box, host);
  close(fd);
}

void add_etc() {
  std::string etc = std::string(kRoot) + "/etc";
  must(mkdir(etc.c_str(), 0755), "mkdir /etc");
  write_text(etc + "/passwd",
             "root:x:0:0:root:/:/usr/sbin/nologin\nbox:x:1000:1000:box:/work:/usr/sbin/nologin\n"
             "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
             0644);
  write_text(etc + "/group", "root:x:0:\nbox:x:1000:\nnogroup:x:65534:\n", 0644);
  write_text(etc + "/hosts", "127.0.0.1 localhost box\n::1 localhost\n", 0644);
  write_text(etc + "/hostname", "box\n", 0644);
  write_text(etc + "/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n", 0644);
  // The dynamic linker's cache makes every exec cheaper; the time zone keeps times sane.
  int fd = open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    write_text(etc + "/ld.so.cache", "", 0644);
    bind_ro_fd(fd, etc + "/ld.so.cache", "/etc/ld.so.cache");
    close(fd);
  }
  // Debian reaches many libraries through /etc/alternatives links (numpy's BLAS and
  // LAPACK among them): the host's, read-only.
  int alt = open("/etc/alternatives", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (alt >= 0) {
    must(mkdir((etc + "/alternatives").c_str(), 0755), "mkdir /etc/alternatives");
    bind_ro_fd(alt, etc + "/alternatives", "/etc/alternatives");
    close(alt);
  }
  char target[512];
  ssize_t n = readlink("/etc/localtime", target, sizeof target - 1);
  if (n > 0) {
    target[n] = 0;
    symlink(target, (etc + "/localtime").c_str());
  }
}

void add_dev() {
  std::string dev = std::string(kRoot) + "/dev";
  must(mkdir(dev.c_str(), 0755), "mkdir /dev");
  for (const char* name : {"null", "zero", "full", "random", "urandom"}) {
    std::string host = std::string("/dev/") + name, box = dev + "/" + name;
    write_text(box, "", 0666);
    // Device nodes keep their host mount flags (a nodev remount would break them).
    must(mount(host.c_str(), box.c_str(), nullptr, MS_BIND, nullptr), "bind " + host);
  }
  // POSIX shared memory and semaphores (Python's multiprocessing needs them): part of
  // the box tmpfs, like /work and /tmp (made a writable mount in prepare_root).
  must(mkdir((dev + "/shm").c_str(), 01777), "mkdir /dev/shm");
  must(chmod((dev + "/shm").c_str(), 01777), "chmod /dev/shm");
  must(symlink("/proc/self/fd", (dev + "/fd").c_str()), "symlink /dev/fd");
  must(symlink("/proc/self/fd/0", (dev + "/stdin").c_str()), "symlink /dev/stdin");
  must(symlink("/proc/self/fd/1", (dev + "/stdout").c_str()), "symlink /dev/stdout");
  must(symlink("/proc/self/fd/2", (dev + "/stderr").c_str()), "symlink /dev/stderr");
}

// Sockets and FIFOs below a bound directory, as the box sees them.
struct ChannelScan {
  std::vector<std::string> found;
  std::size_t entries = 0;
  std::string refused;  // why the tree cannot be checked
};
ChannelScan* g_channel_scan = nullptr;  // nftw takes no context

int note_channel(const char* path, const struct stat* st, int type, FTW*) {
  ChannelScan& scan = *g_channel_scan;
  if (++scan.entries > kMaxBindEntries) {
    scan.refused = "more than " + std::to_string(kMaxBindEntries) + " entries to check for sockets and FIFOs";
    return 1;
  }
  // A directory the box may enter but not list could hide one: refused.
  if (type == FTW_DNR && (st->st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
    scan.refused = std::string("cannot list ") + (path + std::strlen(kRoot)) + " to check it for sockets and FIFOs";
    return 1;
  }
  if (type == FTW_F && (S_ISSOCK(st->st_mode) || S_ISFIFO(st->st_mode))) scan.found.push_back(path);
  return 0;
}

// A read-only bind must be no channel to the host, but a read-only mount stops neither
// connect() to a Unix socket nor writes into a FIFO: each one found in a bound tree is
// covered with an empty read-only file (connect: ECONNREFUSED; open for writing: EROFS).
void hide_channels(const std::string& target, const std::string& label) {
  ChannelScan scan;
  g_channel_scan = &scan;
  nftw(target.c_str(), note_channel, 32, FTW_PHYS);
  g_channel_scan = nullptr;
  if (!scan.refused.empty()) fail("read-only bind of " + label + ": " + scan.refused, 0);
  if (scan.found.empty()) return;
  const std::string inert = std::string(kRoot) + "/.inert";
  if (access(inert.c_str(), F_OK) != 0) write_text(inert, "", 0444);
  for (const auto& path : scan.found) {
    if (mount(inert.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        mount(nullptr, path.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) != 0)
      fail("hide socket or FIFO " + path.substr(std::strlen(kRoot)) + " in the bind of " + label, errno);
  }
}

void add_user_binds(const std::vector<RoBind>& binds, const std::vector<int>& fds) {
  for (std::size_t i = 0; i < binds.size(); ++i) {
    std::string target = std::string(kRoot) + binds[i].box_path;
    mkdirs(kRoot, target.substr(0, target.rfind('/')), 0755);
    struct stat st;
    if (fstat(fds[i], &st) != 0) fail("stat bind source " + binds[i].host_path, errno);
    if (S_ISDIR(st.st_mode)) {
      if (mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) fail("mkdir " + binds[i].box_path, errno);
    } else if (S_ISREG(st.st_mode)) {
      write_text(target, "", 0444);
    } else {
      fail("bind source " + binds[i].host_path + " is neither a file nor a directory (sockets and FIFOs are refused)", 0);
    }
    bind_ro_fd(fds[i], target, binds[i].host_path);
    if (S_ISDIR(st.st_mode)) hide_channels(target, binds[i].host_path);
  }
  // The inert file stays reachable only through the mounts made of it.
  unlink((std::string(kRoot) + "/.inert").c_str());
}

// `work` is where the box's /work is seen from here: below the root under construction,
// or /work itself once the root is pivoted.
void add_work_files(const std::string& work, const std::vector<WorkFile>& files) {
  for (const auto& f : files) {
    std::string path = work + "/" + f.name;
    mkdirs(work, path.substr(0, path.rfind('/')), 0755);
    // Set-id bits are dropped: the box mounts are nosuid anyway.
    write_text(path, f.bytes, f.mode & 0777);
  }
}

std::string tmpfs_options(std::int64_t size_mb) {
  return "size=" + std::to_string(size_mb << 20) + ",nr_inodes=" + std::to_string(16384 + kMaxFiles);
}

// The new root becomes / (the host tree is detached from this mount namespace) and is
// made read-only; /work and /tmp stay writable mounts of the same tmpfs.
void pivot_into_root() {
  must(chdir(kRoot), "chdir new root");
  must(static_cast<int>(syscall(SYS_pivot_root, ".", ".")), "pivot_root");
  must(umount2(".", MNT_DETACH), "detach the old root");
  must(chdir("/"), "chdir /");
  must(mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr),
       "read-only remount of /");
}

// The request-independent part of the root, built before the request exists. With
// `host_view` (the box is for a request with read-only binds, whose sources are host
// paths) it stops before pivot_root and returns an O_PATH descriptor of the host /tmp
// (covered by the box tmpfs from here on) through which bind sources under it stay
// reachable; otherwise the root is complete and pivoted, and it returns -1.
int prepare_root(bool host_view) {
  // Nothing we mount may propagate back to the host.
  must(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), "make / private");
  int host_tmp = -1;
  if (host_view) {
    host_tmp = open(kRoot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (host_tmp < 0) fail("open the host /tmp", errno);
  }
  std::string opts = tmpfs_options(kDefaultTmpfsMb) + ",mode=0755";
  must(mount("tmpfs", kRoot, "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()), "mount the box tmpfs");
  for (const char* d : {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}) add_system_tree(d);
  add_etc();
  add_dev();
  std::string proc = std::string(kRoot) + "/proc";
  must(mkdir(proc.c_str(), 0555), "mkdir /proc");
  must(mount("proc", proc.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), "mount /proc");
  std::string work = std::string(kRoot) + "/work", tmp = std::string(kRoot) + "/tmp";
  must(mkdir(work.c_str(), 0755), "mkdir /work");
  must(mkdir(tmp.c_str(), 01777), "mkdir /tmp");
  must(chmod(tmp.c_str(), 01777), "chmod /tmp");
  // /work and /tmp become mounts of their own so that / can be made read-only (user
  // binds are never below them: spec_check reserves both).
  must(mount(work.c_str(), work.c_str(), nullptr, MS_BIND, nullptr), "bind /work");
  must(mount(tmp.c_str(), tmp.c_str(), nullptr, MS_BIND, nullptr), "bind /tmp");
  const std::string shm = std::string(kRoot) + "/dev/shm";
  must(mount(shm.c_str(), shm.c_str(), nullptr, MS_BIND, nullptr), "bind /dev/shm");
  if (!host_view) pivot_into_root();
  return host_tmp;
}

// A bind source as the host sees it: paths under /tmp through the saved descriptor.
int open_bind_source(const std::string& path, int host_tmp) {
  if (path == "/tmp") return fcntl(host_tmp, F_DUPFD_CLOEXEC, 0);
  if (path.rfind("/tmp/", 0) == 0) return openat(host_tmp, path.c_str() + 5, O_PATH | O_CLOEXEC);
  return open(path.c_str(), O_PATH | O_CLOEXEC);
}

// The request-dependent rest: tmpfs size, binds (host-view boxes only), work files and,
// for a host-view box, pivot_root.
void finish_root(const wire::LaunchRequest& req, int host_tmp, bool memory_by_rlimit) {
  const bool host_view = host_tmp >= 0;
  if (!host_view && !req.binds.empty()) fail("a pivoted box cannot take read-only binds", 0);
  // tmpfs pages are memory: without a memory cgroup to charge them to, the tmpfs may
  // not hold more than the box's memory limit (the reaper counts it in the box total).
  const std::int64_t tmpfs_mb =
      memory_by_rlimit ? std::min(req.limits.tmpfs_mb, req.limits.memory_mb) : req.limits.tmpfs_mb;
  if (tmpfs_mb != kDefaultTmpfsMb) {
    // /work is a bind of the tmpfs's directory: remounting it resizes the whole tmpfs.
    std::string work = host_view ? std::string(kRoot) + "/work" : "/work";
    must(mount("tmpfs", work.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV,
               tmpfs_options(tmpfs_mb).c_str()),
         "resize the box tmpfs");
  }
  if (!host_view) {
    add_work_files("/work", req.files);
    return;
  }
  std::vector<int> bind_fds;
  for (const auto& b : req.binds) {
    int fd = open_bind_source(b.host_path, host_tmp);
    if (fd < 0) fail("bind source " + b.host_path, errno);
    bind_fds.push_back(fd);
  }
  close(host_tmp);
  add_user_binds(req.binds, bind_fds);
  for (int fd : bind_fds) close(fd);
  add_work_files(std::string(kRoot) + "/work", req.files);
  pivot_into_root();
}

bool read_exact(int fd, void* buf, std::size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// Blocks until the launcher hands this box its request; EOF: the box was discarded.
wire::LaunchRequest read_request() {
  std::uint64_t n = 0;
  if (!read_exact(kBoxSyncFd, &n, sizeof n)) _exit(0);
  if (n > wire::kMaxFrameBytes) fail("request frame too large", 0);
  std::string bytes(n, '\0');
  if (!read_exact(kBoxSyncFd, bytes.data(), n)) _exit(0);
  close(kBoxSyncFd);
  try {
    return wire::decode_launch(bytes);
  } catch (const std::exception& e) {
    fail(std::string("bad request: ") + e.what(), 0);
  }
}

// The bounding and ambient sets only matter at exec: emptied ahead of the request.
void drop_bounding_set() {
  for (int cap = 0; cap <= 63; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the last capability this kernel knows
      fail("drop capability " + std::to_string(cap) + " from the bounding set", errno);
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    fail("clear the ambient capabilities", errno);
}

void drop_capabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &hdr, data) != 0) fail("drop capabilities", errno);
}

void raise_effective_capabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) fail("capget", errno);
  data[0].effective = data[0].permitted;
  data[1].effective = data[1].permitted;
  if (syscall(SYS_capset, &hdr, data) != 0) fail("raise capabilities", errno);
}

void load_filter(const std::vector<sock_filter>& program, const char* what) {
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) fail(std::string("load ") + what, errno);
}

// What the payload process does between vfork and execve, prepared beforehand: the
// child shares the reaper's memory until it execs, so it may only make system calls.
struct PayloadPlan {
  std::vector<char*> argv, envp;
  struct Limit {
    __rlimit_resource_t resource;
    rlimit value;
  };
  std::vector<Limit> limits;
};

PayloadPlan plan_payload(const BoxPlan& plan, const wire::LaunchRequest& req) {
  const Limits& l = req.limits;
  PayloadPlan p;
  auto limit = [&](int resource, rlim_t soft, rlim_t hard) { p.limits.push_back({resource, {soft, hard}}); };
  // A backstop only: the reaper ends the box at the CPU limit with ms granularity.
  rlim_t cpu_s = static_cast<rlim_t>((l.cpu_ms + 999) / 1000) + 1;
  limit(RLIMIT_CPU, cpu_s, cpu_s + 1);
  rlim_t mem = static_cast<rlim_t>(l.memory_mb) << 20;
  // With a memory cgroup the address space only gets a loose bound (mappings are not memory).
  rlim_t as = plan.memory_by_rlimit ? mem : std::max<rlim_t>(4 * mem, mem + (rlim_t(2) << 30));
  limit(RLIMIT_AS, as, as);
  // Counted per user inside this box's user namespace; +1 for the reaper (same uid).
  limit(RLIMIT_NPROC, static_cast<rlim_t>(l.max_pids) + 1, static_cast<rlim_t>(l.max_pids) + 1);
  limit(RLIMIT_NOFILE, static_cast<rlim_t>(l.open_files), static_cast<rlim_t>(l.open_files));
  rlim_t fsize = static_cast<rlim_t>(l.file_size_mb) << 20;
  limit(RLIMIT_FSIZE, fsize, fsize);
  limit(RLIMIT_CORE, 0, 0);
  limit(RLIMIT_MEMLOCK, 0, 0);
  limit(RLIMIT_MSGQUEUE, 0, 0);
  for (const auto& a : req.argv) p.argv.push_back(const_cast<char*>(a.c_str()));
  p.argv.push_back(nullptr);
  for (const auto& e : req.env) p.envp.push_back(const_cast<char*>(e.c_str()));
  p.envp.push_back(nullptr);
  return p;
}

// Runs in the vfork child of the reaper, which already dropped its capabilities and
// loaded the seccomp filter (both inherited). On failure the errno is left in
// `exec_errno` (shared memory until exec) for the reaper to report.
[[noreturn]] void exec_payload(const PayloadPlan& p, volatile int* exec_errno) {
  setsid();
  if (chdir("/work") != 0) {
    *exec_errno = -errno;  // negative: the box's failure, not the program's
    _exit(127);
  }
  umask(022);
  for (const auto& l : p.limits) setrlimit(l.resource, &l.value);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(p.argv[0], p.argv.data(), p.envp.data());
  *exec_errno = errno;
  _exit(127);
}

// Why an execve failed, where the errno alone misleads (ENOENT for a file that exists).
const char* exec_failure_hint(const std::string& path, int err) {
  struct stat st;
  const bool exists = stat(path.c_str(), &st) == 0;
  if (err == ENOENT && exists) return " (its #! interpreter line names a program that is not in the box)";
  if (err == ENOEXEC) return " (not a binary the kernel runs, and no #! line)";
  if (err == EACCES && exists && S_ISDIR(st.st_mode)) return " (a directory)";
  if (err == EACCES && exists) return " (no execute permission)";
  return "";
}

}  // namespace

std::string box_request_frame(std::string_view body) {
  std::uint64_t n = body.size();
  std::string frame(reinterpret_cast<const char*>(&n), sizeof n);
  frame += body;
  return frame;
}

void box_main(const BoxPlan& plan) {
  // The launcher ignores SIGCHLD and SIGPIPE; ignored signals survive exec, so restore
  // the defaults here for the reaper and everything it starts.
  signal(SIGCHLD, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Wait for the launcher: uid/gid maps written and cgroups joined.
  char go = 0;
  if (read(kBoxSyncFd, &go, 1) != 1 || go != 'G') _exit(124);
  // Become the box user (mapped to an unprivileged host id) while keeping, for the
  // set-up only, the capabilities this user namespace gave us.
  prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
  must(setresgid(kBoxUid, kBoxUid, kBoxUid), "setresgid");
  must(setresuid(kBoxUid, kBoxUid, kBoxUid), "setresuid");
  // The uid change cleared the parent-death signal set at clone: arm it again, then make
  // sure the launcher did not die before it was armed (its pidfd turns readable). From
  // here on the box (its PID 1, hence every process of it) dies with the launcher.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail("parent-death signal", errno);
  pollfd launcher_gone{kBoxLauncherFd, POLLIN, 0};
  if (poll(&launcher_gone, 1, 0) != 0) _exit(0);
  close(kBoxLauncherFd);
  raise_effective_capabilities();
  int host_tmp = prepare_root(plan.host_view);
  must(unshare(CLONE_NEWCGROUP), "new cgroup namespace");
  must(sethostname("box", 3), "sethostname");
  drop_bounding_set();
  // Not dumpable from here on: the payload runs as the same uid and must not reach this
  // process (the reaper) through /proc/1/mem or /proc/1/fd: it could forge the status
  // record. no_new_privs before the request too: nothing here execs until the payload.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("no_new_privs", errno);
  load_filter(plan.seccomp->early, "the seccomp filter");

  const wire::LaunchRequest req = read_request();
  finish_root(req, host_tmp, plan.memory_by_rlimit);

  // From here on this process holds nothing worth stealing: no capabilities and the
  // whole policy (inherited by the payload).
  drop_capabilities();
  load_filter(plan.seccomp->late, "the seccomp filter of mount calls");

  // SIGCHLD stays blocked in the reaper (it waits with sigtimedwait); the payload
  // unblocks it before exec.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  // The payload sees neither the status pipe, the request pipe nor the CPU counter.
  fcntl(kBoxStatusFd, F_SETFD, FD_CLOEXEC);
  if (plan.cpu_cgroup != ControlMode::kRlimit) fcntl(kBoxCpuFd, F_SETFD, FD_CLOEXEC);
  const PayloadPlan payload_plan = plan_payload(plan, req);
  // vfork: the payload starts without a copy of this address space (copying it, then
  // tearing the copy down at exec, cost more than the rest of the launch).
  volatile int exec_errno = 0;
  ReapPlan reap;
  reap.cpu_limit_ms = req.limits.cpu_ms;
  reap.cpus = plan.cpus;
  if (plan.cpu_cgroup != ControlMode::kRlimit) {
    // The box's CPU time counts from here (the slot's cgroup served earlier boxes).
    reap.cpu_cgroup_fd = kBoxCpuFd;
    reap.cpu_cgroup_v2 = plan.cpu_cgroup == ControlMode::kCgroupV2;
    reap.cpu_base_us = read_cgroup_cpu_us(kBoxCpuFd, reap.cpu_cgroup_v2);
  }
  if (plan.memory_by_rlimit) reap.memory_limit_kb = req.limits.memory_mb * 1024;
  pid_t payload = vfork();
  if (payload < 0) fail("start the payload", errno);
  if (payload == 0) exec_payload(payload_plan, &exec_errno);
  // The reaper keeps no end of the payload's stdio, so the host sees EOF when the
  // payload and everything it started are gone.
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd < 3; ++fd) dup2(devnull, fd);
  close(devnull);

  reap.payload = payload;
  StatusRecord rec = reap_box(reap);
  if (const int err = exec_errno; err < 0) {
    rec.kind = BoxEnd::kSetupError;
    rec.error = -err;
    std::snprintf(rec.message, sizeof rec.message, "chdir /work: %s", std::strerror(-err));
  } else if (err != 0) {
    rec.kind = BoxEnd::kExecError;
    rec.error = err;
    std::snprintf(rec.message, sizeof rec.message, "cannot execute %s: %s%s", req.argv[0].c_str(), std::strerror(err),
                  exec_failure_hint(req.argv[0], err));
  }
  (void)!write(kBoxStatusFd, &rec, sizeof rec);
  // Stay alive (holding the box's mounts) until the host has collected files and
  // kills the box through its pidfd.
  for (;;) pause();
}

}  // namespace envforge::sandbox::launcher
