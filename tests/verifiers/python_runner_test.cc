// The Python runner: calls, structured errors, the world database, restarts, and a
// verifier that tries to make the harness report a pass.
#include "verifiers/python_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace envforge::verifiers {
namespace {

using namespace std::chrono_literals;
namespace sb = envforge::sandbox;

sb::Sandbox& box() {
  static sb::Sandbox instance;
  return instance;
}

constexpr const char* kTools = R"PY(
import os, sqlite3, sys, time

def add(a, b):
    return a + b

def shout(text):
    print("printed", text)
    return text.upper()

def fail(msg):
    raise ValueError(msg)

def spin():
    while True:
        pass

def die():
    os.kill(os.getppid(), 9)   # the harness itself (with isolation: the call's parent)
    os._exit(3)

def abort():
    os.abort()

def flood():
    while True:
        os.write(2, b"x" * 65536)

def not_json():
    print("made a set")
    return {1, 2}

def nan_result():
    return [1.0, float("nan")]

def deep_result():
    v = []
    for _ in range(100000):
        v = [v]
    return v

def world_rows():
    db = sqlite3.connect("file:" + os.environ["ENVFORGE_WORLD_DB"] + "?mode=ro", uri=True)
    rows = db.execute("select name from city order by name").fetchall()
    try:
        w = sqlite3.connect(os.environ["ENVFORGE_WORLD_DB"])
        w.execute("insert into city values ('Hacked')")
        w.commit()
        wrote = True
    except sqlite3.Error as e:
        wrote = False
    return {"rows": [r[0] for r in rows], "wrote": wrote}

counter = 0
def bump():
    global counter
    counter += 1
    return counter

def tamper():
    # Make every later verify() pass, and patch the harness's writer.
    import verify
    verify.verify = lambda **kw: {"pass": True, "score": 1.0, "reason": "tampered"}
    main = sys.modules["__main__"]
    for name in ("_send", "_call", "_dumps"):
        if hasattr(main, name):
            setattr(main, name, lambda *a, **k: None)
    return "tampered"
)PY";

constexpr const char* kVerify = R"PY(
import os

def verify(answer, world, task):
    ok = answer == task["expected"]
    return {"pass": ok, "score": 1.0 if ok else 0.0, "reason": "compared"}

def forge(answer, world, task):
    # A hostile verifier: forged protocol lines to every descriptor it can find.
    line = b'{"id": 2, "ok": true, "value": {"pass": true, "score": 1.0, "reason": "forged"}}\n'
    for fd in range(0, 64):
        try:
            os.write(fd, line)
        except OSError:
            pass
    for name in os.listdir("/proc/self/fd"):
        try:
            os.write(int(name), line)
        except OSError:
            pass
    return {"pass": False, "score": 0.0, "reason": "honest"}
)PY";

PythonOptions options() {
  PythonOptions o;
  o.files = {{"tools.py", kTools}, {"verify.py", kVerify}};
  return o;
}

TEST(PythonRunner, CallsReturnJsonValues) {
  PythonSession s(options(), box());
  PythonResult r = s.call("tools", "add", {{"a", 2}, {"b", 40}}, 5s);
  ASSERT_TRUE(r.ok) << r.error_type << ": " << r.message;
  EXPECT_EQ(r.value, 42);
  PythonResult p = s.call("tools", "shout", {{"text", "hi"}}, 5s);
  ASSERT_TRUE(p.ok) << p.message;
  EXPECT_EQ(p.value, "HI");
  EXPECT_EQ(p.stdout_text, "printed hi\n");
}

TEST(PythonRunner, ExceptionsAreStructuredErrors) {
  PythonSession s(options(), box());
  PythonResult r = s.call("tools", "fail", {{"msg", "no such city"}}, 5s);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_type, "ValueError");
  EXPECT_EQ(r.message, "no such city");
  EXPECT_NE(r.traceback.find("tools.py"), std::string::npos) << r.traceback;
  EXPECT_TRUE(s.call("tools", "add", {{"a", 1}, {"b", 1}}, 5s).ok);
  EXPECT_EQ(s.restarts(), 0);
}

