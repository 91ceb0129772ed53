// Reads: lookups by id, work-item keys, audit statistics and the export stream.
#include <algorithm>

#include "data/content_id.h"
#include "data/corpus.h"
#include "data/corpus_impl.h"

namespace envforge::data {

namespace {

nlohmann::json parse_stored(const Connection& c, const std::string& text, const char* what,
                            const std::string& id) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw CorpusError("corpus " + c.path() + ": stored " + what + " of " + id +
                      " is not valid JSON: " + e.what());
  }
}

std::vector<ToolRecord> tools_from_json(const nlohmann::json& j) {
  std::vector<ToolRecord> tools;
  for (const auto& t : j) tools.push_back({t.value("name", ""), t.value("schema", nlohmann::json::object())});
  return tools;
}

// A consistent snapshot across several queries.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& c) : c_(c) {
    active_ = sqlite3_get_autocommit(c_.raw()) != 0;
    if (active_) c_.exec("BEGIN");
  }
  ~ReadTransaction() {
    if (active_) sqlite3_exec(c_.raw(), "COMMIT", nullptr, nullptr, nullptr);
  }

 private:
  Connection& c_;
  bool active_ = false;
};

constexpr const char* kTaskColumns =
    "t.id, t.environment_id, t.content_hash, t.difficulty, t.prompt, t.answer_schema, "
    "t.reference_solution, (SELECT bytes FROM blobs WHERE sha256 = t.verifier_sha256), "
    "t.metadata, t.status, t.reject_reason";

TaskRecord task_from_row(const Connection& c, Statement& s) {
  TaskRecord t;
  t.id = s.text_at(0);
  t.environment_id = s.text_at(1);
  t.content_hash = s.text_at(2);
  t.difficulty = static_cast<int>(s.int_at(3));
  t.prompt = s.text_at(4);
  t.answer_schema = parse_stored(c, s.text_at(5), "answer schema", t.id);
  t.reference_solution = parse_stored(c, s.text_at(6), "reference solution", t.id);
  t.verifier_code = s.text_at(7);
  t.metadata = parse_stored(c, s.text_at(8), "metadata", t.id);
  t.status = task_status_from_string(s.text_at(9)).value_or(TaskStatus::kRejected);
  t.reject_reason = s.text_at(10);
  return t;
}

void load_children(Connection& c, TaskRecord& t) {
  {
    StatementScope s(c.cached(
        "SELECT t.id, v.check_name, attempt, input_digest, expected_pass, verdict, score, "
        "reason, as_expected, started_at_ms, wall_ms, output_digest FROM validations v "
        "JOIN tasks t ON t.row = v.task_row WHERE t.id = ? ORDER BY v.check_name, v.attempt"));
    s->bind(1, t.id);
    while (s->step()) {
      ValidationRecord v;
      v.task_id = t.id;
      v.check = s->text_at(1);
      v.attempt = static_cast<int>(s->int_at(2));
      v.input_digest = s->text_at(3);
      v.expected_pass = s->int_at(4) != 0;
      v.verdict = s->text_at(5);
      v.score = s->double_at(6);
      v.reason = s->text_at(7);
      v.as_expected = s->int_at(8) != 0;
      v.started_at_ms = s->int_at(9);
      v.wall_ms = s->int_at(10);
      v.output_digest = s->text_at(11);
      v.id = validation_id(t.id, v);
      t.validations.push_back(std::move(v));
    }
  }
  StatementScope s(c.cached(
      "SELECT r.id, model, attempt, trajectory, reward, passed, prompt_tokens, completion_tokens, "
      "started_at_ms, wall_ms FROM rollouts r JOIN tasks t ON t.row = r.task_row WHERE t.id = ? "
      "ORDER BY model, attempt"));
  s->bind(1, t.id);
  while (s->step()) {
    RolloutRecord r;
    r.id = s->text_at(0);
    r.task_id = t.id;
    r.model = s->text_at(1);
    r.attempt = static_cast<int>(s->int_at(2));
    r.trajectory = parse_stored(c, s->text_at(3), "trajectory", r.id);
    r.reward = s->double_at(4);
    r.passed = s->int_at(5) != 0;
    r.prompt_tokens = s->int_at(6);
    r.completion_tokens = s->int_at(7);
    r.started_at_ms = s->int_at(8);
    r.wall_ms = s->int_at(9);
    t.rollouts.push_back(std::move(r));
  }
}

}  // namespace

