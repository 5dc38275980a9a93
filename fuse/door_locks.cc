#include "fuse/door_locks.h"

#include <bit>

namespace acidfs {

size_t DoorLocks::stripeOf(std::string_view path) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (unsigned char c : path) hash = (hash ^ c) * 1099511628211ull;
  hash ^= hash >> 32;  // FNV's low bits mix the last bytes poorly
  return static_cast<size_t>(hash % kStripes);
}

DoorLocks::Stripes DoorLocks::prefixStripes(std::string_view path) {
  Stripes stripes = 0;
  for (size_t slash = path.find('/', 1); slash != std::string_view::npos; slash = path.find('/', slash + 1))
    stripes |= stripesOf(path.substr(0, slash));
  if (path.size() > 1) stripes |= stripesOf(path);
  return stripes;
}

// The analysis cannot follow a loop over a bit set; the scoped classes in
// the header are what it checks.
void DoorLocks::lock(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  for (Stripes left = stripes; left; left &= left - 1) stripes_[std::countr_zero(left)].mutex.lock();
}

void DoorLocks::unlock(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  for (Stripes left = stripes; left; left &= left - 1) stripes_[std::countr_zero(left)].mutex.unlock();
}

void DoorLocks::lockShared(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  for (Stripes left = stripes; left; left &= left - 1) stripes_[std::countr_zero(left)].mutex.lock_shared();
}

void DoorLocks::unlockShared(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  for (Stripes left = stripes; left; left &= left - 1) stripes_[std::countr_zero(left)].mutex.unlock_shared();
}

bool DoorLocks::tryLock(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  Stripes taken = 0;
  for (Stripes left = stripes; left; left &= left - 1) {
    const Stripes bit = left & -left;
    if (!stripes_[std::countr_zero(left)].mutex.try_lock()) {
      unlock(taken);
      return false;
    }
    taken |= bit;
  }
  return true;
}

bool DoorLocks::tryLockShared(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  Stripes taken = 0;
  for (Stripes left = stripes; left; left &= left - 1) {
    const Stripes bit = left & -left;
    if (!stripes_[std::countr_zero(left)].mutex.try_lock_shared()) {
      unlockShared(taken);
      return false;
    }
    taken |= bit;
  }
  return true;
}

}  // namespace acidfs
