#include "sandbox/sandbox.h"

#include "sandbox/launcher_client.h"
#include "sandbox/run_box.h"
#include "sandbox/session_impl.h"

namespace envforge::sandbox {

Sandbox::Sandbox(SandboxOptions options) : launcher_(std::make_shared<LauncherClient>(options)) {}

Sandbox::~Sandbox() = default;

Sandbox& Sandbox::shared() {
  static Sandbox instance;
  return instance;
}

Result Sandbox::run(const Spec& spec) { return run_box(launcher_, spec); }

std::unique_ptr<Session> Sandbox::open_session(const Spec& spec) {
  auto impl = std::make_unique<SessionImpl>(launcher_, spec);
  impl->start();
  return std::unique_ptr<Session>(new Session(std::move(impl)));
}

std::map<std::string, std::string> Sandbox::probe() { return launcher_->probe(); }

LimitModes Sandbox::limit_modes() const { return launcher_->modes(); }
int Sandbox::launcher_pid() const { return launcher_->pid(); }
bool Sandbox::rootless() const { return launcher_->rootless(); }

}  // namespace envforge::sandbox
