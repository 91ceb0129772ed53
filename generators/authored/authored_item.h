// LLM-authored environments (the general-agent synthesis of the DeepSeek-V3.2 report): a
// generator agent builds world.db, tools.py (+ schemas), a task, a reference solution,
// verify.py and wrong answers in a sandboxed workspace; envforge validates them as it
// validates procedural environments, then asks for harder variants of the task, round by
// round. Every round becomes a task of the work item, rejected ones with their reason.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "agents/agent_loop.h"
#include "agents/backend.h"
#include "data/records.h"
#include "generators/authored/submission.h"
#include "generators/authored/workspace_tools.h"
#include "generators/python_exec.h"
#include "generators/stage_times.h"
#include "generators/trip/work_item.h"

namespace envforge::generators::authored {

inline constexpr const char* kGeneratorName = "authored";
inline constexpr const char* kGeneratorVersion = "authored-1";  // part of the work item key

struct AuthoredOptions {
  std::string description;        // category description given to the generator agent; empty: a default
  int hardening_rounds = 1;       // extra "make it harder" rounds after the first task
  std::string scratch_dir = "/tmp";
  // One attempt of a round is one agent run within this budget. A round whose attempt ends
  // without an accepted submission is tried again (the workspace kept), up to `attempts`.
  agents::AgentBudget budget = {.max_turns = 40,
                                .max_completion_tokens = 200000,
                                .max_context_tokens = 0,
                                .max_wall = std::chrono::minutes(15)};
  int attempts = 2;
  agents::SamplingParams sampling;
  std::size_t max_tool_result_chars = 12000;
  WorkspaceLimits workspace;
  WorkspaceToolOptions tools;
  SubmissionRules rules;
  sandbox::Sandbox* sandbox = nullptr;  // null: the shared sandbox
};

// Runs the generator agent (backend = the --llm backend) for work item `index` of a job,
// validates every round in the sandbox exactly like procedural environments, and returns the
// work item to record (environment + one task per round; a round that fails validation is
// recorded with status rejected and its reason). Throws std::runtime_error when nothing usable
// could be built at all (the synth job then records the item as failed, not the corpus).
data::WorkItem build_work_item(agents::Backend& llm, uint64_t seed, uint64_t index, const AuthoredOptions& options,
                               PythonExecutorFactory& python, StageTimes& times);

}  // namespace envforge::generators::authored
