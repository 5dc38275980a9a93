#include "fuse/inode_table.h"

#include <algorithm>

namespace acidfs {

bool InodeTable::dropIfUnused(uint64_t ino, Refs& refs) {
  if (refs.lookups > 0 || refs.opens > 0) return false;
  refs_.erase(ino);
  return true;
}

void InodeTable::lookedUp(uint64_t ino, uint64_t count) {
  MutexLock lock(mutex_);
  refs_[ino].lookups += count;
}

bool InodeTable::forget(uint64_t ino, uint64_t count) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  if (it == refs_.end()) return true;
  it->second.lookups -= std::min(count, it->second.lookups);
  return dropIfUnused(ino, it->second);
}

void InodeTable::opened(uint64_t ino) {
  MutexLock lock(mutex_);
  refs_[ino].opens++;
}

bool InodeTable::closed(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  if (it == refs_.end()) return true;
  if (it->second.opens > 0) it->second.opens--;
  return dropIfUnused(ino, it->second);
}

bool InodeTable::isKnown(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  return it != refs_.end() && (it->second.opens > 0 || it->second.lookups > 0);
}

void InodeTable::wroteDirectly(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  if (it != refs_.end()) it->second.directWrites++;  // written through a descriptor: known
}

bool InodeTable::pagesMayBeStale(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  return it != refs_.end() && it->second.directWrites != it->second.directWritesDropped;
}

uint64_t InodeTable::directWrites(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  return it == refs_.end() ? 0 : it->second.directWrites;
}

void InodeTable::pagesDropped(uint64_t ino, uint64_t directWritesBefore) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  if (it != refs_.end()) it->second.directWritesDropped = std::max(it->second.directWritesDropped, directWritesBefore);
}

}  // namespace acidfs
