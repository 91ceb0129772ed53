#include "server/mcp.h"

namespace envforge::server {

using nlohmann::json;

json rpc_error(const json& id, int code, const std::string& message, json data) {
  json err = {{"code", code}, {"message", message}};
  if (!data.is_null()) err["data"] = std::move(data);
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}};
}

namespace {

json rpc_result(const json& id, json result) { return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}; }

json failure_error(const json& id, const Failure& f) {
  const int c = f.code == code::kValidation ? rpc::kInvalidParams : rpc::kServerError;
  json data = f.extra.is_object() ? f.extra : json::object();
  data["code"] = f.code;
  return rpc_error(id, c, f.message, std::move(data));
}

// An observation of a call_tool/submit step as an MCP CallToolResult plus envforge's fields.
json call_result(const json& step) {
  const json& obs = step["observation"];
  const bool is_error = obs.contains("error") && !obs["error"].is_null();
  const json& value = is_error ? obs["error"] : obs["result"];
  json out = {{"content", {{{"type", "text"},
                            {"text", is_error ? value.value("message", std::string("error"))
                                              : (value.is_string() ? value.get<std::string>() : value.dump())}}}},
              {"structuredContent", is_error ? json(nullptr) : value},
              {"isError", is_error},
              {"reward", step["reward"]},
              {"done", step["done"]},
              {"step_count", obs.value("step_count", 0)}};
  if (is_error) out["error"] = value;
  if (obs.contains("components")) out["components"] = obs["components"];
  return out;
}

}  // namespace

void handle_mcp(EpisodeService& service, const json& req, const std::shared_ptr<Episode>& bound,
                std::function<void(json)> done) {
  if (!req.is_object()) return done(rpc_error(nullptr, rpc::kInvalidRequest, "the request must be a JSON object"));
  json id = req.contains("id") ? req["id"] : json(nullptr);
  if (!id.is_null() && !id.is_string() && !id.is_number_integer()) {
    return done(rpc_error(nullptr, rpc::kInvalidRequest, "id must be a string, an integer or null"));
  }
  if (req.value("jsonrpc", json()) != "2.0")
    return done(rpc_error(id, rpc::kInvalidRequest, "jsonrpc must be \"2.0\""));
  if (!req.contains("method") || !req["method"].is_string())
    return done(rpc_error(id, rpc::kInvalidRequest, "method must be a string"));
  const std::string method = req["method"].get<std::string>();
  json params = req.contains("params") && !req["params"].is_null() ? req["params"] : json::object();
  if (!params.is_object()) return done(rpc_error(id, rpc::kInvalidParams, "params must be an object"));

  if (method == "openenv/session/create") {
    if (bound) return done(rpc_result(id, {{"session_id", bound->session_id}}));
    auto started = service.start(params);
    if (auto* f = std::get_if<Failure>(&started)) return done(failure_error(id, *f));
    auto e = std::get<std::shared_ptr<Episode>>(started);
    return done(rpc_result(id, {{"session_id", e->session_id}, {"observation", service.reset_response(*e)}}));
  }
  std::shared_ptr<Episode> e = bound;
  if (!e) {
    auto sid = params.find("session_id");
    if (sid == params.end() || !sid->is_string())
      return done(rpc_error(id, rpc::kInvalidParams, "params.session_id is required (from openenv/session/create)"));
    e = service.find(sid->get<std::string>());
    // Closing is idempotent: a trainer releases an episode after its submit already ended it.
    if (!e && method == "openenv/session/close")
      return done(rpc_result(id, {{"session_id", *sid}, {"closed", true}, {"was_open", false}}));
    if (!e) return done(rpc_error(id, rpc::kInvalidParams, "unknown or finished session_id: " + sid->get<std::string>()));
  }
  if (method == "openenv/session/close") {
    if (bound) return done(rpc_error(id, rpc::kInvalidRequest, "close the WebSocket episode with a close message"));
    service.end(e, "close");
    return done(rpc_result(id, {{"session_id", e->session_id}, {"closed", true}}));
  }
  if (method == "tools/list") {
    json tools = json::array();
    for (auto& t : service.mcp_tools(*e))
      tools.push_back({{"name", t["name"]}, {"description", t["description"]}, {"inputSchema", t["input_schema"]}});
    return done(rpc_result(id, {{"tools", std::move(tools)}}));
  }
  if (method == "tools/call") {
    auto name = params.find("name");
    if (name == params.end() || !name->is_string())
      return done(rpc_error(id, rpc::kInvalidParams, "Missing 'name' in params"));
    json args = params.contains("arguments") && !params["arguments"].is_null() ? params["arguments"] : json::object();
    json action = {{"type", "call_tool"}, {"tool_name", *name}, {"arguments", std::move(args)}};
    return service.step(e, action, [id, done](EpisodeService::StepReply reply) {
      if (auto* f = std::get_if<Failure>(&reply)) return done(failure_error(id, *f));
      done(rpc_result(id, call_result(std::get<json>(reply))));
    });
  }
  done(rpc_error(id, rpc::kMethodNotFound, "unknown method '" + method + "' (tools/list, tools/call, "
                                           "openenv/session/create, openenv/session/close)"));
}

}  // namespace envforge::server
