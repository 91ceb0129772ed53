#include "generators/code/work_item.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "data/content_id.h"
#include "generators/answer_judge.h"
#include "generators/code/embedded.h"
#include "generators/code/model_text.h"
#include "generators/code/world_db.h"
#include "generators/trip/rng.h"
#include "generators/trip/world_db.h"
#include "generators/work_util.h"
#include "verifiers/python_runner.h"

namespace envforge::generators::code {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double code_ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Baselines of the clean tree (two runs of each module's tests, with coverage) are the
// same for every task of a module: computed once per process, by the first worker that
// needs one while the others wait for it, and keyed by the files' content.
std::mutex g_baseline_mu;
std::map<std::string, std::shared_future<json>> g_baselines;

std::string code_file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return data::sha256_hex(std::string(std::istreambuf_iterator<char>(in), {}));
}

std::string baseline_key(const RepoProfile& p, const ProfileModule& m) {
  return p.name + "|" + p.root + "|" + m.source + "|" + code_file_digest(p.root + "/" + m.source) + "|" +
         code_file_digest(p.root + "/" + m.test_file);
}

// codebox.py with its diff handling: the module the generator, the tools and the verifier share.
std::string codebox_module() { return std::string(codebox_py()) + std::string(diffs_py()); }

verifiers::PythonOptions generator_box() {
  verifiers::PythonOptions o;
  o.files = {{"codebox.py", codebox_module()}, {"mutate.py", std::string(mutate_py())},
             {"gen.py", std::string(gen_py())}};
  o.isolate_calls = false;
  o.limits.wall_ms = 30 * 60 * 1000;
  o.limits.cpu_ms = 30 * 60 * 1000;
  o.limits.memory_mb = 1024;
  o.limits.tmpfs_mb = 256;
  o.limits.max_pids = 64;
  o.max_result_bytes = 32u << 20;
  return o;
}

// One warm generator interpreter per thread, kept across work items: starting a box and
// importing the test helpers costs more than a small task's test runs, and what the
// interpreter remembers (parsed modules, mutation sites) is keyed by content. Replaced
// before the box's own wall and CPU limits could end it mid-call.
class GeneratorBox {
 public:
  verifiers::PythonResult call(const char* fn, const json& args, std::chrono::milliseconds t) {
    if (!session_ || Clock::now() - started_ > kMaxAge) fresh();
    auto r = session_->call("gen", fn, args, t);
    if (!r.ok && (r.error_type == verifiers::error_type::kCrash ||
                  r.error_type == verifiers::error_type::kSandboxError)) {
      fresh();  // a box that died between items is no verdict on this one
      r = session_->call("gen", fn, args, t);
    }
    return r;
  }

 private:
  static constexpr std::chrono::minutes kMaxAge{10};
  void fresh() {
    session_.reset();
    session_ = std::make_unique<verifiers::PythonSession>(generator_box());
    started_ = Clock::now();
  }
  std::unique_ptr<verifiers::PythonSession> session_;
  Clock::time_point started_;
};

GeneratorBox& thread_generator_box() {
  thread_local GeneratorBox box;
  return box;
}

json call_or_throw(const char* fn, const json& args, std::chrono::milliseconds t) {
  auto r = thread_generator_box().call(fn, args, t);
  if (!r.ok)
    throw std::runtime_error(std::string("code generator: gen.") + fn + " failed: " + r.error_type + ": " +
                             r.message + (r.traceback.empty() ? "" : "\n" + r.traceback.substr(0, 2000)));
  return r.value;
}

const RepoProfile& profile_of(const CodeOptions& o, std::optional<RepoProfile>& own) {
  if (o.profile) return *o.profile;
  if (!own) own = stdlib_profile();
  return *own;
}

}  // namespace

int level_of(uint64_t index, const CodeOptions& o) {
  return o.level > 0 ? o.level : 1 + static_cast<int>(index % kLevels);
}

std::string verify_py() { return codebox_module() + std::string(verify_tail_py()); }
std::string tools_py() { return codebox_module() + std::string(tools_tail_py()); }

