// The bundled real source: the package records of the machine's dpkg database
// (/var/lib/dpkg/status on every Debian system). Each installed package becomes an article;
// names, versions, maintainers, sections, priorities, sizes, sources and dependencies are
// facts without any model in the loop.
#pragma once

#include <string>

#include "generators/search/world.h"

namespace envforge::generators::search {

struct PackageRecord {
  std::string name, version, section, priority, maintainer, email, architecture, source, summary, description;
  std::string installed_size;  // KiB, digits
  std::vector<std::string> depends;  // first alternative of each Depends/Pre-Depends entry
};

// The installed packages of a dpkg status file (any other status is skipped). Throws
// std::runtime_error naming the file when it cannot be read or holds no installed package.
std::vector<PackageRecord> read_dpkg_status(const std::string& path);

// The world of these records (dependencies on packages not in them are dropped).
World package_world(const std::vector<PackageRecord>& packages, uint64_t seed);

}  // namespace envforge::generators::search
