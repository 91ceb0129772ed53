// The generator agent's workspace: its files, kept in host memory between sandbox runs.
// Every path is checked (relative, no "." or "..", a plain character set, bounded depth and
// length) and every size is capped, so nothing the agent writes can name a host location or
// grow without bound. Links cannot exist here: only file contents are kept.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace envforge::generators::authored {

struct WorkspaceLimits {
  std::size_t max_files = 64;
  std::size_t max_file_bytes = 8u << 20;    // one file (world.db is usually the largest)
  std::size_t max_total_bytes = 16u << 20;  // all files together
  std::size_t max_path_chars = 120;
  int max_depth = 4;                        // directories + file name
};

// The directory the sandbox runs keep their own files in; agents cannot write there.
inline constexpr std::string_view kReservedDir = ".envforge";

class Workspace {
 public:
  explicit Workspace(WorkspaceLimits limits = {}) : limits_(limits) {}

  // nullopt when `path` may name a workspace file, else what is wrong with it.
  std::optional<std::string> check_path(std::string_view path) const;

  // Creates or replaces a file. nullopt on success, else why nothing was written.
  std::optional<std::string> write(const std::string& path, std::string bytes);
  // Replaces every file at once (the state a sandbox run left). All or nothing.
  std::optional<std::string> replace_all(std::map<std::string, std::string> files);

  const std::string* find(const std::string& path) const;
  const std::map<std::string, std::string>& files() const { return files_; }
  std::size_t total_bytes() const;
  const WorkspaceLimits& limits() const { return limits_; }

 private:
  std::optional<std::string> check_sizes(const std::map<std::string, std::string>& files) const;

  WorkspaceLimits limits_;
  std::map<std::string, std::string> files_;
};

}  // namespace envforge::generators::authored
