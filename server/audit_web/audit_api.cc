// The JSON API of the audit web view (server/PROTOCOL.md, "Audit web view"). Every query
// parameter is untrusted: a bad value is a 400 that names the parameter.
#include "server/audit_web/audit_api.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "data/export/trainer_rows.h"

namespace envforge::server {

using nlohmann::json;

namespace {

constexpr int kMaxPage = 200;
constexpr size_t kMaxCell = 2000;
constexpr size_t kMaxNote = 4000;

struct BadParameter {
  std::string parameter;
  std::string message;
};

HttpReply bad_parameter(const BadParameter& b) {
  HttpReply r = http_error(400, "BAD_PARAMETER", b.parameter + ": " + b.message);
  r.body["parameter"] = b.parameter;
  return r;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string decode_component(const std::string& s, const std::string& what) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) throw BadParameter{what, "malformed percent-encoding"};
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Parameters of the query string; unknown or repeated names are errors.
std::map<std::string, std::string> query_params(const std::string& q, const std::set<std::string>& known) {
  std::map<std::string, std::string> out;
  if (q.size() > 8192) throw BadParameter{"query", "longer than 8192 bytes"};
  size_t pos = 0;
  while (pos < q.size()) {
    size_t amp = q.find('&', pos);
    if (amp == std::string::npos) amp = q.size();
    const std::string part = q.substr(pos, amp - pos);
    pos = amp + 1;
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    const std::string name = decode_component(part.substr(0, eq), "query");
    if (!known.count(name)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw BadParameter{name.size() > 64 ? name.substr(0, 64) + "..." : name, "unknown parameter (known: " + list + ")"};
    }
    if (out.count(name)) throw BadParameter{name, "given more than once"};
    out[name] = eq == std::string::npos ? "" : decode_component(part.substr(eq + 1), name);
  }
  return out;
}

int64_t int_param(const std::map<std::string, std::string>& q, const std::string& name, int64_t fallback, int64_t lo,
                  int64_t hi) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty()) return fallback;
  const std::string& s = it->second;
  int64_t v = 0;
  bool ok = !s.empty() && s.size() <= 18;
  for (char c : s) ok = ok && std::isdigit(static_cast<unsigned char>(c));
  if (ok) v = std::stoll(s);
  if (!ok || v < lo || v > hi)
    throw BadParameter{name, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not '" +
                                 s.substr(0, 40) + "'"};
  return v;
}

std::string text_param(const std::map<std::string, std::string>& q, const std::string& name, size_t max_len) {
  auto it = q.find(name);
  if (it == q.end()) return "";
  if (it->second.size() > max_len) throw BadParameter{name, "longer than " + std::to_string(max_len) + " bytes"};
  if (it->second.find('\0') != std::string::npos) throw BadParameter{name, "contains a NUL byte"};
  return it->second;
}

std::string choice_param(const std::map<std::string, std::string>& q, const std::string& name,
                         std::initializer_list<const char*> allowed) {
  const std::string v = text_param(q, name, 64);
  if (v.empty()) return v;
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return v;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw BadParameter{name, "must be one of " + list + ", not '" + v.substr(0, 40) + "'"};
}

double rate_of(const std::string& s, const std::string& name) {
  size_t n = 0;
  double v = -1;
  try {
    v = std::stod(s, &n);
  } catch (...) {
    n = 0;
  }
  if (n == 0 || n != s.size() || !std::isfinite(v) || v < 0 || v > 1)
    throw BadParameter{name, "a pass-rate band is none or LO-HI with 0 <= LO <= HI <= 1, e.g. 0-0.5"};
  return v;
}

const std::set<std::string> kFilterParams = {"category", "level", "status", "pass", "q", "hash", "audit"};

data::AuditTaskFilter task_filter(const std::map<std::string, std::string>& q) {
  data::AuditTaskFilter f;
  f.category = text_param(q, "category", 128);
  if (q.count("level") && !q.at("level").empty()) f.difficulty = static_cast<int>(int_param(q, "level", 0, 0, 1000));
  f.status = choice_param(q, "status", {"usable", "rejected"});
  const std::string pass = text_param(q, "pass", 64);
  if (pass == "none") {
    f.no_rollouts = true;
  } else if (!pass.empty()) {
    const size_t dash = pass.find('-');
    if (dash == std::string::npos) rate_of("", "pass");
    f.pass_min = rate_of(pass.substr(0, dash), "pass");
    f.pass_max = rate_of(pass.substr(dash + 1), "pass");
    if (*f.pass_min > *f.pass_max) throw BadParameter{"pass", "LO is above HI"};
  }
  f.text = text_param(q, "q", 256);
  f.content_hash = text_param(q, "hash", 128);
  for (char c : f.content_hash)
    if (!std::isxdigit(static_cast<unsigned char>(c))) throw BadParameter{"hash", "must be hexadecimal"};
  f.audit = choice_param(q, "audit", {"good", "bad", "none"});
  return f;
}

