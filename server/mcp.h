// MCP's JSON-RPC 2.0 methods as OpenEnv serves them (tools/list, tools/call, and the
// openenv/session/create|close lifecycle of HTTP /mcp), on envforge episodes.
#pragma once

#include <functional>
#include <memory>

#include <nlohmann/json.hpp>

#include "server/episodes.h"

namespace envforge::server {

namespace rpc {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerError = -32000;
}  // namespace rpc

nlohmann::json rpc_error(const nlohmann::json& id, int code, const std::string& message,
                         nlohmann::json data = nullptr);

// Handles one JSON-RPC request. `bound` is the episode of a WebSocket connection (its MCP
// messages need no session_id); null on HTTP /mcp. `done` gets the response, maybe on another
// thread. May block (session/create loads an environment the first time).
void handle_mcp(EpisodeService& service, const nlohmann::json& request, const std::shared_ptr<Episode>& bound,
                std::function<void(nlohmann::json)> done);

}  // namespace envforge::server
