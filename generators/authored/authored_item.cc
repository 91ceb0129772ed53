#include "generators/authored/authored_item.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "data/content_id.h"
#include "generators/authored/prompts.h"
#include "generators/authored/text_util.h"
#include "generators/authored/validate.h"
#include "generators/work_util.h"

namespace envforge::generators::authored {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f.flush()) throw std::runtime_error("cannot write the world database to \"" + path + "\"");
}

// What a round's agent runs did, without timings so that it can be part of content ids.
json attempt_summary(const agents::Trajectory& t, int attempt, bool submitted) {
  json calls = json::array();
  for (const auto& turn : t.turns)
    for (const auto& x : turn.tools) calls.push_back({{"name", x.name}, {"ok", x.ok}});
  json out = {{"attempt", attempt},
              {"stop_reason", agents::to_string(t.stop_reason)},
              {"turns", t.turns.size()},
              {"tool_calls", calls},
              {"tool_errors", t.tool_errors},
              {"prompt_tokens", t.prompt_tokens},
              {"completion_tokens", t.completion_tokens},
              {"tokens_estimated", t.tokens_estimated},
              {"submitted", submitted}};
  if (!t.error.empty()) out["error"] = t.error;
  return out;
}

struct RoundResult {
  std::optional<Submission> submission;
  json summary = json::object();  // {"round", "attempts": [...]}
  std::string failure;            // no submission: why
};

class Generator {
 public:
  Generator(agents::Backend& llm, uint64_t env_seed, const AuthoredOptions& o)
      : llm_(llm),
        seed_(env_seed),
        o_(o),
        description_(o.description.empty() ? default_description() : to_valid_utf8(o.description)),
        workspace_(o.workspace) {}

  const std::string& description() const { return description_; }

  // One round: agent attempts until a submission is accepted or the attempts are spent.
  RoundResult round(int round, const std::string& request, const Submission* previous, double& agent_ms) {
    RoundResult out;
    out.summary = {{"round", round}, {"attempts", json::array()}};
    SubmissionRules rules = o_.rules;
    WorkspaceTools tools(
        workspace_,
        [&](const json& args, const Workspace& ws) -> std::optional<std::string> {
          auto parsed = parse_submission(args, ws, rules, previous);
          if (auto* why = std::get_if<std::string>(&parsed)) return *why;
          return std::nullopt;
        },
        o_.tools, o_.sandbox ? *o_.sandbox : sandbox::Sandbox::shared());
    agents::AgentConfig config;
    config.system_prompt = generator_system_prompt(description_, rules);
    config.tools = WorkspaceTools::schemas(submit_parameters());
    config.sampling = o_.sampling;
    config.sampling.seed = static_cast<std::int64_t>((seed_ + static_cast<uint64_t>(round)) & 0x7fffffffffffffffULL);
    config.budget = o_.budget;
    config.tool_timeout = o_.tools.box.step;
    config.max_tool_result_chars = o_.max_tool_result_chars;
    std::string task = request;
    std::string failures;
    for (int attempt = 0; attempt < std::max(1, o_.attempts); ++attempt) {
      const auto t0 = Clock::now();
      agents::Trajectory t = agents::run_agent(llm_, tools, config, task);
      agent_ms += ms_since(t0);
      const bool submitted = tools.submission().has_value();
      out.summary["attempts"].push_back(attempt_summary(t, attempt, submitted));
      if (submitted) {
        auto parsed = parse_submission(*tools.submission(), *tools.submitted_workspace(), rules, previous);
        if (auto* s = std::get_if<Submission>(&parsed)) {
          out.submission = std::move(*s);
          return out;
        }
      }
      std::string why = t.stop_reason == agents::StopReason::kFinalAnswer
                            ? "the agent stopped without an accepted submission"
                            : std::string(agents::to_string(t.stop_reason)) + ": " + t.error;
      failures += (failures.empty() ? "" : "; ") + ("attempt " + std::to_string(attempt + 1) + ": " + why);
      // Budget spent in time or tokens, or a broken environment: another attempt cannot help.
      if (t.stop_reason == agents::StopReason::kToolFailure || t.stop_reason == agents::StopReason::kBackendError)
        break;
      std::string files;
      for (const auto& [path, bytes] : workspace_.files())
        files += (files.empty() ? "" : ", ") + path + " (" + std::to_string(bytes.size()) + " bytes)";
      task = request + "\n\nYour previous attempt ended without an accepted submission (" + why +
             "). The workspace still holds: " + (files.empty() ? "nothing" : files) +
             ". Finish the work and call submit.";
    }
    out.failure = "no accepted submission: " + failures;
    return out;
  }

 private:
  agents::Backend& llm_;
  uint64_t seed_;
  const AuthoredOptions& o_;
  std::string description_;
  Workspace workspace_;
};

