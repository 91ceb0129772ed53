// Where the solver of a synth job's rollouts comes from, from its backend spec (--solver):
// one backend shared by every attempt (openai:..., embedded:...: both are safe to call from
// several threads), or for scripted:FILE a fresh replay per attempt (scripted_solver.h).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "agents/backend.h"
#include "agents/backend_spec.h"

namespace envforge::generators {

class SolverSource {
 public:
  virtual ~SolverSource() = default;
  // The backend of one attempt at a task; `context` is {"reference", "task", "prompt",
  // "difficulty"} of that task. Safe to call from several threads at once.
  virtual std::shared_ptr<agents::Backend> backend_for(const nlohmann::json& context, int attempt) = 0;
  // The spec as recorded with each rollout (RolloutRecord::model).
  virtual std::string spec() const = 0;
};

// nullptr for "none". Throws agents::BackendError(kConfig) when the spec cannot be parsed or
// the backend cannot be made (a missing checkpoint directory, an unreadable script...), so a
// job can refuse before any work starts.
std::unique_ptr<SolverSource> make_solver_source(const std::string& spec,
                                                 const agents::BackendOptions& options = {});

}  // namespace envforge::generators