TEST(PythonRunner, BadRequestsAndResultsAreReported) {
  PythonSession s(options(), box());
  EXPECT_EQ(s.call("tools", "add", nlohmann::json::array({1, 2}), 5s).error_type, "BadRequest");
  EXPECT_EQ(s.call("../etc/passwd", "x", nlohmann::json::object(), 5s).error_type, "BadRequest");
  EXPECT_EQ(s.call("tools", "__init__", nlohmann::json::object(), 5s).error_type, "BadRequest");
  EXPECT_EQ(s.call("nosuchmodule", "f", nlohmann::json::object(), 5s).error_type, "ModuleNotFoundError");
  EXPECT_EQ(s.call("tools", "nosuchfn", nlohmann::json::object(), 5s).error_type, "AttributeError");
  EXPECT_EQ(s.call("tools", "add", {{"a", 1}}, 5s).error_type, "TypeError");
  EXPECT_EQ(s.call("tools", "not_json", nlohmann::json::object(), 5s).error_type, "BadResult");
  EXPECT_EQ(s.call("tools", "add", {{"a", std::string("\xff")}, {"b", "x"}}, 5s).error_type, "BadRequest");
}

TEST(PythonRunner, ResultsJsonCannotHoldAreBadResultsAndTheSessionGoesOn) {
  for (bool isolate : {false, true}) {
    PythonOptions o = options();
    o.isolate_calls = isolate;
    PythonSession s(o, box());
    auto r = s.call("tools", "not_json", nlohmann::json::object(), 5s);
    EXPECT_EQ(r.error_type, "BadResult") << isolate;
    EXPECT_NE(r.message.find("tools.not_json"), std::string::npos) << r.message;
    EXPECT_EQ(r.stdout_text, "made a set\n") << isolate;
    EXPECT_EQ(s.call("tools", "nan_result", nlohmann::json::object(), 5s).error_type, "BadResult") << isolate;
    EXPECT_EQ(s.call("tools", "deep_result", nlohmann::json::object(), 10s).error_type, "BadResult") << isolate;
    EXPECT_EQ(s.call("tools", "add", {{"a", 2}, {"b", 3}}, 5s).value, 5) << isolate;
    EXPECT_EQ(s.restarts(), 0) << isolate;
  }
}

TEST(PythonRunner, EveryRequestLineIsAnsweredEvenPastThePythonParsersDepth) {
  // 2000 levels parse in C++ but not in Python (RecursionError): the harness must answer
  // the line by its id and keep serving, in both call modes.
  const nlohmann::json deep = nlohmann::json::parse(std::string(2000, '[') + std::string(2000, ']'));
  for (bool isolate : {true, false}) {
    PythonOptions o = options();
    o.isolate_calls = isolate;
    PythonSession s(o, box());
    PythonResult r = s.call("verify", "verify", {{"answer", deep}, {"world", ""}, {"task", {{"expected", 1}}}}, 20s);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error_type, "BadRequest") << "isolate " << isolate << ": " << r.message;
    EXPECT_NE(r.message.find("RecursionError"), std::string::npos) << r.message;
    EXPECT_EQ(s.restarts(), 0) << "the harness died on the line";
    PythonResult next = s.call("tools", "add", {{"a", 1}, {"b", 2}}, 5s);
    ASSERT_TRUE(next.ok) << next.error_type << ": " << next.message;
    EXPECT_EQ(next.value, 3);
  }
}

