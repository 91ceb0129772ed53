// Code-interpreter environments through the sandbox: five levels of analysis questions,
// each answer computed by the generator and again by a pandas program in the box (they
// must agree), the reference passing verify.py and every wrong answer failing; the
// agent's tools see the data.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "generators/code/embedded.h"
#include "generators/code_interpreter/dataset.h"
#include "generators/code_interpreter/questions.h"
#include "generators/code_interpreter/work_item.h"
#include "generators/sandbox_python.h"
#include "tests/code/code_fixture.h"
#include "verifiers/python_runner.h"

namespace envforge::generators::code_interpreter {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// numpy and pandas come from Debian (python3-numpy, python3-pandas); without them in the
// box the independent reference cannot run.
std::string pandas_missing() {
  verifiers::PythonOptions o;
  o.files = {{"probe.py", "def probe():\n    import numpy, pandas\n    return pandas.__version__\n"}};
  auto r = verifiers::run_python_once(o, "probe", "probe", json::object(), 60s);
  return r.ok ? "" : r.error_type + ": " + r.message;
}

TEST(CodeInterpreter, DatasetIsSeededAndHasMissingValuesAndOutliers) {
  const Dataset a = generate_dataset(9), b = generate_dataset(9), c = generate_dataset(10);
  ASSERT_EQ(a.orders.size(), b.orders.size());
  EXPECT_EQ(dataset_tables(a)[2].rows, dataset_tables(b)[2].rows);
  EXPECT_NE(dataset_tables(a)[2].rows, dataset_tables(c)[2].rows);
  int missing_price = 0, missing_discount = 0, outliers = 0;
  for (const auto& o : a.orders) {
    missing_price += !o.unit_price;
    missing_discount += !o.discount;
    outliers += o.units >= 60;
    EXPECT_GE(o.day, std::max(0, a.customer(o.customer_id).signup_day));
    EXPECT_LT(o.day, kHorizonDays);
  }
  EXPECT_GT(missing_price, 0);
  EXPECT_GT(missing_discount, 0);
  EXPECT_GT(outliers, 0);
  EXPECT_EQ(date_text(0), "2024-01-01");
  EXPECT_EQ(date_text(59), "2024-02-29");
  EXPECT_EQ(month_of(60), 3);
  const auto qs = make_questions(a, 9);
  ASSERT_EQ(qs.size(), 5u);
  for (size_t i = 0; i < qs.size(); ++i) {
    EXPECT_EQ(qs[i].level, static_cast<int>(i) + 1);
    EXPECT_TRUE(std::isfinite(qs[i].expected));
    EXPECT_NE(qs[i].prompt.find("accepted"), std::string::npos);
  }
}

TEST(CodeInterpreter, TasksAreValidatedAgainstAnIndependentPandasReference) {
  const std::string why = pandas_missing();
  if (!why.empty()) GTEST_SKIP() << "numpy/pandas cannot be imported in the sandbox: " << why;
  code::testing::ScratchDir dir;
  auto python = sandbox_python_factory({.call_timeout = 120s});
  for (uint64_t index : {0u, 1u}) {
    StageTimes times;
    InterpreterOptions o;
    o.scratch_dir = dir.path;
    data::WorkItem item = build_work_item(21, index, *python, o, times);
    EXPECT_EQ(item.environment.category, "code_interpreter");
    ASSERT_EQ(item.tasks.size(), 5u);
    for (const auto& t : item.tasks) {
      EXPECT_EQ(t.status, data::TaskStatus::kUsable) << "level " << t.difficulty << ": " << t.reject_reason;
      std::set<std::string> checks;
      for (const auto& v : t.validations) {
        checks.insert(v.check);
        EXPECT_TRUE(v.as_expected) << v.check << ": " << v.verdict << " " << v.reason;
      }
      EXPECT_TRUE(checks.count("independent_reference"));
      EXPECT_TRUE(checks.count("negative:just_outside_tolerance"));
      EXPECT_TRUE(checks.count("negative:not_a_number"));
      EXPECT_FALSE(t.metadata["pandas_value"].is_null());
    }
  }
}

TEST(CodeInterpreter, ToolsSeeTheDataAndAScriptedAnalystPasses) {
  const std::string why = pandas_missing();
  if (!why.empty()) GTEST_SKIP() << "numpy/pandas cannot be imported in the sandbox: " << why;
  code::testing::ScratchDir dir;
  auto python = sandbox_python_factory({.call_timeout = 120s});
  StageTimes times;
  InterpreterOptions o;
  o.scratch_dir = dir.path;
  data::WorkItem item = build_work_item(5, 0, *python, o, times);
  const std::string db = dir.path + "/world.db";
  std::ofstream(db, std::ios::binary) << item.environment.world_db;
  verifiers::PythonOptions po;
  po.files = {{"tools.py", item.environment.tools_code}, {"verify.py", item.tasks[0].verifier_code}};
  po.world_db = db;
  verifiers::PythonSession s(po);
  auto listed = s.call("tools", "list_data", json::object(), 60s);
  ASSERT_TRUE(listed.ok) << listed.message;
  EXPECT_TRUE(listed.value["files"].contains("orders.csv")) << listed.value.dump();
  // Level 1 asks for the units of one product: a scripted analyst sums them with pandas.
  const auto& t = item.tasks[0];
  const std::string product = t.metadata["task"]["params"]["product"];
  auto ran = s.call("tools", "run_python",
                    {{"code", "import pandas as pd\no = pd.read_csv('orders.csv')\n"
                              "print(o.loc[o['product'] == '" + product + "', 'units'].sum())"}}, 120s);
  ASSERT_TRUE(ran.ok) << ran.message;
  ASSERT_EQ(ran.value["exit_code"], 0) << ran.value.dump();
  const std::string answer = ran.value["stdout"];
  auto v = s.call("verify", "verify", {{"answer", answer}, {"world", "/world/world.db"}, {"task", t.metadata["task"]}}, 60s);
  ASSERT_TRUE(v.ok);
  EXPECT_TRUE(v.value["pass"].get<bool>()) << answer << " " << v.value.dump();
  auto wrong = s.call("verify", "verify",
                      {{"answer", "12345678"}, {"world", "/world/world.db"}, {"task", t.metadata["task"]}}, 60s);
  EXPECT_FALSE(wrong.value["pass"].get<bool>());
}

}  // namespace
}  // namespace envforge::generators::code_interpreter
