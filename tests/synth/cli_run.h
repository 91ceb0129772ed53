// Running the real envforge binary from the synth tests: captured output, exit code, a
// temporary directory, and a background run that can be killed.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "data/corpus.h"

namespace envforge::testing {

struct CliOutcome {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};

struct CliTempDir {
  CliTempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "envforge-synth-XXXXXX").string();
    path = mkdtemp(t.data());
    // Readable by the sandbox, which mounts world files from here.
    std::filesystem::permissions(path, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                           std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
  }
  ~CliTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

inline std::string slurp_file(const std::string& path) {
  std::string s;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) s.append(buf.data(), n);
    std::fclose(f);
  }
  return s;
}

inline void write_text_file(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

// `args` go through the shell; stderr is kept in the directory.
inline CliOutcome run_envforge(const std::string& args, const CliTempDir& dir) {
  const std::string err = dir.file("stderr.txt");
  const std::string cmd = std::string(ENVFORGE_BIN) + " " + args + " 2>" + err;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, "", ""};
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, slurp_file(err)};
}

// `envforge synth ARGS` in the background, output discarded.
inline pid_t spawn_synth(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    static std::string bin = ENVFORGE_BIN, sub = "synth";
    argv.push_back(bin.data());
    argv.push_back(sub.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!std::freopen("/dev/null", "w", stderr) || !std::freopen("/dev/null", "w", stdout)) _exit(126);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Every task of a corpus as "ENVIRONMENT_ID_PREFIX Llevel TASK_ID", in the export order
// (environment id, difficulty, task id): what must not change when the pipeline is reshaped.
inline std::vector<std::string> corpus_task_ids(const std::string& path) {
  data::OpenOptions read_only;
  read_only.read_only = true;
  data::Corpus c = data::Corpus::open(path, read_only);
  std::vector<std::string> ids;
  c.for_each_export_row({}, [&](const data::ExportRow& r) {
    ids.push_back(r.task.environment_id.substr(0, 16) + " L" + std::to_string(r.task.difficulty) + " " + r.task.id);
  });
  return ids;
}

}  // namespace envforge::testing
