#include "fuse/fuse_fs.h"

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"

namespace acidfs {

FuseFs::FuseFs(Store& s, FuseOptions o)
    : store(s), options(o), drafts(s.ns(), s.content(), o.maxDraftBytes), accessTimes(s.ns(), o.strictAtime) {
  store.ns().setInodeHolders(&holders_);
  drafts.setDroppedHandler([this](uint64_t ino) { dropPagesLater(ino); });
  // A file deleted by its expiry (SPEC §11): the kernel forgets the name.
  store.onExpired([this](uint64_t parent, const std::string& name, uint64_t ino) {
    notifyDeleted(parent, ino, name);
    invalidateInode(parent, /*data=*/false);
  });
  committer_ = std::thread([this] { committerLoop(); });
}

FuseFs::~FuseFs() {
  store.onExpired(nullptr);
  {
    MutexLock lock(committerMutex_);
    stopping_ = true;
  }
  committerWake_.notify_all();
  committer_.join();
  Status s = commitAll();
  if (!s.ok()) ACIDFS_LOG(kError, "committing pending writes at exit failed: %s", s.toString().c_str());
  store.ns().setInodeHolders(nullptr);
}

void FuseFs::committerLoop() {
  const int64_t intervalNs = static_cast<int64_t>(options.commitIntervalSeconds) * 1000000000;
  int64_t lastAtimePersistNs = Clock::real().nowNs();
  MutexLock lock(committerMutex_);
  while (!stopping_) {
    committerWake_.wait_for(committerMutex_, std::chrono::milliseconds(500));
    if (!pagesToDrop_.empty()) {
      committerMutex_.unlock();
      dropQueuedPages();
      committerMutex_.lock();
    }
    if (stopping_ || options.commitIntervalSeconds <= 0) continue;
    committerMutex_.unlock();
    ioctlParts.expire(Clock::real().nowNs());
    // A draft is committed at the latest commit_interval after its first write.
    Status s = drafts.commitOlderThan(static_cast<int64_t>(options.commitIntervalSeconds) * 1000000000 - 500000000);
    if (!s.ok()) ACIDFS_LOG(kError, "interval commit failed: %s", s.toString().c_str());
    if (accessTimes.pendingCount() > 0 && Clock::real().nowNs() - lastAtimePersistNs >= intervalNs) {
      lastAtimePersistNs = Clock::real().nowNs();
      s = accessTimes.persistUnlessBusy();
      if (!s.ok()) ACIDFS_LOG(kError, "writing access times failed: %s", s.toString().c_str());
    }
    committerMutex_.lock();
  }
}

void FuseFs::dropPagesLater(uint64_t ino) {
  {
    MutexLock lock(committerMutex_);
    if (std::find(pagesToDrop_.begin(), pagesToDrop_.end(), ino) != pagesToDrop_.end()) return;
    pagesToDrop_.push_back(ino);
  }
  committerWake_.notify_all();
}

void FuseFs::dropQueuedPages() {
  std::vector<uint64_t> queued;
  {
    MutexLock lock(committerMutex_);
    queued.swap(pagesToDrop_);
  }
  for (uint64_t ino : queued) {
    const uint64_t directWrites = inodes.directWrites(ino);
    if (invalidateInode(ino, /*data=*/true)) inodes.pagesDropped(ino, directWrites);
  }
}

void FuseFs::wroteDirectly(uint64_t ino) {
  inodes.wroteDirectly(ino);
  dropPagesLater(ino);
}

Status FuseFs::commitAll() {
  ACIDFS_RETURN_IF_ERROR(drafts.commitAll());
  ACIDFS_RETURN_IF_ERROR(accessTimes.persist());
  return store.sync();
}

uint64_t FuseFs::addOpenFile(uint64_t ino, int openFlags) {
  MutexLock lock(openMutex_);
  uint64_t fh = nextFh_++;
  open_.try_emplace(fh, ino, (openFlags & O_ACCMODE) != O_WRONLY);
  return fh;
}

OpenFile* FuseFs::openFile(uint64_t fh) {
  MutexLock lock(openMutex_);
  auto it = open_.find(fh);
  return it == open_.end() ? nullptr : &it->second;  // stable: unordered_map nodes do not move
}

void FuseFs::removeOpenFile(uint64_t fh) {
  ioctlParts.drop(fh);
  MutexLock lock(openMutex_);
  open_.erase(fh);
}

void FuseFs::noteAccess(uint64_t ino) {
  if (!options.atime || options.readOnly) return;
  auto moved = accessTimes.noteRead(ino);
  if (!moved.ok() || !*moved || !session_) return;
  // Attributes only (negative offset): the kernel asks for the new atime.
  fuse_lowlevel_notify_inval_inode(session_, ino, -1, 0);
}

// A file whose name an unlink removed goes at once unless a descriptor has
// it open (InodeTable::claimForDeletion); anything else stays while the
// kernel knows it: a directory may be a process's working directory, and a
// name a rename replaced still leads a concurrent walk to the inode.
bool FuseFs::KernelHolders::claimable(const InodeRecord& inode, LastName how) {
  return how == LastName::kRemoved && !inode.isDir();
}

bool FuseFs::KernelHolders::keep(uint64_t ino, const InodeRecord& inode, LastName how) {
  if (claimable(inode, how)) {
    if (fs_.inodes.claimForDeletion(ino)) return false;
  } else if (!fs_.inodes.isKnown(ino)) {
    return false;
  }
  fs_.inodes.markOrphan(ino);
  return true;
}

void FuseFs::KernelHolders::settled(uint64_t ino, const InodeRecord& inode, LastName how, bool committed) {
  if (!claimable(inode, how)) return;  // keep() did not claim it
  if (committed) fs_.drafts.discard(ino);
  fs_.inodes.deletionEnded(ino, committed ? &inode : nullptr);
}

bool FuseFs::KernelHolders::holds(uint64_t ino) {
  if (fs_.inodes.isKnown(ino)) return true;
  fs_.inodes.takeOrphan(ino);  // the caller frees it now
  return false;
}

void FuseFs::releaseIfOrphan(uint64_t ino) {
  if (!inodes.takeOrphan(ino)) return;  // not an orphan: spares a read at every FORGET
  auto attr = store.ns().getattr(ino);
  if (!attr.ok() || attr->inode.nlink > 0) return;
  drafts.discard(ino);
  Status s = store.ns().releaseOrphan(ino);
  if (!s.ok()) ACIDFS_LOG(kWarning, "freeing unlinked inode %llu failed: %s", static_cast<unsigned long long>(ino),
                          s.toString().c_str());
}

void FuseFs::invalidateEntry(uint64_t parent, std::string_view name) {
  if (!session_) return;
  int rc = fuse_lowlevel_notify_inval_entry(session_, parent, name.data(), name.size());
  if (rc != 0 && rc != -ENOENT)
    ACIDFS_LOG(kWarning, "invalidating entry '%.*s' of %llu: %s", static_cast<int>(name.size()), name.data(),
               static_cast<unsigned long long>(parent), strerror(-rc));
}

void FuseFs::notifyDeleted(uint64_t parent, uint64_t child, std::string_view name) {
  if (!session_) return;
  int rc = fuse_lowlevel_notify_delete(session_, parent, child, name.data(), name.size());
  if (rc == -ENOENT) return invalidateEntry(parent, name);  // the kernel had it under another inode, or not at all
  if (rc != 0)
    ACIDFS_LOG(kWarning, "telling the kernel '%.*s' of %llu was deleted: %s", static_cast<int>(name.size()),
               name.data(), static_cast<unsigned long long>(parent), strerror(-rc));
}

void FuseFs::othersChanged(const Store::OthersChange& change) {
  if (change.everything) {
    for (uint64_t ino : inodes.known()) invalidateInode(ino, /*data=*/true);
  } else if (change.name) {
    invalidateEntry(change.ino, *change.name);
  } else if (inodes.isKnown(change.ino)) {
    invalidateInode(change.ino, /*data=*/true);
  }
}

bool FuseFs::invalidateInode(uint64_t ino, bool data) {
  if (!session_) return false;
  // offset -1: attributes only; 0 with length 0: attributes and all pages.
  int rc = fuse_lowlevel_notify_inval_inode(session_, ino, data ? 0 : -1, 0);
  if (rc == 0 || rc == -ENOENT) return true;
  ACIDFS_LOG(kWarning, "invalidating inode %llu: %s", static_cast<unsigned long long>(ino), strerror(-rc));
  return false;
}

}  // namespace acidfs
