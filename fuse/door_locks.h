// The ioctl door's locks: what keeps a revealed blobId and the kernel's
// caches in step, per path, so that door requests on different files never
// wait for each other.
//
// The invariant (SPEC §4.2: a blobId names what a read returns now): no one
// sees a blobId, or a name resolving to a file, that a door change made
// while the kernel may still serve what was there before from its caches.
// A reader that saw it, then reads through the kernel, reads that content or
// newer. Changes made through the kernel keep its caches right by
// themselves; only the door changes behind its back (TRANSACT, COMMIT), and
// it tells the kernel to forget what it changed before it lets go:
//
//   - a door change holds EXCLUSIVELY the stripe of every path it names
//     (each op's source and destination), from before its transaction until
//     the kernel has been told to forget them (ioctl_door.cc);
//   - ioctl STAT of path P holds SHARED the stripe of every prefix of P
//     ("/a", "/a/b", "/a/b/c"): what P resolves to can only be changed by a
//     door change of P or of a directory above it (the door moves only
//     regular files today; the prefixes keep this true if it ever moves
//     directories);
//   - a file with other names (nlink > 1) can be changed through any of
//     them, and the user.acidfs.blob_id xattr comes by inode, not by path:
//     neither can name every path that reaches the file, so both hold
//     SHARED every stripe — as the single lock this replaces did.
//
// Not covered: a STAT decides whether the file has other names from the
// link count it reads with the blobId. A door change through a second name
// that a link(2) made and an unlink(2) removed again, all while one STAT
// runs, could be seen before the kernel is told — three calls racing one.
//
// Deadlock: a request takes all its stripes in one step (it never holds
// some while it waits for others), and a change takes no other stripe until
// it has let go of them all. No thread holding a draft lock (FileDrafts)
// waits for a stripe: STAT and the xattr commit pending writes before taking
// theirs, and COMMIT takes the draft lock inside its stripe. Store
// transactions run inside stripes, never the other way round.
//
// Paths are keyed by their text: the door hands only paths validatePath
// accepts ("/" then names, no empty, "." or ".." component, no trailing
// slash), which spell every name one way. Two paths may share a stripe
// (1 in kStripes): their requests then wait for each other, which costs
// time, never correctness.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <string_view>

#include "core/thread_annotations.h"

#ifndef TRY_ACQUIRE  // not (yet) in core/thread_annotations.h
#define TRY_ACQUIRE(...) ACIDFS_TSA(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) ACIDFS_TSA(try_acquire_shared_capability(__VA_ARGS__))
#endif

namespace acidfs {

// A fixed array of reader-writer locks, chosen by a hash of the path. The
// analysis sees the whole array as one capability ("door locks"): held
// (shared or exclusive) means "the stripes this request needs are held".
class CAPABILITY("door locks") DoorLocks {
 public:
  static constexpr size_t kStripes = 64;
  // A set of stripes: bit i is stripe i.
  using Stripes = uint64_t;
  static_assert(kStripes == 64, "Stripes is one bit per stripe");
  static constexpr Stripes kAll = ~Stripes{0};

  // The stripe of one path (stable across runs: FNV-1a of the bytes).
  static size_t stripeOf(std::string_view path);
  static Stripes stripesOf(std::string_view path) { return Stripes{1} << stripeOf(path); }
  // The stripes of every prefix of `path` below "/" ("/a", "/a/b",
  // "/a/b/c"); none for "/" itself, which no door change can alter (it is
  // a directory: never a source, never a destination), so that a change of
  // a path sharing its stripe holds back no one.
  static Stripes prefixStripes(std::string_view path);

  // Takes (and gives back) every stripe in `stripes` at once.
  void lock(Stripes stripes) ACQUIRE();
  void unlock(Stripes stripes) RELEASE();
  void lockShared(Stripes stripes) ACQUIRE_SHARED();
  void unlockShared(Stripes stripes) RELEASE_SHARED();
  // All of them, or none (what was taken is given back): for tests.
  bool tryLock(Stripes stripes) TRY_ACQUIRE(true);
  bool tryLockShared(Stripes stripes) TRY_ACQUIRE_SHARED(true);

 private:
  // One mutex guards the state of every stripe: a request waits until all
  // its stripes are free for it and marks them in one step, so it never
  // holds some while waiting for others (and ThreadSanitizer, which tracks
  // at most 64 held mutexes per thread, sees one, not up to 64). Readers are
  // not held back by waiting writers, as with the default pthread rwlocks
  // the stripes were before.
  bool exclusiveFree(Stripes stripes) const { return !(exclusive_ & stripes) && !(shared_ & stripes); }
  bool sharedFree(Stripes stripes) const { return !(exclusive_ & stripes); }
  void markShared(Stripes stripes);
  std::mutex mutex_;
  std::condition_variable changed_;
  Stripes exclusive_ = 0;                      // guarded by mutex_
  Stripes shared_ = 0;                         // stripes with readers_ > 0; guarded by mutex_
  std::array<uint32_t, kStripes> readers_{};  // guarded by mutex_
};

// Holds `stripes` exclusively for its scope: a door change.
class SCOPED_CAPABILITY DoorChangeLock {
 public:
  DoorChangeLock(DoorLocks& locks, DoorLocks::Stripes stripes) ACQUIRE(locks) : locks_(locks), stripes_(stripes) {
    locks_.lock(stripes_);
  }
  ~DoorChangeLock() RELEASE() { locks_.unlock(stripes_); }
  DoorChangeLock(const DoorChangeLock&) = delete;
  DoorChangeLock& operator=(const DoorChangeLock&) = delete;

 private:
  DoorLocks& locks_;
  const DoorLocks::Stripes stripes_;
};

// Holds `stripes` shared for its scope: whatever reveals a blobId.
class SCOPED_CAPABILITY DoorRevealLock {
 public:
  DoorRevealLock(DoorLocks& locks, DoorLocks::Stripes stripes) ACQUIRE_SHARED(locks) : locks_(locks), stripes_(stripes) {
    locks_.lockShared(stripes_);
  }
  ~DoorRevealLock() RELEASE() { locks_.unlockShared(stripes_); }
  DoorRevealLock(const DoorRevealLock&) = delete;
  DoorRevealLock& operator=(const DoorRevealLock&) = delete;

 private:
  DoorLocks& locks_;
  const DoorLocks::Stripes stripes_;
};

}  // namespace acidfs
