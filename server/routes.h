// The HTTP routes of envforge serve, independent of the transport: a request's method, path,
// query and body in; a status and a JSON body out (through a callback, maybe on another thread).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/episodes.h"

namespace envforge::server {

struct HttpReply {
  int status = 200;
  nlohmann::json body;
};

using HttpDone = std::function<void(HttpReply)>;

// An error body: {"detail": message, "code": code}.
HttpReply http_error(int status, const std::string& code, const std::string& message);

// `target` is the request target (path and query). May block (corpus reads, environment loads):
// call it off the I/O threads.
void handle_route(EpisodeService& service, const std::string& method, const std::string& target,
                  const std::string& body, HttpDone done);

// The action/observation/state schemas of GET /schema.
nlohmann::json schema_json();

}  // namespace envforge::server