std::set<std::string> with(std::set<std::string> s, std::initializer_list<const char*> more) {
  for (const char* m : more) s.insert(m);
  return s;
}

json optional_rate(const std::optional<double>& r) { return r ? json(*r) : json(nullptr); }

json row_json(const data::AuditTaskRow& r) {
  return {{"row", r.row},           {"id", r.id},
          {"category", r.category}, {"level", r.difficulty},
          {"status", r.status},     {"reject_reason", r.reject_reason},
          {"prompt", r.prompt_head}, {"pass_rate", optional_rate(r.pass_rate)},
          {"rollouts", r.rollouts}, {"judgement", r.last_judgement.empty() ? json(nullptr) : json(r.last_judgement)}};
}

json audit_json(const data::AuditRecord& a) {
  return {{"id", a.id},     {"who", a.who},     {"verdict", a.verdict},
          {"notes", a.notes}, {"created_at_ms", a.created_at_ms}};
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

json overview_json(data::AuditStore& store) {
  const auto t0 = std::chrono::steady_clock::now();
  const data::AuditOverview o = store.overview();
  const auto& a = o.summary;
  json failures = json::array();
  for (const auto& [k, v] : a.validation_failures) failures.push_back({{"reason", k}, {"count", v}});
  std::sort(failures.begin(), failures.end(), [](const json& x, const json& y) { return x["count"] > y["count"]; });
  json dups = json::array();
  for (const auto& d : a.duplicates) dups.push_back({{"content_hash", d.content_hash}, {"count", d.count}});
  json hist = json::object();
  for (const auto& [level, bins] : o.pass_histograms) hist[std::to_string(level)] = bins;
  const auto& r = a.rollout_stats;
  return {{"environments", a.environments},
          {"tasks", a.tasks},
          {"usable", a.usable},
          {"rejected", a.rejected},
          {"validations", a.validations},
          {"validations_failed", a.validations_failed},
          {"rollouts", a.rollouts},
          {"audits", a.audits},
          {"by_category", data::counts_json(a.tasks_by_category)},
          {"by_level", data::counts_json(a.tasks_by_difficulty)},
          {"by_status", data::counts_json(a.tasks_by_status)},
          {"reject_reasons", data::counts_json(a.reject_reasons)},
          {"validation_failures", failures},
          {"duplicates", {{"groups", a.duplicate_groups}, {"top", dups}}},
          {"pass_rates",
           {{"tasks_with_rollouts", r.tasks},
            {"scored_tasks", r.scored_tasks},
            {"mean", r.scored_tasks ? json(r.mean_pass_rate) : json(nullptr)},
            {"histograms", hist},
            {"rollouts_by_model", data::counts_json(r.rollouts_by_model)}}},
          {"audits_by_verdict", data::counts_json(o.audits_by_verdict)},
          {"server_ms", ms_since(t0)}};
}

void tasks_api(data::AuditStore& store, const std::string& query, HttpDone& done) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto q = query_params(query, with(kFilterParams, {"after", "limit"}));
  const data::AuditTaskFilter f = task_filter(q);
  const int64_t after = int_param(q, "after", 0, 0, INT64_C(1) << 53);
  const int limit = static_cast<int>(int_param(q, "limit", 50, 1, kMaxPage));
  int64_t total = 0;
  const auto rows = store.list(f, after, limit + 1, total);  // one more tells whether a next page exists
  json out = json::array();
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) out.push_back(row_json(rows[i]));
  const json next = rows.size() > static_cast<size_t>(limit) ? json(rows[static_cast<size_t>(limit) - 1].row) : json(nullptr);
  done({200,
        {{"tasks", std::move(out)}, {"total", total}, {"after", after}, {"limit", limit}, {"next_after", next},
         {"server_ms", ms_since(t0)}}});
}

