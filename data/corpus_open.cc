// Opening a corpus: inspect an existing file read-only, refuse anything that is
// not an envforge corpus this build understands, then open and migrate.
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "data/corpus.h"
#include "data/corpus_impl.h"
#include "data/schema.h"

namespace envforge::data {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

[[noreturn]] void refuse(const std::string& path, std::string why) {
  for (char& ch : why)
    if (ch == '\n') ch = ' ';  // SQLite reports may span lines; errors are one line
  throw CorpusError("corpus " + path + ": " + why + "; the file was not modified");
}

}  // namespace

Inspection inspect_existing(const std::string& path, const OpenOptions& options) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) refuse(path, std::string("cannot stat: ") + strerror(errno));
  if (S_ISDIR(st.st_mode)) refuse(path, "is a directory, not a corpus file");
  if (!S_ISREG(st.st_mode)) refuse(path, "is not a regular file");
  if (st.st_size == 0) return {.empty = true, .version = 0};

  Inspection result;
  try {
    // Nothing is created next to the file (see sqlite_read_only_uri). The header is read by
    // SQLite, never through a descriptor of our own: closing one would drop every POSIX lock
    // this process holds on the file, and a process with the corpus open (a server) would
    // then lose its WAL to the next process that closes it.
    Connection ro(path, SQLITE_OPEN_READONLY, sqlite_read_only_uri(path));
    ro.exec("PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms));
    // One read transaction, so that every answer below comes from one snapshot: another
    // process may be creating this corpus, and its migration must be seen whole or not at all.
    ro.exec("BEGIN");
    int64_t app_id = 0;
    try {
      app_id = ro.query_int("PRAGMA application_id");
    } catch (const CorpusError&) {
      if (sqlite3_errcode(ro.raw()) == SQLITE_NOTADB)
        refuse(path, "not an SQLite database, or its header is corrupt; is this the right file?");
      throw;
    }
    int64_t version = ro.query_int("PRAGMA user_version");
    int64_t objects = ro.query_int("SELECT count(*) FROM sqlite_master");
    if (app_id != kApplicationId) {
      if (app_id == 0 && version == 0 && objects == 0) return {.empty = true, .version = 0};
      std::string tables;
      Statement s(ro.raw(), "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name LIMIT 6",
                  ro.path());
      while (s.step()) tables += (tables.empty() ? "" : ", ") + s.text_at(0);
      refuse(path, "an SQLite database of another application (application_id " +
                       std::to_string(app_id) + ", tables: " + (tables.empty() ? "none" : tables) +
                       "), not an envforge corpus");
    }
    if (version > kSchemaVersion)
      refuse(path, "written by a newer envforge (schema version " + std::to_string(version) +
                       ", this build understands up to " + std::to_string(kSchemaVersion) + ")");
    if (version < 1) refuse(path, "marked as an envforge corpus but has no schema version");
    for (const auto& table : required_tables(static_cast<int>(version))) {
      Statement s(ro.raw(), "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", ro.path());
      s.bind(1, table);
      if (!s.step()) refuse(path, "damaged corpus: table '" + table + "' is missing");
    }
    if (options.check_integrity) {
      std::string verdict = ro.query_text("PRAGMA quick_check");
      if (verdict != "ok") refuse(path, "corrupt (integrity check: " + verdict + ")");
    }
    result.version = static_cast<int>(version);
    ro.exec("COMMIT");
  } catch (const CorpusError& e) {
    std::string msg = e.what();
    if (msg.find("was not modified") != std::string::npos) throw;
    refuse(path, "unreadable or corrupt SQLite file (" + msg + ")");
  }
  return result;
}

