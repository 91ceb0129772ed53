// Writing work items, runs and audits: round trips, idempotency, atomicity.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "data/content_id.h"
#include "data/corpus.h"
#include "tests/data/sample_items.h"
#include "tests/data/test_util.h"

namespace envforge::data {
namespace {

using testing::query_int;
using testing::TempDir;

TEST(CorpusWrite, WorkItemRoundTrips) {
  TempDir dir;
  Corpus c = Corpus::open(dir.file("c.db"));
  sample::Shape shape;
  shape.rollouts_per_task = 2;
  auto item = sample::make_work_item(4, shape);
  EXPECT_FALSE(c.has_work_item(item.key));
  EXPECT_TRUE(c.record_work_item(item));
  EXPECT_TRUE(c.has_work_item(item.key));

  std::string env_id = environment_id(item.environment);
  auto env = c.environment(env_id);
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->category, item.environment.category);
  EXPECT_EQ(env->seed, item.environment.seed);
  EXPECT_EQ(env->env_json, item.environment.env_json);
  EXPECT_EQ(env->world_db, item.environment.world_db);
  EXPECT_EQ(env->tools_code, item.environment.tools_code);
  ASSERT_EQ(env->tools.size(), item.environment.tools.size());
  EXPECT_EQ(env->tools[3].schema, item.environment.tools[3].schema);

  auto tasks = c.tasks_of(env_id);
  ASSERT_EQ(tasks.size(), item.tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].difficulty, item.tasks[i].difficulty);
    EXPECT_EQ(tasks[i].prompt, item.tasks[i].prompt);
    EXPECT_EQ(tasks[i].reference_solution, item.tasks[i].reference_solution);
    EXPECT_EQ(tasks[i].verifier_code, item.tasks[i].verifier_code);
    EXPECT_EQ(tasks[i].status, item.tasks[i].status);
    EXPECT_EQ(tasks[i].id, task_id(env_id, item.tasks[i]));
    EXPECT_EQ(tasks[i].content_hash, task_content_hash(item.tasks[i]));
  }
  auto full = c.task(tasks[0].id);
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->validations.size(), item.tasks[0].validations.size());
  ASSERT_EQ(full->rollouts.size(), 2u);
  EXPECT_EQ(full->rollouts[1].trajectory, item.tasks[0].rollouts[1].trajectory);
  EXPECT_EQ(full->rollouts[1].completion_tokens, 20);
  EXPECT_FALSE(c.task(std::string(64, '0')).has_value());
  EXPECT_FALSE(c.environment("nope").has_value());
}

TEST(CorpusWrite, InsertsAreIdempotent) {
  TempDir dir;
  std::string path = dir.file("c.db");
  Corpus c = Corpus::open(path);
  auto item = sample::make_work_item(2);
  EXPECT_TRUE(c.record_work_item(item));
  auto counts = [&] {
    return std::vector<long long>{
        query_int(path, "SELECT count(*) FROM environments"),
        query_int(path, "SELECT count(*) FROM tasks"),
        query_int(path, "SELECT count(*) FROM validations"),
        query_int(path, "SELECT count(*) FROM blobs"),
        query_int(path, "SELECT count(*) FROM work_items")};
  };
  auto before = counts();
  EXPECT_EQ(before[1], static_cast<long long>(item.tasks.size()));
  EXPECT_FALSE(c.record_work_item(item));
  EXPECT_EQ(counts(), before);

  // The same environment and tasks under another key: the artefacts are
  // content-addressed, so only the work-item row is new.
  auto twin = item;
  twin.key = work_item_key("trip", 99, 0, "1.0.0");
  EXPECT_TRUE(c.record_work_item(twin));
  auto after = counts();
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
  EXPECT_EQ(after[2], before[2]);
  EXPECT_EQ(after[4], before[4] + 1);

  // A batch with old and new items adds only the new ones.
  std::vector<WorkItem> batch = {item, sample::make_work_item(3), sample::make_work_item(4)};
  EXPECT_EQ(c.record_work_items(batch), 2u);
  EXPECT_EQ(c.record_work_items(batch), 0u);
  // Shared code (verify.py, tools.py) is stored once.
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM blobs WHERE sha256 = '" +
                                sha256_hex(sample::shared_verifier_code()) + "'"),
            1);
}