std::string csv_cell(const std::string& s) {
  std::string v = s;
  // A cell a spreadsheet would run as a formula is kept as text.
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) v = "'" + v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void export_api(data::AuditStore& store, const std::string& query, HttpDone& done) {
  const auto q = query_params(query, with(kFilterParams, {"format"}));
  const data::AuditTaskFilter f = task_filter(q);
  const std::string format = choice_param(q, "format", {"jsonl", "csv"});
  const bool csv = format == "csv";
  std::string out = csv ? "id,category,level,status,reject_reason,pass_rate,rollouts,judgement,prompt\r\n" : "";
  store.for_each(f, [&](const data::AuditTaskRow& r, const std::string& prompt) {
    if (csv) {
      out += csv_cell(r.id) + "," + csv_cell(r.category) + "," + std::to_string(r.difficulty) + "," +
             csv_cell(r.status) + "," + csv_cell(r.reject_reason) + "," +
             (r.pass_rate ? std::to_string(*r.pass_rate) : std::string()) + "," + std::to_string(r.rollouts) + "," +
             csv_cell(r.last_judgement) + "," + csv_cell(prompt) + "\r\n";
    } else {
      json j = row_json(r);
      j.erase("row");
      j["prompt"] = prompt;
      out += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    }
    return true;
  });
  HttpReply r;
  r.content_type = csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
  r.raw = std::move(out);
  r.headers = {{"Content-Disposition", std::string("attachment; filename=\"envforge-tasks.") + (csv ? "csv" : "jsonl") + "\""},
               {"X-Content-Type-Options", "nosniff"}};
  done(std::move(r));
}

json task_json(const data::AuditStore::TaskView& v) {
  const auto& t = v.task;
  json validations = json::array();
  for (const auto& x : t.validations)
    validations.push_back({{"check", x.check},
                           {"attempt", x.attempt},
                           {"expected", x.expected_pass ? "pass" : "fail"},
                           {"got", x.verdict},
                           {"score", x.score},
                           {"reason", x.reason},
                           {"as_expected", x.as_expected},
                           {"wall_ms", x.wall_ms}});
  json rollouts = json::array();
  for (const auto& r : t.rollouts) rollouts.push_back(data::exports::rollout_json(r));
  json audits = json::array();
  for (const auto& a : v.audits) audits.push_back(audit_json(a));
  json tools = json::array();
  for (const auto& tool : v.environment.tools) tools.push_back(tool.schema);
  return {{"task",
           {{"id", t.id},
            {"environment_id", t.environment_id},
            {"category", v.environment.category},
            {"level", t.difficulty},
            {"status", data::to_string(t.status)},
            {"reject_reason", t.reject_reason},
            {"content_hash", t.content_hash},
            {"prompt", t.prompt},
            {"answer_schema", t.answer_schema},
            {"reference_solution", t.reference_solution},
            {"verifier_code", t.verifier_code},
            {"metadata", t.metadata},
            {"pass_rate", optional_rate(v.pass_rate)}}},
          {"environment",
           {{"id", v.environment.id},
            {"system_prompt", v.environment.system_prompt},
            {"generator", v.environment.generator_name + " " + v.environment.generator_version},
            {"tools", tools},
            {"tools_code", v.environment.tools_code}}},
          {"validations", validations},
          {"rollouts", rollouts},
          {"audits", audits},
          {"world", {{"tables", v.world_tables}}}};
}

bool valid_task_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != ':') return false;
  return true;
}

bool is_json_content(const std::string& content_type) {
  const std::string base = content_type.substr(0, content_type.find(';'));
  std::string lower;
  for (char c : base)
    if (c != ' ') lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json";
}