namespace {

// Switching a new file to WAL while another process creates the same corpus may answer
// SQLITE_BUSY at once, without waiting on the busy handler: retry within the busy timeout.
std::string switch_to_wal(Connection& conn, int busy_timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  for (;;) {
    try {
      return conn.query_text("PRAGMA journal_mode = WAL");
    } catch (const CorpusError&) {
      int code = sqlite3_errcode(conn.raw()) & 0xff;
      if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || std::chrono::steady_clock::now() >= deadline)
        throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

void configure(Connection& conn, const OpenOptions& options, bool writable) {
  conn.exec("PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms));
  // References are made right by the write paths themselves instead of being
  // looked up by SQLite for every row: a work item writes what its rows refer
  // to before them, and ids a caller names (a work item's run, an audit's task
  // or environment, a rollout's task) are looked up once. Per-row checks cost
  // a lookup per validation and force a statement journal on multi-row
  // inserts. (PRAGMA foreign_key_check still finds any broken reference.)
  conn.exec("PRAGMA foreign_keys = OFF");
  // The random-keyed indexes (content ids) of a large corpus must stay in
  // memory for bulk writes to be fast: 64 MiB of page cache.
  conn.exec("PRAGMA cache_size = -65536");
  if (!writable) return;
  // Larger pages for a new file: fewer WAL frames and system calls per work
  // item (takes effect only before the first table is created).
  if (conn.query_int("SELECT count(*) FROM sqlite_master") == 0) conn.exec("PRAGMA page_size = 16384");
  std::string mode = switch_to_wal(conn, options.busy_timeout_ms);
  if (mode != "wal")
    throw CorpusError("corpus " + conn.path() + ": cannot switch to WAL mode (got '" + mode + "')");
  // In WAL mode NORMAL keeps the file consistent on any crash. A commit is not
  // fsynced, but it is in the WAL in the operating system's cache once COMMIT
  // returns, so a process killed at any moment (SIGKILL) loses nothing that
  // was committed; only a power failure may lose the last commits.
  conn.exec("PRAGMA synchronous = NORMAL");
}

// The WAL is checkpointed by a WalCheckpointer, off the writer's path, and
// started over once it holds 64 MiB instead of SQLite's default of 1000
// pages: a batch of work items dirties most leaves of the random-keyed
// (content id) indexes, and the same leaves, rewritten by several batches,
// are then copied to the database (and fsynced) once instead of once per batch.
constexpr int64_t kWalRestartBytes = int64_t{64} << 20;

void migrate(Connection& conn, int* version) {
  // Re-read the version inside the write lock: another process may have
  // created or migrated the file since we inspected it.
  WriteTransaction tx(conn);
  int current = static_cast<int>(conn.query_int("PRAGMA user_version"));
  int64_t app_id = conn.query_int("PRAGMA application_id");
  if (current > kSchemaVersion)
    throw CorpusError("corpus " + conn.path() + ": written by a newer envforge (schema version " +
                      std::to_string(current) + ")");
  if (current != 0 && app_id != kApplicationId)
    throw CorpusError("corpus " + conn.path() + ": not an envforge corpus");
  if (current < kSchemaVersion) {
    apply_migrations(conn.raw(), conn.path(), current, kSchemaVersion);
    tx.commit();
  }
  *version = kSchemaVersion;
}

}  // namespace

Corpus Corpus::open(const std::string& path, const OpenOptions& options) {
  if (path.empty()) throw CorpusError("corpus: empty path");
  struct stat st{};
  bool exists = ::stat(path.c_str(), &st) == 0;
  Inspection inspection;
  if (exists) inspection = inspect_existing(path, options);
  if (options.read_only) {
    if (!exists) throw CorpusError("corpus " + path + ": no such file");
    if (inspection.empty) throw CorpusError("corpus " + path + ": empty file, not a corpus yet");
    if (inspection.version != kSchemaVersion)
      throw CorpusError("corpus " + path + ": schema version " +
                        std::to_string(inspection.version) + " needs migrating to " +
                        std::to_string(kSchemaVersion) + "; open it for writing once");
  }

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  int flags = options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  impl->conn = std::make_unique<Connection>(path, flags);
  configure(*impl->conn, options, !options.read_only);
  if (options.read_only)
    impl->version = inspection.version;
  else {
    migrate(*impl->conn, &impl->version);
    impl->checkpointer = std::make_unique<WalCheckpointer>(*impl->conn, kWalRestartBytes);
  }
  return Corpus(std::move(impl));
}

Corpus::Corpus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Corpus::Corpus(Corpus&&) noexcept = default;
Corpus& Corpus::operator=(Corpus&&) noexcept = default;
Corpus::~Corpus() = default;

const std::string& Corpus::path() const { return impl_->path; }
int Corpus::schema_version() const { return impl_->version; }

}  // namespace envforge::data
