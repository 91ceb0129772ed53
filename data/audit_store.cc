#include "data/audit_store.h"

#include <algorithm>
#include <stdexcept>
#include <variant>

#include "data/content_id.h"
#include "data/corpus_impl.h"
#include "data/sqlite_handle.h"

namespace envforge::data {

namespace {

OpenOptions store_read_only() {
  OpenOptions o;
  o.read_only = true;
  return o;
}

// A task's pass rate as `envforge audit` defines it: the synth job's recorded rate, else the
// share of its rollouts that passed. `x` is the per-task aggregate of rollouts.
constexpr const char* kPassRateExpr =
    "coalesce(json_extract(t.metadata, '$.rollouts.pass_rate'), "
    "CASE WHEN json_type(t.metadata, '$.rollouts') IS NULL THEN x.rate END)";

// Builds "WHERE ..." from the active conditions only (so SQLite can use the task indexes);
// every value is a bound parameter.
struct FilterSql {
  std::string where;
  std::vector<std::variant<std::string, int64_t, double>> args;

  void add(const std::string& cond) { where += (where.empty() ? " WHERE " : " AND ") + cond; }
  template <typename T>
  void add(const std::string& cond, T v) {
    add(cond);
    args.emplace_back(v);
  }
  void bind(Statement& s, int first = 1) const {
    int i = first;
    for (const auto& a : args) {
      if (auto* t = std::get_if<std::string>(&a))
        s.bind(i++, *t);
      else if (auto* n = std::get_if<int64_t>(&a))
        s.bind(i++, *n);
      else
        s.bind(i++, std::get<double>(a));
    }
  }
};

constexpr const char* kLastJudgement =
    "(SELECT a.verdict FROM audits a WHERE a.task_id = t.id AND a.verdict IN ('good', 'bad') "
    "ORDER BY a.created_at_ms DESC, a.rowid DESC LIMIT 1)";

std::string like_pattern(const std::string& text) {
  std::string p = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') p += '\\';
    p += c;
  }
  return p + "%";
}

FilterSql filter_sql(const AuditTaskFilter& f) {
  FilterSql q;
  if (!f.category.empty()) q.add("t.category = ?", f.category);
  if (f.difficulty) q.add("t.difficulty = ?", int64_t{*f.difficulty});
  if (!f.status.empty()) q.add("t.status = ?", f.status);
  if (f.no_rollouts) q.add("p.task_row IS NULL");
  if (f.pass_min) q.add("p.rate >= ?", *f.pass_min);
  // A band's top is left out (bands tile [0, 1]), except 1 itself and a band of one value.
  if (f.pass_max) q.add(*f.pass_max >= 1.0 || f.pass_max == f.pass_min ? "p.rate <= ?" : "p.rate < ?", *f.pass_max);
  if (!f.text.empty()) q.add("t.prompt LIKE ? ESCAPE '\\'", like_pattern(f.text));
  if (!f.content_hash.empty()) q.add("t.content_hash = ?", f.content_hash);
  if (f.audit == "none") q.add(std::string(kLastJudgement) + " IS NULL");
  else if (!f.audit.empty()) q.add(std::string(kLastJudgement) + " = ?", f.audit);
  return q;
}

constexpr const char* kRowColumns =
    "SELECT t.row, t.id, t.environment_id, t.category, t.difficulty, t.status, t.reject_reason, "
    "substr(t.prompt, 1, 240), p.rate, coalesce(p.n, 0), ";

AuditTaskRow row_from(Statement& s) {
  AuditTaskRow r;
  r.row = s.int_at(0);
  r.id = s.text_at(1);
  r.environment_id = s.text_at(2);
  r.category = s.text_at(3);
  r.difficulty = static_cast<int>(s.int_at(4));
  r.status = s.text_at(5);
  r.reject_reason = s.text_at(6);
  r.prompt_head = s.text_at(7);
  if (!s.is_null(8)) r.pass_rate = s.double_at(8);
  r.rollouts = s.int_at(9);
  r.last_judgement = s.text_at(10);
  return r;
}

// A world database held in memory, read-only, with SQLite's defensive settings (the bytes
// come from a generator and are not trusted).
class MemoryWorld {
 public:
  explicit MemoryWorld(std::string bytes) : bytes_(std::move(bytes)) {
    if (sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
      throw CorpusError("cannot open an in-memory database for a world");
    sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
    sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, 1 << 24);
    auto* data = reinterpret_cast<unsigned char*>(bytes_.data());
    const auto n = static_cast<sqlite3_int64>(bytes_.size());
    if (sqlite3_deserialize(db_, "main", data, n, n, SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
      throw CorpusError(std::string("the world database cannot be read: ") + sqlite3_errmsg(db_));
  }
  ~MemoryWorld() { sqlite3_close(db_); }
  MemoryWorld(const MemoryWorld&) = delete;
  MemoryWorld& operator=(const MemoryWorld&) = delete;

  sqlite3* db() { return db_; }
  const std::string& name() const { return name_; }

 private:
  std::string bytes_;  // must outlive the connection (SQLite reads it in place)
  sqlite3* db_ = nullptr;
  std::string name_ = "world";
};

std::string quote_identifier(const std::string& name) {
  std::string q = "\"";
  for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

nlohmann::json world_tables_of(MemoryWorld& w) {
  nlohmann::json tables = nlohmann::json::array();
  std::vector<std::string> names;
  {
    Statement s(w.db(), "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                w.name());
    while (s.step()) names.push_back(s.text_at(0));
  }
  for (const auto& name : names) {
    nlohmann::json columns = nlohmann::json::array();
    int64_t rows = 0;
    try {
      Statement info(w.db(), "SELECT name, type FROM pragma_table_info(?)", w.name());
      info.bind(1, name);
      while (info.step()) columns.push_back({{"name", info.text_at(0)}, {"type", info.text_at(1)}});
      Statement count(w.db(), "SELECT count(*) FROM " + quote_identifier(name), w.name());
      if (count.step()) rows = count.int_at(0);
    } catch (const CorpusError&) {
      rows = -1;  // a table SQLite cannot read (e.g. a virtual table of a missing module)
    }
    tables.push_back({{"name", name}, {"rows", rows}, {"columns", columns}});
  }
  return tables;
}

}  // namespace

AuditStore::AuditStore(const std::string& corpus_path)
    : path_(corpus_path), corpus_(Corpus::open(corpus_path, store_read_only())) {
  conn_ = std::make_unique<Connection>(path_, SQLITE_OPEN_READWRITE);
  conn_->exec("PRAGMA busy_timeout = 30000");
  conn_->exec("PRAGMA foreign_keys = ON");
  conn_->exec("PRAGMA cache_size = -65536");
  conn_->exec(
      "CREATE TEMP TABLE pass_rates(task_row INTEGER PRIMARY KEY, rate REAL, n INTEGER NOT NULL);"
      "CREATE INDEX temp.pass_rates_rate ON pass_rates(rate)");
  std::lock_guard lock(mu_);
  refresh_pass_rates();
}

AuditStore::~AuditStore() = default;

void AuditStore::refresh_pass_rates() {
  const int64_t newest = conn_->query_int("SELECT coalesce(max(row), 0) FROM rollouts");
  if (newest == rollouts_seen_) return;
  // Only the tasks that got rollouts since the last look are aggregated again.
  const std::string sql =
      std::string("INSERT OR REPLACE INTO temp.pass_rates(task_row, rate, n) SELECT x.task_row, ") + kPassRateExpr +
      ", x.n FROM (SELECT task_row, avg(passed) AS rate, count(*) AS n FROM rollouts "
      "WHERE task_row IN (SELECT task_row FROM rollouts WHERE row > ?) GROUP BY task_row) x "
      "JOIN tasks t ON t.row = x.task_row";
  Statement s(conn_->raw(), sql, conn_->path());
  s.bind(1, std::max<int64_t>(rollouts_seen_, 0));
  s.run();
  Statement models(conn_->raw(), "SELECT model, count(*) FROM rollouts WHERE row > ? GROUP BY model", conn_->path());
  models.bind(1, std::max<int64_t>(rollouts_seen_, 0));
  while (models.step()) rollouts_by_model_[models.text_at(0)] += models.int_at(1);
  rollouts_seen_ = newest;
}

std::optional<double> AuditStore::pass_rate_of(int64_t task_row) {
  Statement s(conn_->raw(), "SELECT rate FROM temp.pass_rates WHERE task_row = ?", conn_->path());
  s.bind(1, task_row);
  if (s.step() && !s.is_null(0)) return s.double_at(0);
  return std::nullopt;
}

AuditOverview AuditStore::overview() {
  std::lock_guard lock(mu_);
  refresh_pass_rates();
  // data_version moves when another connection commits; this store's own writes count in writes_.
  const int64_t version = conn_->query_int("PRAGMA data_version");
  if (overview_ && version == overview_version_ && writes_ == overview_writes_) return *overview_;
  Connection& c = *conn_;
  auto each = [&](const char* sql, auto&& fn) {
    Statement s(c.raw(), sql, c.path());
    while (s.step()) fn(s);
  };
  AuditOverview o;
  AuditSummary& a = o.summary;
  c.exec("BEGIN");  // one snapshot for every count
  try {
    count_corpus(c, a);
    // Every reason once: the top 100 are listed, and the keep policy's share is summed from all.
    std::vector<std::pair<std::string, int64_t>> reasons;
    const std::string keep_prefix = kKeepPolicyReasonPrefix;
    each("SELECT reject_reason, count(*) FROM tasks WHERE status = 'rejected' GROUP BY reject_reason",
         [&](Statement& s) {
           reasons.emplace_back(s.text_at(0), s.int_at(1));
           if (reasons.back().first.rfind(keep_prefix, 0) == 0) a.rollout_stats.filtered += reasons.back().second;
         });
    std::sort(reasons.begin(), reasons.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    for (size_t i = 0; i < reasons.size() && i < 100; ++i) a.reject_reasons[reasons[i].first] = reasons[i].second;
    each("SELECT check_name, reason, count(*) AS n FROM validations WHERE as_expected = 0 "
         "GROUP BY check_name, reason ORDER BY n DESC LIMIT 100",
         [&](Statement& s) { a.validation_failures[s.text_at(0) + ": " + s.text_at(1)] = s.int_at(2); });
    each("SELECT content_hash, count(*) AS n FROM tasks GROUP BY content_hash HAVING n > 1", [&](Statement& s) {
      ++a.duplicate_groups;
      a.duplicates.push_back({s.text_at(0), s.int_at(1)});
    });
    std::sort(a.duplicates.begin(), a.duplicates.end(), [](const auto& x, const auto& y) {
      return x.count != y.count ? x.count > y.count : x.content_hash < y.content_hash;
    });
    if (a.duplicates.size() > 100) a.duplicates.resize(100);
    // Rollout figures from the pass-rate table (the definitions of `envforge audit`).
    auto& r = a.rollout_stats;
    double sum = 0;
    each("SELECT t.difficulty, min(9, CAST(p.rate * 10 AS INTEGER)), count(*), count(p.rate), sum(p.rate), "
         "sum(t.status = 'usable') FROM temp.pass_rates p JOIN tasks t ON t.row = p.task_row GROUP BY 1, 2",
         [&](Statement& s) {
           const int level = static_cast<int>(s.int_at(0));
           r.tasks += s.int_at(2);
           r.kept += s.int_at(5);
           if (s.is_null(1)) return;  // tasks whose rate is unknown
           const int64_t n = s.int_at(3);
           o.pass_histograms[level][static_cast<size_t>(std::clamp<int64_t>(s.int_at(1), 0, 9))] += n;
           r.scored_tasks += n;
           sum += s.double_at(4);
           auto& lv = r.by_difficulty[level];
           lv.second = (lv.second * static_cast<double>(lv.first) + s.double_at(4)) / static_cast<double>(lv.first + n);
           lv.first += n;
         });
    if (r.scored_tasks) r.mean_pass_rate = sum / static_cast<double>(r.scored_tasks);
    r.rollouts_by_model = rollouts_by_model_;
    each("SELECT verdict, count(*) FROM audits GROUP BY verdict",
         [&](Statement& s) { o.audits_by_verdict[s.text_at(0)] = s.int_at(1); });
  } catch (...) {
    sqlite3_exec(c.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  c.exec("COMMIT");
  overview_ = o;
  overview_version_ = version;
  overview_writes_ = writes_;
  return o;
}

std::vector<AuditTaskRow> AuditStore::list(const AuditTaskFilter& filter, int64_t after_row, int limit,
                                           int64_t& total) {
  std::lock_guard lock(mu_);
  refresh_pass_rates();
  Connection& c = *conn_;
  const FilterSql q = filter_sql(filter);
  const std::string from = " FROM tasks t LEFT JOIN temp.pass_rates p ON p.task_row = t.row";
  {
    Statement s(c.raw(), "SELECT count(*)" + from + q.where, c.path());
    q.bind(s);
    total = s.step() ? s.int_at(0) : 0;
  }
  FilterSql page = q;
  page.add("t.row > ?", after_row);
  Statement s(c.raw(), kRowColumns + std::string(kLastJudgement) + from + page.where + " ORDER BY t.row LIMIT ?",
              c.path());
  page.bind(s);
  s.bind(static_cast<int>(page.args.size()) + 1, int64_t{limit});
  std::vector<AuditTaskRow> rows;
  while (s.step()) rows.push_back(row_from(s));
  return rows;
}

void AuditStore::for_each(const AuditTaskFilter& filter,
                          const std::function<bool(const AuditTaskRow&, const std::string&)>& fn) {
  std::lock_guard lock(mu_);
  refresh_pass_rates();
  Connection& c = *conn_;
  const FilterSql q = filter_sql(filter);
  Statement s(c.raw(),
              kRowColumns + std::string(kLastJudgement) +
                  ", t.prompt FROM tasks t LEFT JOIN temp.pass_rates p ON p.task_row = t.row" + q.where +
                  " ORDER BY t.row",
              c.path());
  q.bind(s);
  while (s.step())
    if (!fn(row_from(s), s.text_at(11))) break;
}

std::optional<AuditStore::TaskView> AuditStore::task(const std::string& id) {
  std::lock_guard lock(mu_);
  refresh_pass_rates();
  auto t = corpus_.task(id, true);
  if (!t) return std::nullopt;
  TaskView v;
  v.task = std::move(*t);
  auto env = corpus_.environment(v.task.environment_id);
  if (env) {
    std::string world = std::move(env->world_db);
    env->world_db.clear();
    v.environment = std::move(*env);
    if (!world.empty()) {
      try {
        MemoryWorld w(std::move(world));
        v.world_tables = world_tables_of(w);
      } catch (const CorpusError& e) {
        v.world_tables = {{{"error", e.what()}}};
      }
    }
  }
  {
    Statement s(conn_->raw(), "SELECT row FROM tasks WHERE id = ?", conn_->path());
    s.bind(1, id);
    if (s.step()) v.pass_rate = pass_rate_of(s.int_at(0));
  }
  v.audits = corpus_.audits_of_task(id);
  return v;
}

std::optional<nlohmann::json> AuditStore::world_rows(const std::string& task_id, const std::string& table,
                                                     int64_t offset, int limit, size_t max_cell) {
  std::string bytes;
  {
    std::lock_guard lock(mu_);
    auto t = corpus_.task(task_id, false);
    if (!t) return std::nullopt;
    auto env = corpus_.environment(t->environment_id);
    if (!env) return std::nullopt;
    bytes = std::move(env->world_db);
  }
  if (bytes.empty()) throw std::invalid_argument("this task's environment has no world database");
  MemoryWorld w(std::move(bytes));
  const nlohmann::json tables = world_tables_of(w);
  const nlohmann::json* found = nullptr;
  for (const auto& t : tables)
    if (t.value("name", "") == table) found = &t;
  if (!found) throw std::invalid_argument("the world database has no table '" + table + "'");
  nlohmann::json columns = nlohmann::json::array();
  nlohmann::json rows = nlohmann::json::array();
  // Cells are read by their type (Statement reads text only).
  sqlite3_stmt* st = nullptr;
  const std::string sql = "SELECT * FROM " + quote_identifier(table) + " LIMIT ?1 OFFSET ?2";
  if (sqlite3_prepare_v2(w.db(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    throw CorpusError(std::string("world table ") + table + ": " + sqlite3_errmsg(w.db()));
  sqlite3_bind_int64(st, 1, limit);
  sqlite3_bind_int64(st, 2, offset);
  const int n = sqlite3_column_count(st);
  for (int i = 0; i < n; ++i) columns.push_back(sqlite3_column_name(st, i));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    nlohmann::json row = nlohmann::json::array();
    for (int i = 0; i < n; ++i) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL: row.push_back(nullptr); break;
        case SQLITE_INTEGER: row.push_back(sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT: row.push_back(sqlite3_column_double(st, i)); break;
        case SQLITE_BLOB:
          row.push_back({{"blob_bytes", sqlite3_column_bytes(st, i)}});
          break;
        default: {
          std::string text(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                           static_cast<size_t>(sqlite3_column_bytes(st, i)));
          if (text.size() > max_cell) {
            size_t cut = max_cell;
            while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
            row.push_back({{"text", text.substr(0, cut)}, {"truncated_from", text.size()}});
          } else {
            row.push_back(std::move(text));
          }
        }
      }
    }
    rows.push_back(std::move(row));
  }
  const std::string err = rc == SQLITE_DONE ? "" : sqlite3_errmsg(w.db());
  sqlite3_finalize(st);
  if (!err.empty()) throw CorpusError("world table " + table + ": " + err);
  return nlohmann::json{{"table", table}, {"columns", columns}, {"rows", rows}, {"offset", offset},
                        {"limit", limit}, {"total", found->value("rows", int64_t{0})}};
}

AuditVerdictResult AuditStore::record_verdict(const std::string& task_id, const std::string& who,
                                              const std::string& verdict, const std::string& note) {
  std::lock_guard lock(mu_);
  Connection& c = *conn_;
  AuditVerdictResult r;
  WriteTransaction tx(c);
  std::string env_id, status, reason;
  {
    Statement s(c.raw(), "SELECT environment_id, status, reject_reason FROM tasks WHERE id = ?", c.path());
    s.bind(1, task_id);
    if (!s.step()) {
      r.outcome = AuditVerdictResult::kNoTask;
      r.message = "no task " + task_id;
      return r;
    }
    env_id = s.text_at(0);
    status = s.text_at(1);
    reason = s.text_at(2);
  }
  std::string notes = note;
  if (verdict == kAuditReject || verdict == kAuditRestore) {
    const bool reject = verdict == kAuditReject;
    if (reject == (status == "rejected")) {
      r.outcome = AuditVerdictResult::kConflict;
      r.message = "task " + task_id + " is already " + status;
      r.status = status;
      r.reject_reason = reason;
      return r;
    }
    // A restore keeps the reason it undoes in the audit row: the history stays whole.
    if (!reject && !reason.empty()) notes += "\n(was rejected: " + reason + ")";
    status = reject ? "rejected" : "usable";
    reason = reject ? kAuditReasonPrefix + note : "";
    Statement s(c.raw(), "UPDATE tasks SET status = ?, reject_reason = ? WHERE id = ?", c.path());
    s.bind(1, status);
    s.bind(2, reason);
    s.bind(3, task_id);
    s.run();
  }
  AuditRecord a;
  a.task_id = task_id;
  a.environment_id = env_id;
  a.who = who;
  a.verdict = verdict;
  a.notes = notes;
  a.created_at_ms = last_ms_ = std::max(now_ms(), last_ms_ + 1);
  a.id = audit_id(a);
  Statement s(c.raw(),
              "INSERT INTO audits(id, task_id, environment_id, who, verdict, notes, created_at_ms) "
              "VALUES (?,?,?,?,?,?,?)",
              c.path());
  s.bind(1, a.id);
  s.bind(2, a.task_id);
  s.bind(3, a.environment_id);
  s.bind(4, a.who);
  s.bind(5, a.verdict);
  s.bind(6, a.notes);
  s.bind(7, a.created_at_ms);
  s.run();
  tx.commit();
  ++writes_;
  r.audit = std::move(a);
  r.status = status;
  r.reject_reason = reason;
  return r;
}

}  // namespace envforge::data
