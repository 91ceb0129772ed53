#include "generators/search/work_item.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "data/content_id.h"
#include "generators/search/embedded.h"
#include "generators/search/ladder.h"
#include "generators/search/rewrite.h"
#include "generators/search/world_db.h"
#include "generators/work_util.h"

namespace envforge::generators::search {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double search_ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void write_world_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write the world database " + path);
}

data::EnvironmentRecord environment_record(const World& w, uint64_t env_seed, const std::string& db) {
  data::EnvironmentRecord env;
  env.category = "search";
  env.seed = env_seed;
  env.generator_name = kGeneratorName;
  env.generator_version = kGeneratorVersion;
  env.system_prompt = system_prompt();
  const json schemas = json::parse(tool_schemas_json());
  for (const auto& s : schemas) env.tools.push_back({s["function"]["name"], s});
  env.tools_code = std::string(tools_py());
  env.world_db = db;
  std::map<std::string, int> types;
  for (const auto& e : w.entities) ++types[e.type];
  env.env_json = {{"category", env.category},
                  {"seed", env.seed},
                  {"generator", {{"name", env.generator_name}, {"version", env.generator_version}}},
                  {"system_prompt", env.system_prompt},
                  {"tools", schemas},
                  {"world", {{"source", w.source}, {"documents", w.documents.size()}, {"entities", types},
                             {"facts", w.facts.size()}, {"path", "/world/world.db"}}}};
  env.created_at_ms = unix_now_ms();
  return env;
}

}  // namespace

std::string system_prompt() {
  return "You answer questions about a document collection. Use the tools: search(query, k) ranks documents, "
         "open(doc_id, offset) reads one, find(doc_id, pattern) lists its matching lines. Questions may need "
         "several hops: find each intermediate entity in the documents before the next step, and check every "
         "condition the question gives. Answer with the name, number, year or date alone, no explanation.";
}

data::WorkItem build_work_item(const World& world, uint64_t env_seed, PythonExecutorFactory& python,
                               const WorkItemOptions& o, StageTimes& times) {
  data::WorkItem item;
  auto t0 = Clock::now();
  const std::string db = world_db_bytes(world);
  item.environment = environment_record(world, env_seed, db);
  std::vector<SearchTask> tasks;
  for (const Question& q : make_ladder(world, env_seed, o.tasks_per_level)) tasks.push_back(make_task(world, q));
  if (tasks.empty()) throw std::runtime_error("the world (" + world.source + ") gives no question");
  times.add("questions", search_ms_since(t0));

  std::vector<json> rewrites(tasks.size());
  if (o.rewriter) {
    t0 = Clock::now();
    for (size_t i = 0; i < tasks.size(); ++i) rewrites[i] = rewrite_question(*o.rewriter, world, tasks[i]);
    times.add("rewrite", search_ms_since(t0));
  }

  t0 = Clock::now();
  static std::atomic<uint64_t> serial{0};
  TempFile file{(std::filesystem::path(o.scratch_dir) /
                 ("envforge-search-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + ".db"))
                    .string()};
  write_world_file(file.path, db);
  auto py = python.open({{"tools.py", std::string(tools_py())},
                         {"verify.py", std::string(verify_py())},
                         {"probe.py", std::string(probe_py())}},
                        file.path);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const SearchTask& st = tasks[i];
    SearchValidation v = validate_task(*py, world, st, o.validation);
    data::TaskRecord t;
    t.difficulty = st.question.level;
    t.prompt = st.prompt;
    t.answer_schema = {{"type", "string"}, {"description", "the answer alone: a name, number, year or date"}};
    t.reference_solution = {{"answer", st.answers.empty() ? "" : st.answers.front()},
                            {"proof", st.proof_json(world)}};
    t.verifier_code = std::string(verify_py());
    json candidates = json::array();
    for (const auto& c : st.candidates) candidates.push_back({{"answer", c.answer}, {"kind", c.kind}});
    t.metadata = {{"task", st.verifier_task()},
                  {"question", st.question.to_json()},
                  {"uniqueness", v.uniqueness},
                  {"candidates", candidates},
                  {"world_source", world.source},
                  {"python", python.name()}};
    if (!rewrites[i].is_null()) t.metadata["rewrite"] = rewrites[i];
    t.validations = std::move(v.records);
    t.status = v.usable ? data::TaskStatus::kUsable : data::TaskStatus::kRejected;
    t.reject_reason = v.reject_reason;
    item.tasks.push_back(std::move(t));
  }
  times.add("validate", search_ms_since(t0));
  return item;
}

}  // namespace envforge::generators::search
