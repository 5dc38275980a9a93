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

// The analysis cannot follow the stripe state; the scoped classes in the
// header are what it checks.
void DoorLocks::lock(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> hold(mutex_);
  changed_.wait(hold, [&] { return exclusiveFree(stripes); });
  exclusive_ |= stripes;
}

void DoorLocks::unlock(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  {
    std::lock_guard<std::mutex> hold(mutex_);
    exclusive_ &= ~stripes;
  }
  changed_.notify_all();
}

void DoorLocks::markShared(Stripes stripes) {
  for (Stripes left = stripes; left; left &= left - 1) readers_[std::countr_zero(left)]++;
  shared_ |= stripes;
}

void DoorLocks::lockShared(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  std::unique_lock<std::mutex> hold(mutex_);
  changed_.wait(hold, [&] { return sharedFree(stripes); });
  markShared(stripes);
}

void DoorLocks::unlockShared(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  bool freed = false;
  {
    std::lock_guard<std::mutex> hold(mutex_);
    for (Stripes left = stripes; left; left &= left - 1) {
      const int i = std::countr_zero(left);
      if (--readers_[i] == 0) {
        shared_ &= ~(Stripes{1} << i);
        freed = true;
      }
    }
  }
  if (freed) changed_.notify_all();
}

bool DoorLocks::tryLock(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  std::lock_guard<std::mutex> hold(mutex_);
  if (!exclusiveFree(stripes)) return false;
  exclusive_ |= stripes;
  return true;
}

bool DoorLocks::tryLockShared(Stripes stripes) NO_THREAD_SAFETY_ANALYSIS {
  std::lock_guard<std::mutex> hold(mutex_);
  if (!sharedFree(stripes)) return false;
  markShared(stripes);
  return true;
}

}  // namespace acidfs
