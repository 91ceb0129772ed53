// The CPU-only half of recording a work item: canonical JSON texts and content
// ids, computed before the SQLite writes. For a batch, a second thread
// prepares the next items while the writer thread is inside SQLite with the
// current one, so the two halves overlap on two cores.
#pragma once

#include <atomic>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "data/content_id.h"
#include "data/records.h"

namespace envforge::data {

struct PreparedRollout {
  std::string trajectory;  // canonical JSON
  std::string id;
};

struct PreparedTask {
  CanonicalTask canon;
  std::string hash;
  std::string id;
  std::vector<PreparedRollout> rollouts;
  PreparedTask(const TaskRecord& task, const std::string& environment_id, DigestMemo& memo);
};

struct PreparedItem {
  std::optional<CanonicalEnvironment> env;
  std::string env_id;
  std::vector<PreparedTask> tasks;
  // Set when the item has no canonical form (e.g. invalid UTF-8). Raised only
  // if the writer gets to write the item: an item already recorded is skipped
  // before its content is looked at, with or without a preparing thread.
  std::exception_ptr error;
};

PreparedItem prepare_item(const WorkItem& item, DigestMemo& memo);

// Prepares items[0..n) in order, on its own thread when there are at least
// kThreadFrom items, else on the caller's thread when asked. `memo` belongs to
// the preparer until it is destroyed.
class ItemPreparer {
 public:
  static constexpr size_t kThreadFrom = 2;

  ItemPreparer(std::span<const WorkItem> items, DigestMemo& memo);
  ~ItemPreparer();  // stops the thread early if the writer gave up
  ItemPreparer(const ItemPreparer&) = delete;
  ItemPreparer& operator=(const ItemPreparer&) = delete;

  // Item i, prepared; waits for the thread if it is not there yet. Rethrows
  // the item's preparation error.
  const PreparedItem& get(size_t i);

 private:
  void run();

  std::span<const WorkItem> items_;
  DigestMemo& memo_;
  std::vector<PreparedItem> slots_;
  std::atomic<size_t> ready_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace envforge::data
