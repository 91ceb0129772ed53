// The synth job's group commit: items finished together by many workers are
// recorded together by one of them, and a bad item in such a batch loses
// only itself.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "data/corpus.h"
#include "generators/synth_job.h"
#include "tests/data/sample_items.h"
#include "tests/generators/host_python.h"

namespace envforge::generators {
namespace {

// Sample work items, each built on its worker thread; no build returns before
// all `together` builds have started, so the items reach the corpus at once.
class TogetherJob : public CategoryJob {
 public:
  TogetherJob(int together, uint64_t bad_index) : together_(together), bad_index_(bad_index) {}
  std::string version() const override { return "together-1"; }
  data::WorkItem build(uint64_t, uint64_t index, PythonExecutorFactory&, StageTimes&) override {
    {
      std::unique_lock lock(mu_);
      built_on_[index] = std::this_thread::get_id();
      if (++arrived_ == together_) all_.notify_all();
      all_.wait(lock, [&] { return arrived_ >= together_; });
    }
    data::WorkItem item = data::sample::make_work_item(index);
    // A rejected task without its reason: the corpus refuses the item.
    if (index == bad_index_) item.tasks[0].status = data::TaskStatus::kRejected;
    return item;
  }
  std::thread::id built_on(uint64_t index) {
    std::lock_guard lock(mu_);
    return built_on_.at(index);
  }

 private:
  const int together_;
  const uint64_t bad_index_;
  std::mutex mu_;
  std::condition_variable all_;
  int arrived_ = 0;
  std::map<uint64_t, std::thread::id> built_on_;
};

struct Reported {
  std::set<uint64_t> recorded;
  int on_another_thread = 0;  // items reported by a worker other than their builder's
};

Reported run_together(data::Corpus& corpus, TogetherJob& job, int count) {
  testing::HostPythonFactory python;
  SynthOptions o;
  o.count = static_cast<uint64_t>(count);
  o.jobs = count;
  o.job = &job;
  Reported r;
  auto on_item = [&](const ItemOutcome& out) {
    if (out.recorded) r.recorded.insert(out.index);
    r.on_another_thread += std::this_thread::get_id() != job.built_on(out.index);
  };
  try {
    run_synth(o, corpus, python, on_item);
  } catch (const data::CorpusError&) {
    r.recorded.insert(1000);  // marks the job's corpus error
  }
  return r;
}

TEST(SynthGroupCommit, ItemsFinishedTogetherAreRecordedTogether) {
  testing::TempDir dir;
  auto corpus = data::Corpus::open(dir.path + "/c.db");
  TogetherJob job(8, /*bad_index=*/99);
  Reported r = run_together(corpus, job, 8);
  EXPECT_EQ(r.recorded, (std::set<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(corpus.work_item_keys().size(), 8u);
  // One item a commit would report each item on the thread that built it.
  EXPECT_GT(r.on_another_thread, 0) << "no item was recorded by another worker's commit";
}

TEST(SynthGroupCommit, ABadItemInABatchLosesOnlyItself) {
  testing::TempDir dir;
  auto corpus = data::Corpus::open(dir.path + "/c.db");
  TogetherJob job(8, /*bad_index=*/5);
  Reported r = run_together(corpus, job, 8);
  // The job ends with the corpus error; the seven good items are recorded.
  EXPECT_EQ(r.recorded, (std::set<uint64_t>{0, 1, 2, 3, 4, 6, 7, 1000}));
  EXPECT_EQ(corpus.work_item_keys().size(), 7u);
  EXPECT_EQ(corpus.count_tasks(), 7 * 6);
}

}  // namespace
}  // namespace envforge::generators
