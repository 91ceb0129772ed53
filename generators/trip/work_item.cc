#include "generators/trip/work_item.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "data/content_id.h"
#include "generators/trip/embedded.h"
#include "generators/trip/ladder.h"
#include "generators/trip/negatives.h"
#include "generators/trip/rng.h"
#include "generators/trip/world_db.h"
#include "generators/work_util.h"

namespace envforge::generators::trip {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

data::EnvironmentRecord environment_record(const World& w, const std::string& db) {
  data::EnvironmentRecord env;
  env.category = "trip";
  env.seed = w.seed;
  env.generator_name = kGeneratorName;
  env.generator_version = kGeneratorVersion;
  env.system_prompt = system_prompt();
  const json schemas = json::parse(tool_schemas_json());
  for (const auto& s : schemas) env.tools.push_back({s["function"]["name"], s});
  env.tools_code = std::string(tools_py());
  env.world_db = db;
  env.env_json = {{"category", env.category},
                  {"seed", env.seed},
                  {"generator", {{"name", env.generator_name}, {"version", env.generator_version}}},
                  {"system_prompt", env.system_prompt},
                  {"tools", schemas},
                  {"world", {{"cities", w.cities.size()}, {"attractions", w.attractions.size()},
                             {"hotels", w.hotels.size()}, {"restaurants", w.restaurants.size()},
                             {"transport", w.transport.size()}, {"start_date", w.start_date},
                             {"horizon_days", w.horizon_days}, {"path", "/world/world.db"}}}};
  env.created_at_ms = unix_now_ms();
  return env;
}

}  // namespace

uint64_t environment_seed(uint64_t job_seed, uint64_t index) {
  return Rng(job_seed, "environment/" + std::to_string(index)).next();
}

data::WorkItem build_work_item(uint64_t job_seed, uint64_t index, PythonExecutorFactory& python,
                               const WorkItemOptions& o, StageTimes& times) {
  data::WorkItem item;
  item.key = data::work_item_key("trip", job_seed, index, kGeneratorVersion);
  const uint64_t seed = environment_seed(job_seed, index);

  auto t0 = Clock::now();
  const World world = generate_world(seed);
  const std::string db = world_db_bytes(world);
  TempFile file{(std::filesystem::path(o.scratch_dir) /
                 ("envforge-world-" + std::to_string(::getpid()) + "-" + item.key.substr(0, 16) + ".db"))
                    .string()};
  write_file(file.path, db);
  item.environment = environment_record(world, db);
  times.add("world", ms_since(t0));

  t0 = Clock::now();
  std::vector<LadderTask> ladder = make_ladder(world, seed);
  std::vector<std::vector<Negative>> negatives;
  for (const auto& lt : ladder) negatives.push_back(make_negatives(world, lt.task, lt.reference.plan));
  times.add("solve", ms_since(t0));

  t0 = Clock::now();
  auto py = python.open({{"tools.py", std::string(tools_py())}, {"verify.py", std::string(verify_py())}},
                        file.path);
  const std::string tools_problem = check_tools(*py, world);
  for (size_t i = 0; i < ladder.size(); ++i) {
    const LadderTask& lt = ladder[i];
    TaskValidation v = validate_task(*py, lt.task, lt.reference.plan, negatives[i], o.validation);
    data::TaskRecord t;
    t.difficulty = lt.task.level;
    t.prompt = lt.prompt;
    t.answer_schema = lt.answer_schema;
    t.reference_solution = lt.reference.plan;
    t.verifier_code = std::string(verify_py());
    json kinds = json::array();
    for (const auto& n : negatives[i]) kinds.push_back({{"kind", n.kind}, {"constraint", n.expected}});
    t.metadata = {{"task", lt.task.to_json()},
                  {"cheapest_cost", lt.cheapest_cost},
                  {"solver", {{"nodes", lt.reference.nodes}, {"day_candidates", lt.reference.day_candidates}}},
                  {"negatives", kinds},
                  {"python", python.name()}};
    t.validations = std::move(v.records);
    if (!tools_problem.empty() && v.usable) {
      v.usable = false;
      v.reject_reason = "tools: " + tools_problem;
    }
    t.status = v.usable ? data::TaskStatus::kUsable : data::TaskStatus::kRejected;
    t.reject_reason = v.reject_reason;
    item.tasks.push_back(std::move(t));
  }
  times.add("validate", ms_since(t0));
  return item;
}

}  // namespace envforge::generators::trip
