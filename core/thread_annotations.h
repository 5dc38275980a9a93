// Clang thread-safety annotations (LevelDB's port/thread_annotations.h) and an
// annotated mutex. Under GCC the macros expand to nothing; the Clang build
// with -DACIDFS_THREAD_SAFETY=ON checks every GUARDED_BY.
#pragma once

#include <mutex>

#if defined(__clang__)
#define ACIDFS_TSA(x) __attribute__((x))
#else
#define ACIDFS_TSA(x)
#endif

#define CAPABILITY(x) ACIDFS_TSA(capability(x))
#define SCOPED_CAPABILITY ACIDFS_TSA(scoped_lockable)
#define GUARDED_BY(x) ACIDFS_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) ACIDFS_TSA(pt_guarded_by(x))
#define REQUIRES(...) ACIDFS_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) ACIDFS_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) ACIDFS_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) ACIDFS_TSA(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS ACIDFS_TSA(no_thread_safety_analysis)

namespace acidfs {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace acidfs
