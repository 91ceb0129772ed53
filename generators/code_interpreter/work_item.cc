#include "generators/code_interpreter/work_item.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "data/content_id.h"
#include "generators/answer_judge.h"
#include "generators/code/embedded.h"
#include "generators/code/world_db.h"
#include "generators/code_interpreter/dataset.h"
#include "generators/code_interpreter/questions.h"
#include "generators/trip/rng.h"
#include "generators/trip/world_db.h"
#include "generators/work_util.h"

namespace envforge::generators::code_interpreter {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double interpreter_ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

json interpreter_tool_schemas() {
  return json::array(
      {{{"type", "function"},
        {"function", {{"name", "list_data"}, {"description", "The data files (CSV) with their columns and row counts."},
                      {"parameters", {{"type", "object"}, {"properties", json::object()}, {"required", json::array()},
                                      {"additionalProperties", false}}}}}},
       {{"type", "function"},
        {"function", {{"name", "run_python"},
                      {"description", "Run Python (numpy, pandas, sqlite3 available) in the data directory; "
                                      "returns stdout and stderr."},
                      {"parameters", {{"type", "object"},
                                      {"properties", {{"code", {{"type", "string"}}},
                                                      {"timeout_s", {{"type", "number"}}}}},
                                      {"required", {"code"}},
                                      {"additionalProperties", false}}}}}}});
}

// As a careful analyst would report it: four decimals, or finer where the tolerance is finer
// (a slope of 0.0184 judged within 1e-5 needs six), so rounding never costs more than a tenth
// of the tolerance.
double reported(double x, double tolerance) {
  const double step = std::min(1e-4, std::pow(10.0, std::floor(std::log10(tolerance / 10))));
  return std::round(x / step) * step;
}

}  // namespace

std::string analysis_py() { return std::string(code::analysis_py()); }

