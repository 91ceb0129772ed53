// Records finished episodes in the corpus: one writer thread, rows written in batches (one
// transaction per batch), so thousands of episodes a second cost a few transactions. flush()
// returns once everything queued before it is written; the destructor writes what is left.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/corpus.h"

namespace envforge::server {

class RolloutWriter {
 public:
  // Opens its own connection to the corpus (throws data::CorpusError).
  RolloutWriter(const std::string& corpus_path, size_t batch_rows = 256,
                std::chrono::milliseconds max_delay = std::chrono::milliseconds(200));
  ~RolloutWriter();

  void add(data::RolloutRecord record);
  void flush();

  uint64_t recorded() const { return recorded_.load(); }
  uint64_t failed() const { return failed_.load(); }
  size_t pending() const;

 private:
  void run();

  data::Corpus corpus_;
  size_t batch_rows_;
  std::chrono::milliseconds max_delay_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work arrived / stop
  std::condition_variable done_cv_;  // a batch was written
  std::deque<data::RolloutRecord> queue_;
  uint64_t queued_total_ = 0, written_total_ = 0;  // rows taken by add / handled by the thread
  bool flush_now_ = false;
  bool stop_ = false;
  std::atomic<uint64_t> recorded_{0}, failed_{0};
  std::thread thread_;
};

}  // namespace envforge::server
