// The generator agent's workspace tools against the real sandbox: code runs in fresh boxes,
// files come back through the read-back, and every bad argument is a tool error.
#include "generators/authored/workspace_tools.h"

#include <gtest/gtest.h>

#include "library_script.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

class WorkspaceToolsTest : public ::testing::Test {
 protected:
  WorkspaceToolsTest()
      : tools_(ws_, [this](const json& args, const Workspace&) -> std::optional<std::string> {
          if (!args.contains("ok")) return "no \"ok\"";
          ++accepted_;
          return std::nullopt;
        }) {}

  agents::ToolOutcome run(const std::string& name, const json& args) { return tools_.call(name, args, milliseconds(20000)); }

  Workspace ws_;
  int accepted_ = 0;
  WorkspaceTools tools_;
};

TEST_F(WorkspaceToolsTest, FilesWrittenInOneBoxAreSeenByTheNext) {
  auto r = run("run_python", {{"code", "import os\nos.makedirs('data', exist_ok=True)\n"
                                       "open('data/a.txt', 'w').write('alpha')\nprint(os.getcwd(), os.getuid())"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.value["exit_code"], 0);
  EXPECT_EQ(r.value["stdout"], "/work 1000\n");
  EXPECT_EQ(r.value["changed_files"], json::array({"data/a.txt"}));
  ASSERT_NE(ws_.find("data/a.txt"), nullptr);
  EXPECT_EQ(*ws_.find("data/a.txt"), "alpha");

  r = run("run_bash", {{"script", "cat data/a.txt; echo -n beta > b.txt; rm data/a.txt; exit 3"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.value["stdout"], "alpha");
  EXPECT_EQ(r.value["exit_code"], 3);
  EXPECT_EQ(r.value["removed_files"], json::array({"data/a.txt"}));
  EXPECT_EQ(run("read_file", {{"path", "b.txt"}}).value, "beta");
  EXPECT_EQ(run("list_files", json::object()).value, json::array({{{"path", "b.txt"}, {"bytes", 4}}}));
}

TEST_F(WorkspaceToolsTest, QueryDbRunsOneStatementOnTheWorld) {
  auto r = run("query_db", {{"sql", "SELECT 1"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no world.db yet"), std::string::npos) << r.error;
  ASSERT_TRUE(run("run_python", {{"code", testing::kBuildWorldPy}}).ok);
  r = run("query_db", {{"sql", "SELECT id, year FROM books WHERE genre = 'sf' ORDER BY year"}, {"max_rows", 2}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.value["columns"], json::array({"id", "year"}));
  EXPECT_EQ(r.value["rows"], json::parse(R"([["B02", 1961], ["B05", 1965]])"));
  EXPECT_EQ(r.value["truncated"], true);
  r = run("query_db", {{"sql", "UPDATE books SET copies = copies + 1 WHERE id = 'B02'"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(run("query_db", {{"sql", "SELECT copies FROM books WHERE id = 'B02'"}}).value["rows"],
            json::parse("[[3]]"));
  r = run("query_db", {{"sql", "SELECT * FROM nowhere"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no such table"), std::string::npos) << r.error;
  r = run("query_db", {{"sql", "SELECT 1; SELECT 2"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("one statement"), std::string::npos) << r.error;
  EXPECT_FALSE(run("query_db", {{"sql", "SELECT 1"}, {"max_rows", -4}}).ok);
}

TEST_F(WorkspaceToolsTest, LinksAndSpecialFilesAreNotKept) {
  auto r = run("run_bash", {{"script", "ln -s /etc/passwd link; mkfifo pipe; mkdir d; ln -s /etc linkdir; echo x > real"}});
  ASSERT_TRUE(r.ok) << r.error;
  const std::string notes = r.value["notes"].dump();
  EXPECT_NE(notes.find("link: a symbolic link"), std::string::npos) << notes;
  EXPECT_NE(notes.find("linkdir: a symbolic link"), std::string::npos) << notes;
  EXPECT_NE(notes.find("pipe: not a regular file"), std::string::npos) << notes;
  EXPECT_EQ(run("list_files", json::object()).value, json::array({{{"path", "real"}, {"bytes", 2}}}));
}

TEST_F(WorkspaceToolsTest, LimitsDiscardARunsChangesButKeepItsOutput) {
  Workspace small({.max_files = 3, .max_file_bytes = 1000, .max_total_bytes = 1500});
  BoxLimits quick;
  quick.step = milliseconds(1500);
  WorkspaceTools tools(small, [](const json&, const Workspace&) { return std::nullopt; }, {.box = quick});
  ASSERT_TRUE(tools.call("write_file", {{"path", "keep.txt"}, {"content", "kept"}}, milliseconds(5000)).ok);

  auto r = tools.call("run_python", {{"code", "print('big'); open('keep.txt', 'w').write('x' * 5000)"}}, milliseconds(5000));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.value["stdout"], "big\n");
  EXPECT_NE(r.value["error"].get<std::string>().find("more than the limit of 1000"), std::string::npos) << r.value;
  EXPECT_EQ(*small.find("keep.txt"), "kept");

  r = tools.call("run_bash", {{"script", "for i in 1 2 3 4 5; do echo $i > f$i; done"}}, milliseconds(5000));
  EXPECT_NE(r.value["error"].get<std::string>().find("more than 3 files"), std::string::npos) << r.value;
  EXPECT_EQ(small.files().size(), 1u);

  // A command past its time limit is killed; what it wrote before is kept.
  r = tools.call("run_python", {{"code", "open('slow.txt', 'w').write('started')\nwhile True: pass"}}, milliseconds(5000));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.value.contains("timed_out")) << r.value;
  ASSERT_NE(small.find("slow.txt"), nullptr);
  EXPECT_EQ(*small.find("slow.txt"), "started");
}

TEST_F(WorkspaceToolsTest, OutputThatIsNotUtf8IsMadeValid) {
  auto r = run("run_python", {{"code", "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok\\n')\n"
                                       "open('bin.dat', 'wb').write(bytes(range(256)))"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.value["stdout"], "\xEF\xBF\xBD\xEF\xBF\xBD ok\n");
  EXPECT_EQ(ws_.find("bin.dat")->size(), 256u);
  auto read = run("read_file", {{"path", "bin.dat"}});
  EXPECT_FALSE(read.ok);
  EXPECT_NE(read.error.find("binary"), std::string::npos) << read.error;
}

TEST_F(WorkspaceToolsTest, BadArgumentsAreToolErrorsAndWriteNothing) {
  const std::vector<std::pair<std::string, std::string>> bad_paths = {
      {"../escape.py", "\"..\""},       {"/etc/passwd", "absolute"},
      {"a/../../b", "\"..\""},          {"./tools.py", "\".\""},
      {"a//b", "empty component"},      {"", "empty"},
      {"dir/", "directory"},            {".envforge/snapshot.json", "reserves"},
      {"with space.py", "character"},   {"new\nline", "character"},
      {"a/b/c/d/e.py", "deeper"},       {std::string(200, 'x'), "longer"}};
  for (const auto& [path, why] : bad_paths) {
    auto r = run("write_file", {{"path", path}, {"content", "x"}});
    EXPECT_FALSE(r.ok) << path;
    EXPECT_FALSE(r.fatal);
    EXPECT_NE(r.error.find(why), std::string::npos) << path << ": " << r.error;
    r = run("read_file", {{"path", path}});
    EXPECT_FALSE(r.ok) << path;
  }
  EXPECT_TRUE(ws_.files().empty());

  EXPECT_NE(run("write_file", "tools.py").error.find("must be a JSON object"), std::string::npos);
  EXPECT_NE(run("write_file", {{"path", "a.py"}}).error.find("missing required argument \"content\""), std::string::npos);
  EXPECT_NE(run("write_file", {{"path", 7}, {"content", ""}}).error.find("expected a string"), std::string::npos);
  EXPECT_NE(run("run_python", json::object()).error.find("\"code\""), std::string::npos);
  EXPECT_NE(run("read_file", {{"path", "missing.txt"}}).error.find("no file"), std::string::npos);
  EXPECT_NE(run("no_such_tool", json::object()).error.find("no tool named"), std::string::npos);
  ASSERT_TRUE(run("write_file", {{"path", "pkg"}, {"content", "file"}}).ok);
  EXPECT_NE(run("write_file", {{"path", "pkg/x.py"}, {"content", ""}}).error.find("which is a file"), std::string::npos);
}

TEST_F(WorkspaceToolsTest, SubmitGoesThroughTheCheckAndKeepsTheWorkspaceOfThatMoment) {
  ASSERT_TRUE(run("write_file", {{"path", "a.txt"}, {"content", "one"}}).ok);
  auto r = run("submit", {{"task", "x"}});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "submission refused: no \"ok\"");
  EXPECT_FALSE(tools_.submission().has_value());
  r = run("submit", {{"ok", true}});
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_TRUE(tools_.submission().has_value());
  ASSERT_TRUE(run("write_file", {{"path", "a.txt"}, {"content", "two"}}).ok);
  EXPECT_EQ(*tools_.submitted_workspace()->find("a.txt"), "one");
  EXPECT_EQ(accepted_, 1);
}

}  // namespace
}  // namespace envforge::generators::authored