bool Corpus::has_work_item(const std::string& key) const {
  return impl_->conn->has_row("SELECT 1 FROM work_items WHERE key = ?", key);
}

std::optional<std::string> Corpus::work_item_run(const std::string& key) const {
  StatementScope s(impl_->conn->cached("SELECT run_id FROM work_items WHERE key = ?"));
  s->bind(1, key);
  if (!s->step()) return std::nullopt;
  return s->is_null(0) ? std::string() : s->text_at(0);
}

std::vector<std::string> Corpus::work_item_keys() const {
  std::vector<std::string> keys;
  StatementScope s(impl_->conn->cached("SELECT key FROM work_items ORDER BY key"));
  while (s->step()) keys.push_back(s->text_at(0));
  return keys;
}

std::optional<RunRecord> Corpus::run(const std::string& id) const {
  Connection& c = *impl_->conn;
  StatementScope s(c.cached(
      "SELECT command, config, envforge_version, git_revision, host, shard_index, shard_count, "
      "started_at_ms, ended_at_ms, summary FROM runs WHERE id = ?"));
  s->bind(1, id);
  if (!s->step()) return std::nullopt;
  RunRecord r;
  r.id = id;
  r.command = s->text_at(0);
  r.config = parse_stored(c, s->text_at(1), "config", id);
  r.envforge_version = s->text_at(2);
  r.git_revision = s->text_at(3);
  r.host = s->text_at(4);
  r.shard_index = static_cast<int>(s->int_at(5));
  r.shard_count = static_cast<int>(s->int_at(6));
  r.started_at_ms = s->int_at(7);
  r.ended_at_ms = s->is_null(8) ? 0 : s->int_at(8);
  if (!s->is_null(9)) r.summary = parse_stored(c, s->text_at(9), "summary", id);
  return r;
}

std::optional<EnvironmentRecord> Corpus::environment(const std::string& id) const {
  Connection& c = *impl_->conn;
  StatementScope s(c.cached(
      "SELECT category, seed, generator_name, generator_version, system_prompt, env_json, tools, "
      "(SELECT bytes FROM blobs WHERE sha256 = tools_code_sha256), "
      "(SELECT bytes FROM blobs WHERE sha256 = world_db_sha256), created_at_ms "
      "FROM environments WHERE id = ?"));
  s->bind(1, id);
  if (!s->step()) return std::nullopt;
  EnvironmentRecord e;
  e.id = id;
  e.category = s->text_at(0);
  e.seed = static_cast<uint64_t>(s->int_at(1));
  e.generator_name = s->text_at(2);
  e.generator_version = s->text_at(3);
  e.system_prompt = s->text_at(4);
  e.env_json = parse_stored(c, s->text_at(5), "env.json", id);
  e.tools = tools_from_json(parse_stored(c, s->text_at(6), "tools", id));
  e.tools_code = s->text_at(7);
  e.world_db = s->text_at(8);
  e.created_at_ms = s->int_at(9);
  return e;
}

std::optional<TaskRecord> Corpus::task(const std::string& id, bool with_children) const {
  Connection& c = *impl_->conn;
  static const std::string sql = std::string("SELECT ") + kTaskColumns + " FROM tasks t WHERE t.id = ?";
  std::optional<TaskRecord> t;
  {
    StatementScope s(c.cached(sql.c_str()));
    s->bind(1, id);
    if (!s->step()) return std::nullopt;
    t = task_from_row(c, *s);
  }
  if (with_children) load_children(c, *t);
  return t;
}

std::vector<TaskRecord> Corpus::tasks_of(const std::string& environment_id) const {
  Connection& c = *impl_->conn;
  static const std::string sql = std::string("SELECT ") + kTaskColumns +
                                 " FROM tasks t WHERE t.environment_id = ? ORDER BY t.difficulty, t.id";
  std::vector<TaskRecord> out;
  StatementScope s(c.cached(sql.c_str()));
  s->bind(1, environment_id);
  while (s->step()) out.push_back(task_from_row(c, *s));
  return out;
}

