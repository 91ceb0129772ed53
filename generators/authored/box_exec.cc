#include "generators/authored/box_exec.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "generators/authored/text_util.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;

constexpr const char* kSnapshot = ".envforge/snapshot.json";

// Runs the command with a time limit, then walks /work and writes every regular file
// (base64) into the snapshot that the host collects. Links, special files and Python byte
// caches are left out; limits are checked here so the host can say exactly what was wrong.
constexpr const char* kDriver = R"PY(
import base64, json, os, signal, stat, subprocess, sys
limit = float(os.environ["ENVFORGE_STEP_SECONDS"])
max_file = int(os.environ["ENVFORGE_MAX_FILE"])
max_total = int(os.environ["ENVFORGE_MAX_TOTAL"])
max_files = int(os.environ["ENVFORGE_MAX_FILES"])
out = {"exit_code": -1, "timed_out": False, "files": {}, "notes": [], "over": ""}
try:
    p = subprocess.Popen(sys.argv[1:], cwd="/work", start_new_session=True)
    try:
        out["exit_code"] = p.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        out["timed_out"] = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out["exit_code"] = p.wait()
except OSError as e:
    sys.stderr.write("cannot start %s: %s\n" % (sys.argv[1], e))
    out["exit_code"] = 127
sys.stdout.flush()
total = 0
for root, dirs, names in os.walk("/work"):
    rel = os.path.relpath(root, "/work")
    rel = "" if rel == "." else rel + "/"
    keep = []
    for d in sorted(dirs):
        full = os.path.join(root, d)
        if rel == "" and d == ".envforge" or d == "__pycache__":
            continue
        if os.path.islink(full):
            out["notes"].append("%s%s: a symbolic link, left out" % (rel, d))
            continue
        keep.append(d)
    dirs[:] = keep
    for n in sorted(names):
        path = rel + n
        st = os.lstat(os.path.join(root, n))
        if stat.S_ISLNK(st.st_mode):
            out["notes"].append("%s: a symbolic link, left out (links are not kept)" % path)
            continue
        if not stat.S_ISREG(st.st_mode):
            out["notes"].append("%s: not a regular file, left out" % path)
            continue
        if st.st_size > max_file:
            out["over"] = "%s has %d bytes, more than the limit of %d for one file" % (path, st.st_size, max_file)
            break
        total += st.st_size
        if total > max_total:
            out["over"] = "the files add up to more than the limit of %d bytes" % max_total
            break
        if len(out["files"]) >= max_files:
            out["over"] = "more than %d files" % max_files
            break
        with open(os.path.join(root, n), "rb") as f:
            out["files"][path] = base64.b64encode(f.read()).decode("ascii")
    if out["over"]:
        out["files"] = {}
        break
os.makedirs("/work/.envforge", exist_ok=True)
with open("/work/.envforge/snapshot.json", "w") as f:
    json.dump(out, f)
)PY";

std::string output(const std::string& raw, bool truncated, std::size_t cap) {
  std::string text = clip_text(to_valid_utf8(raw), cap);
  if (truncated) text += "\n[... output cut by the sandbox]";
  return text;
}

}  // namespace

BoxOutcome run_in_box(const Workspace& ws, const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& extra, const BoxLimits& limits,
                      sandbox::Sandbox& sb) {
  const WorkspaceLimits& wl = ws.limits();
  sandbox::Spec spec;
  spec.argv = {"/usr/bin/python3", "-I", "-c", kDriver};
  spec.argv.insert(spec.argv.end(), argv.begin(), argv.end());
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin",
              "HOME=/tmp",
              "LANG=C.UTF-8",
              "PYTHONDONTWRITEBYTECODE=1",
              "PYTHONPATH=/work",  // the agent's modules (tools.py, verify.py) import from the workspace
              "ENVFORGE_WORLD_DB=/work/world.db",
              "ENVFORGE_STEP_SECONDS=" + std::to_string(limits.step.count() / 1000.0),
              "ENVFORGE_MAX_FILE=" + std::to_string(wl.max_file_bytes),
              "ENVFORGE_MAX_TOTAL=" + std::to_string(wl.max_total_bytes),
              "ENVFORGE_MAX_FILES=" + std::to_string(wl.max_files)};
  for (const auto& [path, bytes] : ws.files()) spec.files.push_back({path, bytes, 0644});
  for (const auto& [name, bytes] : extra) spec.files.push_back({std::string(kReservedDir) + "/" + name, bytes, 0644});
  // Headroom past the command's own limit for the read-back walk.
  const std::int64_t box_ms = limits.step.count() + 15000;
  spec.limits.wall_ms = box_ms;
  spec.limits.cpu_ms = box_ms;
  spec.limits.memory_mb = limits.memory_mb;
  spec.limits.tmpfs_mb = limits.tmpfs_mb;
  spec.limits.max_pids = limits.max_pids;
  spec.limits.stdout_bytes = limits.output_bytes;
  spec.limits.stderr_bytes = limits.output_bytes;
  spec.collect = {kSnapshot};
  // The snapshot holds every file in base64: a third larger than the files themselves.
  spec.collect_max_bytes = wl.max_total_bytes / 3 * 4 + (1u << 20);
  spec.limits.file_size_mb = static_cast<std::int64_t>(std::max(wl.max_file_bytes, spec.collect_max_bytes) >> 20) + 2;

  const sandbox::Result r = sb.run(spec);
  BoxOutcome out;
  out.wall_ms = r.wall_ms;
  out.stdout_text = output(r.stdout_data, r.stdout_truncated, limits.output_bytes);
  out.stderr_text = output(r.stderr_data, r.stderr_truncated, limits.output_bytes);
  if (r.verdict == sandbox::Verdict::kSandboxError) {
    out.sandbox_failure = true;
    out.error = "the sandbox could not run the box: " + r.message;
    return out;
  }
  auto discarded = [&](const std::string& why) {
    out.error = why + "; the workspace is unchanged";
    return out;
  };
  auto snap = r.files.find(kSnapshot);
  if (!r.ok() || snap == r.files.end()) {
    std::string why = "the run was stopped by the sandbox (" + std::string(sandbox::verdict_name(r.verdict));
    if (!r.message.empty()) why += ": " + r.message;
    return discarded(why + ")");
  }
  json s = json::parse(snap->second, nullptr, false);
  if (!s.is_object() || !s.contains("files") || !s["files"].is_object() || !s.contains("exit_code") ||
      !s["exit_code"].is_number_integer())
    return discarded("the run's workspace could not be read back (its record was damaged)");
  out.exit_code = s["exit_code"].get<int>();
  out.timed_out = s.value("timed_out", false);
  if (auto n = s.find("notes"); n != s.end() && n->is_array())
    for (const auto& note : *n)
      if (note.is_string()) out.notes.push_back(to_valid_utf8(note.get<std::string>()));
  if (auto over = s.find("over"); over != s.end() && over->is_string() && !over->get<std::string>().empty())
    return discarded("the run left too much in the workspace: " + to_valid_utf8(over->get<std::string>()));
  for (const auto& [path, b64] : s["files"].items()) {
    std::optional<std::string> bytes = b64.is_string() ? base64_decode(b64.get<std::string>()) : std::nullopt;
    if (!bytes) return discarded("the run's workspace could not be read back (file \"" + to_valid_utf8(path) + "\")");
    out.files[path] = std::move(*bytes);
  }
  out.ran = true;
  return out;
}

}  // namespace envforge::generators::authored
