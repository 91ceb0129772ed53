// Keeps a writer's WAL short without making the writer wait on fsync.
//
// SQLite's own autocheckpoint runs inside the COMMIT that crosses its size:
// the writer copies every frame into the database and waits for two fsyncs
// (WAL, then database) before it returns, which on a large corpus takes as
// long as writing the rows did. Here a thread with its own connection copies
// committed frames (PASSIVE checkpoints, fsyncs included) while the writer
// goes on; once the WAL passes its restart size (or four of the writer's
// recent largest commits) the writer checkpoints the frames left itself, so that its
// next transaction starts the WAL over.
// Durability is unchanged: frames reach the database only through a
// checkpoint that synced them first, as with synchronous = NORMAL.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <sqlite3.h>

namespace envforge::data {

class Connection;

class WalCheckpointer {
 public:
  // Installs itself as `writer`'s WAL hook (replacing the autocheckpoint).
  // `restart_bytes`: the WAL size at which the writer finishes a checkpoint.
  WalCheckpointer(Connection& writer, int64_t restart_bytes);
  ~WalCheckpointer();  // stops the thread; the writer's hook is removed
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Checkpoints run by the thread and by the writer (for tests and benches).
  int64_t background_checkpoints() const;
  int64_t writer_checkpoints() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int frames);
  void after_commit(int frames);
  void run();

  Connection& writer_;
  const std::string path_;
  int restart_frames_ = 0;  // the writer checkpoints at this many frames
  int step_frames_ = 0;     // the thread is woken every this many new frames
  int signalled_at_ = 0;    // WAL frames when the thread was last woken
  int last_frames_ = 0;     // WAL frames after the previous commit
  int largest_commit_ = 0;  // frames of the largest recent commit (decaying)

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  bool pending_ = false;
  bool busy_ = false;
  bool stop_ = false;
  int64_t background_checkpoints_ = 0;
  int64_t writer_checkpoints_ = 0;
  std::thread thread_;  // started at the first wake-up
};

}  // namespace envforge::data