TEST(CorpusWrite, BadItemInABatchWritesNothing) {
  TempDir dir;
  Corpus c = Corpus::open(dir.file("c.db"));
  auto bad = sample::make_work_item(7);
  bad.tasks[1].status = TaskStatus::kRejected;
  bad.tasks[1].reject_reason.clear();  // a rejected task must say why
  std::vector<WorkItem> batch = {sample::make_work_item(6), bad};
  EXPECT_THROW(c.record_work_items(batch), CorpusError);
  EXPECT_FALSE(c.has_work_item(batch[0].key));
  EXPECT_EQ(c.audit_summary().tasks, 0);

  auto utf = sample::make_work_item(8);
  utf.tasks[0].metadata["note"] = std::string("\xc3\x28");  // invalid UTF-8
  try {
    c.record_work_item(utf);
    FAIL() << "expected CorpusError";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
  auto twice = sample::make_work_item(9);
  twice.tasks[2].validations.push_back(twice.tasks[2].validations[0]);  // same check, same attempt
  EXPECT_THROW(c.record_work_item(twice), CorpusError);
  EXPECT_FALSE(c.has_work_item(twice.key));
  EXPECT_THROW(c.record_work_item(WorkItem{}), CorpusError);  // no key
  // The corpus is still usable afterwards.
  EXPECT_TRUE(c.record_work_item(sample::make_work_item(6)));
}

// Validations go in many rows per statement: any count round-trips whole, field
// by field, across the statement's row limit.
TEST(CorpusWrite, EveryValidationFieldRoundTripsWhateverTheirCount) {
  TempDir dir;
  Corpus c = Corpus::open(dir.file("c.db"));
  const std::vector<size_t> counts = {0, 1, 31, 32, 33, 70};
  auto item = sample::make_work_item(3);
  item.tasks.resize(counts.size(), item.tasks[0]);
  for (size_t t = 0; t < counts.size(); ++t) {
    item.tasks[t].prompt = "task " + std::to_string(t);
    item.tasks[t].validations.clear();
    for (size_t i = 0; i < counts[t]; ++i) {
      ValidationRecord v;
      v.check = i % 3 ? "negative:case_" + std::to_string(i % 5) : "reference";
      v.attempt = static_cast<int>(i);
      v.input_digest = std::string(64, static_cast<char>('a' + i % 6));
      v.expected_pass = i % 2 == 0;
      v.verdict = i % 4 ? "fail" : "pass";
      v.score = 0.25 * static_cast<double>(i % 5);
      v.reason = i % 7 ? "reason " + std::to_string(i) : "";
      v.as_expected = i % 11 != 0;
      v.started_at_ms = 1700000000000 + static_cast<int64_t>(i);
      v.wall_ms = static_cast<int64_t>(i * 3);
      v.output_digest = std::string(64, static_cast<char>('0' + i % 10));
      item.tasks[t].validations.push_back(v);
    }
  }
  ASSERT_TRUE(c.record_work_item(item));
  std::string env_id = environment_id(item.environment);
  for (size_t t = 0; t < counts.size(); ++t) {
    SCOPED_TRACE(counts[t]);
    auto back = c.task(task_id(env_id, item.tasks[t]));
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(back->validations.size(), counts[t]);
    std::vector<ValidationRecord> wanted = item.tasks[t].validations;  // read back by check, attempt
    std::sort(wanted.begin(), wanted.end(), [](const ValidationRecord& a, const ValidationRecord& b) {
      return std::tie(a.check, a.attempt) < std::tie(b.check, b.attempt);
    });
    for (size_t i = 0; i < counts[t]; ++i) {
      const ValidationRecord& want = wanted[i];
      const ValidationRecord& got = back->validations[i];
      EXPECT_EQ(got.check, want.check);
      EXPECT_EQ(got.attempt, want.attempt);
      EXPECT_EQ(got.input_digest, want.input_digest);
      EXPECT_EQ(got.expected_pass, want.expected_pass);
      EXPECT_EQ(got.verdict, want.verdict);
      EXPECT_EQ(got.score, want.score);
      EXPECT_EQ(got.reason, want.reason);
      EXPECT_EQ(got.as_expected, want.as_expected);
      EXPECT_EQ(got.started_at_ms, want.started_at_ms);
      EXPECT_EQ(got.wall_ms, want.wall_ms);
      EXPECT_EQ(got.output_digest, want.output_digest);
    }
  }
  EXPECT_EQ(query_int(dir.file("c.db"), "SELECT count(*) FROM validations"), 0 + 1 + 31 + 32 + 33 + 70);
  // A repeated (check, attempt) past the first statement's rows refuses the item whole.
  auto twice = sample::make_work_item(4);
  twice.tasks[1].validations = item.tasks[5].validations;
  twice.tasks[1].validations.push_back(item.tasks[5].validations[40]);
  try {
    c.record_work_item(twice);
    ADD_FAILURE() << "a repeated validation was recorded";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("two validations"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(c.has_work_item(twice.key));
  EXPECT_EQ(query_int(dir.file("c.db"), "SELECT count(*) FROM validations"), 0 + 1 + 31 + 32 + 33 + 70);
}

// References a caller names are checked by the corpus itself: a work item of a
// run that was never begun, an audit of an unknown task or environment, are
// refused whole; what the corpus writes refers only to rows that exist.
TEST(CorpusWrite, UnknownReferencesAreRefusedAndNothingDangles) {
  TempDir dir;
  std::string path = dir.file("c.db");
  Corpus c = Corpus::open(path);
  std::vector<WorkItem> batch = {sample::make_work_item(1), sample::make_work_item(2)};
  batch[1].run_id = std::string(64, 'f');
  try {
    c.record_work_items(batch);
    ADD_FAILURE() << "a work item of an unknown run was recorded";
  } catch (const CorpusError& e) {
    EXPECT_NE(std::string(e.what()).find("not recorded"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(c.has_work_item(batch[0].key));
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM tasks"), 0);
  RunRecord run;
  run.command = "synth";
  batch[1].run_id = c.begin_run(run);
  EXPECT_EQ(c.record_work_items(batch), 2u);
  EXPECT_THROW(c.record_audit({.id = "", .task_id = "", .environment_id = std::string(64, '7'),
                               .who = "r", .verdict = "ok", .notes = "", .created_at_ms = 1}),
               CorpusError);
  c.record_audit({.id = "", .task_id = "", .environment_id = environment_id(batch[0].environment),
                  .who = "r", .verdict = "ok", .notes = "", .created_at_ms = 1});
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM audits"), 1);
  EXPECT_EQ(testing::query(path, "PRAGMA foreign_key_check").size(), 0u);
}

TEST(CorpusWrite, RunsRecordProvenance) {
  TempDir dir;
  Corpus c = Corpus::open(dir.file("c.db"));
  RunRecord run;
  run.command = "synth";
  run.config = {{"count", 20}, {"seed", 0}};
  run.envforge_version = "0.1.0";
  run.git_revision = "abc123";
  run.host = "box";
  run.shard_index = 1;
  run.shard_count = 4;
  std::string id = c.begin_run(run);
  EXPECT_EQ(id.size(), 64u);
  auto item = sample::make_work_item(1);
  item.run_id = id;
  EXPECT_TRUE(c.record_work_item(item));
  c.end_run(id, 0, {{"environments", 1}});
  auto back = c.run(id);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->config, run.config);
  EXPECT_EQ(back->git_revision, "abc123");
  EXPECT_EQ(back->shard_index, 1);
  EXPECT_EQ(back->shard_count, 4);
  EXPECT_GT(back->started_at_ms, 0);
  EXPECT_GE(back->ended_at_ms, back->started_at_ms);
  EXPECT_EQ(back->summary["environments"], 1);
  EXPECT_THROW(c.end_run("missing", 0, {}), CorpusError);
}

TEST(CorpusWrite, AuditsAreStoredPerTask) {
  TempDir dir;
  Corpus c = Corpus::open(dir.file("c.db"));
  auto item = sample::make_work_item(1);
  c.record_work_item(item);
  std::string tid = task_id(environment_id(item.environment), item.tasks[0]);
  AuditRecord a{.id = "", .task_id = tid, .environment_id = "", .who = "reviewer",
                .verdict = "suspicious", .notes = "budget too loose", .created_at_ms = 5};
  c.record_audit(a);
  c.record_audit(a);  // idempotent
  auto audits = c.audits_of_task(tid);
  ASSERT_EQ(audits.size(), 1u);
  EXPECT_EQ(audits[0].verdict, "suspicious");
  EXPECT_EQ(audits[0].who, "reviewer");
  EXPECT_THROW(c.record_audit(AuditRecord{}), CorpusError);
  a.task_id = std::string(64, '9');  // unknown task: foreign key
  EXPECT_THROW(c.record_audit(a), CorpusError);
}

}  // namespace
}  // namespace envforge::data
