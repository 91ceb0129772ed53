#include "data/item_prep.h"

namespace envforge::data {

PreparedTask::PreparedTask(const TaskRecord& task, const std::string& environment_id,
                           DigestMemo& memo)
    : canon(task, &memo) {
  hash = task.content_hash.empty() ? task_content_hash(task, canon) : task.content_hash;
  id = task.id.empty() ? task_id(environment_id, std::string_view(hash)) : task.id;
  rollouts.reserve(task.rollouts.size());
  for (const auto& r : task.rollouts) {
    PreparedRollout p;
    p.trajectory = canonical_json(r.trajectory);
    p.id = r.id.empty() ? rollout_id(id, r, p.trajectory) : r.id;
    rollouts.push_back(std::move(p));
  }
}

PreparedItem prepare_item(const WorkItem& item, DigestMemo& memo) {
  PreparedItem p;
  try {
    const EnvironmentRecord& e = item.environment;
    p.env.emplace(e, &memo);
    p.env_id = e.id.empty() ? environment_id(e, *p.env) : e.id;
    p.tasks.reserve(item.tasks.size());
    for (const auto& t : item.tasks) p.tasks.emplace_back(t, p.env_id, memo);
  } catch (...) {
    p.tasks.clear();
    p.error = std::current_exception();
  }
  return p;
}

ItemPreparer::ItemPreparer(std::span<const WorkItem> items, DigestMemo& memo)
    : items_(items), memo_(memo), slots_(items.size()) {
  if (items.size() >= kThreadFrom) thread_ = std::thread([this] { run(); });
}

ItemPreparer::~ItemPreparer() {
  if (thread_.joinable()) {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }
}

void ItemPreparer::run() {
  for (size_t i = 0; i < items_.size(); ++i) {
    if (stop_.load(std::memory_order_relaxed)) return;
    slots_[i] = prepare_item(items_[i], memo_);
    ready_.store(i + 1, std::memory_order_release);
    ready_.notify_one();
  }
}

const PreparedItem& ItemPreparer::get(size_t i) {
  if (!thread_.joinable()) {
    // Inline: prepared on first use, in order.
    slots_[i] = prepare_item(items_[i], memo_);
  } else {
    for (size_t r = ready_.load(std::memory_order_acquire); r <= i;
         r = ready_.load(std::memory_order_acquire))
      ready_.wait(r, std::memory_order_acquire);
  }
  if (slots_[i].error) std::rethrow_exception(slots_[i].error);
  return slots_[i];
}

}  // namespace envforge::data
