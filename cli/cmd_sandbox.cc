// envforge sandbox doctor | run: what this host supports, and one sandboxed command.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "sandbox/launcher_client.h"
#include "sandbox/run_box.h"
#include "sandbox/sandbox.h"

namespace envforge::cli {
namespace {

namespace sb = envforge::sandbox;

// Regular files only: a directory or a device given by mistake is an error, not bytes.
bool read_file(const std::string& path, std::string& out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

// A bare command name is looked up where the box has binaries (its /usr, /bin).
std::string resolve_command(const std::string& cmd) {
  if (cmd.find('/') != std::string::npos) return cmd;
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    std::string p = std::string(dir) + "/" + cmd;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return cmd;
}

// One trial box: what it printed and how it ended, as the doctor reports it.
nlohmann::json trial(sb::Sandbox& sandbox, std::vector<std::string> argv, sb::Network net, bool& ok) {
  sb::Spec spec;
  spec.argv = std::move(argv);
  spec.network = net;
  spec.limits.wall_ms = 20'000;
  sb::Result r = sandbox.run(spec);
  ok = r.ok();
  nlohmann::json j = {{"verdict", sb::verdict_name(r.verdict)}, {"wall_ms", r.wall_ms}};
  if (!r.message.empty()) j["message"] = r.message;
  if (!r.ok() && !r.stderr_data.empty()) j["stderr"] = r.stderr_data.substr(0, 300);
  return j;
}

// How each limit of a box is enforced by a launcher that reported `probe`.
nlohmann::json enforcement(std::map<std::string, std::string> probe) {
  auto mode = [&](const char* key) {
    return probe.count(key) ? static_cast<sb::ControlMode>(std::stoi(probe[key])) : sb::ControlMode::kRlimit;
  };
  const sb::ControlMode memory = mode("memory_mode"), pids = mode("pids_mode"), cpu = mode("cpu_mode");
  auto name = [](sb::ControlMode m) { return std::string(sb::control_mode_name(m)); };
  nlohmann::json j;
  j["cpu"] = cpu != sb::ControlMode::kRlimit
                 ? "the box's PID 1 reads the box cgroup's CPU counter (" + name(cpu) +
                       "): every process, reaped or not, ms granularity; RLIMIT_CPU per process as a backstop"
                 : "the box's PID 1 adds up every process's own CPU time and that of the children it reaped, every "
                   "50 ms at most (" + probe["cpu_reason"] +
                       "); a child reaped by the kernel because its parent ignores SIGCHLD counts as far as a poll "
                       "saw it; RLIMIT_CPU per process as a backstop";
  j["memory"] = memory != sb::ControlMode::kRlimit
                    ? "memory cgroup (" + name(memory) +
                          ") on the whole box, tmpfs pages included (OOM kill: memory_limit); a loose RLIMIT_AS per "
                          "process; a refused oversized allocation is inferred from the program's last error output"
                    : "no memory cgroup (" + probe["memory_reason"] +
                          "): RLIMIT_AS per process at the limit; the tmpfs capped at the limit; the box's total "
                          "(resident anonymous and shared memory of every process plus the tmpfs) polled every 50 ms "
                          "by the box's PID 1, so a burst shorter than that can pass it";
  j["pids"] = pids != sb::ControlMode::kRlimit ? "pids cgroup (" + name(pids) + ") on the whole box"
                                                : "RLIMIT_NPROC of the box's user (processes and threads; " +
                                                      probe["pids_reason"] + ")";
  j["wall"] = "the host's deadline; the box is killed through its pidfd";
  j["output"] = "the host's caps on stdout and stderr; RLIMIT_FSIZE for each file";
  j["tmpfs"] = "the size of the box tmpfs (/work, /tmp and /dev/shm together)";
  j["open_files"] = "RLIMIT_NOFILE per process";
  j["read_only_binds"] =
      "a bound socket or FIFO is refused, those in bound directories are covered when the box starts; advisory "
      "locks on bound files stay shared with the host (see sandbox/spec.h)";
  j["launcher_death"] = "every box dies with the launcher (parent-death signal); the launcher ends its boxes and "
                        "removes their cgroups when the host goes";
  return j;
}

int doctor(int argc, char** argv) {
  cxxopts::Options opts("envforge sandbox doctor",
                        "Report what this host supports for the sandbox, and why. Exit status 0 when boxes "
                        "work here, 1 when they do not.");
  opts.add_options()("json", "print JSON")("h,help", "show help");
  cxxopts::ParseResult args;
  try {
    args = opts.parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge sandbox doctor: %s\n", e.what());
    return kUsageError;
  }
  if (args.count("help")) {
    std::cout << opts.help();
    return 0;
  }
  if (!args.unmatched().empty()) {
    std::fprintf(stderr, "envforge sandbox doctor: unexpected argument '%s'\n", args.unmatched()[0].c_str());
    return kUsageError;
  }
  nlohmann::json report;
  report["launcher"] = sb::find_launcher("");
  report["host_uid"] = geteuid();
  utsname u{};
  if (uname(&u) == 0) report["kernel"] = u.release;
  report["max_user_namespaces"] = read_first_line("/proc/sys/user/max_user_namespaces");
  std::string unpriv = read_first_line("/proc/sys/kernel/unprivileged_userns_clone");
  report["unprivileged_userns_clone"] = unpriv.empty() ? "not present (allowed)" : unpriv;
  int rc = 0;
  try {
    sb::Sandbox sandbox;
    auto p = sandbox.probe();
    report["rootless"] = p["rootless"] == "yes";
    auto mode = [](const std::string& v) { return std::string(sb::control_mode_name(static_cast<sb::ControlMode>(std::stoi(v)))); };
    report["memory"] = {{"mode", mode(p["memory_mode"])}, {"why", p["memory_reason"]}};
    report["pids"] = {{"mode", mode(p["pids_mode"])}, {"why", p["pids_reason"]}};
    report["seccomp_instructions"] = std::stoi(p["seccomp_instructions"]);
    report["cpu"] = {{"mode", mode(p.count("cpu_mode") ? p["cpu_mode"] : "2")}, {"why", p["cpu_reason"]}};
    report["limits"] = enforcement(p);
    bool ok = false;
    report["trial_run"] = trial(sandbox, {"/bin/true"}, sb::Network::kNone, ok);
    report["trial_run"]["command"] = "/bin/true";
    if (!ok) rc = 1;
    report["trial_loopback"] = trial(sandbox, {"/bin/true"}, sb::Network::kLoopback, ok);
    if (!ok) rc = 1;
    // The Python runner (tools, solutions, verifiers) needs the system interpreter.
    if (access("/usr/bin/python3", X_OK) == 0) {
      report["trial_python"] = trial(sandbox, {"/usr/bin/python3", "-c", "import json, sqlite3"}, sb::Network::kNone, ok);
      if (!ok) rc = 1;
    } else {
      report["trial_python"] = {{"verdict", "skipped"}, {"message", "/usr/bin/python3 not found: the Python runner cannot work"}};
      rc = 1;
    }
  } catch (const std::exception& e) {
    report["error"] = e.what();
    rc = 1;
  }
  // As root, whether the same works without privileges (user namespaces only), as it
  // must for an unprivileged deployment.
  if (geteuid() == 0) {
    try {
      sb::SandboxOptions o;
      o.run_as_uid = o.run_as_gid = 65534;
      sb::Sandbox rootless(o);
      bool ok = false;
      report["trial_rootless"] = trial(rootless, {"/bin/true"}, sb::Network::kNone, ok);
      report["trial_rootless"]["as_uid"] = 65534;
      report["rootless_limits"] = enforcement(rootless.probe());
    } catch (const std::exception& e) {
      report["trial_rootless"] = {{"verdict", "sandbox_error"}, {"message", e.what()}, {"as_uid", 65534}};
    }
  }
  if (args.count("json")) {
    std::cout << report.dump(2) << "\n";
    return rc;
  }
  std::cout << "envforge sandbox doctor: " << (rc == 0 ? "boxes work on this host" : "PROBLEMS FOUND") << "\n";
  for (auto& [k, v] : report.items()) {
    if (v.is_object()) {
      std::cout << "  " << k << ":\n";
      for (auto& [k2, v2] : v.items())
        std::cout << "    " << k2 << ": " << (v2.is_string() ? v2.get<std::string>() : v2.dump()) << "\n";
    } else {
      std::cout << "  " << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    }
  }
  return rc;
}

int run(int argc, char** argv) {
  // Everything after "--" is the command; cxxopts sees only what comes before.
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      split = i;
      break;
    }
  }
  cxxopts::Options opts("envforge sandbox run", "Run one command in a box and print the Result as JSON.");
  opts.custom_help("[OPTIONS] -- CMD [ARGS...]");
  opts.add_options()
      ("wall-ms", "wall time limit", cxxopts::value<std::string>()->default_value("10000"))
      ("cpu-ms", "CPU time limit", cxxopts::value<std::string>()->default_value("10000"))
      ("mem-mb", "memory limit (MiB)", cxxopts::value<std::string>()->default_value("512"))
      ("pids", "process and thread limit", cxxopts::value<std::string>()->default_value("64"))
      ("fsize-mb", "largest file (MiB)", cxxopts::value<std::string>()->default_value("64"))
      ("tmpfs-mb", "writable space in /work and /tmp (MiB)", cxxopts::value<std::string>()->default_value("64"))
      ("out-kb", "stdout and stderr caps (KiB)", cxxopts::value<std::string>()->default_value("1024"))
      ("net", "none | loopback", cxxopts::value<std::string>()->default_value("none"))
      ("file", "NAME=PATH: place host file PATH at /work/NAME", cxxopts::value<std::vector<std::string>>())
      ("ro-bind", "HOST[:BOX]: bind HOST read-only at BOX (default the same path)",
       cxxopts::value<std::vector<std::string>>())
      ("collect", "return /work/NAME in the result", cxxopts::value<std::vector<std::string>>())
      ("env", "KEY=VALUE for the command", cxxopts::value<std::vector<std::string>>())
      ("stdin", "host file fed to the command's stdin", cxxopts::value<std::string>())
      ("h,help", "show help");
  cxxopts::ParseResult args;
  try {
    args = opts.parse(split, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge sandbox run: %s\n", e.what());
    return kUsageError;
  }
  if (args.count("help")) {
    std::cout << opts.help();
    return 0;
  }
  if (!args.unmatched().empty()) {
    std::fprintf(stderr, "envforge sandbox run: unexpected argument '%s' (the command goes after --)\n",
                 args.unmatched()[0].c_str());
    return kUsageError;
  }
  if (split >= argc - 1) {
    std::fprintf(stderr, "envforge sandbox run: missing command (use -- CMD ARGS)\n");
    return kUsageError;
  }
  sb::Spec spec;
  spec.argv.push_back(resolve_command(argv[split + 1]));
  if (spec.argv[0].empty() || spec.argv[0].front() != '/') {
    std::fprintf(stderr, "envforge sandbox run: command '%s' not found in /usr/local/bin, /usr/bin, /bin, /usr/sbin, /sbin (give its absolute path)\n",
                 spec.argv[0].c_str());
    return kUsageError;
  }
  for (int i = split + 2; i < argc; ++i) spec.argv.push_back(argv[i]);
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"};
  if (args.count("env"))
    for (const auto& e : args["env"].as<std::vector<std::string>>()) spec.env.push_back(e);
  auto& l = spec.limits;
  std::int64_t pids = 0, out_kb = 0;
  for (auto [name, dest] : {std::pair<const char*, std::int64_t*>{"wall-ms", &l.wall_ms}, {"cpu-ms", &l.cpu_ms},
                            {"mem-mb", &l.memory_mb}, {"pids", &pids}, {"fsize-mb", &l.file_size_mb},
                            {"tmpfs-mb", &l.tmpfs_mb}, {"out-kb", &out_kb}}) {
    const std::string text = args[name].as<std::string>();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *dest);
    if (ec != std::errc() || end != text.data() + text.size()) {
      std::fprintf(stderr, "envforge sandbox run: --%s '%s' is not a whole number\n", name, text.c_str());
      return kUsageError;
    }
  }
  if (pids < 1 || pids > 65536) {
    std::fprintf(stderr, "envforge sandbox run: --pids must be in 1..65536\n");
    return kUsageError;
  }
  l.max_pids = static_cast<int>(pids);
  if (out_kb <= 0 || out_kb > (1 << 20)) {
    std::fprintf(stderr, "envforge sandbox run: --out-kb must be in 1..1048576\n");
    return kUsageError;
  }
  l.stdout_bytes = l.stderr_bytes = static_cast<std::size_t>(out_kb) * 1024;
  std::string net = args["net"].as<std::string>();
  if (net == "none") {
    spec.network = sb::Network::kNone;
  } else if (net == "loopback") {
    spec.network = sb::Network::kLoopback;
  } else {
    std::fprintf(stderr, "envforge sandbox run: --net must be none or loopback, not '%s'\n", net.c_str());
    return kUsageError;
  }
  if (args.count("file")) {
    for (const auto& f : args["file"].as<std::vector<std::string>>()) {
      auto eq = f.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "envforge sandbox run: --file '%s' is not NAME=PATH\n", f.c_str());
        return kUsageError;
      }
      sb::WorkFile wf;
      wf.name = f.substr(0, eq);
      if (!read_file(f.substr(eq + 1), wf.bytes)) {
        std::fprintf(stderr, "envforge sandbox run: cannot read --file '%s'\n", f.substr(eq + 1).c_str());
        return kUsageError;
      }
      if (access(f.substr(eq + 1).c_str(), X_OK) == 0) wf.mode = 0755;
      spec.files.push_back(std::move(wf));
    }
  }
  if (args.count("ro-bind")) {
    for (const auto& b : args["ro-bind"].as<std::vector<std::string>>()) {
      auto colon = b.find(':');
      spec.ro_binds.push_back({b.substr(0, colon), colon == std::string::npos ? b : b.substr(colon + 1)});
    }
  }
  if (args.count("collect")) spec.collect = args["collect"].as<std::vector<std::string>>();
  if (args.count("stdin") && !read_file(args["stdin"].as<std::string>(), spec.stdin_data)) {
    std::fprintf(stderr, "envforge sandbox run: cannot read --stdin '%s'\n", args["stdin"].as<std::string>().c_str());
    return kUsageError;
  }
  // A spec the sandbox would refuse is the caller's mistake: say so before starting one.
  if (std::string bad = sb::precheck_spec(spec); !bad.empty()) {
    std::fprintf(stderr, "envforge sandbox run: invalid spec: %s\n", bad.c_str());
    return kUsageError;
  }
  try {
    sb::Sandbox sandbox;
    sb::Result r = sandbox.run(spec);
    std::cout << r.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return r.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "envforge sandbox run: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int cmd_sandbox(int argc, char** argv) {
  const char* usage =
      "usage: envforge sandbox doctor [--json]\n"
      "       envforge sandbox run [OPTIONS] -- CMD [ARGS...]   (envforge sandbox run --help)\n";
  if (argc < 2) {
    std::fputs(usage, stderr);
    return kUsageError;
  }
  std::string sub = argv[1];
  if (sub == "doctor") return doctor(argc - 1, argv + 1);
  if (sub == "run") return run(argc - 1, argv + 1);
  if (sub == "--help" || sub == "-h") {
    std::fputs(usage, stdout);
    return 0;
  }
  std::fprintf(stderr, "envforge sandbox: unknown action '%s'\n%s", sub.c_str(), usage);
  return kUsageError;
}

}  // namespace envforge::cli
