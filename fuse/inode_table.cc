#include "fuse/inode_table.h"

#include <algorithm>

namespace acidfs {

bool InodeTable::dropIfUnused(uint64_t ino, Refs& refs) {
  if (refs.lookups > 0 || refs.opens > 0 || refs.deleting > 0) return false;
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

bool InodeTable::opened(uint64_t ino) {
  MutexLock lock(mutex_);
  Refs* refs = &refs_[ino];
  while (refs->deleting > 0) {
    deletionEnded_.wait(mutex_);
    refs = &refs_[ino];  // the map may have rehashed meanwhile
  }
  if (refs->deleted) return false;
  refs->opens++;
  return true;
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

std::vector<uint64_t> InodeTable::known() {
  MutexLock lock(mutex_);
  std::vector<uint64_t> out;
  for (const auto& [ino, refs] : refs_)
    if (refs.opens > 0 || refs.lookups > 0) out.push_back(ino);
  return out;
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

bool InodeTable::claimForDeletion(uint64_t ino) {
  MutexLock lock(mutex_);
  Refs& refs = refs_[ino];
  if (refs.opens > 0) return false;
  refs.deleting++;
  return true;
}

void InodeTable::deletionEnded(uint64_t ino, const InodeRecord* deleted) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  if (it == refs_.end()) return;
  if (it->second.deleting > 0) it->second.deleting--;
  if (deleted) it->second.deleted = *deleted;
  dropIfUnused(ino, it->second);
  deletionEnded_.notify_all();
}

std::optional<InodeRecord> InodeTable::deletedAttributes(uint64_t ino) {
  MutexLock lock(mutex_);
  auto it = refs_.find(ino);
  if (it == refs_.end()) return std::nullopt;
  return it->second.deleted;
}

void InodeTable::markOrphan(uint64_t ino) {
  MutexLock lock(mutex_);
  orphans_.insert(ino);
}

bool InodeTable::takeOrphan(uint64_t ino) {
  MutexLock lock(mutex_);
  return orphans_.erase(ino) > 0;
}

}  // namespace acidfs