GeneratedTask generate_task(uint64_t seed, int level, const CodeOptions& o) {
  if (level < 1 || level > kLevels)
    throw std::invalid_argument("code: level " + std::to_string(level) + " is outside 1.." + std::to_string(kLevels));
  std::optional<RepoProfile> own;
  const RepoProfile& p = profile_of(o, own);
  const size_t want = level >= kLevels ? 2 : 1;
  if (p.modules.size() < want)
    throw std::runtime_error("code: profile " + p.name + " has " + std::to_string(p.modules.size()) +
                             " modules; level " + std::to_string(level) + " needs " + std::to_string(want));
  trip::Rng rng(seed, "code/modules");
  std::vector<size_t> order(p.modules.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  rng.shuffle(order);
  GeneratedTask g;
  json& spec = g.spec;
  spec = {{"base", p.root}, {"seed", std::to_string(seed)}, {"level", level}, {"max_mutants", o.max_mutants},
          {"modules", json::array()}, {"profile", p.name}};
  json bundled = json::object();
  if (!p.root_in_box) {
    for (auto& [rel, text] : bundle_tree(p)) bundled[rel] = std::move(text);
    spec["base_files"] = bundled;
    spec["meta"] = {{"base_in_box", ""}, {"base_digest", data::content_id(bundled)}};
  }
  for (size_t i = 0; i < want; ++i) spec["modules"].push_back(p.module_json(p.modules[order[i]]));

  json baselines = json::object();
  for (size_t i = 0; i < want; ++i) {
    const ProfileModule& m = p.modules[order[i]];
    const std::string key = baseline_key(p, m);
    std::promise<json> mine;
    std::shared_future<json> known;
    bool compute = false;
    {
      std::lock_guard lock(g_baseline_mu);
      auto it = g_baselines.find(key);
      if (it == g_baselines.end()) {
        known = g_baselines[key] = mine.get_future().share();
        compute = true;
      } else {
        known = it->second;
      }
    }
    if (compute) {
      const auto t0 = Clock::now();
      try {
        json one = spec;
        one["modules"] = json::array({p.module_json(m)});
        json b = call_or_throw("baseline", {{"spec", one}}, o.generate_timeout);
        if (!b.contains(m.source) || b[m.source]["passing"].empty())
          throw std::runtime_error("code: no test of " + m.test_module + " that calls " + m.source +
                                   " passes on the clean tree");
        mine.set_value(b[m.source]);
        g.baseline_ms += code_ms_since(t0);
      } catch (...) {
        {
          std::lock_guard lock(g_baseline_mu);
          g_baselines.erase(key);  // a later item tries again
        }
        mine.set_exception(std::current_exception());
      }
    }
    baselines[m.source] = known.get();  // the computing worker's error, for those who waited too
  }
  spec["baselines"] = baselines;
  if (o.llm) {
    const json targets = call_or_throw("llm_targets", {{"spec", spec}}, o.generate_timeout);
    const auto t0 = Clock::now();
    spec["llm_rewrites"] = ask_rewrites(*o.llm, targets);
    g.llm_ms += code_ms_since(t0);
  }
  g.task = call_or_throw("make_task", {{"spec", spec}}, o.generate_timeout);
  if (o.llm && g.task.value("ok", false)) {
    // the model's issue text replaces the template only when it keeps to the level
    const auto t0 = Clock::now();
    const json& facts = g.task["issue_facts"];
    json issue = write_issue(*o.llm, facts);
    g.llm_ms += code_ms_since(t0);
    if (issue["accepted"].get<bool>())
      g.task["issue"] = facts["head"].get<std::string>() + "\n\n" + issue["text"].get<std::string>() + "\n\n" +
                        facts["tail"].get<std::string>();
    issue.erase("text");
    g.task["stats"]["llm"]["issue"] = issue;
  }
  g.task.erase("issue_facts");
  g.spec.erase("llm_rewrites");
  g.spec.erase("baselines");
  g.spec.erase("base_files");
  for (const auto& [k, v] : baselines.items())
    g.spec["baseline_passing"][k] = v["passing"].size();
  return g;
}

namespace {

json single_module_spec(const RepoProfile& p, const ProfileModule& m) {
  json spec = {{"base", p.root}, {"modules", json::array({p.module_json(m)})}};
  if (!p.root_in_box) {
    json bundled = json::object();
    for (auto& [rel, text] : bundle_tree(p)) bundled[rel] = std::move(text);
    spec["base_files"] = bundled;
    spec["meta"] = {{"base_in_box", ""}, {"base_digest", data::content_id(bundled)}};
  }
  return spec;
}

}  // namespace

json judge_mutant(const RepoProfile& p, const ProfileModule& m, const std::string& mutant,
                  const std::vector<std::string>& functions) {
  json hit = json::array();
  for (const auto& f : functions) hit.push_back(m.source + ":" + f);
  return call_or_throw("judge_mutant", {{"spec", single_module_spec(p, m)}, {"mutant", mutant}, {"functions", hit}},
                       std::chrono::milliseconds(300000));
}

json judge_rewrite(const RepoProfile& p, const ProfileModule& m, const std::string& function,
                   const std::string& reply) {
  return call_or_throw("judge_rewrite",
                       {{"spec", single_module_spec(p, m)}, {"function", function}, {"reply", reply}},
                       std::chrono::milliseconds(300000));
}

json verify_task_json(const GeneratedTask& g) {
  json drop = json::array(), mods = json::array();
  for (const auto& m : g.spec["modules"]) {
    for (const auto& d : m["drop"]) drop.push_back(d);
    mods.push_back(m["test_module"]);
  }
  return {{"fail_to_pass", g.task["fail_to_pass"]}, {"pass_to_pass", g.task["pass_to_pass"]},
          {"drop_modules", drop}, {"test_modules", mods}, {"test_timeout_s", 60}};
}

std::string code_world_db(const GeneratedTask& g, const RepoProfile& p) {
  Table meta{"meta", {"key TEXT PRIMARY KEY", "value TEXT"}, {}};
  Table files{"files", {"path TEXT PRIMARY KEY", "content TEXT", "role TEXT"}, {}};
  Table base{"base_files", {"path TEXT PRIMARY KEY", "content TEXT"}, {}};
  json drop = json::array();
  for (const auto& m : g.spec["modules"])
    for (const auto& d : m["drop"]) drop.push_back(d);
  for (const auto& [path, f] : g.task["workspace"].items()) files.rows.push_back({path, f["content"], f["role"]});
  json digest_src = json::object();
  if (!p.root_in_box) {
    // the clean tree without the workspace's sources (those are the task's to fix)
    for (auto& [rel, text] : bundle_tree(p)) {
      const auto& ws = g.task["workspace"];
      if (ws.contains(rel) && ws[rel]["role"] == "source") continue;
      digest_src[rel] = data::sha256_hex(text);
      base.rows.push_back({rel, std::move(text)});
    }
  }
  meta.rows = {{"generator", std::string(kGeneratorName) + " " + kGeneratorVersion},
               {"profile", p.name},
               {"level", std::to_string(g.task["level"].get<int>())},
               {"base_in_box", p.root_in_box ? p.root : ""},
               {"base_digest", p.root_in_box ? "" : data::content_id(digest_src)},
               {"visible_test_modules", g.task["visible_test_modules"].dump()},
               {"drop_modules", drop.dump()}};
  return tables_db_bytes({meta, files, base});
}

json tool_schemas() {
  auto fn = [](const char* name, const char* desc, json props, json required) {
    return json{{"type", "function"},
                {"function", {{"name", name}, {"description", desc},
                              {"parameters", {{"type", "object"}, {"properties", props}, {"required", required},
                                              {"additionalProperties", false}}}}}};
  };
  json str = {{"type", "string"}};
  return json::array({
      fn("list_files", "List the files of the workspace, optionally under a folder.", {{"path", str}}, json::array()),
      fn("read_file", "Read a file with line numbers (at most 400 lines per call).",
         {{"path", str}, {"start_line", {{"type", "integer"}}}, {"end_line", {{"type", "integer"}}}}, {"path"}),
      fn("search_code", "Search the workspace for a regular expression; path_glob narrows the files.",
         {{"pattern", str}, {"path_glob", str}}, {"pattern"}),
      fn("edit_file", "Replace the single occurrence of old_text in a file with new_text.",
         {{"path", str}, {"old_text", str}, {"new_text", str}}, {"path", "old_text", "new_text"}),
      fn("apply_patch", "Apply a unified diff (paths a/... b/...) to the workspace.", {{"diff", str}}, {"diff"}),
      fn("run_tests", "Run the visible tests (all, or the listed ids such as test_mod.Class.test_name).",
         {{"tests", {{"type", "array"}, {"items", str}}}}, json::array()),
      fn("run_python", "Run Python code with the workspace first on sys.path; returns stdout and stderr.",
         {{"code", str}, {"timeout_s", {{"type", "number"}}}}, {"code"}),
      fn("show_diff", "The unified diff of the workspace against its start: submit it as the answer.", json::object(),
         json::array()),
  });
}

data::WorkItem build_work_item(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python, const CodeOptions& o,
                               StageTimes& times) {
  data::WorkItem item;
  item.key = data::work_item_key(kGeneratorName, job_seed, index, kGeneratorVersion);
  const uint64_t seed = trip::Rng(job_seed, "code/environment/" + std::to_string(index)).next();
  const int level = level_of(index, o);
  std::optional<RepoProfile> own;
  const RepoProfile& p = profile_of(o, own);

  auto t0 = Clock::now();
  GeneratedTask g;
  std::string why;
  double llm_ms = 0, baseline_ms = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    g = generate_task(seed + static_cast<uint64_t>(attempt) * 7919u, level, o);
    llm_ms += g.llm_ms;
    baseline_ms += g.baseline_ms;
    if (g.task.value("ok", false)) break;
    why = g.task.value("why", std::string("unknown"));
  }
  // parts of "world", named apart: where the time went
  if (o.llm) times.add("llm", llm_ms);
  if (baseline_ms > 0) times.add("baseline", baseline_ms);
  if (!g.task.value("ok", false))
    throw std::runtime_error("code: no usable task at level " + std::to_string(level) + ": " + why);
  const std::string db = code_world_db(g, p);
  TempFile file{(std::filesystem::path(o.scratch_dir) /
                 ("envforge-code-" + std::to_string(::getpid()) + "-" + item.key.substr(0, 16) + ".db"))
                    .string()};
  trip::write_file(file.path, db);
  times.add("world", code_ms_since(t0));

  data::EnvironmentRecord& env = item.environment;
  env.category = kGeneratorName;
  env.seed = seed;
  env.generator_name = kGeneratorName;
  env.generator_version = kGeneratorVersion;
  env.system_prompt =
      "You are a software engineer fixing bugs in a Python repository. Use the tools to read the code, "
      "run the visible tests and edit the sources. When the bug is fixed, answer with the unified diff "
      "of your change as printed by show_diff.";
  const json schemas = tool_schemas();
  for (const auto& s : schemas) env.tools.push_back({s["function"]["name"], s});
  env.tools_code = tools_py();
  env.world_db = db;
  json modules = json::array();
  for (const auto& m : g.spec["modules"]) modules.push_back(m["source"]);
  env.env_json = {{"category", env.category}, {"seed", env.seed},
                  {"generator", {{"name", env.generator_name}, {"version", env.generator_version}}},
                  {"system_prompt", env.system_prompt}, {"tools", schemas},
                  {"world", {{"profile", p.name}, {"modules", modules}, {"level", level},
                             {"path", "/world/world.db"}}}};
  env.created_at_ms = unix_now_ms();

  t0 = Clock::now();
  const json vtask = verify_task_json(g);
  const std::string verifier = verify_py();
  data::TaskRecord t;
  t.difficulty = level;
  t.prompt = g.task["issue"].get<std::string>();
  t.answer_schema = {{"type", "string"}, {"description", "the unified diff of the fix"}};
  t.reference_solution = g.task["reference"];
  t.verifier_code = verifier;
  json negative_kinds = json::array();
  for (const auto& n : g.task["negatives"]) negative_kinds.push_back(n["kind"]);
  // The test runs' wall times vary from run to run and a task's content must not: they go to
  // the stage times, their count stays.
  json generation = g.task["stats"];
  double selection_ms = 0;
  for (const auto& ms : generation.value("runs_ms", json::array())) selection_ms += ms.get<double>();
  generation["test_runs"] = generation.value("runs_ms", json::array()).size();
  generation.erase("runs_ms");
  times.add("selection runs", selection_ms);
  t.metadata = {{"task", vtask}, {"bugs", g.task["bugs"]}, {"hidden_tests", g.task["hidden"]},
                {"shown_failing", g.task["shown_failing"]}, {"negatives", negative_kinds},
                {"generation", std::move(generation)}, {"modules", modules}, {"profile", p.name},
                {"python", python.name()}};
  times.add("solve", code_ms_since(t0));

  t0 = Clock::now();
  auto py = python.open({{"verify.py", verifier}}, file.path);
  auto judge = [&](const json& answer, const std::string& check, int attempt, bool expect_pass) {
    JudgedAnswer j = judge_answer(*py, vtask, answer, check, attempt, expect_pass);
    j.record.as_expected = (j.record.verdict == "pass") == expect_pass && j.record.verdict != "error";
    return j;
  };
  auto note = [&](const std::string& w) {
    if (t.reject_reason.empty()) t.reject_reason = w;
  };
  JudgedAnswer ref = judge(t.reference_solution, "reference", 0, true);
  if (!ref.record.as_expected) note("reference: " + ref.record.verdict + " (" + ref.record.reason + ")");
  t.validations.push_back(ref.record);
  for (const auto& n : g.task["negatives"]) {
    JudgedAnswer j = judge(n["answer"], "negative:" + n["kind"].get<std::string>(), 0, false);
    if (!j.record.as_expected)
      note("negative:" + n["kind"].get<std::string>() + " earned " + j.record.verdict + " (" + j.record.reason + ")");
    t.validations.push_back(j.record);
  }
  JudgedAnswer again = judge(t.reference_solution, "reference", 1, true);
  again.record.as_expected = again.record.as_expected && again.record.reason == ref.record.reason;
  if (!again.record.as_expected) note("reference: a second run disagreed (" + again.record.reason + ")");
  t.validations.push_back(again.record);
  t.status = t.reject_reason.empty() ? data::TaskStatus::kUsable : data::TaskStatus::kRejected;
  item.tasks.push_back(std::move(t));
  times.add("validate", code_ms_since(t0));
  return item;
}

}  // namespace envforge::generators::code
