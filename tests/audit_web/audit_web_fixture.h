// A small corpus for the audit web view: two environments (categories "trip" and "search")
// with a world database, tasks on three levels, one rejected, one duplicated across the two
// environments, one whose prompt is hostile HTML, validations (one not as expected) and
// rollouts whose trajectories call tools.
#pragma once

#include <sqlite3.h>

#include <string>

#include "tests/server/serve_fixture.h"

namespace envforge::testing {

inline constexpr const char* kHostilePrompt =
    "Find the cheapest hotel. <script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\"> & report";

inline std::string audit_world_bytes(const std::string& dir) {
  return world_bytes(dir,
               "CREATE TABLE hotels(id INTEGER PRIMARY KEY, name TEXT, city TEXT, price REAL, photo BLOB);"
               "CREATE TABLE \"odd \"\"name\"(note TEXT);"
               "INSERT INTO \"odd \"\"name\" VALUES ('<b>bold?</b>');"
               "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120) "
               "INSERT INTO hotels(name, city, price, photo) SELECT 'Hotel ' || i, CASE i % 3 WHEN 0 THEN 'Lyon' "
               "WHEN 1 THEN 'Paris' ELSE 'Nice' END, 50 + i, randomblob(16) FROM n;"
               "UPDATE hotels SET name = 'Long ' || printf('%.5000c', 'x') WHERE id = 1;");
}

inline data::RolloutRecord audit_rollout(const std::string& prompt, int attempt, bool passed) {
  data::RolloutRecord r;
  r.model = "scripted-solver";
  r.attempt = attempt;
  r.passed = passed;
  r.reward = passed ? 1.0 : 0.0;
  r.prompt_tokens = 120;
  r.completion_tokens = 30;
  r.wall_ms = 900;
  r.trajectory = json::array(
      {{{"role", "system"}, {"content", "You plan trips."}},
       {{"role", "user"}, {"content", prompt}},
       {{"role", "assistant"},
        {"content", ""},
        {"tool_calls",
         {{{"id", "call_1"}, {"type", "function"},
           {"function", {{"name", "search_hotels"}, {"arguments", "{\"city\": \"Lyon\"}"}}}}}}},
       {{"role", "tool"}, {"tool_call_id", "call_1"}, {"name", "search_hotels"},
        {"content", "[{\"name\": \"Hotel 3\", \"price\": 53}]"}},
       {{"role", "assistant"}, {"content", passed ? "The answer is Hotel 3." : "No idea."}}});
  return r;
}

inline void make_audit_corpus(const std::string& path, const std::string& scratch) {
  data::Corpus c = data::Corpus::open(path);
  const std::string world = audit_world_bytes(scratch);
  for (int e = 0; e < 2; ++e) {
    data::WorkItem item;
    item.key = "audit-env-" + std::to_string(e);
    auto& env = item.environment;
    env.category = e == 0 ? "trip" : "search";
    env.seed = static_cast<uint64_t>(e);
    env.generator_name = "audit-test";
    env.generator_version = "1";
    env.system_prompt = "You plan trips.";
    env.tools_code = "def search_hotels(city):\n    return []\n";
    env.world_db = world;
    env.tools = {{"search_hotels", tool_schema("search_hotels", {{"city", {{"type", "string"}}}}, {"city"})}};
    for (int level = 1; level <= 3; ++level) {
      data::TaskRecord t;
      t.difficulty = level;
      t.prompt = (e == 0 && level == 1) ? std::string(kHostilePrompt)
                                        : env.category + " task of level " + std::to_string(level) + " in world " +
                                              std::to_string(e);
      t.answer_schema = {{"type", "string"}};
      t.reference_solution = "Hotel 3";
      t.verifier_code = "def verify(answer, world, task):\n    return {'pass': answer == 'Hotel 3', 'score': 1.0, 'reason': 'ok'}\n";
      t.metadata = {{"task", {{"expected", "Hotel 3"}}}};
      if (level == 3) {
        t.status = data::TaskStatus::kRejected;
        t.reject_reason = "negative:wrong_city passed";
      }
      for (int v = 0; v < 3; ++v) {
        data::ValidationRecord val;
        val.check = v == 0 ? "reference" : "negative:wrong_city";
        val.attempt = v;
        val.expected_pass = v == 0;
        val.as_expected = !(level == 3 && v == 1);
        val.verdict = val.expected_pass == val.as_expected ? "pass" : "fail";
        val.score = val.verdict == "pass" ? 1.0 : 0.0;
        val.reason = val.as_expected ? "as expected" : "wrong city accepted";
        val.input_digest = val.output_digest = std::string(64, 'a');
        val.wall_ms = 12;
        t.validations.push_back(val);
      }
      // Level 1: 3 of 4 rollouts pass (0.75); level 2: none passes (0); level 3: no rollouts.
      if (level < 3)
        for (int a = 0; a < 4; ++a) t.rollouts.push_back(audit_rollout(t.prompt, a, level == 1 && a < 3));
      item.tasks.push_back(std::move(t));
    }
    // The same task in both environments: one duplicate group.
    data::TaskRecord dup;
    dup.difficulty = 2;
    dup.prompt = "Duplicate task shared by both worlds.";
    dup.answer_schema = {{"type", "string"}};
    dup.reference_solution = "x";
    dup.verifier_code = "def verify(answer, world, task):\n    return {'pass': True, 'score': 1.0, 'reason': ''}\n";
    item.tasks.push_back(dup);
    c.record_work_item(item);
  }
}

inline data::Corpus open_read_only(const std::string& path) {
  data::OpenOptions o;
  o.read_only = true;
  return data::Corpus::open(path, o);
}

// The id of the first task (export order) whose prompt contains `needle`.
inline std::string audit_task_id(const std::string& corpus, const std::string& needle) {
  data::Corpus c = open_read_only(corpus);
  std::string id;
  c.for_each_export_row({}, [&](const data::ExportRow& row) {
    if (id.empty() && row.task.prompt.find(needle) != std::string::npos) id = row.task.id;
  });
  return id;
}

struct AuditCorpus {
  AuditCorpus() { make_audit_corpus(path, dir.path); }
  ServeTempDir dir;
  std::string path = dir.file("corpus.db");
};

}  // namespace envforge::testing
