/* Hostile programs for the sandbox attack suite, one per mode (argv[1]).
 * Each prints ESCAPED:<what> when an attack got through, and otherwise reports what
 * stopped it. Built without sanitizers: it runs inside the box. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void escaped(const char* what) {
  printf("ESCAPED:%s\n", what);
  fflush(stdout);
}

static int try_open(const char* path, int flags) {
  int fd = open(path, flags, 0644);
  if (fd >= 0) {
    char buf[256];
    ssize_t n = (flags & O_ACCMODE) == O_RDONLY ? read(fd, buf, sizeof buf) : write(fd, "x", 1);
    close(fd);
    if (n > 0) return 1;
  }
  printf("refused %s: %s\n", path, strerror(errno));
  return 0;
}

static volatile char sink;
static int recurse(int depth) {
  char pad[4096];
  memset(pad, depth, sizeof pad);
  sink = pad[depth % 4096];
  return recurse(depth + 1) + pad[0];
}

static void* sleeper(void* arg) {
  (void)arg;
  pause();
  return NULL;
}

static int net_attempt(int type, const char* ip, int port) {
  int s = socket(AF_INET, type, 0);
  if (s < 0) {
    printf("socket refused: %s\n", strerror(errno));
    return 0;
  }
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  int ok;
  if (type == SOCK_STREAM) {
    ok = connect(s, (struct sockaddr*)&a, sizeof a) == 0;
  } else {
    ok = sendto(s, "ping", 4, 0, (struct sockaddr*)&a, sizeof a) == 4;
  }
  printf("%s %s:%d -> %s\n", type == SOCK_STREAM ? "connect" : "sendto", ip, port, ok ? "ok" : strerror(errno));
  close(s);
  return ok;
}

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void* spinner(void* arg) {
  (void)arg;
  for (volatile unsigned long i = 0;; ++i) {
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* m = argv[1];
  const char* arg = argc > 2 ? argv[2] : "";
  setvbuf(stdout, NULL, _IONBF, 0);

  if (!strcmp(m, "true")) return 0;
  if (!strcmp(m, "exit")) return atoi(arg);
  if (!strcmp(m, "fork_bomb")) {
    for (;;) fork();
  }
  if (!strcmp(m, "memory_bomb")) {
    size_t total = 0;
    for (;;) {
      char* p = malloc(1 << 20);
      if (!p) {
        printf("malloc failed after %zu MiB\n", total >> 20);
        return 3;
      }
      memset(p, 1, 1 << 20);
      total += 1 << 20;
    }
  }
  if (!strcmp(m, "stack_overflow")) return recurse(0);
  if (!strcmp(m, "cpu_loop")) {
    for (volatile unsigned long i = 0;; ++i) {
    }
  }
  if (!strcmp(m, "cpu_threads")) {  /* CPU time from several threads at once */
    for (int i = 0; i < 3; ++i) {
      pthread_t t;
      pthread_create(&t, NULL, spinner, NULL);
    }
    spinner(NULL);
  }
  if (!strcmp(m, "cpu_child")) {  /* CPU time burnt by a child, not by the payload */
    pid_t p = fork();
    if (p == 0) spinner(NULL);
    waitpid(p, NULL, 0);
    return 0;
  }
  if (!strcmp(m, "cpu_children_reaped") || !strcmp(m, "cpu_children_autoreap")) {
    /* CPU time burnt by short-lived children, each gone (reaped by the payload, or by
       the kernel when SIGCHLD is ignored) before it amounts to much. */
    if (!strcmp(m, "cpu_children_autoreap")) signal(SIGCHLD, SIG_IGN);
    for (;;) {
      pid_t p = fork();
      if (p == 0) {
        while (cpu_seconds() < 0.1) {
        }
        _exit(0);
      }
      waitpid(p, NULL, 0);
    }
  }
  if (!strcmp(m, "memory_children")) {
    /* arg: processes; argv[3]: MiB each. Each touches its share, holds it 3 s, exits. */
    int n = atoi(arg);
    size_t bytes = (size_t)atoi(argv[3]) << 20;
    for (int i = 0; i < n; ++i) {
      if (fork() == 0) {
        char* p = malloc(bytes);
        if (!p) _exit(3);
        memset(p, 1, bytes);
        sleep(3);
        _exit(0);
      }
    }
    while (wait(NULL) > 0) {
    }
    printf("all children done\n");
    return 0;
  }
  if (!strcmp(m, "unix_connect")) {
    /* arg: a Unix socket path in a read-only bind */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", arg);
    if (connect(s, (struct sockaddr*)&a, sizeof a) == 0) {
      write(s, "hello host", 10);
      escaped("connected to a host Unix socket");
    } else {
      printf("connect %s: %s\n", arg, strerror(errno));
    }
    return 0;
  }
  if (!strcmp(m, "fifo_write")) {
    /* arg: a FIFO path in a read-only bind */
    int fd = open(arg, O_WRONLY | O_NONBLOCK);
    if (fd >= 0 && write(fd, "hello host", 10) > 0) escaped("wrote into a host FIFO");
    else printf("fifo %s: %s\n", arg, strerror(errno));
    return 0;
  }
  if (!strcmp(m, "sleep_forever")) {
    for (;;) pause();
  }
  if (!strcmp(m, "stdout_flood") || !strcmp(m, "stderr_flood")) {
    static char buf[65536];
    memset(buf, 'A', sizeof buf);
    int fd = !strcmp(m, "stdout_flood") ? 1 : 2;
    for (;;)
      if (write(fd, buf, sizeof buf) < 0) return 4;
  }
  if (!strcmp(m, "fill_tmpfs")) {
    /* arg: directory to fill (/work or /tmp) */
    char path[256];
    snprintf(path, sizeof path, "%s/fill", arg);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 5;
    static char buf[1 << 16];
    size_t total = 0;
    for (;;) {
      ssize_t w = write(fd, buf, sizeof buf);
      if (w < 0) {
        printf("stopped after %zu bytes: %s\n", total, strerror(errno));
        return errno == ENOSPC ? 6 : 7;
      }
      total += (size_t)w;
    }
  }
  if (!strcmp(m, "file_size")) {
    int fd = open("/work/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    static char buf[1 << 16];
    for (;;)
      if (write(fd, buf, sizeof buf) < 0) return 8;
  }
  if (!strcmp(m, "write_outside")) {
    int bad = 0;
    const char* paths[] = {"/escape", "/usr/escape", "/etc/escape", "/bin/escape", "/lib/escape",
                           "/proc/sys/kernel/hostname", "/proc/sysrq-trigger", "/dev/escape", "/world/escape",
                           "/etc/passwd", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; ++i) {
      int flags = O_WRONLY | (strncmp(paths[i], "/proc", 5) && strcmp(paths[i], "/etc/passwd") &&
                                      strcmp(paths[i], "/usr/bin/python3") ? O_CREAT : 0);
      if (try_open(paths[i], flags)) {
        escaped(paths[i]);
        bad = 1;
      }
    }
    if (mkdir("/newdir", 0755) == 0) escaped("mkdir /newdir");
    if (rename("/work", "/work2") == 0) escaped("rename /work");
    return bad;
  }
  if (!strcmp(m, "read_secrets")) {
    /* arg: a host path that must stay invisible (the parent's own files) */
    const char* paths[] = {"/etc/shadow", "/etc/gshadow", "/root/.ssh/id_rsa", "/root/.ssh/authorized_keys",
                           "/home", "/root/.bash_history", "/etc/ssh/ssh_host_rsa_key", "/proc/kcore",
                           "/sys/kernel/notes", "/dev/mem", "/dev/sda", "/dev/kmsg", arg};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; ++i)
      if (paths[i][0] && try_open(paths[i], O_RDONLY)) escaped(paths[i]);
    return 0;
  }
  if (!strcmp(m, "proc_environ")) {
    /* Every process this box can see: print their environments for the test to search. */
    char path[64], buf[65536];
    for (int pid = 1; pid < 64; ++pid) {
      snprintf(path, sizeof path, "/proc/%d/environ", pid);
      int fd = open(path, O_RDONLY);
      if (fd < 0) continue;
      ssize_t n = read(fd, buf, sizeof buf);
      close(fd);
      for (ssize_t i = 0; i < n; ++i)
        if (buf[i] == 0) buf[i] = '\n';
      if (n > 0) fwrite(buf, 1, (size_t)n, stdout);
    }
    return 0;
  }
  if (!strcmp(m, "count_procs")) {
    int count = 0;
    char path[64];
    for (int pid = 1; pid < 4194304 && pid < 100000; ++pid) {
      snprintf(path, sizeof path, "/proc/%d", pid);
      if (access(path, F_OK) == 0) ++count;
    }
    printf("visible processes: %d\n", count);
    if (count > 3) escaped("host processes visible");
    return 0;
  }
  if (!strcmp(m, "tcp")) return net_attempt(SOCK_STREAM, arg, atoi(argv[3])) ? (escaped("tcp"), 0) : 0;
  if (!strcmp(m, "udp")) return net_attempt(SOCK_DGRAM, arg, atoi(argv[3])) ? (escaped("udp"), 0) : 0;
  if (!strcmp(m, "loopback_self")) {
    /* With loopback networking: a server and a client inside the box. */
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    if (srv < 0) return 10;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(srv, (struct sockaddr*)&a, sizeof a) || listen(srv, 1)) return 11;
    socklen_t len = sizeof a;
    getsockname(srv, (struct sockaddr*)&a, &len);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr*)&a, sizeof a)) return 12;
    printf("LOOPBACK_OK\n");
    return 0;
  }
  if (!strcmp(m, "other_sockets")) {
    int fams[] = {AF_NETLINK, AF_PACKET, AF_INET6, AF_INET};
    for (int i = 0; i < 4; ++i) {
      int s = socket(fams[i], SOCK_RAW, 0);
      if (s >= 0) escaped("raw socket");
      else printf("family %d refused: %s\n", fams[i], strerror(errno));
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 13;  /* AF_UNIX must work */
    printf("AF_UNIX ok\n");
    return 0;
  }
  if (!strcmp(m, "ptrace_sibling")) {
    pid_t child = fork();
    if (child == 0) {
      for (;;) pause();
    }
    ptrace(PTRACE_ATTACH, child, 0, 0);
    escaped("ptrace returned");
    return 0;
  }
  if (!strcmp(m, "mount")) {
    mount("none", "/tmp", "tmpfs", 0, NULL);
    escaped("mount returned");
    return 0;
  }
  if (!strcmp(m, "unshare")) {
    unshare(CLONE_NEWUSER | CLONE_NEWNS);
    escaped("unshare returned");
    return 0;
  }
  if (!strcmp(m, "clone_userns")) {
    syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    escaped("clone(CLONE_NEWUSER) returned");
    return 0;
  }
  if (!strcmp(m, "clone3")) {
    long r = syscall(SYS_clone3, NULL, 0);
    printf("clone3: %s\n", r < 0 ? strerror(errno) : "returned");
    return r < 0 && errno == ENOSYS ? 0 : 1;
  }
  if (!strcmp(m, "chroot")) {
    chroot("/tmp");
    escaped("chroot returned");
    return 0;
  }
  if (!strcmp(m, "bpf")) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
    escaped("bpf returned");
    return 0;
  }
  if (!strcmp(m, "perf_event")) {
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.size = sizeof pa;
    syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
    escaped("perf_event_open returned");
    return 0;
  }
  if (!strcmp(m, "keyctl")) {
    syscall(SYS_keyctl, 0, 0, 0, 0, 0);
    escaped("keyctl returned");
    return 0;
  }
  if (!strcmp(m, "personality")) {
    personality(ADDR_NO_RANDOMIZE);
    escaped("personality returned");
    return 0;
  }
  if (!strcmp(m, "io_uring")) {
    long r = syscall(425 /* io_uring_setup */, 8, calloc(1, 256));
    if (r >= 0) escaped("io_uring");
    printf("io_uring_setup: %s\n", strerror(errno));
    return 0;
  }
  if (!strcmp(m, "become_root")) {
    if (setuid(0) == 0 || seteuid(0) == 0) escaped("setuid(0)");
    if (setgid(0) == 0) escaped("setgid(0)");
    printf("uid %d euid %d\n", getuid(), geteuid());
    return geteuid() == 0;
  }
  if (!strcmp(m, "setuid_exec")) {
    /* A set-uid-root program from the host's /usr: the box mounts are nosuid, no_new_privs is set. */
    execl(arg, arg, "-c", "exit 0", (char*)NULL);
    printf("exec %s: %s\n", arg, strerror(errno));
    return 0;
  }
  if (!strcmp(m, "symlink_escape")) {
    int bad = 0;
    bad |= symlink("/etc/passwd", "/work/link_passwd") != 0;
    bad |= symlink("/", "/work/link_root") != 0;
    bad |= symlink("/proc/1/root", "/work/link_proc") != 0;
    mkdir("/work/sub", 0755);
    bad |= symlink("../../../../../etc/hostname", "/work/sub/up") != 0;
    return bad;
  }
  if (!strcmp(m, "hardlink_escape")) {
    if (link("/etc/passwd", "/work/hard_passwd") == 0) escaped("hard link across mounts");
    else printf("link /etc/passwd: %s\n", strerror(errno));
    if (link("/usr/bin/python3", "/work/hard_py") == 0) escaped("hard link into /usr");
    int fd = open("/work/own", O_WRONLY | O_CREAT, 0644);
    write(fd, "own", 3);
    close(fd);
    link("/work/own", "/work/own_link");
    return 0;
  }
  if (!strcmp(m, "proc_mem")) {
    /* Writing our own memory is allowed by the kernel; the reaper's must not be. */
    int self = open("/proc/self/mem", O_RDWR);
    printf("self mem: %s\n", self >= 0 ? "open" : strerror(errno));
    const char* targets[] = {"/proc/1/mem", "/proc/1/fd/3", "/proc/1/root/etc/passwd"};
    for (int i = 0; i < 3; ++i) {
      int fd = open(targets[i], O_RDWR);
      if (fd >= 0) escaped(targets[i]);
      else printf("%s: %s\n", targets[i], strerror(errno));
    }
    return 0;
  }
  if (!strcmp(m, "kill_parent")) {
    kill(getppid(), SIGKILL);
    kill(1, SIGKILL);
    kill(-1, SIGKILL);
    if (arg[0]) kill(atoi(arg), SIGKILL); /* the launcher's host pid: not visible */
    printf("still here\n");
    return 0;
  }
  if (!strcmp(m, "daemonize")) {
    pid_t p = fork();
    if (p == 0) {
      setsid();
      if (fork() == 0) {
        /* keeps stdout open and lives on, unless the box ends it */
        for (int i = 0; i < 600; ++i) {
          sleep(1);
          printf("daemon alive\n");
        }
        _exit(0);
      }
      _exit(0);
    }
    waitpid(p, NULL, 0);
    printf("parent done\n");
    return 0;
  }
  if (!strcmp(m, "many_threads")) {
    int n = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 65536);
    for (; n < 100000; ++n) {
      pthread_t t;
      if (pthread_create(&t, &attr, sleeper, NULL) != 0) break;
    }
    printf("threads: %d\n", n);
    return 0;
  }
  if (!strcmp(m, "non_utf8")) {
    const char bytes[] = "\xff\xfe\x80 ok \xc3\x28\n";
    fwrite(bytes, 1, sizeof bytes - 1, stdout);
    return 0;
  }
  if (!strcmp(m, "tiocsti")) {
    char c = 'x';
    if (ioctl(0, TIOCSTI, &c) == 0) escaped("TIOCSTI");
    printf("TIOCSTI: %s\n", strerror(errno));
    return 0;
  }
  if (!strcmp(m, "fifo")) {
    return mkfifo("/work/pipe", 0644) != 0;
  }
  if (!strcmp(m, "big_file")) {
    int fd = open("/work/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    static char buf[1 << 16];
    for (int i = 0; i < 64; ++i) write(fd, buf, sizeof buf);
    close(fd);
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", m);
  return 2;
}
