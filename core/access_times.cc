#include "core/access_times.h"

#include <algorithm>
#include <vector>

#include "core/clock.h"

namespace acidfs {

namespace {
constexpr int64_t kDayNs = 24ll * 3600 * 1000000000;
constexpr size_t kBatch = 1024;  // inodes per persisting transaction
}  // namespace

Result<bool> AccessTimes::noteRead(uint64_t ino) {
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, ns_.getattr(ino));
  const InodeRecord& inode = attr.inode;
  const int64_t now = ns_.clock().nowNs();
  bool full = false;
  {
    MutexLock lock(mutex_);
    auto it = pending_.find(ino);
    const bool stillPending = it != pending_.end() && it->second.stored == inode.atimeNs;
    const int64_t atime = stillPending ? it->second.atimeNs : inode.atimeNs;
    if (!strict_ && atime > inode.mtimeNs && atime > inode.ctimeNs && now - atime < kDayNs) return false;
    pending_[ino] = Namespace::AccessTime{now, inode.atimeNs};
    pendingCount_.store(pending_.size(), std::memory_order_relaxed);
    full = pending_.size() >= kMaxPending;
  }
  if (full) ACIDFS_RETURN_IF_ERROR(persistUnlessBusy());
  return true;
}

int64_t AccessTimes::effectiveAtime(uint64_t ino, const InodeRecord& inode) const {
  if (pendingCount() == 0) return inode.atimeNs;  // the common case: no lock
  MutexLock lock(mutex_);
  auto it = pending_.find(ino);
  if (it == pending_.end() || it->second.stored != inode.atimeNs) return inode.atimeNs;
  return it->second.atimeNs;
}

Status AccessTimes::persist(bool yield) {
  std::vector<std::pair<uint64_t, Namespace::AccessTime>> batch;
  while (true) {
    batch.clear();
    {
      MutexLock lock(mutex_);
      if (pending_.empty()) return Status::OK();
      for (auto it = pending_.begin(); it != pending_.end() && batch.size() < kBatch; ++it) batch.push_back(*it);
    }
    // In inode order: two batches that overlap lock in one order.
    std::sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    Status written = ns_.setAccessTimes(batch, yield);
    if (yield && written.isRetry()) return Status::OK();  // still pending: the next turn writes them
    ACIDFS_RETURN_IF_ERROR(written);
    // Drop what was written, unless a newer read replaced it meanwhile.
    MutexLock lock(mutex_);
    for (const auto& [ino, time] : batch) {
      auto it = pending_.find(ino);
      if (it != pending_.end() && it->second.atimeNs == time.atimeNs) pending_.erase(it);
    }
    pendingCount_.store(pending_.size(), std::memory_order_relaxed);
  }
}

}  // namespace acidfs
