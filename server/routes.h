// The HTTP routes of envforge serve, independent of the transport: a request's method, path,
// query and body in; a status and a JSON body out (through a callback, maybe on another thread).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/episodes.h"

namespace envforge::server {

struct HttpReply {
  HttpReply() = default;
  HttpReply(int s, nlohmann::json b) : status(s), body(std::move(b)) {}
  int status = 200;
  nlohmann::json body;
  std::string content_type;  // set: `raw` is the body as is (pages, assets, exports), not `body`
  std::string raw;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Who sent a request (the name of the token, "local" on loopback without tokens), its
// Content-Type and Host headers.
struct RequestInfo {
  std::string user;
  std::string content_type;
  std::string host;
};

using HttpDone = std::function<void(HttpReply)>;

// An error body: {"detail": message, "code": code}.
HttpReply http_error(int status, const std::string& code, const std::string& message);

// `target` is the request target (path and query). May block (corpus reads, environment loads):
// call it off the I/O threads.
void handle_route(EpisodeService& service, const std::string& method, const std::string& target,
                  const std::string& body, HttpDone done, const RequestInfo& info = {});

// The action/observation/state schemas of GET /schema.
nlohmann::json schema_json();

}  // namespace envforge::server
