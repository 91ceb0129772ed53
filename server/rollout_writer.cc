#include "server/rollout_writer.h"

#include <spdlog/spdlog.h>

namespace envforge::server {

RolloutWriter::RolloutWriter(const std::string& corpus_path, size_t batch_rows, std::chrono::milliseconds max_delay)
    : corpus_(data::Corpus::open(corpus_path)), batch_rows_(batch_rows), max_delay_(max_delay) {
  thread_ = std::thread([this] { run(); });
}

RolloutWriter::~RolloutWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RolloutWriter::add(data::RolloutRecord record) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(record));
    ++queued_total_;
    wake = queue_.size() >= batch_rows_;
  }
  if (wake) cv_.notify_all();
}

void RolloutWriter::flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = queued_total_;
  flush_now_ = true;
  cv_.notify_all();
  done_cv_.wait(lock, [&] { return written_total_ >= target; });
}

size_t RolloutWriter::pending() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(queued_total_ - written_total_);
}

void RolloutWriter::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, max_delay_, [&] { return stop_ || flush_now_ || queue_.size() >= batch_rows_; });
    if (queue_.empty()) {
      flush_now_ = false;
      done_cv_.notify_all();
      if (stop_) return;
      continue;
    }
    std::vector<data::RolloutRecord> batch;
    const size_t n = std::min(queue_.size(), batch_rows_ * 4);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    try {
      recorded_ += corpus_.record_rollouts(batch);
    } catch (const std::exception& e) {
      // One bad row (e.g. its task vanished) must not lose the others: write them one by one.
      for (const auto& r : batch) {
        try {
          recorded_ += corpus_.record_rollouts(std::span(&r, 1));
        } catch (const std::exception& e1) {
          ++failed_;
          spdlog::error("rollout of task {} not recorded: {}", r.task_id, e1.what());
        }
      }
    }
    lock.lock();
    written_total_ += n;
    done_cv_.notify_all();
  }
}

}  // namespace envforge::server
