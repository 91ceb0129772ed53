#include "generators/authored/workspace.h"

namespace envforge::generators::authored {
namespace {

bool plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

std::string quoted_path(std::string_view path) {
  std::string out = "\"";
  for (char c : path.substr(0, 80)) out += (static_cast<unsigned char>(c) < 0x20 || c == '"') ? '?' : c;
  return out + (path.size() > 80 ? "...\"" : "\"");
}

}  // namespace

std::optional<std::string> Workspace::check_path(std::string_view path) const {
  const std::string name = "path " + quoted_path(path);
  if (path.empty()) return std::string("path is empty");
  if (path.size() > limits_.max_path_chars)
    return name + " is longer than " + std::to_string(limits_.max_path_chars) + " characters";
  if (path.front() == '/') return name + " is absolute; use a path relative to the workspace, e.g. \"tools.py\"";
  if (path.back() == '/') return name + " names a directory; give a file name";
  int depth = 0;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty()) return name + " has an empty component (\"//\")";
    if (part == "." || part == "..") return name + " contains \"" + std::string(part) + "\"; paths may not leave or re-enter directories";
    for (char c : part)
      if (!plain_char(c))
        return name + " contains a character other than letters, digits, '_', '-', '.' and '/'";
    if (depth == 0 && part == kReservedDir) return name + " is inside " + std::string(kReservedDir) + "/, which envforge reserves";
    ++depth;
    start = end + 1;
  }
  if (depth > limits_.max_depth)
    return name + " is nested deeper than " + std::to_string(limits_.max_depth) + " levels";
  return std::nullopt;
}

std::optional<std::string> Workspace::check_sizes(const std::map<std::string, std::string>& files) const {
  if (files.size() > limits_.max_files)
    return "the workspace would hold " + std::to_string(files.size()) + " files, more than the limit of " +
           std::to_string(limits_.max_files);
  std::size_t total = 0;
  for (const auto& [path, bytes] : files) {
    if (bytes.size() > limits_.max_file_bytes)
      return "file " + quoted_path(path) + " has " + std::to_string(bytes.size()) + " bytes, more than the limit of " +
             std::to_string(limits_.max_file_bytes);
    total += bytes.size();
  }
  if (total > limits_.max_total_bytes)
    return "the workspace would hold " + std::to_string(total) + " bytes, more than the limit of " +
           std::to_string(limits_.max_total_bytes);
  return std::nullopt;
}

std::optional<std::string> Workspace::write(const std::string& path, std::string bytes) {
  if (auto bad = check_path(path)) return bad;
  // A file cannot also be a directory of other files.
  for (const auto& [other, _] : files_) {
    if (other.size() > path.size() && other.compare(0, path.size(), path) == 0 && other[path.size()] == '/')
      return "path " + quoted_path(path) + " is a directory of the workspace";
    if (path.size() > other.size() && path.compare(0, other.size(), other) == 0 && path[other.size()] == '/')
      return "path " + quoted_path(path) + " is below " + quoted_path(other) + ", which is a file";
  }
  std::map<std::string, std::string> next = files_;
  next[path] = std::move(bytes);
  if (auto bad = check_sizes(next)) return bad;
  files_ = std::move(next);
  return std::nullopt;
}

std::optional<std::string> Workspace::replace_all(std::map<std::string, std::string> files) {
  for (const auto& [path, _] : files)
    if (auto bad = check_path(path)) return bad;
  if (auto bad = check_sizes(files)) return bad;
  files_ = std::move(files);
  return std::nullopt;
}

const std::string* Workspace::find(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

std::size_t Workspace::total_bytes() const {
  std::size_t total = 0;
  for (const auto& [_, bytes] : files_) total += bytes.size();
  return total;
}

}  // namespace envforge::generators::authored
