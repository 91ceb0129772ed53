// Internal state of a Corpus, shared by the open/write/read translation units.
#pragma once

#include <memory>
#include <string>

#include "data/content_id.h"
#include "data/corpus.h"
#include "data/sqlite_handle.h"

namespace envforge::data {

struct Corpus::Impl {
  std::string path;
  OpenOptions options;
  int version = 0;
  std::unique_ptr<Connection> conn;
  DigestMemo code_digests;   // tools.py / verify.py digests shared across work items
};

int64_t now_ms();

}  // namespace envforge::data