std::vector<AuditRecord> Corpus::audits_of_task(const std::string& task_id) const {
  std::vector<AuditRecord> out;
  StatementScope s(impl_->conn->cached(
      "SELECT id, task_id, environment_id, who, verdict, notes, created_at_ms FROM audits "
      "WHERE task_id = ? ORDER BY created_at_ms, id"));
  s->bind(1, task_id);
  while (s->step())
    out.push_back({s->text_at(0), s->text_at(1), s->text_at(2), s->text_at(3), s->text_at(4),
                   s->text_at(5), s->int_at(6)});
  return out;
}

namespace {

constexpr const char* kFilterWhere =
    " WHERE (?1 = 0 OR t.status = 'usable') AND (?2 = '' OR e.category = ?2) "
    "AND (?3 IS NULL OR t.difficulty = ?3)";

void bind_filter(Statement& s, const TaskFilter& f) {
  s.bind(1, int64_t{f.usable_only});
  s.bind(2, f.category);
  if (f.difficulty)
    s.bind(3, int64_t{*f.difficulty});
  else
    s.bind_null(3);
}

}  // namespace

int64_t Corpus::count_tasks(const TaskFilter& filter) const {
  static const std::string sql =
      std::string("SELECT count(*) FROM tasks t JOIN environments e ON e.id = t.environment_id") +
      kFilterWhere;
  StatementScope s(impl_->conn->cached(sql.c_str()));
  bind_filter(*s, filter);
  return s->step() ? s->int_at(0) : 0;
}

void Corpus::for_each_export_row(const TaskFilter& filter,
                                 const std::function<void(const ExportRow&)>& fn) const {
  Connection& c = *impl_->conn;
  static const std::string sql =
      std::string("SELECT ") + kTaskColumns +
      ", e.category, e.system_prompt, e.tools, e.seed, e.generator_name, e.generator_version "
      "FROM tasks t JOIN environments e ON e.id = t.environment_id" + kFilterWhere +
      " ORDER BY t.environment_id, t.difficulty, t.id";
  ReadTransaction snapshot(c);
  Statement s(c.raw(), sql, c.path());  // not cached: fn may call back into the corpus
  bind_filter(s, filter);
  ExportRow row;
  std::string tools_env;  // tools are parsed once per environment
  while (s.step()) {
    row.task = task_from_row(c, s);
    row.category = s.text_at(11);
    row.system_prompt = s.text_at(12);
    if (row.task.environment_id != tools_env) {
      row.tools = tools_from_json(parse_stored(c, s.text_at(13), "tools", row.task.environment_id));
      tools_env = row.task.environment_id;
    }
    row.seed = static_cast<uint64_t>(s.int_at(14));
    row.generator_name = s.text_at(15);
    row.generator_version = s.text_at(16);
    fn(row);
  }
}

namespace {

// Reads only tasks that have rollouts (through the rollouts index), so a corpus without
// rollouts costs nothing here.
void rollout_stats(Connection& c, AuditSummary::RolloutStats& r) {
  auto each = [&](const char* sql, auto&& fn) {
    Statement s(c.raw(), sql, c.path());
    while (s.step()) fn(s);
  };
  each("SELECT model, count(*) FROM rollouts GROUP BY model",
       [&](Statement& s) { r.rollouts_by_model[s.text_at(0)] = s.int_at(1); });
  if (r.rollouts_by_model.empty()) return;
  double sum = 0;
  std::map<int, double> level_sum;
  each("SELECT t.difficulty, t.status, coalesce(json_extract(t.metadata, '$.rollouts.pass_rate'), "
       "CASE WHEN json_type(t.metadata, '$.rollouts') IS NULL THEN x.rate END) "
       "FROM (SELECT task_row, avg(passed) AS rate FROM rollouts GROUP BY task_row) x "
       "JOIN tasks t ON t.row = x.task_row",
       [&](Statement& s) {
         ++r.tasks;
         if (s.text_at(1) == "usable") ++r.kept;
         if (s.is_null(2)) return;
         const int level = static_cast<int>(s.int_at(0));
         const double rate = s.double_at(2);
         ++r.scored_tasks;
         sum += rate;
         ++r.by_difficulty[level].first;
         level_sum[level] += rate;
       });
  if (r.scored_tasks) r.mean_pass_rate = sum / static_cast<double>(r.scored_tasks);
  for (auto& [level, v] : r.by_difficulty) v.second = level_sum[level] / static_cast<double>(v.first);
  const std::string sql = std::string("SELECT count(*) FROM tasks WHERE status = 'rejected' AND "
                                      "substr(reject_reason, 1, ") +
                          std::to_string(std::string(kKeepPolicyReasonPrefix).size()) + ") = '" +
                          kKeepPolicyReasonPrefix + "'";
  r.filtered = c.query_int(sql.c_str());
}

}  // namespace

