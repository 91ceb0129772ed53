#include "server/catalog.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/export_line.h"
#include "server/episode_py.h"

namespace envforge::server {

using nlohmann::json;

namespace {

std::string verify_module_name(const std::string& task_id) {
  std::string name = "verify_t";
  for (char c : task_id.substr(0, 24))
    name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name;
}

json submit_tool(const json& answer_schema) {
  json answer = answer_schema.is_object() && !answer_schema.empty() ? answer_schema : json::object();
  return {{"type", "function"},
          {"function",
           {{"name", kSubmitTool},
            {"description", "Submit the final answer. Call it once, when done; it ends the episode."},
            {"parameters",
             {{"type", "object"},
              {"properties", {{"answer", answer}}},
              {"required", {"answer"}},
              {"additionalProperties", false}}}}}};
}

}  // namespace

namespace {
data::OpenOptions read_only() {
  data::OpenOptions o;
  o.read_only = true;
  return o;
}
}  // namespace

Catalog::Catalog(const std::string& corpus_path, const std::string& scratch_dir)
    : scratch_dir_(scratch_dir), corpus_(data::Corpus::open(corpus_path, read_only())) {
  std::filesystem::create_directories(scratch_dir_);
  // The sandbox mounts world files from here.
  ::chmod(scratch_dir_.c_str(), 0755);
  corpus_.for_each_export_row({}, [&](const data::ExportRow& row) {
    by_id_[row.task.id] = index_.size();
    index_.push_back({row.task.id, row.task.environment_id, row.category, row.task.difficulty,
                      row.task.status == data::TaskStatus::kUsable});
  });
}

Catalog::~Catalog() {
  std::error_code ec;
  for (const auto& f : world_files_) std::filesystem::remove(f, ec);
  std::filesystem::remove(scratch_dir_, ec);  // only when empty: never another's files
}

const TaskIndexEntry* Catalog::task(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &index_[it->second];
}

const TaskIndexEntry* Catalog::pick(const data::TaskFilter& filter, uint64_t seed) {
  const auto key = std::make_tuple(filter.usable_only, filter.category, filter.difficulty.value_or(0));
  std::lock_guard lock(filter_mu_);
  auto it = filtered_.find(key);
  if (it == filtered_.end()) {
    std::vector<size_t> match;
    for (size_t i = 0; i < index_.size(); ++i) {
      const auto& t = index_[i];
      if (filter.usable_only && !t.usable) continue;
      if (!filter.category.empty() && t.category != filter.category) continue;
      if (filter.difficulty && t.difficulty != *filter.difficulty) continue;
      match.push_back(i);
    }
    it = filtered_.emplace(key, std::move(match)).first;
  }
  if (it->second.empty()) return nullptr;
  return &index_[it->second[seed % it->second.size()]];
}

void Catalog::set_usable(const std::string& id, bool usable) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  std::lock_guard lock(filter_mu_);  // pick() reads `usable` under this lock only
  index_[it->second].usable = usable;
  filtered_.clear();
}

std::shared_ptr<const ServedEnvironment> Catalog::environment(const std::string& env_id) {
  {
    std::lock_guard lock(env_mu_);
    auto it = envs_.find(env_id);
    if (it != envs_.end()) return it->second;
  }
  auto env = load(env_id);
  std::lock_guard lock(env_mu_);
  return envs_.emplace(env_id, env).first->second;  // a racing loader's copy wins; same content
}

std::shared_ptr<const ServedEnvironment> Catalog::load(const std::string& env_id) {
  std::optional<data::EnvironmentRecord> rec;
  std::vector<data::TaskRecord> tasks;
  {
    std::lock_guard lock(corpus_mu_);
    rec = corpus_.environment(env_id);
    if (!rec) throw data::CorpusError("corpus " + corpus_.path() + ": no environment " + env_id);
    tasks = corpus_.tasks_of(env_id);
  }
  auto env = std::make_shared<ServedEnvironment>();
  env->id = env_id;
  env->category = rec->category;
  env->system_prompt = rec->system_prompt;
  auto code = std::make_shared<EnvironmentCode>();
  code->env_id = env_id;
  code->files.push_back({"tools.py", rec->tools_code});
  code->files.push_back({kEpisodeModuleName, kEpisodeModule});
  if (!rec->world_db.empty()) {
    const std::string path = scratch_dir_ + "/world-" + env_id.substr(0, 32) + "-" + std::to_string(::getpid()) + ".db";
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(rec->world_db.data(), static_cast<std::streamsize>(rec->world_db.size()));
      if (!out.flush()) throw data::CorpusError("cannot write the world database of " + env_id + " to " + path);
    }
    ::chmod(path.c_str(), 0444);
    {
      std::lock_guard lock(env_mu_);
      world_files_.push_back(path);
    }
    code->world_db = path;
  }
  json tool_list = json::array();
  env->mcp_tools = json::array();
  for (const auto& t : rec->tools) {
    tool_list.push_back(t.schema);
    const json fn = t.schema.value("function", json::object());
    const json params = fn.value("parameters", json::object());
    env->tool_parameters[t.name] = params;
    env->mcp_tools.push_back({{"name", t.name}, {"description", fn.value("description", "")}, {"input_schema", params}});
  }
  for (const auto& t : tasks) {
    ServedTask st;
    st.id = t.id;
    st.difficulty = t.difficulty;
    st.usable = t.status == data::TaskStatus::kUsable;
    st.prompt = t.prompt;
    st.answer_schema = t.answer_schema;
    st.verify_module = verify_module_name(t.id);
    st.verify_task = t.metadata.is_object() && t.metadata.contains("task") ? t.metadata["task"] : t.metadata;
    st.tools = tool_list;
    st.tools.push_back(submit_tool(t.answer_schema));
    code->files.push_back({st.verify_module + ".py", t.verifier_code});
    env->tasks.emplace(t.id, std::move(st));
  }
  json submit = submit_tool(json::object())["function"];
  env->mcp_tools.push_back({{"name", kSubmitTool}, {"description", submit["description"]}, {"input_schema", submit["parameters"]}});
  env->code = std::move(code);
  return env;
}

json Catalog::list(const data::TaskFilter& filter, int64_t offset, int64_t limit, int64_t& total) {
  json rows = json::array();
  int64_t n = 0;
  std::lock_guard lock(corpus_mu_);
  corpus_.for_each_export_row(filter, [&](const data::ExportRow& row) {
    if (n >= offset && n < offset + limit) rows.push_back(data::export_line(row, false));
    ++n;
  });
  total = n;
  return rows;
}

}  // namespace envforge::server