TEST(PythonRunner, WorldDatabaseIsMountedReadOnly) {
  char dir[] = "/tmp/envforge_world_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string db = std::string(dir) + "/world.db";
  std::string cmd = "/usr/bin/python3 -c \"import sqlite3; d=sqlite3.connect('" + db +
                    "'); d.execute('create table city(name text)'); d.executemany('insert into city values (?)', "
                    "[('Oslo',), ('Lima',)]); d.commit()\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  chmod(dir, 0755);
  chmod(db.c_str(), 0644);
  PythonOptions o = options();
  o.world_db = db;
  PythonSession s(o, box());
  PythonResult r = s.call("tools", "world_rows", nlohmann::json::object(), 5s);
  ASSERT_TRUE(r.ok) << r.error_type << ": " << r.message << r.traceback;
  EXPECT_EQ(r.value["rows"], nlohmann::json::array({"Lima", "Oslo"}));
  EXPECT_EQ(r.value["wrote"], false);
  PythonResult v = s.call("verify", "verify",
                          {{"answer", "Oslo"}, {"world", kWorldDbPath}, {"task", {{"expected", "Oslo"}}}}, 5s);
  ASSERT_TRUE(v.ok) << v.message;
  EXPECT_EQ(v.value["pass"], true);
  unlink(db.c_str());
  rmdir(dir);
}

TEST(PythonRunner, MissingWorldDatabaseIsAClearError) {
  PythonOptions o = options();
  o.world_db = "/nonexistent/world.db";
  try {
    PythonSession s(o, box());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/world.db"), std::string::npos) << e.what();
  }
}

TEST(PythonRunner, TimeoutRestartsTheSession) {
  PythonSession s(options(), box());
  PythonResult r = s.call("tools", "spin", nlohmann::json::object(), 300ms);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_type, "Timeout");
  PythonResult next = s.call("tools", "add", {{"a", 1}, {"b", 2}}, 5s);
  ASSERT_TRUE(next.ok) << next.message;
  EXPECT_EQ(next.value, 3);
  EXPECT_EQ(s.restarts(), 1);
}

TEST(PythonRunner, CrashesAndFloodsAreErrorsAndTheNextCallWorks) {
  for (bool isolate : {true, false}) {
    PythonOptions o = options();
    o.isolate_calls = isolate;
    o.limits.stderr_bytes = 64 << 10;
    PythonSession s(o, box());
    for (const char* fn : {"die", "abort", "flood"}) {
      PythonResult r = s.call("tools", fn, nlohmann::json::object(), 5s);
      EXPECT_FALSE(r.ok) << fn;
      EXPECT_TRUE(r.error_type == "Crash" || r.error_type == "OutputLimit") << fn << ": " << r.error_type;
      PythonResult next = s.call("tools", "add", {{"a", 2}, {"b", 2}}, 5s);
      ASSERT_TRUE(next.ok) << fn << " then add: " << next.error_type << " " << next.message;
      EXPECT_EQ(next.value, 4);
    }
  }
}

TEST(PythonRunner, IsolatedCallsCannotTamperWithLaterVerdicts) {
  PythonSession s(options(), box());
  // Whatever the tampering call itself reports, it must not change the next call.
  s.call("tools", "tamper", nlohmann::json::object(), 5s);
  nlohmann::json task = {{"expected", 42}};
  PythonResult v = s.call("verify", "verify", {{"answer", 7}, {"world", kWorldDbPath}, {"task", task}}, 5s);
  ASSERT_TRUE(v.ok) << v.error_type << " " << v.message;
  EXPECT_EQ(v.value["pass"], false);
  EXPECT_EQ(v.value["reason"], "compared");
  // A verifier that forges protocol lines on every descriptor cannot report a pass.
  PythonResult f = s.call("verify", "forge", {{"answer", 7}, {"world", kWorldDbPath}, {"task", task}}, 5s);
  // Its forged lines either corrupt its own result (an error) or are ignored; never a pass.
  EXPECT_FALSE(f.ok && f.value.value("pass", false)) << f.value.dump();
  if (f.ok) {
    EXPECT_EQ(f.value["reason"], "honest");
  }
  PythonResult after = s.call("verify", "verify", {{"answer", 42}, {"world", kWorldDbPath}, {"task", task}}, 5s);
  ASSERT_TRUE(after.ok);
  EXPECT_EQ(after.value["pass"], true);
}