data::WorkItem build_work_item(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                               const InterpreterOptions& o, StageTimes& times) {
  data::WorkItem item;
  item.key = data::work_item_key(kGeneratorName, job_seed, index, kGeneratorVersion);
  const uint64_t seed = trip::Rng(job_seed, "code_interpreter/environment/" + std::to_string(index)).next();

  auto t0 = Clock::now();
  const Dataset d = generate_dataset(seed);
  std::vector<code::Table> tables = dataset_tables(d);
  tables.push_back({"meta", {"key TEXT PRIMARY KEY", "value TEXT"},
                    {{"generator", std::string(kGeneratorName) + " " + kGeneratorVersion},
                     {"start_date", kStartDate}, {"seed", std::to_string(seed)}}});
  const std::string db = code::tables_db_bytes(tables);
  TempFile file{(std::filesystem::path(o.scratch_dir) /
                 ("envforge-ci-" + std::to_string(::getpid()) + "-" + item.key.substr(0, 16) + ".db"))
                    .string()};
  trip::write_file(file.path, db);
  const std::string code = analysis_py();
  data::EnvironmentRecord& env = item.environment;
  env.category = kGeneratorName;
  env.seed = seed;
  env.generator_name = kGeneratorName;
  env.generator_version = kGeneratorVersion;
  env.system_prompt = "You are a data analyst. Use run_python to compute answers from the data; answer with a number.";
  const json s = interpreter_tool_schemas();
  for (const auto& x : s) env.tools.push_back({x["function"]["name"], x});
  env.tools_code = code;
  env.world_db = db;
  env.env_json = {{"category", env.category}, {"seed", seed},
                  {"generator", {{"name", kGeneratorName}, {"version", kGeneratorVersion}}},
                  {"system_prompt", env.system_prompt}, {"tools", s},
                  {"world", {{"orders", d.orders.size()}, {"customers", d.customers.size()},
                             {"products", d.products.size()}, {"start_date", kStartDate},
                             {"path", "/world/world.db"}}}};
  env.created_at_ms = unix_now_ms();
  times.add("world", interpreter_ms_since(t0));

  t0 = Clock::now();
  const std::vector<Question> questions = make_questions(d, seed);
  times.add("solve", interpreter_ms_since(t0));

  t0 = Clock::now();
  auto py = python.open({{"verify.py", code}}, file.path);
  for (const Question& q : questions) {
    data::TaskRecord t;
    t.difficulty = q.level;
    t.prompt = q.prompt;
    t.answer_schema = {{"type", "number"}};
    t.reference_solution = reported(q.expected, q.tolerance);
    t.verifier_code = code;
    const json task = {{"kind", q.kind}, {"params", q.params}, {"expected", q.expected}, {"tolerance", q.tolerance}};
    auto note = [&](const std::string& w) {
      if (t.reject_reason.empty()) t.reject_reason = w;
    };
    // The independent path: the pandas program's number, judged like an answer.
    data::ValidationRecord indep;
    indep.check = "independent_reference";
    indep.expected_pass = true;
    indep.started_at_ms = unix_now_ms();
    const auto r = py->call("verify", "reference", {{"kind", q.kind}, {"params", q.params}, {"world", py->world_path()}});
    indep.wall_ms = r.wall_ms;
    double pandas_value = NAN;
    if (!r.ok || !r.value.is_number()) {
      indep.verdict = "error";
      indep.reason = (r.ok ? "not a number: " + r.value.dump() : r.error_type + ": " + r.message).substr(0, 300);
      note("independent reference: " + indep.reason);
    } else {
      pandas_value = r.value.get<double>();
      const bool agree = std::fabs(pandas_value - q.expected) <= q.tolerance / 10;
      indep.verdict = agree ? "pass" : "fail";
      indep.as_expected = agree;
      indep.score = agree ? 1 : 0;
      indep.reason = "pandas " + std::to_string(pandas_value) + " vs generator " + std::to_string(q.expected);
      if (!agree) note("independent reference disagrees: " + indep.reason);
    }
    indep.input_digest = answer_digest(q.params);
    indep.output_digest = data::sha256_hex(indep.reason);
    t.validations.push_back(indep);
    auto judge = [&](const json& answer, const std::string& check, int attempt, bool expect) {
      JudgedAnswer j = judge_answer(*py, task, answer, check, attempt, expect);
      j.record.as_expected = j.record.verdict == (expect ? "pass" : "fail");
      if (!j.record.as_expected) note(check + ": " + j.record.verdict + " (" + j.record.reason + ")");
      t.validations.push_back(j.record);
      return j;
    };
    const JudgedAnswer first = judge(t.reference_solution, "reference", 0, true);
    judge(std::to_string(reported(q.expected, q.tolerance)), "reference_as_text", 0, true);
    judge(q.expected + 3 * q.tolerance, "negative:just_outside_tolerance", 0, false);
    if (std::fabs(q.wrong_path - q.expected) > q.tolerance)
      judge(reported(q.wrong_path, q.tolerance), "negative:" + q.wrong_path_kind, 0, false);
    judge("NaN", "negative:not_finite", 0, false);
    judge("about " + std::to_string(q.expected), "negative:not_a_number", 0, false);
    judge(json::array({q.expected}), "negative:wrong_shape", 0, false);
    const JudgedAnswer again = judge(t.reference_solution, "reference", 1, true);
    if (again.record.reason != first.record.reason) note("reference: a second run disagreed");
    json negs = json::array();
    for (const auto& v : t.validations)
      if (v.check.rfind("negative:", 0) == 0) negs.push_back(v.check.substr(9));
    t.metadata = {{"task", task}, {"negatives", negs}, {"pandas_value", std::isnan(pandas_value) ? json(nullptr) : json(pandas_value)},
                  {"wrong_path", {{"kind", q.wrong_path_kind}, {"value", q.wrong_path}}}, {"python", python.name()}};
    t.status = t.reject_reason.empty() ? data::TaskStatus::kUsable : data::TaskStatus::kRejected;
    item.tasks.push_back(std::move(t));
  }
  times.add("validate", interpreter_ms_since(t0));
  return item;
}

}  // namespace envforge::generators::code_interpreter
