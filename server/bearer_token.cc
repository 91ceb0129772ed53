#include "server/bearer_token.h"

namespace envforge::server {

bool bearer_token_matches(std::string_view header, const std::string& token) {
  if (token.empty()) return true;
  const std::string expected = "Bearer " + token;
  if (header.size() != expected.size()) return false;
  unsigned char diff = 0;  // constant time: no early exit on the first differing byte
  for (std::size_t i = 0; i < header.size(); ++i) diff |= static_cast<unsigned char>(header[i] ^ expected[i]);
  return diff == 0;
}

}  // namespace envforge::server
