#include "generators/solver_source.h"

#include "generators/scripted_solver.h"

namespace envforge::generators {
namespace {

class SharedSolver : public SolverSource {
 public:
  SharedSolver(std::string spec, std::shared_ptr<agents::Backend> backend)
      : spec_(std::move(spec)), backend_(std::move(backend)) {}
  std::shared_ptr<agents::Backend> backend_for(const nlohmann::json&, int) override { return backend_; }
  std::string spec() const override { return spec_; }

 private:
  std::string spec_;
  std::shared_ptr<agents::Backend> backend_;
};

class ScriptedSource : public SolverSource {
 public:
  ScriptedSource(std::string spec, ScriptedSolver solver) : spec_(std::move(spec)), solver_(std::move(solver)) {}
  std::shared_ptr<agents::Backend> backend_for(const nlohmann::json& context, int attempt) override {
    return solver_.backend_for(context, attempt);
  }
  std::string spec() const override { return spec_; }

 private:
  std::string spec_;
  ScriptedSolver solver_;
};

}  // namespace

std::unique_ptr<SolverSource> make_solver_source(const std::string& text, const agents::BackendOptions& options) {
  const agents::BackendSpec spec = agents::parse_backend_spec(text);
  const std::string name = agents::to_string(spec);
  switch (spec.kind) {
    case agents::BackendSpec::Kind::kNone: return nullptr;
    case agents::BackendSpec::Kind::kScripted:
      return std::make_unique<ScriptedSource>(name, ScriptedSolver::load(spec.path));
    default: {
      std::shared_ptr<agents::Backend> backend = agents::make_backend(spec, options);
      return std::make_unique<SharedSolver>(name, std::move(backend));
    }
  }
}

}  // namespace envforge::generators
