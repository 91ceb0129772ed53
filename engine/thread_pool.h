// A fixed pool of worker threads (sized to the cores by default) for data-parallel loops.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace envforge::engine {

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread. The calling thread takes part in the work, so a
  // pool of size N starts N-1 workers.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return size_; }
  // Runs fn(begin, end, slot) over [0, n) in chunks of at least `grain`; slot in [0, size())
  // identifies the thread (for per-thread scratch). Returns when all chunks are done; the first
  // exception thrown by fn is rethrown here. Safe to call from several threads (their jobs run
  // one after another). Not reentrant: fn must not call parallel_for.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                    int64_t grain = 1);

  static ThreadPool& global();

 private:
  void worker(int slot);
  void run_chunks(int slot);

  int size_;
  std::vector<std::thread> threads_;
  std::mutex job_mu_;  // held by the caller whose job the workers run
  std::mutex mu_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  // the current job
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0, chunk_ = 1, next_ = 0;
  int active_ = 0;
  std::exception_ptr error_;
};

}  // namespace envforge::engine
