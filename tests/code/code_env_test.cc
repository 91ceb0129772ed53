// Code environments end to end through the sandbox: bugs injected into standard-library
// modules and kept by their own tests, the verifier's negatives, a scripted solver that
// fixes a level-1 bug through the tools, and the selection's rejections.
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "data/content_id.h"
#include "generators/code/work_item.h"
#include "generators/sandbox_python.h"
#include "tests/code/code_fixture.h"
#include "verifiers/python_runner.h"

namespace envforge::generators::code {
namespace {

using nlohmann::json;
using testing::ScratchDir;
using namespace std::chrono_literals;

const std::set<std::string> kRequiredNegatives = {"empty_diff", "unpatched", "delete_failing_test", "edit_tests"};

bool has_special_case(const std::set<std::string>& kinds) {
  return kinds.count("special_case_tests") || kinds.count("special_case_inputs");
}

// Three standard-library modules, one work item each, validated in the sandbox: the
// reference diff passes twice and every negative fails.
TEST(CodeEnv, BuildsValidatedTasksFromThreeStdlibModules) {
  ScratchDir dir;
  auto python = sandbox_python_factory({.call_timeout = 120s});
  int with_special_case = 0;
  for (const std::string name : {"bisect", "textwrap", "colorsys"}) {
    CodeOptions o;
    o.scratch_dir = dir.path;
    o.profile = testing::stdlib_only({name});
    o.level = 1;
    StageTimes times;
    data::WorkItem item = build_work_item(11, 0, *python, o, times);
    ASSERT_EQ(item.tasks.size(), 1u) << name;
    const auto& t = item.tasks[0];
    EXPECT_EQ(t.status, data::TaskStatus::kUsable) << name << ": " << t.reject_reason;
    EXPECT_EQ(item.environment.category, "code");
    EXPECT_EQ(t.metadata["modules"], json::array({name + ".py"}));
    std::set<std::string> negatives;
    for (const auto& v : t.validations) {
      EXPECT_TRUE(v.as_expected) << name << " " << v.check << ": " << v.verdict << " " << v.reason;
      if (v.check.rfind("negative:", 0) == 0) {
        negatives.insert(v.check.substr(9));
        EXPECT_EQ(v.verdict, "fail") << v.check;
        EXPECT_EQ(v.score, 0.0) << v.check;
      }
    }
    for (const auto& k : kRequiredNegatives) EXPECT_TRUE(negatives.count(k)) << name << " lacks negative " << k;
    with_special_case += has_special_case(negatives);
    EXPECT_NE(t.prompt.find("fails"), std::string::npos) << t.prompt;   // level 1 shows the failing test
    EXPECT_FALSE(t.metadata["hidden_tests"].empty());
  }
  EXPECT_GE(with_special_case, 2) << "a diff special-casing the tests could rarely be built";
}

// The same work item built twice, in other scratch directories: the same environment and the
// same task content, so that reruns, shards and merges agree on every id.
TEST(CodeEnv, AWorkItemBuiltTwiceHasTheSameIds) {
  auto python = sandbox_python_factory({.call_timeout = 120s});
  std::vector<std::string> ids;
  for (int run = 0; run < 2; ++run) {
    ScratchDir dir;
    CodeOptions o;
    o.scratch_dir = dir.path;
    o.profile = testing::stdlib_only({"bisect"});
    o.level = 2;
    StageTimes times;
    data::WorkItem item = build_work_item(13, 0, *python, o, times);
    ASSERT_EQ(item.tasks.size(), 1u);
    EXPECT_GT(times.ms("selection runs"), 0.0);
    EXPECT_GT(item.tasks[0].metadata["generation"]["test_runs"].get<int>(), 0);
    std::string all = data::environment_id(item.environment);
    for (const auto& t : item.tasks) all += " " + data::task_content_hash(t);
    ids.push_back(all);
  }
  EXPECT_EQ(ids[0], ids[1]);
}

// A scripted solver works through the tools on a level-1 task: the visible tests fail,
// it applies the fix, they pass, and its diff earns reward 1. Every wrong diff earns 0.
TEST(CodeEnv, ScriptedSolverEarnsOneAndEveryNegativeZero) {
  CodeOptions o;
  o.profile = testing::stdlib_only({"bisect"});
  GeneratedTask g = generate_task(3, 1, o);
  ASSERT_TRUE(g.task["ok"].get<bool>()) << g.task.dump();
  ScratchDir dir;
  const std::string db = dir.path + "/world.db";
  std::ofstream(db, std::ios::binary) << code_world_db(g, *o.profile);
  verifiers::PythonOptions po;
  po.files = {{"tools.py", tools_py()}, {"verify.py", verify_py()}};
  po.world_db = db;
  po.isolate_calls = true;   // each tool call in a fresh process: the workspace must persist on disk
  verifiers::PythonSession s(po);
  auto call = [&](const char* fn, const json& args) {
    auto r = s.call("tools", fn, args, 120s);
    EXPECT_TRUE(r.ok) << fn << ": " << r.error_type << " " << r.message << r.traceback;
    return r.value;
  };
  json files = call("list_files", json::object())["files"];
  EXPECT_NE(std::find(files.begin(), files.end(), "bisect.py"), files.end()) << files.dump();
  EXPECT_NE(std::find(files.begin(), files.end(), "tests/test_bisect.py"), files.end()) << files.dump();
  json before = call("run_tests", json::object());
  ASSERT_TRUE(before["counts"].contains("fail") || before["counts"].contains("error")) << before.dump();
  EXPECT_EQ(call("show_diff", json::object())["diff"], "");
  json hits = call("search_code", {{"pattern", "def bisect_"}});
  EXPECT_FALSE(hits["matches"].empty());
  json applied = call("apply_patch", {{"diff", g.task["reference"]}});
  ASSERT_TRUE(applied.value("ok", false)) << applied.dump();
  json after = call("run_tests", json::object());
  EXPECT_FALSE(after["counts"].contains("fail")) << after.dump();
  EXPECT_FALSE(after["counts"].contains("error")) << after.dump();
  const json diff = call("show_diff", json::object())["diff"];
  const json task = verify_task_json(g);
  auto verify = [&](const json& answer) {
    auto r = s.call("verify", "verify", {{"answer", answer}, {"world", "/world/world.db"}, {"task", task}}, 120s);
    EXPECT_TRUE(r.ok) << r.message;
    return r.value;
  };
  json v = verify(diff);
  EXPECT_TRUE(v["pass"].get<bool>()) << v.dump();
  EXPECT_EQ(v["score"], 1.0);
  std::set<std::string> seen;
  for (const auto& n : g.task["negatives"]) {
    json nv = verify(n["answer"]);
    EXPECT_FALSE(nv["pass"].get<bool>()) << n["kind"] << ": " << nv.dump();
    EXPECT_EQ(nv["score"], 0.0) << n["kind"];
    seen.insert(n["kind"]);
  }
  for (const auto& k : kRequiredNegatives) EXPECT_TRUE(seen.count(k)) << "missing negative " << k;
  EXPECT_TRUE(has_special_case(seen)) << "no diff special-casing the tests' inputs";
  // The agent's own python cannot open the world database (it holds hidden tests).
  json peek = call("run_python", {{"code", "print(open('/world/world.db','rb').read(4))"}});
  EXPECT_NE(peek["exit_code"], 0) << peek.dump();
  // Hostile answers: not a string, a path outside, fix plus test edits (tests restored).
  EXPECT_FALSE(verify(json{{"diff", diff}})["pass"].get<bool>());
  EXPECT_FALSE(verify("--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-x\n+y\n")["pass"].get<bool>());
  json with_tests = verify(diff.get<std::string>() + "--- a/tests/test_bisect.py\n+++ b/tests/test_bisect.py\n"
                           "@@ -1,1 +1,1 @@\n-" + [&] {
                             std::string first = g.task["workspace"]["tests/test_bisect.py"]["content"];
                             return first.substr(0, first.find('\n') + 1);
                           }() + "+# edited\n");
  EXPECT_TRUE(with_tests["pass"].get<bool>()) << with_tests.dump();
}

// Selection: a mutant that changes nothing the tests see is rejected, and so is one whose
// failures do not repeat (here it alternates from run to run through a file in /tmp).
TEST(CodeEnv, RejectsMutantsThatFailNothingOrFailUnpredictably) {
  ScratchDir dir;
  const RepoProfile p = load_profile(testing::write_calc_project(dir));
  ASSERT_EQ(p.modules.size(), 1u);
  ASSERT_FALSE(p.root_in_box);
  const std::string clean =
      "def add(a, b):\n    return a + b\n\n\n"
      "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n\n\n"
      "def mean(xs):\n    if not xs:\n        raise ValueError('mean of nothing')\n    return sum(xs) / len(xs)\n";
  std::string same = clean;
  same.replace(same.find("a + b"), 5, "b + a");
  json v = judge_mutant(p, p.modules[0], same, {"add"});
  EXPECT_FALSE(v["keep"].get<bool>());
  EXPECT_EQ(v["why"], "fails_nothing") << v.dump();
  EXPECT_EQ(v["baseline_passing"], 9);

  std::string flaky = clean;
  flaky.replace(flaky.find("    return a + b"), 16,
                "    import os\n    p = '/tmp/flip'\n    n = int(open(p).read()) if os.path.exists(p) else 0\n"
                "    if a == 2:\n        open(p, 'w').write(str(n + 1))\n    return a + b + (n % 2)");
  v = judge_mutant(p, p.modules[0], flaky, {"add"});
  EXPECT_FALSE(v["keep"].get<bool>());
  EXPECT_EQ(v["why"], "unstable") << v.dump();

  std::string real = clean;
  real.replace(real.find("x > hi"), 6, "x >= lo");
  v = judge_mutant(p, p.modules[0], real, {"clamp"});
  EXPECT_TRUE(v["keep"].get<bool>()) << v.dump();
  EXPECT_EQ(v["fail_to_pass"], json::array({"tests.test_calc.ClampTest.test_inside"})) << v.dump();

  // a mutant that loops ends on its CPU budget, one that sleeps on the wall-time backstop
  std::string hang = clean;
  hang.replace(hang.find("    return sum(xs)"), 4, "    while True:\n        pass\n    ");
  v = judge_mutant(p, p.modules[0], hang, {"mean"});
  EXPECT_FALSE(v["keep"].get<bool>());
  EXPECT_EQ(v["why"], "timeout") << v.dump();
  std::string sleeps = clean;
  sleeps.replace(sleeps.find("    return sum(xs)"), 4, "    import time\n    time.sleep(3600)\n    ");
  v = judge_mutant(p, p.modules[0], sleeps, {"mean"});
  EXPECT_FALSE(v["keep"].get<bool>());
  EXPECT_EQ(v["why"], "timeout") << v.dump();
}

// Test classes that share method names: a bug in area() fails test_square and test_wide of
// two classes. The failing tests are split into shown and hidden ones by name, so a diff
// that answers correctly only when a shown test's name is on the call stack fails a hidden
// test; and a bug whose failing tests share one name is not used at all.
TEST(CodeEnv, HiddenFailingTestsShareNoNameWithShownOnes) {
  ScratchDir dir;
  dir.write("proj/geo/__init__.py", "");
  dir.write("proj/geo/shapes.py",
            "def area(w, h):\n    if w < 0 or h < 0:\n        raise ValueError('negative side')\n    return w * h\n\n\n"
            "def perimeter(w, h):\n    return 2 * (w + h)\n");
  dir.write("proj/tests/__init__.py", "");
  dir.write("proj/tests/test_shapes.py",
            "import unittest\nfrom geo import shapes\n\n\n"
            "class AreaTest(unittest.TestCase):\n"
            "    def test_square(self):\n        self.assertEqual(shapes.area(3, 3), 9)\n\n"
            "    def test_wide(self):\n        self.assertEqual(shapes.area(5, 2), 10)\n\n"
            "    def test_thin(self):\n        self.assertEqual(shapes.area(7, 1), 7)\n\n\n"
            "class AreaAgainTest(unittest.TestCase):\n"
            "    def test_square(self):\n        self.assertEqual(shapes.area(4, 4), 16)\n\n"
            "    def test_wide(self):\n        self.assertEqual(shapes.area(6, 3), 18)\n\n\n"
            "class PerimeterTest(unittest.TestCase):\n"
            "    def test_perimeter_square(self):\n        self.assertEqual(shapes.perimeter(3, 3), 12)\n\n"
            "    def test_perimeter_wide(self):\n        self.assertEqual(shapes.perimeter(5, 2), 14)\n");
  const RepoProfile p = profile_from_json(
      {{"name", "shapes"}, {"root", dir.path + "/proj"},
       {"modules", json::array({{{"source", "geo/shapes.py"}, {"test_file", "tests/test_shapes.py"},
                                 {"test_module", "tests.test_shapes"}}})}},
      "test profile");
  auto python = sandbox_python_factory({.call_timeout = 120s});
  int built = 0, special_cased = 0;
  for (uint64_t index = 0; index < 4; ++index) {
    CodeOptions o;
    o.scratch_dir = dir.path;
    o.profile = p;
    o.level = 2;
    StageTimes times;
    data::WorkItem item;
    try {
      item = build_work_item(21, index, *python, o, times);
    } catch (const std::runtime_error&) {
      continue;  // no usable bug for this seed: none is better than one with clashing names
    }
    ++built;
    const auto& t = item.tasks.at(0);
    EXPECT_EQ(t.status, data::TaskStatus::kUsable) << index << ": " << t.reject_reason;
    auto name = [](const json& id) {
      const std::string s = id.get<std::string>();
      return s.substr(s.rfind('.') + 1);
    };
    std::set<std::string> shown, hidden;
    for (const auto& id : t.metadata["shown_failing"]) shown.insert(name(id));
    for (const auto& q : t.metadata["hidden_tests"]) hidden.insert(name(q));
    for (const auto& n : shown) EXPECT_FALSE(hidden.count(n)) << index << ": " << n << " is shown and hidden";
    for (const auto& v : t.validations)
      if (v.check == "negative:special_case_tests") {
        ++special_cased;
        EXPECT_EQ(v.verdict, "fail") << index << ": " << v.reason;
      }
  }
  EXPECT_GE(built, 2) << "the shapes project should give tasks";
  EXPECT_GE(special_cased, 1) << "no task had a diff special-casing the shown tests";
}

// A local project added with a profile file gives tasks the same way (its tree is
// bundled into the world), and a broken profile is refused with a clear message.
TEST(CodeEnv, LocalProjectProfileAndBadProfiles) {
  ScratchDir dir;
  const RepoProfile p = load_profile(testing::write_calc_project(dir));
  auto python = sandbox_python_factory({.call_timeout = 120s});
  CodeOptions o;
  o.scratch_dir = dir.path;
  o.profile = p;
  o.level = 2;
  StageTimes times;
  data::WorkItem item = build_work_item(4, 1, *python, o, times);
  ASSERT_EQ(item.tasks.size(), 1u);
  EXPECT_EQ(item.tasks[0].status, data::TaskStatus::kUsable) << item.tasks[0].reject_reason;

  EXPECT_THROW(load_profile(dir.path + "/nope.json"), std::runtime_error);
  const std::string bad = dir.write("bad.json", "{\"name\": \"x\", \"root\": \"" + dir.path +
                                                    "/proj\", \"modules\": [{\"source\": \"../etc/passwd.py\", "
                                                    "\"test_file\": \"tests/test_calc.py\", \"test_module\": \"t\"}]}");
  try {
    load_profile(bad);
    ADD_FAILURE() << "a path leaving the root was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("modules[0]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_profile(dir.write("garbage.json", "{not json")), std::runtime_error);
}

}  // namespace
}  // namespace envforge::generators::code