data::TaskRecord task_record(int round, const Submission& s, AuthoredValidation v, const json& summary,
                             const std::string& python_name) {
  data::TaskRecord t;
  t.difficulty = round + 1;
  t.prompt = s.prompt;
  t.answer_schema = s.answer_schema;
  t.reference_solution = s.reference;
  t.verifier_code = s.verify_py;
  json wrong = json::array(), examples = json::array(), generic = json::array();
  for (const auto& w : s.wrong_answers) wrong.push_back({{"answer", w.answer}, {"why", w.why}});
  for (const auto& e : s.tool_examples) examples.push_back({{"tool", e.tool}, {"arguments", e.arguments}});
  for (const auto& n : generic_negatives(s.answer_schema, s.reference)) generic.push_back(n.kind);
  t.metadata = {{"task", s.task_object()},        {"round", round},
                {"wrong_answers", wrong},         {"tool_examples", examples},
                {"generic_negatives", generic},   {"generator", summary},
                {"python", python_name}};
  t.validations = std::move(v.records);
  t.status = v.usable ? data::TaskStatus::kUsable : data::TaskStatus::kRejected;
  t.reject_reason = v.usable ? "" : v.reject_reason;
  return t;
}

// A round that produced nothing to validate still leaves its trace in the corpus.
data::TaskRecord missing_task(int round, const RoundResult& r) {
  data::TaskRecord t;
  t.difficulty = round + 1;
  t.reference_solution = nullptr;
  t.metadata = {{"round", round}, {"generator", r.summary}};
  t.status = data::TaskStatus::kRejected;
  t.reject_reason = "generator: " + r.failure;
  return t;
}

data::EnvironmentRecord environment_record(const Submission& s, uint64_t env_seed, const std::string& description,
                                           const std::string& backend) {
  data::EnvironmentRecord env;
  env.category = "authored";
  env.seed = env_seed;
  env.generator_name = kGeneratorName;
  env.generator_version = kGeneratorVersion;
  env.system_prompt = s.solver_system_prompt.empty() ? default_solver_prompt(description) : s.solver_system_prompt;
  for (const auto& t : s.tool_schemas) env.tools.push_back({t["function"]["name"].get<std::string>(), t});
  env.tools_code = s.tools_py;
  env.world_db = s.world_db;
  env.env_json = {{"category", env.category},
                  {"seed", env.seed},
                  {"generator", {{"name", env.generator_name}, {"version", env.generator_version}, {"llm", backend}}},
                  {"description", description},
                  {"system_prompt", env.system_prompt},
                  {"tools", s.tool_schemas},
                  {"world", {{"path", "/world/world.db"}, {"bytes", s.world_db.size()}}},
                  {"generator_agent", {{"backend", backend}, {"rounds", json::array()}}}};
  env.created_at_ms = unix_now_ms();
  return env;
}

}  // namespace

data::WorkItem build_work_item(agents::Backend& llm, uint64_t seed, uint64_t index, const AuthoredOptions& o,
                               PythonExecutorFactory& python, StageTimes& times) {
  data::WorkItem item;
  item.key = data::work_item_key("authored", seed, index, kGeneratorVersion);
  const uint64_t env_seed = trip::environment_seed(seed, index);
  Generator gen(llm, env_seed, o);
  json rounds = json::array();

  double agent_ms = 0;
  RoundResult first = gen.round(0, first_round_request(gen.description()), nullptr, agent_ms);
  times.add("world", agent_ms);
  rounds.push_back(first.summary);
  if (!first.submission)
    throw std::runtime_error("authored item " + std::to_string(index) + ": the generator agent built no environment (" +
                             first.failure + ")");
  Submission previous = std::move(*first.submission);

  TempFile world{(std::filesystem::path(o.scratch_dir) /
                  ("envforge-authored-" + std::to_string(::getpid()) + "-" + item.key.substr(0, 16) + ".db"))
                     .string()};
  write_bytes(world.path, previous.world_db);

  auto t0 = Clock::now();
  AuthoredValidation v = validate_submission(python, previous, world.path);
  times.add("validate", ms_since(t0));
  bool previous_usable = v.usable;
  std::string feedback = v.reject_reason;
  item.tasks.push_back(task_record(0, previous, std::move(v), first.summary, python.name()));
  // The environment is the first round's; later rounds may only add tasks to it.
  item.environment = environment_record(previous, env_seed, gen.description(), llm.describe());

  for (int r = 1; r <= o.hardening_rounds; ++r) {
    agent_ms = 0;
    RoundResult next = gen.round(r, hardening_request(r, previous, previous_usable, feedback), &previous, agent_ms);
    times.add("world", agent_ms);
    rounds.push_back(next.summary);
    if (!next.submission) {
      item.tasks.push_back(missing_task(r, next));
      continue;  // the next round hardens the last task that was submitted
    }
    t0 = Clock::now();
    AuthoredValidation hv = validate_submission(python, *next.submission, world.path);
    times.add("validate", ms_since(t0));
    previous_usable = hv.usable;
    feedback = hv.reject_reason;
    item.tasks.push_back(task_record(r, *next.submission, std::move(hv), next.summary, python.name()));
    previous = std::move(*next.submission);
  }
  item.environment.env_json["generator_agent"]["rounds"] = rounds;
  return item;
}

}  // namespace envforge::generators::authored
