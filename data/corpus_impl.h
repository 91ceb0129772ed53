// Internal state of a Corpus, shared by the open/write/read translation units.
#pragma once

#include <memory>
#include <string>

#include "data/content_id.h"
#include "data/corpus.h"
#include "data/sqlite_handle.h"
#include "data/wal_checkpointer.h"

namespace envforge::data {

struct Corpus::Impl {
  std::string path;
  OpenOptions options;
  int version = 0;
  std::unique_ptr<Connection> conn;
  DigestMemo code_digests;   // tools.py / verify.py digests shared across work items
  std::unique_ptr<WalCheckpointer> checkpointer;  // writable corpora; stopped before conn closes
};

int64_t now_ms();

// What an existing file holds, learnt without writing anything next to it.
struct Inspection {
  bool empty = false;   // zero bytes or an SQLite file with nothing in it
  int version = 0;      // its schema version (0 when empty)
};

// Refuses (CorpusError naming the file, "the file was not modified") anything
// that is not an envforge corpus this build can read or migrate: not SQLite,
// another application's database, a newer schema, missing tables, and with
// options.check_integrity a file that fails PRAGMA quick_check. Shared by
// Corpus::open and the input checks of a merge.
Inspection inspect_existing(const std::string& path, const OpenOptions& options);

// The counts every audit view starts from (tasks by status, level and category; rows of each
// table), read on `c` inside the caller's snapshot.
void count_corpus(Connection& c, AuditSummary& a);

}  // namespace envforge::data
