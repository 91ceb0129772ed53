#include "cli/version.h"

#include "envforge_revision.h"  // generated at build time by cli/revision.cmake

namespace envforge {
const char* git_revision() { return ENVFORGE_GIT_REVISION; }
}  // namespace envforge
