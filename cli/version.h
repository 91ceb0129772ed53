#pragma once

namespace envforge {
inline constexpr const char* kVersion = "0.1.0";
// `git describe --always --dirty` of the source tree this binary was built from,
// or "unknown" when it was built outside a git checkout.
const char* git_revision();
}  // namespace envforge
