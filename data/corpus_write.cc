// Writes: runs, whole work items (one transaction each, idempotent) and audits.
//
// The work-item path is the corpus's hot loop (tens of rows per item): its
// statements are cached by address and bind text without copying it; ids are
// assembled canonical text.
#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "data/content_id.h"
#include "data/corpus.h"
#include "data/corpus_impl.h"
#include "data/item_prep.h"

namespace envforge::data {

namespace {

std::string json_text(const nlohmann::json& j) { return canonical_json(j); }

// Content-addressed blob: written once, referenced by digest.
void put_blob(Connection& c, std::string_view bytes, const std::string& digest) {
  RebindScope s(c.cached("INSERT OR IGNORE INTO blobs(sha256, bytes) VALUES (?, ?)"));
  s->bind_static(1, digest);
  s->bind_blob_static(2, bytes);
  s->run();
}

// A task's validations go in many rows per INSERT: one statement run for a
// task's dozen rows instead of one each (binding, opening and closing the
// table's and indexes' cursors, halting), a third of a work item's cost.
constexpr size_t kValidationRowsPerInsert = 32;
constexpr int kValidationColumns = 12;

// The INSERT of `rows` validation rows (1..kValidationRowsPerInsert). The
// texts live as long as the process, so Connection::cached finds each by its
// address. OR ROLLBACK, not the default ABORT: a multi-row statement that may
// abort alone keeps a statement journal (a copy of every page it changes);
// a conflict (impossible: the rows are checked first and the task row is new)
// would end the whole transaction instead.
const char* validations_insert_sql(size_t rows) {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> all;
    std::string sql =
        "INSERT OR ROLLBACK INTO validations(task_row, check_name, attempt, input_digest, expected_pass, "
        "verdict, score, reason, as_expected, started_at_ms, wall_ms, output_digest) VALUES ";
    for (size_t n = 1; n <= kValidationRowsPerInsert; ++n) {
      sql += n == 1 ? "(?,?,?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?,?,?)";
      all.push_back(sql);
    }
    return all;
  }();
  return texts.at(rows - 1).c_str();
}

// A repeated (check, attempt) of one task is a generator bug: the whole work
// item is refused.
void check_validations_unique(const Connection& c, const std::string& task_id,
                              const std::vector<ValidationRecord>& all) {
  std::vector<std::pair<std::string_view, int>> keys;
  keys.reserve(all.size());
  for (const ValidationRecord& v : all) keys.emplace_back(v.check, v.attempt);
  std::sort(keys.begin(), keys.end());
  auto repeated = std::adjacent_find(keys.begin(), keys.end());
  if (repeated != keys.end())
    throw CorpusError("corpus " + c.path() + ": task " + task_id + " has two validations of check '" +
                      std::string(repeated->first) + "' attempt " + std::to_string(repeated->second));
}

void write_validations(Connection& c, int64_t task_row, const std::vector<ValidationRecord>& all) {
  for (size_t from = 0; from < all.size(); from += kValidationRowsPerInsert) {
    size_t rows = std::min(kValidationRowsPerInsert, all.size() - from);
    RebindScope s(c.cached(validations_insert_sql(rows)));
    for (size_t i = 0; i < rows; ++i) {
      const ValidationRecord& v = all[from + i];
      const int at = static_cast<int>(i) * kValidationColumns;
      s->bind(at + 1, task_row);
      s->bind_static(at + 2, v.check);
      s->bind(at + 3, int64_t{v.attempt});
      s->bind_static(at + 4, v.input_digest);
      s->bind(at + 5, int64_t{v.expected_pass});
      s->bind_static(at + 6, v.verdict);
      s->bind(at + 7, v.score);
      s->bind_static(at + 8, v.reason);
      s->bind(at + 9, int64_t{v.as_expected});
      s->bind(at + 10, v.started_at_ms);
      s->bind(at + 11, v.wall_ms);
      s->bind_static(at + 12, v.output_digest);
    }
    s->run();
  }
}

void write_rollout(Connection& c, int64_t task_row, const RolloutRecord& r,
                   const PreparedRollout& p) {
  RebindScope s(c.cached(
      "INSERT OR IGNORE INTO rollouts(id, task_row, model, attempt, trajectory, reward, passed, "
      "prompt_tokens, completion_tokens, started_at_ms, wall_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
  s->bind_static(1, p.id);
  s->bind(2, task_row);
  s->bind_static(3, r.model);
  s->bind(4, int64_t{r.attempt});
  s->bind_static(5, p.trajectory);
  s->bind(6, r.reward);
  s->bind(7, int64_t{r.passed});
  s->bind(8, r.prompt_tokens);
  s->bind(9, r.completion_tokens);
  s->bind(10, r.started_at_ms);
  s->bind(11, r.wall_ms);
  s->run();
}

void write_task(Connection& c, const std::string& env_id, const std::string& category,
                const TaskRecord& t, const PreparedTask& p,
                std::unordered_set<std::string>& code_seen) {
  const CanonicalTask& canon = p.canon;
  // The same verify.py is shared by many tasks: store it once per transaction.
  if (code_seen.insert(canon.verifier_sha256).second)
    put_blob(c, t.verifier_code, canon.verifier_sha256);
  const std::string& hash = p.hash;
  const std::string& id = p.id;
  if (t.status == TaskStatus::kRejected && t.reject_reason.empty())
    throw CorpusError("corpus " + c.path() + ": rejected task " + id + " has no reject reason");
  {
    RebindScope s(c.cached(
        "INSERT OR IGNORE INTO tasks(id, environment_id, content_hash, difficulty, prompt, "
        "answer_schema, reference_solution, verifier_sha256, metadata, status, reject_reason, "
        "category) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"));
    s->bind_static(1, id);
    s->bind_static(2, env_id);
    s->bind_static(3, hash);
    s->bind(4, int64_t{t.difficulty});
    s->bind_static(5, t.prompt);
    s->bind_static(6, canon.answer_schema);
    s->bind_static(7, canon.reference_solution);
    s->bind_static(8, canon.verifier_sha256);
    s->bind_static(9, canon.metadata);
    s->bind_static(10, std::string_view(to_string(t.status)));
    s->bind_static(11, t.reject_reason);
    s->bind_static(12, category);
    s->run();
  }
  // An identical task already recorded (by a twin work item) brought its own
  // validations and rollouts.
  if (sqlite3_changes(c.raw()) == 0) return;
  int64_t row = sqlite3_last_insert_rowid(c.raw());
  check_validations_unique(c, id, t.validations);
  write_validations(c, row, t.validations);
  for (size_t i = 0; i < t.rollouts.size(); ++i) write_rollout(c, row, t.rollouts[i], p.rollouts[i]);
}

void write_environment(Connection& c, const EnvironmentRecord& e, const PreparedItem& p) {
  const CanonicalEnvironment& canon = *p.env;
  const std::string& id = p.env_id;
  put_blob(c, e.tools_code, canon.tools_code_sha256);
  put_blob(c, e.world_db, canon.world_db_sha256);
  RebindScope s(c.cached(
      "INSERT OR IGNORE INTO environments(id, category, seed, generator_name, generator_version, "
      "system_prompt, env_json, tools, tools_code_sha256, world_db_sha256, created_at_ms) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
  s->bind_static(1, id);
  s->bind_static(2, e.category);
  s->bind(3, static_cast<int64_t>(e.seed));  // bit pattern kept; read back as uint64
  s->bind_static(4, e.generator_name);
  s->bind_static(5, e.generator_version);
  s->bind_static(6, e.system_prompt);
  s->bind_static(7, canon.env_json);
  s->bind_static(8, canon.tools);
  s->bind_static(9, canon.tools_code_sha256);
  s->bind_static(10, canon.world_db_sha256);
  s->bind(11, e.created_at_ms ? e.created_at_ms : now_ms());
  s->run();
}

// The run a work item names must be recorded (looked up once per run and batch).
void check_run_known(Connection& c, const WorkItem& item, std::string& known_run) {
  if (item.run_id.empty() || item.run_id == known_run) return;
  if (!c.has_row("SELECT 1 FROM runs WHERE id = ?", item.run_id))
    throw CorpusError("corpus " + c.path() + ": work item " + item.key + " names run " + item.run_id +
                      ", which is not recorded (Corpus::begin_run makes it)");
  known_run = item.run_id;
}

// Writes item i inside the caller's transaction; false if already recorded.
bool write_item(Corpus::Impl& impl, ItemPreparer& prep, size_t i, const WorkItem& item,
                std::string& known_run) {
  Connection& c = *impl.conn;
  if (item.key.empty()) throw CorpusError("corpus " + c.path() + ": work item without a key");
  if (c.has_row("SELECT 1 FROM work_items WHERE key = ?", item.key)) return false;
  check_run_known(c, item, known_run);
  const PreparedItem& p = prep.get(i);
  write_environment(c, item.environment, p);
  const std::string& env_id = p.env_id;
  std::unordered_set<std::string> code_seen;
  for (size_t k = 0; k < item.tasks.size(); ++k)
    write_task(c, env_id, item.environment.category, item.tasks[k], p.tasks[k], code_seen);
  RebindScope s(c.cached(
      "INSERT INTO work_items(key, environment_id, run_id, task_count, recorded_at_ms) "
      "VALUES (?,?,?,?,?)"));
  s->bind_static(1, item.key);
  s->bind_static(2, env_id);
  if (item.run_id.empty())
    s->bind_null(3);
  else
    s->bind_static(3, item.run_id);
  s->bind(4, static_cast<int64_t>(item.tasks.size()));
  s->bind(5, now_ms());
  s->run();
  if (impl.options.before_commit) impl.options.before_commit(item.key);
  return true;
}

}  // namespace

std::string Corpus::begin_run(RunRecord run) {
  if (!run.started_at_ms) run.started_at_ms = now_ms();
  nlohmann::json j = {{"command", run.command},
                      {"config", run.config},
                      {"envforge_version", run.envforge_version},
                      {"git_revision", run.git_revision},
                      {"host", run.host},
                      {"shard_index", run.shard_index},
                      {"shard_count", run.shard_count},
                      {"started_at_ms", run.started_at_ms}};
  std::string id = run.id.empty() ? content_id(j) : run.id;
  Connection& c = *impl_->conn;
  WriteTransaction tx(c);
  StatementScope s(c.cached(
      "INSERT OR IGNORE INTO runs(id, command, config, envforge_version, git_revision, host, "
      "shard_index, shard_count, started_at_ms) VALUES (?,?,?,?,?,?,?,?,?)"));
  s->bind(1, id);
  s->bind(2, run.command);
  s->bind(3, json_text(run.config));
  s->bind(4, run.envforge_version);
  s->bind(5, run.git_revision);
  s->bind(6, run.host);
  s->bind(7, int64_t{run.shard_index});
  s->bind(8, int64_t{run.shard_count});
  s->bind(9, run.started_at_ms);
  s->run();
  tx.commit();
  return id;
}

void Corpus::end_run(const std::string& run_id, int64_t ended_at_ms,
                     const nlohmann::json& summary) {
  Connection& c = *impl_->conn;
  WriteTransaction tx(c);
  StatementScope s(c.cached("UPDATE runs SET ended_at_ms = ?, summary = ? WHERE id = ?"));
  s->bind(1, ended_at_ms ? ended_at_ms : now_ms());
  s->bind(2, json_text(summary));
  s->bind(3, run_id);
  s->run();
  if (sqlite3_changes(c.raw()) != 1)
    throw CorpusError("corpus " + c.path() + ": no run with id " + run_id);
  tx.commit();
}

bool Corpus::record_work_item(const WorkItem& item) {
  return record_work_items(std::span<const WorkItem>(&item, 1)) == 1;
}

size_t Corpus::record_work_items(std::span<const WorkItem> items, std::vector<bool>* added) {
  Connection& c = *impl_->conn;
  std::vector<bool> is_new(items.size(), false);
  WriteTransaction tx(c);
  try {
    // Canonical texts and ids of the next items are computed on a second
    // thread while this one writes (the preparer is stopped on any error).
    ItemPreparer prep(items, impl_->code_digests);
    std::string known_run;
    for (size_t i = 0; i < items.size(); ++i) is_new[i] = write_item(*impl_, prep, i, items[i], known_run);
  } catch (const std::invalid_argument& e) {  // e.g. JSON that has no canonical form
    throw CorpusError("corpus " + c.path() + ": work item rejected: " + e.what());
  }
  tx.commit();
  size_t count = static_cast<size_t>(std::count(is_new.begin(), is_new.end(), true));
  if (added) *added = std::move(is_new);
  return count;
}

void Corpus::record_audit(const AuditRecord& audit) {
  if (audit.task_id.empty() && audit.environment_id.empty())
    throw CorpusError("corpus " + impl_->path + ": an audit needs a task or an environment");
  AuditRecord a = audit;
  if (!a.created_at_ms) a.created_at_ms = now_ms();
  Connection& c = *impl_->conn;
  WriteTransaction tx(c);
  if (!a.task_id.empty() && !c.has_row("SELECT 1 FROM tasks WHERE id = ?", a.task_id))
    throw CorpusError("corpus " + c.path() + ": audit of unknown task '" + a.task_id + "'");
  if (!a.environment_id.empty() && !c.has_row("SELECT 1 FROM environments WHERE id = ?", a.environment_id))
    throw CorpusError("corpus " + c.path() + ": audit of unknown environment '" + a.environment_id + "'");
  StatementScope s(c.cached(
      "INSERT OR IGNORE INTO audits(id, task_id, environment_id, who, verdict, notes, "
      "created_at_ms) VALUES (?,?,?,?,?,?,?)"));
  s->bind(1, a.id.empty() ? audit_id(a) : a.id);
  s->bind_text_or_null(2, a.task_id);
  s->bind_text_or_null(3, a.environment_id);
  s->bind(4, a.who);
  s->bind(5, a.verdict);
  s->bind(6, a.notes);
  s->bind(7, a.created_at_ms);
  s->run();
  tx.commit();
}

}  // namespace envforge::data