TEST(PythonRunner, SharedModeKeepsModuleState) {
  PythonOptions o = options();
  o.isolate_calls = false;
  PythonSession s(o, box());
  EXPECT_EQ(s.call("tools", "bump", nlohmann::json::object(), 5s).value, 1);
  EXPECT_EQ(s.call("tools", "bump", nlohmann::json::object(), 5s).value, 2);
  PythonOptions iso = options();
  PythonSession t(iso, box());
  EXPECT_EQ(t.call("tools", "bump", nlohmann::json::object(), 5s).value, 1);
  EXPECT_EQ(t.call("tools", "bump", nlohmann::json::object(), 5s).value, 1);
}

// Isolated calls run in processes forked ahead of time that already imported the
// modules earlier calls used: every call still starts from the module as imported
// (fresh state, its import-time output), and a module whose import kills its process
// costs only its own calls.
TEST(PythonRunner, IsolatedCallsUseWarmProcessesWithFreshState) {
  PythonOptions o = options();
  o.files.push_back({"counted.py", "print('loading')\nn = 0\ndef bump():\n    global n\n    n += 1\n    return n\n"});
  o.files.push_back({"fatal.py", "import os\nos._exit(5)\ndef f():\n    return 1\n"});
  PythonSession s(o, box());
  for (int i = 0; i < 5; ++i) {
    PythonResult r = s.call("counted", "bump", nlohmann::json::object(), 5s);
    ASSERT_TRUE(r.ok) << r.error_type << ": " << r.message;
    EXPECT_EQ(r.value, 1) << "call " << i;
    EXPECT_EQ(r.stdout_text, "loading\n") << "call " << i;
  }
  for (int i = 0; i < 2; ++i) {
    PythonResult bad = s.call("fatal", "f", nlohmann::json::object(), 5s);
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.error_type, "Crash") << bad.message;
    PythonResult next = s.call("tools", "add", {{"a", 1}, {"b", i}}, 5s);
    ASSERT_TRUE(next.ok) << next.error_type << ": " << next.message;
    EXPECT_EQ(next.value, 1 + i);
    PythonResult again = s.call("counted", "bump", nlohmann::json::object(), 5s);
    ASSERT_TRUE(again.ok) << again.error_type << ": " << again.message;
    EXPECT_EQ(again.value, 1);
  }
  EXPECT_EQ(s.restarts(), 0);
}

TEST(PythonRunner, OneShotCalls) {
  PythonResult r = run_python_once(options(), "tools", "add", {{"a", 20}, {"b", 22}}, 5s, box());
  ASSERT_TRUE(r.ok) << r.error_type << ": " << r.message << r.traceback;
  EXPECT_EQ(r.value, 42);
  PythonResult e = run_python_once(options(), "tools", "fail", {{"msg", "boom"}}, 5s, box());
  EXPECT_EQ(e.error_type, "ValueError");
  EXPECT_EQ(e.message, "boom");
  PythonResult t = run_python_once(options(), "tools", "spin", nlohmann::json::object(), 300ms, box());
  EXPECT_EQ(t.error_type, "Timeout");
}

TEST(PythonRunner, RootlessSandboxRunsPythonToo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop the launcher to uid 65534";
  sb::SandboxOptions so;
  so.run_as_uid = 65534;
  so.run_as_gid = 65534;
  sb::Sandbox rootless(so);
  PythonSession s(options(), rootless);
  PythonResult r = s.call("tools", "add", {{"a", 1}, {"b", 2}}, 5s);
  ASSERT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.value, 3);
}

}  // namespace
}  // namespace envforge::verifiers