void verdict_api(EpisodeService& service, data::AuditStore& store, const std::string& task_id, const std::string& body,
                 const RequestInfo& info, HttpDone& done) {
  // A browser sends a cross-site POST without a preflight only with a "simple" content type:
  // asking for JSON keeps other sites' pages from auditing through a local browser.
  if (!is_json_content(info.content_type))
    return done(http_error(415, "UNSUPPORTED_MEDIA_TYPE", "a verdict is a JSON body with Content-Type: application/json"));
  json b;
  try {
    b = json::parse(body);
  } catch (const json::exception& e) {
    return done(http_error(400, code::kInvalidJson, std::string("the request body is not JSON: ") + e.what()));
  }
  if (!b.is_object() || !b.contains("verdict") || !b["verdict"].is_string())
    return done(bad_parameter({"verdict", "the body must be {\"verdict\": \"good\"|\"bad\"|\"reject\"|\"restore\", \"note\": str}"}));
  const std::string verdict = b["verdict"].get<std::string>();
  if (verdict != data::kAuditGood && verdict != data::kAuditBad && verdict != data::kAuditReject &&
      verdict != data::kAuditRestore)
    return done(bad_parameter({"verdict", "must be good, bad, reject or restore"}));
  std::string note;
  if (b.contains("note") && !b["note"].is_null()) {
    if (!b["note"].is_string()) return done(bad_parameter({"note", "must be a string"}));
    note = b["note"].get<std::string>();
  }
  if (note.size() > kMaxNote) return done(bad_parameter({"note", "longer than " + std::to_string(kMaxNote) + " bytes"}));
  const bool blank = note.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank && (verdict == data::kAuditReject || verdict == data::kAuditRestore))
    return done(bad_parameter({"note", verdict + " needs a reason in note"}));
  if (info.user.empty()) return done(http_error(401, "UNAUTHORIZED", "a verdict needs an authenticated user"));
  const auto r = store.record_verdict(task_id, info.user, verdict, note);
  if (r.outcome == data::AuditVerdictResult::kNoTask) return done(http_error(404, "NOT_FOUND", r.message));
  if (r.outcome == data::AuditVerdictResult::kConflict) {
    HttpReply c = http_error(409, "CONFLICT", r.message);
    c.body["status"] = r.status;
    return done(std::move(c));
  }
  if (verdict == data::kAuditReject || verdict == data::kAuditRestore)
    service.catalog().set_usable(task_id, r.status == "usable");
  done({200, {{"audit", audit_json(r.audit)}, {"task_id", task_id}, {"status", r.status}, {"reject_reason", r.reject_reason}}});
}

void task_routes(EpisodeService& service, data::AuditStore& store, const std::string& method, const std::string& rest, const std::string& query,
                 const std::string& body, const RequestInfo& info, HttpDone& done) {
  const size_t slash = rest.find('/');
  const std::string id = decode_component(rest.substr(0, slash), "task id");
  const std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (!valid_task_id(id)) return done(bad_parameter({"task id", "must be 1 to 128 letters, digits or -_.:"}));
  if (sub.empty()) {
    if (method != "GET") return done(http_error(405, "METHOD_NOT_ALLOWED", "a task takes GET"));
    query_params(query, {});
    auto v = store.task(id);
    if (!v) return done(http_error(404, "NOT_FOUND", "no task " + id));
    return done({200, task_json(*v)});
  }
  if (sub == "world") {
    if (method != "GET") return done(http_error(405, "METHOD_NOT_ALLOWED", "world takes GET"));
    const auto q = query_params(query, {"table", "offset", "limit"});
    const std::string table = text_param(q, "table", 256);
    if (table.empty()) throw BadParameter{"table", "required: a table of the task's world database"};
    const int64_t offset = int_param(q, "offset", 0, 0, INT64_C(1) << 40);
    const int limit = static_cast<int>(int_param(q, "limit", 50, 1, kMaxPage));
    try {
      auto page = store.world_rows(id, table, offset, limit, kMaxCell);
      if (!page) return done(http_error(404, "NOT_FOUND", "no task " + id));
      return done({200, std::move(*page)});
    } catch (const std::invalid_argument& e) {
      throw BadParameter{"table", e.what()};
    }
  }
  if (sub == "verdict") {
    if (method != "POST") return done(http_error(405, "METHOD_NOT_ALLOWED", "verdict takes POST"));
    query_params(query, {});
    return verdict_api(service, store, id, body, info, done);
  }
  done(http_error(404, "NOT_FOUND", "no route /audit/api/task/" + rest));
}

}  // namespace

void handle_audit_api(EpisodeService& service, const std::string& method, const std::string& route, const std::string& query,
                      const std::string& body, const RequestInfo& info, HttpDone done) {
  try {
    AuditWeb& web = service.audit_web();
    auto get_only = [&] {
      if (method == "GET") return true;
      done(http_error(405, "METHOD_NOT_ALLOWED", "/audit/api/" + route + " takes GET"));
      return false;
    };
    if (route == "overview") {
      if (!get_only()) return;
      query_params(query, {});
      return done({200, overview_json(web.store)});
    }
    if (route == "whoami") {
      if (!get_only()) return;
      return done({200, {{"user", info.user}}});
    }
    if (route == "tasks") {
      if (!get_only()) return;
      return tasks_api(web.store, query, done);
    }
    if (route == "export") {
      if (!get_only()) return;
      return export_api(web.store, query, done);
    }
    if (route.rfind("task/", 0) == 0) return task_routes(service, web.store, method, route.substr(5), query, body, info, done);
    done(http_error(404, "NOT_FOUND", "no route /audit/api/" + route));
  } catch (const BadParameter& b) {
    done(bad_parameter(b));
  }
}

}  // namespace envforge::server
