// Helpers of the export tests: reading parquet back with hyparquet (an independent
// reader, installed by scripts/setup.sh from scripts/npm), running the envforge binary.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/data/test_util.h"

namespace envforge::exports_testing {

inline std::string hyparquet_dir() {
  return std::string(ENVFORGE_SOURCE_DIR) + "/scripts/npm/node_modules/hyparquet";
}

inline bool hyparquet_present() { return std::filesystem::exists(hyparquet_dir() + "/src/index.js"); }

#define SKIP_WITHOUT_HYPARQUET()                                                                            \
  if (!::envforge::exports_testing::hyparquet_present())                                                    \
  GTEST_SKIP() << ::envforge::exports_testing::hyparquet_dir()                                              \
               << " is missing: run scripts/setup.sh (npm ci --prefix scripts/npm)"

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command, stdout captured, stderr into `err_file` and returned.
inline Run run_command(const std::string& command, const std::string& err_file) {
  std::string cmd = command + " 2>" + err_file;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {};
  Run r;
  std::array<char, 65536> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = data::testing::read_bytes(err_file);
  return r;
}

// {num_rows, row_groups, rows_per_group, schema, columns, rows} as hyparquet reads the file;
// int64 beyond 2^53 come back as strings. Throws with hyparquet's error when it cannot.
inline nlohmann::json read_parquet(const std::string& path) {
  std::string script = std::string(ENVFORGE_SOURCE_DIR) + "/tests/export/read_parquet.mjs";
  Run r = run_command("node " + script + " '" + path + "' '" + hyparquet_dir() + "'", path + ".node-err");
  if (r.exit_code != 0) throw std::runtime_error("hyparquet could not read " + path + ": " + r.err);
  return nlohmann::json::parse(r.out);
}

}  // namespace envforge::exports_testing
