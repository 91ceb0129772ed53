// The bearer-token rule of envforge's servers: with a token set, a request must carry
// "Authorization: Bearer <token>" (compared in constant time); without one, anything goes
// (the servers refuse to bind beyond loopback without a token).
#pragma once

#include <string>
#include <string_view>

namespace envforge::server {

bool bearer_token_matches(std::string_view authorization_header, const std::string& token);

}  // namespace envforge::server
