// One task as a line of `envforge export` (JSONL) and as a row of the server's /tasks.
#pragma once

#include <nlohmann/json.hpp>

#include "data/corpus.h"

namespace envforge::data {

// The task with what a trainer needs of its environment; with_verifier adds verify.py's source.
nlohmann::json export_line(const ExportRow& row, bool with_verifier);

}  // namespace envforge::data