void count_corpus(Connection& c, AuditSummary& a) {
  a.environments = c.query_int("SELECT count(*) FROM environments");
  a.validations = c.query_int("SELECT count(*) FROM validations");
  a.validations_failed = c.query_int("SELECT count(*) FROM validations WHERE as_expected = 0");
  a.rollouts = c.query_int("SELECT count(*) FROM rollouts");
  a.runs = c.query_int("SELECT count(*) FROM runs");
  a.audits = c.query_int("SELECT count(*) FROM audits");
  // Status and difficulty from one ordered scan of their index (no temporary b-tree).
  Statement by_status(c.raw(), "SELECT status, difficulty, count(*) FROM tasks GROUP BY status, difficulty", c.path());
  while (by_status.step()) {
    a.tasks_by_status[by_status.text_at(0)] += by_status.int_at(2);
    a.tasks_by_difficulty[static_cast<int>(by_status.int_at(1))] += by_status.int_at(2);
    a.tasks += by_status.int_at(2);
  }
  a.usable = a.tasks_by_status.count("usable") ? a.tasks_by_status["usable"] : 0;
  a.rejected = a.tasks_by_status.count("rejected") ? a.tasks_by_status["rejected"] : 0;
  Statement by_category(c.raw(), "SELECT category, count(*) FROM tasks GROUP BY category", c.path());
  while (by_category.step()) a.tasks_by_category[by_category.text_at(0)] = by_category.int_at(1);
}

AuditSummary Corpus::audit_summary() const {
  Connection& c = *impl_->conn;
  ReadTransaction snapshot(c);
  AuditSummary a;
  count_corpus(c, a);
  auto each = [&](const char* sql, auto&& fn) {
    Statement s(c.raw(), sql, c.path());
    while (s.step()) fn(s);
  };
  each("SELECT category, count(*) FROM environments GROUP BY category",
       [&](Statement& s) { a.environments_by_category[s.text_at(0)] = s.int_at(1); });
  each("SELECT reject_reason, count(*) AS n FROM tasks WHERE status = 'rejected' "
       "GROUP BY reject_reason ORDER BY n DESC LIMIT 100",
       [&](Statement& s) { a.reject_reasons[s.text_at(0)] = s.int_at(1); });
  each("SELECT check_name, reason, count(*) AS n FROM validations WHERE as_expected = 0 "
       "GROUP BY check_name, reason ORDER BY n DESC LIMIT 100",
       [&](Statement& s) { a.validation_failures[s.text_at(0) + ": " + s.text_at(1)] = s.int_at(2); });
  // One pass over the content-hash index: count every group, keep the largest.
  each("SELECT content_hash, count(*) AS n FROM tasks GROUP BY content_hash HAVING n > 1",
       [&](Statement& s) {
         ++a.duplicate_groups;
         a.duplicates.push_back({s.text_at(0), s.int_at(1)});
       });
  std::sort(a.duplicates.begin(), a.duplicates.end(), [](const auto& x, const auto& y) {
    return x.count != y.count ? x.count > y.count : x.content_hash < y.content_hash;
  });
  if (a.duplicates.size() > 100) a.duplicates.resize(100);
  rollout_stats(c, a.rollout_stats);
  return a;
}

}  // namespace envforge::data
