// What the kernel holds: lookup counts (FUSE's nlookup, returned by forget)
// and open descriptors per inode. An inode with no name left (nlink 0) is
// deleted only when neither remains — "in use" answers that.
#pragma once

#include <cstdint>
#include <condition_variable>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/records.h"
#include "core/thread_annotations.h"

namespace acidfs {

class InodeTable {
 public:
  void lookedUp(uint64_t ino, uint64_t count = 1);
  // True when the kernel no longer knows the inode at all.
  bool forget(uint64_t ino, uint64_t count);
  // False, counting nothing, when the inode was deleted (claimForDeletion):
  // the open fails, ENOENT. Waits while such a deletion is under way.
  bool opened(uint64_t ino) EXCLUDES(mutex_);
  bool closed(uint64_t ino);  // true when unreferenced now
  // Known to the kernel (looked up and not forgotten, or open): an unlinked
  // inode must outlive that. A lookup reference alone is enough to reach it:
  // a path walk that found the name just before a rename replaced it goes on
  // to OPEN the old inode, which must still be there (as on any local
  // filesystem). The kernel forgets an inode with no links soon after its
  // last use, and the orphan is freed then.
  bool isKnown(uint64_t ino);
  // Every inode the kernel knows now (looked up or open).
  std::vector<uint64_t> known() EXCLUDES(mutex_);

  // unlink(2) of a file no descriptor has open deletes it at once, in the
  // unlink's transaction, even while the kernel still holds a lookup
  // reference: a path walk that found the name and then opens the inode
  // finds it gone, ENOENT, as if the unlink came first. Saves the orphan
  // and the second transaction that freed it at FORGET.
  // claimForDeletion: true when no descriptor is open; then opened() waits
  // until deletionEnded(), which the transaction calls when it has ended,
  // with the inode's last attributes (nlink 0) if it committed. Those answer
  // the kernel's GETATTR (fstat of an O_PATH descriptor) until it forgets
  // the inode.
  bool claimForDeletion(uint64_t ino) EXCLUDES(mutex_);
  void deletionEnded(uint64_t ino, const InodeRecord* deleted) EXCLUDES(mutex_);
  std::optional<InodeRecord> deletedAttributes(uint64_t ino) EXCLUDES(mutex_);

  // Inodes kept as orphans while known (InodeHolders::keep): only these need
  // a transaction when the kernel lets go. takeOrphan: true once per mark.
  void markOrphan(uint64_t ino) EXCLUDES(mutex_);
  bool takeOrphan(uint64_t ino) EXCLUDES(mutex_);

  // Direct writes (O_DIRECT). The kernel drops a file's cached pages before
  // a direct write, but a buffered read running meanwhile can cache the old
  // bytes again, and after an asynchronous one (io_submit) nothing drops
  // them (xfstests generic/451). So from a direct write until the kernel's
  // pages have been dropped after it (FuseFs's committer thread does that),
  // the pages may be stale: every open of the inode is without keep_cache,
  // which makes the kernel drop them before the new descriptor reads.
  // Taking the mark at the first such open would not do: a second open
  // could read the stale pages before the kernel has acted on the first.
  void wroteDirectly(uint64_t ino);
  bool pagesMayBeStale(uint64_t ino);
  // Around dropping the kernel's pages: the count of direct writes before,
  // then pagesDropped(count): only writes that completed before it are covered.
  uint64_t directWrites(uint64_t ino);
  void pagesDropped(uint64_t ino, uint64_t directWritesBefore);

 private:
  struct Refs {
    uint64_t lookups = 0;
    uint64_t opens = 0;
    // Direct writes, and how many of them the kernel's pages were dropped
    // after. An inode the kernel forgets has no pages left: dropped with it.
    uint64_t directWrites = 0;
    uint64_t directWritesDropped = 0;
    int deleting = 0;                     // claimForDeletion's transactions under way
    std::optional<InodeRecord> deleted;   // deleted while known: its last attributes
  };
  bool dropIfUnused(uint64_t ino, Refs& refs) REQUIRES(mutex_);
  Mutex mutex_;
  std::condition_variable_any deletionEnded_;  // signalled with mutex_ held
  std::unordered_map<uint64_t, Refs> refs_ GUARDED_BY(mutex_);
  std::unordered_set<uint64_t> orphans_ GUARDED_BY(mutex_);
};

}  // namespace acidfs
