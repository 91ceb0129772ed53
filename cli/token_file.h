// The bearer tokens of envforge's servers: --token-file FILE, else ENVFORGE_SERVE_TOKEN.
#pragma once

#include <string>
#include <vector>

#include "server/serve_options.h"

namespace envforge::cli {

struct ServerTokens {
  std::string token;                    // a token without a name (a bare line, or the variable)
  std::vector<server::ServeUser> users;  // named tokens (lines name:token)
  bool empty() const { return token.empty() && users.empty(); }
};

// --token-file: one token a line. A line `name:token` gives its holder a name (what audits
// record as `who`); a bare line is a token without a name (the file's old form). Blank lines
// and lines starting with # are skipped. Throws UsageError naming the file and line.
ServerTokens read_token_file(const std::string& path);

// read_token_file(token_file) when given, else ENVFORGE_SERVE_TOKEN as a bare token, else none.
ServerTokens server_tokens(const std::string& token_file);

}  // namespace envforge::cli
