// Clang thread-safety annotations (LevelDB's port/thread_annotations.h) and
// annotated mutexes. Under GCC the macros expand to nothing; the Clang build
// with -DACIDFS_THREAD_SAFETY=ON checks every GUARDED_BY.
//
// Waiting on a Mutex: std::condition_variable_any, given the Mutex itself
// (cv.wait(mu_, pred) with mu_ held, as a MutexLock holds it): the analysis
// sees mu_ held before and after the wait, which is what the code may rely on.
#pragma once

#include <mutex>
#include <shared_mutex>

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
#define REQUIRES_SHARED(...) ACIDFS_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) ACIDFS_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) ACIDFS_TSA(release_shared_capability(__VA_ARGS__))
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

// A reader-writer mutex: exclusive (lock) or shared (lock_shared).
class CAPABILITY("shared_mutex") SharedMutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterMutexLock() RELEASE() { mu_.unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds a SharedMutex shared for its scope.
class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex& mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderMutexLock() RELEASE() { mu_.unlock_shared(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace acidfs
