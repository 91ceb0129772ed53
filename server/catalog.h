// What the server knows of its corpus: a small index of every task (for sampling by seed and
// filters), and the environments episodes play, loaded on first use and kept: their tools,
// their tasks' prompts and verifiers, and their world database written once to a scratch file
// that every sandbox of the environment mounts read-only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/corpus.h"
#include "server/sandbox_pool.h"

namespace envforge::server {

struct TaskIndexEntry {
  std::string id;
  std::string env_id;
  std::string category;
  int difficulty = 1;
  bool usable = true;
};

struct ServedTask {
  std::string id;
  int difficulty = 1;
  bool usable = true;
  std::string prompt;
  nlohmann::json answer_schema;
  std::string verify_module;   // module name of its verify.py in the sandbox
  nlohmann::json verify_task;  // handed to verify() as `task`
  nlohmann::json tools;        // OpenAI function schemas, the submit tool last
};

struct ServedEnvironment {
  std::string id;
  std::string category;
  std::string system_prompt;
  std::shared_ptr<const EnvironmentCode> code;
  std::map<std::string, nlohmann::json> tool_parameters;  // tool name -> its JSON Schema
  nlohmann::json mcp_tools;                               // [{name, description, input_schema}]
  std::unordered_map<std::string, ServedTask> tasks;
};

// The name of the final-answer tool every served task has.
inline constexpr const char* kSubmitTool = "submit";

class Catalog {
 public:
  // Reads the task index of the corpus at `corpus_path`; world files go under `scratch_dir`
  // (created, removed with the catalog). Throws data::CorpusError.
  Catalog(const std::string& corpus_path, const std::string& scratch_dir);
  ~Catalog();

  const TaskIndexEntry* task(const std::string& id) const;
  // The task at seed mod count among those matching the filter, in the corpus' export order;
  // null when none matches.
  const TaskIndexEntry* pick(const data::TaskFilter& filter, uint64_t seed);
  size_t size() const { return index_.size(); }
  // A task's status changed while serving (an auditor rejected or restored it): sampling
  // follows at once.
  void set_usable(const std::string& id, bool usable);

  // Loads (once) and returns an environment. Thread-safe; throws data::CorpusError.
  std::shared_ptr<const ServedEnvironment> environment(const std::string& env_id);

  // A page of `envforge export` rows; `total` gets how many match.
  nlohmann::json list(const data::TaskFilter& filter, int64_t offset, int64_t limit, int64_t& total);

 private:
  std::shared_ptr<const ServedEnvironment> load(const std::string& env_id);

  std::string scratch_dir_;
  std::mutex corpus_mu_;
  data::Corpus corpus_;  // read-only; under corpus_mu_
  std::vector<TaskIndexEntry> index_;
  std::unordered_map<std::string, size_t> by_id_;
  std::mutex filter_mu_;
  std::map<std::tuple<bool, std::string, int>, std::vector<size_t>> filtered_;
  std::mutex env_mu_;
  std::unordered_map<std::string, std::shared_ptr<const ServedEnvironment>> envs_;
  std::vector<std::string> world_files_;
};

}  // namespace envforge::server
