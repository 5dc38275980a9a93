// What the kernel holds: lookup counts (FUSE's nlookup, returned by forget)
// and open descriptors per inode. An inode with no name left (nlink 0) is
// deleted only when neither remains — "in use" answers that.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "core/thread_annotations.h"

namespace acidfs {

class InodeTable {
 public:
  void lookedUp(uint64_t ino, uint64_t count = 1);
  // True when the kernel no longer knows the inode at all.
  bool forget(uint64_t ino, uint64_t count);
  void opened(uint64_t ino);
  bool closed(uint64_t ino);  // true when unreferenced now
  // Open (files and directories): an unlinked inode must outlive its opens.
  // A kernel lookup reference alone does not keep it: with no name and no
  // open descriptor, nothing can reach it any more.
  bool isOpen(uint64_t ino);

 private:
  struct Refs {
    uint64_t lookups = 0;
    uint64_t opens = 0;
  };
  bool dropIfUnused(uint64_t ino, Refs& refs) REQUIRES(mutex_);
  Mutex mutex_;
  std::unordered_map<uint64_t, Refs> refs_ GUARDED_BY(mutex_);
};

}  // namespace acidfs
