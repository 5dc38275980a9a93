// relatime, kept in memory and written in batches (like ext4's lazytime).
//
// The first read after a change moves atime. Writing that in a transaction
// of its own at every such read would double the cost of reading a freshly
// written file, so a moved atime is held here, shown at once by every stat
// (overlay), and written by persist(): at each commit interval, at unmount,
// and whenever kMaxPending inodes wait. A kill -9 may lose atimes moved since
// the last persist — never anything else (SPEC §3 covers changes callers
// make; atime is not one).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "core/namespace.h"
#include "core/thread_annotations.h"

namespace acidfs {

class AccessTimes {
 public:
  static constexpr size_t kMaxPending = 4096;

  // `strict` (-o strictatime): every read moves atime, not only those
  // relatime picks.
  explicit AccessTimes(Namespace& ns, bool strict = false) : ns_(ns), strict_(strict) {}

  // A read of `ino`: moves atime when relatime says so (atime not newer than
  // mtime or ctime, or a day old), or always when strict. Returns whether it
  // moved, so that the caller can tell the kernel its cached attributes are
  // stale.
  Result<bool> noteRead(uint64_t ino);

  // The atime a stat shows for `inode`: the pending one, unless atime was
  // set since the read (utimensat), which wins.
  int64_t effectiveAtime(uint64_t ino, const InodeRecord& inode) const;

  // Writes every pending atime (batches of one transaction each).
  Status persist() { return persist(/*yield=*/false); }
  // The same in the background (the commit interval, a full table): a batch
  // that meets a lock conflict is left pending for the next turn instead of
  // being run again, so that persisting never makes a caller's transaction
  // lose (Namespace::setAccessTimes). OK then too.
  Status persistUnlessBusy() { return persist(/*yield=*/true); }

  size_t pendingCount() const { return pendingCount_.load(std::memory_order_relaxed); }

 private:
  Status persist(bool yield);

  mutable Mutex mutex_;
  Namespace& ns_;
  const bool strict_;
  // Invariant: an entry holds the atime a read set and the stored atime it
  // replaces (`stored`); it applies only while the stored atime is still
  // `stored`, so an explicit utimensat after the read is never overwritten.
  std::unordered_map<uint64_t, Namespace::AccessTime> pending_ GUARDED_BY(mutex_);
  std::atomic<size_t> pendingCount_{0};
};

}  // namespace acidfs
