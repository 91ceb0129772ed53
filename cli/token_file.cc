#include "cli/token_file.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/job_config.h"

namespace envforge::cli {

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--token-file: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) throw UsageError("--token-file: " + path + " is empty");
  return t;
}

std::string server_token(const std::string& token_file) {
  if (!token_file.empty()) return read_token_file(token_file);
  if (const char* env = std::getenv("ENVFORGE_SERVE_TOKEN"); env && *env) return env;
  return {};
}

}  // namespace envforge::cli
