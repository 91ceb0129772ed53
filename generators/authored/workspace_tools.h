// The generator agent's tools over its workspace: run_python, run_bash, write_file,
// read_file, list_files, query_db and submit. Code runs only in the sandbox, one fresh box
// per call, with the workspace copied in and read back (box_exec.h); files live in host
// memory (workspace.h). Bad arguments come back as tool errors the model can act on.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/tool_executor.h"
#include "generators/authored/box_exec.h"
#include "generators/authored/workspace.h"
#include "model/chat_message.h"

namespace envforge::generators::authored {

inline constexpr const char* kSubmitTool = "submit";

// Checks submit's arguments against the workspace: nullopt accepts them, else the reason
// the model is told.
using SubmitCheck =
    std::function<std::optional<std::string>(const nlohmann::json& arguments, const Workspace& workspace)>;

struct WorkspaceToolOptions {
  BoxLimits box;
  std::size_t max_read_chars = 32000;  // read_file returns at most this much text
  int max_query_rows = 200;
  std::size_t max_code_chars = 200000;  // run_python / run_bash / write_file inputs
};

class WorkspaceTools : public agents::ToolExecutor {
 public:
  WorkspaceTools(Workspace& workspace, SubmitCheck check, WorkspaceToolOptions options = {},
                 sandbox::Sandbox& sandbox = sandbox::Sandbox::shared());

  agents::ToolOutcome call(const std::string& name, const nlohmann::json& arguments,
                           std::chrono::milliseconds timeout) override;

  // The tools in OpenAI function format, submit's parameters as given.
  static std::vector<model::ToolSchema> schemas(const nlohmann::json& submit_parameters);

  // The last accepted submit arguments with the workspace as it was then.
  const std::optional<nlohmann::json>& submission() const { return submission_; }
  const std::optional<Workspace>& submitted_workspace() const { return submitted_workspace_; }
  void clear_submission();

 private:
  nlohmann::json run_code(const std::vector<std::string>& argv, const std::string& file, const std::string& code,
                          std::chrono::milliseconds timeout);
  nlohmann::json query_db(const nlohmann::json& arguments, std::chrono::milliseconds timeout);
  nlohmann::json read_file(const nlohmann::json& arguments) const;
  nlohmann::json write_file(const nlohmann::json& arguments);
  nlohmann::json list_files() const;
  nlohmann::json submit(const nlohmann::json& arguments);
  BoxOutcome run_box(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra,
                     std::chrono::milliseconds timeout);

  Workspace& workspace_;
  SubmitCheck check_;
  WorkspaceToolOptions options_;
  sandbox::Sandbox& sandbox_;
  std::optional<nlohmann::json> submission_;
  std::optional<Workspace> submitted_workspace_;
};

}  // namespace envforge::generators::authored
