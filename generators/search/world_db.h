// The world database of a search environment: documents with an FTS5 index (BM25 ranking)
// that tools.py searches, and the structured facts behind them for audits.
#pragma once

#include <string>

#include "generators/search/world.h"

namespace envforge::generators::search {

// The SQLite file image. Throws std::runtime_error when SQLite fails (or lacks FTS5).
std::string world_db_bytes(const World& world);

}  // namespace envforge::generators::search
