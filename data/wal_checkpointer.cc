#include "data/wal_checkpointer.h"

#include <algorithm>
#include <system_error>

#include "data/sqlite_handle.h"

namespace envforge::data {

WalCheckpointer::WalCheckpointer(Connection& writer, int64_t restart_bytes)
    : writer_(writer), path_(writer.path()) {
  int64_t frame = std::max<int64_t>(512, writer.query_int("PRAGMA page_size")) + 24;
  restart_frames_ = static_cast<int>(std::clamp<int64_t>(restart_bytes / frame, 16, 1 << 24));
  step_frames_ = std::max(1, restart_frames_ / 4);
  sqlite3_wal_hook(writer_.raw(), &WalCheckpointer::on_commit, this);
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_hook(writer_.raw(), nullptr, nullptr);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t WalCheckpointer::background_checkpoints() const {
  std::lock_guard lock(mu_);
  return background_checkpoints_;
}

int64_t WalCheckpointer::writer_checkpoints() const {
  std::lock_guard lock(mu_);
  return writer_checkpoints_;
}

int WalCheckpointer::on_commit(void* self, sqlite3*, const char*, int frames) {
  static_cast<WalCheckpointer*>(self)->after_commit(frames);
  return SQLITE_OK;  // a checkpoint that fails loses nothing: the frames stay in the WAL
}

void WalCheckpointer::after_commit(int frames) {
  if (frames < last_frames_) last_frames_ = signalled_at_ = 0;  // the WAL started over
  // An eighth of a large commit is forgotten with each commit after it, so
  // one huge batch does not leave the WAL allowed to grow for good.
  largest_commit_ = std::max(frames - last_frames_, largest_commit_ - largest_commit_ / 8);
  last_frames_ = frames;
  // The writer finishes a checkpoint at the restart size, or at four of its
  // recent largest commits: on a large corpus one commit may dirty more index
  // pages than the restart size holds, and the thread would never get to copy any.
  if (frames >= std::max(restart_frames_, 4 * largest_commit_)) {
    // The thread's pass ends first (most frames are copied by then); the
    // writer's own checkpoint copies the rest, and its next transaction can
    // start the WAL over.
    {
      std::unique_lock lock(mu_);
      pending_ = false;
      idle_.wait(lock, [&] { return !busy_; });
      busy_ = true;
    }
    sqlite3_wal_checkpoint_v2(writer_.raw(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    {
      std::lock_guard lock(mu_);
      busy_ = false;
      ++writer_checkpoints_;
    }
    return;
  }
  if (frames - signalled_at_ < step_frames_) return;
  signalled_at_ = frames;
  {
    std::lock_guard lock(mu_);
    pending_ = true;
    try {
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
      pending_ = false;  // no thread: the writer's own checkpoints keep the WAL bounded
    }
  }
  wake_.notify_one();
}

void WalCheckpointer::run() {
  std::unique_ptr<Connection> conn;
  try {
    conn = std::make_unique<Connection>(path_, SQLITE_OPEN_READWRITE);
    // As the writer's: the checkpoint syncs the WAL before it copies and the
    // database after.
    conn->exec("PRAGMA synchronous = NORMAL");
    conn->exec("PRAGMA cache_size = -1024");
  } catch (const std::exception&) {
    conn.reset();  // the writer's own checkpoints keep the WAL bounded
  }
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || pending_; });
    if (stop_) return;
    pending_ = false;
    if (!conn) continue;
    busy_ = true;
    lock.unlock();
    sqlite3_wal_checkpoint_v2(conn->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
    busy_ = false;
    ++background_checkpoints_;
    idle_.notify_all();
  }
}

}  // namespace envforge::data
