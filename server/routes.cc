#include "server/routes.h"

#include <cctype>
#include <map>
#include <memory>
#include <mutex>

#include "cli/version.h"
#include "server/audit_web/audit_web.h"
#include "server/mcp.h"

namespace envforge::server {

using nlohmann::json;

HttpReply http_error(int status, const std::string& code, const std::string& message) {
  return {status, {{"detail", message}, {"code", code}}};
}

namespace {

int status_of(const Failure& f) {
  if (f.code == code::kCapacity || f.code == code::kShuttingDown) return 503;
  if (f.code == code::kExecution) return 500;
  if (f.code == code::kEpisodeDone || f.code == code::kEpisodeExpired) return 409;
  return 422;
}

HttpReply failure_reply(const Failure& f) {
  HttpReply r = http_error(status_of(f), f.code, f.message);
  if (f.extra.is_object())
    for (auto& [k, v] : f.extra.items()) r.body[k] = v;
  return r;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(const std::string& q) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= q.size() && !q.empty()) {
    size_t amp = q.find('&', pos);
    std::string part = q.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      out[url_decode(part.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(part.substr(eq + 1));
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

bool parse_int(const std::string& s, int64_t& v) {
  try {
    size_t n = 0;
    v = std::stoll(s, &n);
    return n == s.size();
  } catch (...) {
    return false;
  }
}

void tasks_route(EpisodeService& service, const std::map<std::string, std::string>& q, HttpDone& done) {
  data::TaskFilter filter;
  filter.usable_only = true;
  int64_t offset = 0, limit = 100;
  for (const auto& [k, v] : q) {
    if (k == "category") {
      filter.category = v;
    } else if (k == "difficulty") {
      int64_t d;
      if (!parse_int(v, d)) return done(http_error(422, code::kValidation, "difficulty must be an integer"));
      if (d != 0) filter.difficulty = static_cast<int>(d);
    } else if (k == "usable_only") {
      if (v != "true" && v != "false" && v != "1" && v != "0")
        return done(http_error(422, code::kValidation, "usable_only must be true or false"));
      filter.usable_only = v == "true" || v == "1";
    } else if (k == "offset") {
      if (!parse_int(v, offset) || offset < 0) return done(http_error(422, code::kValidation, "offset must be an integer >= 0"));
    } else if (k == "limit") {
      if (!parse_int(v, limit) || limit < 1 || limit > 1000)
        return done(http_error(422, code::kValidation, "limit must be an integer from 1 to 1000"));
    } else {
      return done(http_error(422, code::kValidation,
                             "unknown query parameter '" + k + "' (category, difficulty, usable_only, offset, limit)"));
    }
  }
  int64_t total = 0;
  json rows = service.catalog().list(filter, offset, limit, total);
  json next = offset + limit < total ? json(offset + limit) : json(nullptr);
  done({200, {{"tasks", std::move(rows)}, {"total", total}, {"offset", offset}, {"limit", limit}, {"next_offset", next}}});
}

// OpenRLHF's remote reward: the answer is the response after the prompt, or what the last
// <answer>...</answer> holds.
std::string answer_text(const std::string& query, const std::string& prompt) {
  std::string text = !prompt.empty() && query.rfind(prompt, 0) == 0 ? query.substr(prompt.size()) : query;
  const size_t close = text.rfind("</answer>");
  if (close != std::string::npos) {
    const size_t open = text.rfind("<answer>", close);
    if (open != std::string::npos) text = text.substr(open + 8, close - open - 8);
  }
  const size_t b = text.find_first_not_of(" \t\r\n");
  const size_t e = text.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
}

std::string label_task_id(const json& label) {
  if (label.is_object()) return label.value("task_id", std::string());
  if (!label.is_string()) return {};
  const std::string s = label.get<std::string>();
  if (!s.empty() && s[0] == '{') {
    try {
      return json::parse(s).value("task_id", std::string());
    } catch (...) {
      return {};
    }
  }
  return s;
}

void get_reward_route(EpisodeService& service, const json& body, HttpDone done) {
  if (!body.is_object() || !body.contains("query") || !body["query"].is_array())
    return done(http_error(422, code::kValidation, "body must be {\"query\": [str], \"prompts\": [str], \"labels\": [str]}"));
  const json& query = body["query"];
  const json prompts = body.value("prompts", json::array());
  const json labels = body.value("labels", json::array());
  if (!prompts.is_array() || !labels.is_array() || labels.size() != query.size() ||
      (!prompts.empty() && prompts.size() != query.size()))
    return done(http_error(422, code::kValidation, "query, prompts and labels must be lists of the same length"));
  const size_t n = query.size();
  if (n > 4096) return done(http_error(422, code::kValidation, "at most 4096 samples per request"));
  struct Batch {
    std::mutex mu;
    size_t left;
    json rewards, pass, score, verdict;
    HttpDone done;
  };
  auto b = std::make_shared<Batch>();
  b->left = n;
  b->rewards = b->pass = b->score = b->verdict = json::array();
  for (size_t i = 0; i < n; ++i) {
    b->rewards.push_back(0.0);
    b->pass.push_back(0);
    b->score.push_back(0.0);
    b->verdict.push_back("error");
  }
  b->done = std::move(done);
  auto finish_one = [b](size_t i, double reward, int pass, double score, std::string verdict) {
    std::lock_guard lock(b->mu);
    b->rewards[i] = reward;
    b->pass[i] = pass;
    b->score[i] = score;
    b->verdict[i] = std::move(verdict);
    if (--b->left == 0)
      b->done({200, {{"rewards", b->rewards}, {"scores", b->rewards},
                     {"extra_logs", {{"pass", b->pass}, {"score", b->score}, {"verdict", b->verdict}}}}});
  };
  if (n == 0) return b->done({200, {{"rewards", json::array()}, {"scores", json::array()}, {"extra_logs", json::object()}}});
  for (size_t i = 0; i < n; ++i) {
    const std::string q = query[i].is_string() ? query[i].get<std::string>() : std::string();
    const std::string p = !prompts.empty() && prompts[i].is_string() ? prompts[i].get<std::string>() : std::string();
    const std::string task_id = label_task_id(labels[i]);
    if (task_id.empty() || !query[i].is_string()) {
      finish_one(i, 0.0, 0, 0.0, "error");
      continue;
    }
    service.verify(task_id, answer_text(q, p), [finish_one, i](std::variant<Verdict, Failure> r) {
      if (auto* v = std::get_if<Verdict>(&r))
        finish_one(i, v->reward, v->components["pass"].get<bool>() ? 1 : 0, v->components["score"].get<double>(),
                   v->components["verdict"].get<std::string>());
      else
        finish_one(i, 0.0, 0, 0.0, "error");
    });
  }
}

json metadata_json() {
  return {{"name", "envforge"},
          {"description", "Synthesized agentic environments: tools over a world database, tasks scored by "
                          "sandboxed verifiers. Reset with task_id or a seed and filters; call tools; submit."},
          {"version", kVersion},
          {"readme_content", nullptr},
          {"author", "envforge"},
          {"documentation_url", nullptr}};
}

}  // namespace

json schema_json() {
  json action = {
      {"title", "CallToolAction"},
      {"description", "Call a specific tool via MCP (the tool named \"submit\" gives the final answer)."},
      {"type", "object"},
      {"properties",
       {{"metadata", {{"type", "object"}, {"title", "Metadata"}, {"additionalProperties", true}}},
        {"type", {{"const", "call_tool"}, {"default", "call_tool"}, {"title", "Type"}, {"type", "string"}}},
        {"tool_name", {{"title", "Tool Name"}, {"type", "string"}, {"description", "Name of the tool to call"}}},
        {"arguments", {{"title", "Arguments"}, {"type", "object"}, {"additionalProperties", true}}}}},
      {"required", {"tool_name"}},
      {"additionalProperties", false}};
  json observation = {
      {"title", "EnvforgeObservation"},
      {"type", "object"},
      {"properties",
       {{"done", {{"type", "boolean"}, {"default", false}}},
        {"reward", {{"anyOf", {{{"type", "number"}}, {{"type", "null"}}}}, {"default", nullptr}}},
        {"episode_id", {{"type", "string"}}},
        {"task_id", {{"type", "string"}}},
        {"prompt", {{"type", "string"}}},
        {"messages", {{"type", "array"}, {"items", {{"type", "object"}}}}},
        {"tools", {{"type", "array"}, {"items", {{"type", "object"}}}}},
        {"tool_name", {{"anyOf", {{{"type", "string"}}, {{"type", "null"}}}}}},
        {"result", json::object()},
        {"error", {{"anyOf", {{{"type", "object"}}, {{"type", "null"}}}}}},
        {"components", {{"type", "object"}}},
        {"step_count", {{"type", "integer"}}}}}};
  json state = {{"title", "State"},
                {"type", "object"},
                {"properties",
                 {{"episode_id", {{"anyOf", {{{"type", "string"}}, {{"type", "null"}}}}}},
                  {"step_count", {{"type", "integer"}, {"minimum", 0}}}}},
                {"additionalProperties", true}};
  return {{"action", action}, {"observation", observation}, {"state", state}};
}

void handle_route(EpisodeService& service, const std::string& method, const std::string& target,
                  const std::string& body, HttpDone done, const RequestInfo& info) {
  const size_t qpos = target.find('?');
  const std::string path = target.substr(0, qpos);
  const std::string query = qpos == std::string::npos ? "" : target.substr(qpos + 1);
  auto allowed = [&](const char* m) {
    if (method == m) return true;
    done(http_error(405, "METHOD_NOT_ALLOWED", path + " takes " + m));
    return false;
  };
  auto parse_body = [&](json& out) {
    try {
      out = json::parse(body.empty() ? std::string("{}") : body);
      return true;
    } catch (const json::exception& e) {
      done(http_error(400, code::kInvalidJson, std::string("the request body is not JSON: ") + e.what()));
      return false;
    }
  };
  if (path == "/health") {
    if (allowed("GET")) done({200, {{"status", "healthy"}}});
  } else if (path == "/metadata") {
    if (allowed("GET")) done({200, metadata_json()});
  } else if (path == "/schema") {
    if (allowed("GET")) done({200, schema_json()});
  } else if (path == "/state") {
    if (allowed("GET")) done({200, service.state(nullptr)});
  } else if (path == "/stats") {
    if (allowed("GET")) done({200, service.stats()});
  } else if (path == "/tasks") {
    if (allowed("GET")) tasks_route(service, parse_query(query), done);
  } else if (path == "/reset") {
    json b;
    if (!allowed("POST") || !parse_body(b)) return;
    auto r = service.reset_stateless(b);
    if (auto* f = std::get_if<Failure>(&r)) return done(failure_reply(*f));
    done({200, std::get<json>(r)});
  } else if (path == "/step") {
    json b;
    if (!allowed("POST") || !parse_body(b)) return;
    if (!b.is_object() || !b.contains("action") || !b["action"].is_object())
      return done(http_error(422, code::kValidation, "body must be {\"action\": {...}, \"task_id\": str}"));
    if (!b.contains("task_id") || !b["task_id"].is_string())
      return done(http_error(422, code::kValidation,
                             "a stateless step needs \"task_id\": it runs against a fresh copy of that task's world"));
    auto started = service.start({{"task_id", b["task_id"]}, {"usable_only", false}}, false);
    if (auto* f = std::get_if<Failure>(&started)) return done(failure_reply(*f));
    auto e = std::get<std::shared_ptr<Episode>>(started);
    json action = b["action"];
    if (b.contains("timeout_s") && !action.contains("timeout_s")) action["timeout_s"] = b["timeout_s"];
    service.step(e, action, [&service, e, done](EpisodeService::StepReply reply) {
      service.end(e, "stateless");
      if (auto* f = std::get_if<Failure>(&reply)) return done(failure_reply(*f));
      done({200, std::get<json>(reply)});
    });
  } else if (path == "/mcp") {
    if (!allowed("POST")) return;
    json b;
    try {
      b = json::parse(body);
    } catch (const json::exception& e) {
      return done({200, rpc_error(nullptr, rpc::kParseError, std::string("Parse error: ") + e.what())});
    }
    handle_mcp(service, b, nullptr, [done](json r) { done({200, std::move(r)}); });
  } else if (path == "/verify") {
    json b;
    if (!allowed("POST") || !parse_body(b)) return;
    if (!b.is_object() || !b.contains("task_id") || !b["task_id"].is_string() || !b.contains("answer"))
      return done(http_error(422, code::kValidation, "body must be {\"task_id\": str, \"answer\": any}"));
    const std::string task_id = b["task_id"].get<std::string>();
    service.verify(task_id, b["answer"], [done, task_id](std::variant<Verdict, Failure> r) {
      if (auto* f = std::get_if<Failure>(&r)) return done(failure_reply(*f));
      const auto& v = std::get<Verdict>(r);
      done({200, {{"task_id", task_id}, {"reward", v.reward}, {"components", v.components}}});
    });
  } else if (path == "/get_reward") {
    json b;
    if (!allowed("POST") || !parse_body(b)) return;
    get_reward_route(service, b, std::move(done));
  } else if (is_audit_web_path(path)) {
    handle_audit_web(service, method, path, query, body, info, std::move(done));
  } else {
    done(http_error(404, "NOT_FOUND", "no route " + path));
  }
}

}  // namespace envforge::server
