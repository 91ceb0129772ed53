// The bearer token of envforge's servers: --token-file FILE, else ENVFORGE_SERVE_TOKEN.
#pragma once

#include <string>

namespace envforge::cli {

// The token in `path` (trailing newlines and spaces dropped). Throws UsageError when the
// file cannot be read or is empty.
std::string read_token_file(const std::string& path);

// read_token_file(token_file) when given, else ENVFORGE_SERVE_TOKEN, else "".
std::string server_token(const std::string& token_file);

}  // namespace envforge::cli
