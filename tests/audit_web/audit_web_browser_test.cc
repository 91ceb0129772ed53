// The audit web view in Debian's headless Chromium: browser_test.mjs (playwright-core from
// scripts/npm) drives the page over a real server; this test then reads the audit row it left
// in the corpus. Screenshots land in the build directory (audit_web_screenshots/).
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/audit_web/audit_web_fixture.h"

namespace envforge::testing {
namespace {

TEST(AuditWebBrowser, OverviewFilterTaskTrajectoryMarkBad) {
  if (!std::filesystem::exists("/usr/bin/chromium"))
    GTEST_SKIP() << "/usr/bin/chromium is absent: install Debian's chromium (scripts/setup.sh does) to run the "
                    "browser test";
  const std::string root = ENVFORGE_SOURCE_DIR;
  ASSERT_TRUE(std::filesystem::exists(root + "/scripts/npm/node_modules/playwright-core/package.json"))
      << "playwright-core is missing: run `npm ci --prefix scripts/npm` (scripts/setup.sh does)";
  AuditCorpus corpus;
  const std::string shots = std::string(ENVFORGE_BUILD_DIR) + "/audit_web_screenshots";
  std::filesystem::remove_all(shots);
  const std::string log = corpus.dir.file("browser.log");
  std::string who;
  {
    ServerProcess s(corpus.path, {"--log-level", "warn"});
    const std::string cmd = "timeout 120 node " + root + "/tests/audit_web/browser_test.mjs --url http://127.0.0.1:" +
                            std::to_string(s.port()) + " --out " + shots + " --root " + root + " > " + log + " 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    ASSERT_EQ(rc, 0) << ss.str();
    const std::string out = ss.str();
    const json result = json::parse(out.substr(out.rfind("{\"ok\"")), nullptr, false);
    ASSERT_TRUE(result.is_object() && result.value("ok", false)) << out;
  }
  for (const char* shot : {"1-overview.png", "2-tasks-filtered.png", "3-task.png", "4-trajectory.png", "5-world.png",
                           "6-marked-bad.png"})
    EXPECT_GT(std::filesystem::file_size(shots + "/" + shot), 1000u) << shot;
  // The browser's click is a row of `audits`.
  const std::string id = audit_task_id(corpus.path, "<script>");
  data::Corpus c = open_read_only(corpus.path);
  const auto audits = c.audits_of_task(id);
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].verdict, "bad");
  EXPECT_EQ(audits[0].notes, "browser: the verifier accepts any city");
  EXPECT_EQ(audits[0].who, "local");
}

}  // namespace
}  // namespace envforge::testing
