// Rollouts recorded after the fact, in batches, for tasks that are already in the corpus.
#include <unordered_map>

#include "data/content_id.h"
#include "data/corpus.h"
#include "data/corpus_impl.h"

namespace envforge::data {

size_t Corpus::record_rollouts(std::span<const RolloutRecord> rollouts) {
  if (rollouts.empty()) return 0;
  Connection& c = *impl_->conn;
  WriteTransaction tx(c);
  std::unordered_map<std::string, int64_t> task_rows;
  size_t added = 0;
  for (const RolloutRecord& r : rollouts) {
    auto it = task_rows.find(r.task_id);
    if (it == task_rows.end()) {
      StatementScope q(c.cached("SELECT row FROM tasks WHERE id = ?"));
      q->bind(1, r.task_id);
      if (!q->step()) throw CorpusError("corpus " + c.path() + ": rollout of unknown task '" + r.task_id + "'");
      it = task_rows.emplace(r.task_id, q->int_at(0)).first;
    }
    const std::string trajectory = canonical_json(r.trajectory);
    const std::string id = r.id.empty() ? rollout_id(r.task_id, r, trajectory) : r.id;
    RebindScope s(c.cached(
        "INSERT OR IGNORE INTO rollouts(id, task_row, model, attempt, trajectory, reward, passed, "
        "prompt_tokens, completion_tokens, started_at_ms, wall_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
    s->bind_static(1, id);
    s->bind(2, it->second);
    s->bind_static(3, r.model);
    s->bind(4, int64_t{r.attempt});
    s->bind_static(5, trajectory);
    s->bind(6, r.reward);
    s->bind(7, int64_t{r.passed});
    s->bind(8, r.prompt_tokens);
    s->bind(9, r.completion_tokens);
    s->bind(10, r.started_at_ms);
    s->bind(11, r.wall_ms);
    s->run();
    added += static_cast<size_t>(sqlite3_changes(c.raw()));
  }
  tx.commit();
  return added;
}

}  // namespace envforge::data
