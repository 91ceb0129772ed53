#include "cli/token_file.h"

#include <cstdlib>
#include <fstream>

#include "cli/job_config.h"

namespace envforge::cli {

ServerTokens read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--token-file: cannot read " + path);
  ServerTokens t;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start);
    const std::string where = "--token-file: " + path + " line " + std::to_string(n);
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
      if (!t.token.empty()) throw UsageError(where + ": a second token without a name (write name:token)");
      t.token = line;
      continue;
    }
    server::ServeUser u{line.substr(0, colon), line.substr(colon + 1)};
    if (u.name.empty() || u.name.size() > 64 ||
        u.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") != std::string::npos)
      throw UsageError(where + ": a name is 1 to 64 letters, digits or ._@-");
    if (u.token.size() < 8) throw UsageError(where + ": the token of " + u.name + " is shorter than 8 characters");
    for (const auto& other : t.users) {
      if (other.name == u.name) throw UsageError(where + ": " + u.name + " is named twice");
      if (other.token == u.token) throw UsageError(where + ": two users share one token");
    }
    t.users.push_back(std::move(u));
  }
  if (t.empty()) throw UsageError("--token-file: " + path + " holds no token");
  return t;
}

ServerTokens server_tokens(const std::string& token_file) {
  if (!token_file.empty()) return read_token_file(token_file);
  ServerTokens t;
  if (const char* env = std::getenv("ENVFORGE_SERVE_TOKEN"); env && *env) t.token = env;
  return t;
}

}  // namespace envforge::cli
