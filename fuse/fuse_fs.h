// The FUSE frontend: libfuse3 low-level operations translated into core
// calls. One function per operation (fuse_ops.cc), each decoding the request,
// making one core call, and replying; this class holds the state they share.
//
// Caching: the kernel caches entries, attributes and file pages. That is
// correct while every change comes through this kernel mount, which is the
// case for all POSIX calls; changes made behind the kernel's back (the ioctl
// sidecar) must send invalidation notifications. Writes go to the daemon at
// once (no writeback cache: SPEC §3 needs the daemon to see every write to
// commit it within the commit interval).
#pragma once

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <unordered_map>

#include "core/access_times.h"
#include "core/inode_holders.h"
#include "core/file_drafts.h"
#include "core/status.h"
#include "core/store.h"
#include "core/thread_annotations.h"
#include "fuse/door_locks.h"
#include "fuse/inode_table.h"
#include "fuse/ioctl_parts.h"

namespace acidfs {

struct FuseOptions {
  double attrTimeout = 60.0;   // seconds the kernel may cache attributes
  double entryTimeout = 60.0;  // ... names, and their absence
  int commitIntervalSeconds = 5;
  size_t maxWrite = 1 << 20;
  bool readdirplus = true;
  bool atime = true;  // relatime updates on read (off with -o noatime)
  bool strictAtime = false;  // -o strictatime: every read that reaches us moves atime
  size_t maxDraftBytes = FileDrafts::kDefaultMaxDraftBytes;  // per file, before an early commit
  bool debug = false;
  bool syncWrites = false;  // -o sync: every write() is committed and durable when it returns
  // -o ro: the kernel refuses POSIX changes itself (EROFS); the ioctl door,
  // which it does not see into, refuses TRANSACT, PUT and COMMIT, and no
  // access time is written.
  bool readOnly = false;
  // A database store, which daemons on other hosts change too (SPEC §9):
  // what the kernel caches may be stale without our knowing, so an open
  // never keeps cached pages (close-to-open).
  bool sharedStore = false;
};

// A failure of the store rather than of the request (EIO, ENOSPC, or no
// errno at all): both doors, fuse_ops.cc's replies and the ioctl door's,
// log these as well as answering them.
inline bool isStoreFailure(const Status& s) { return s.errnum() == EIO || s.errnum() == ENOSPC || !s.errnum(); }

// One open file description (fi->fh).
struct OpenFile {
  OpenFile(uint64_t i, bool r) : ino(i), readable(r) {}
  const uint64_t ino;
  const bool readable;  // opened O_RDONLY or O_RDWR: its close moves atime (relatime)
  std::atomic<bool> wrote{false};  // set by write threads, read at flush/release
};

class FuseFs {
 public:
  FuseFs(Store& store, FuseOptions options);
  ~FuseFs();

  static const fuse_lowlevel_ops& operations();

  // Commits every draft (unmount, SIGTERM).
  Status commitAll();

  Store& store;
  const FuseOptions options;
  FileDrafts drafts;
  AccessTimes accessTimes;  // relatime (or strictatime), persisted at each commit interval
  InodeTable inodes;
  IoctlParts ioctlParts;  // requests sent in parts, by descriptor; bounded

  uint64_t addOpenFile(uint64_t ino, int openFlags) EXCLUDES(openMutex_);
  OpenFile* openFile(uint64_t fh) EXCLUDES(openMutex_);
  void removeOpenFile(uint64_t fh) EXCLUDES(openMutex_);
  // Deletes an orphan once the kernel has let go of it.
  void releaseIfOrphan(uint64_t ino);
  // After a read: relatime, and the kernel's cached attributes refreshed.
  void noteAccess(uint64_t ino);
  // The ioctl door's locks, one stripe per path hash: door changes of
  // different files proceed in parallel, and no one sees a new blobId while
  // the kernel still serves the old content from its caches. What each
  // request holds, and why that is enough: fuse/door_locks.h.
  DoorLocks doorLocks;
  // Tests only (tests/mount_door_locks_test.cc), set before the session
  // runs: a door change naming `path` stops after its transaction, holding
  // its locks and before telling the kernel, until `fifo` has been opened
  // for writing and closed again.
  struct DoorPause {
    std::string path;
    std::string fifo;
  };
  std::optional<DoorPause> doorPauseForTests;

  // Tell the kernel to forget a cached name (it may now name another inode
  // or none), or an inode's attributes and, with `data`, its cached pages:
  // for changes that did not come through the kernel (the ioctl door).
  void invalidateEntry(uint64_t parent, std::string_view name);
  // True when the kernel has acted on it (or did not know the inode).
  bool invalidateInode(uint64_t ino, bool data);
  // Another host's commit changed what the kernel may cache (a database
  // store, SPEC §9): an inode (its attributes and pages) or a name; or,
  // after a gap in hearing them, anything (every inode the kernel knows;
  // names then last at most entry_timeout = coherence_ms).
  void othersChanged(const Store::OthersChange& change);
  // A direct write to `ino` has completed: opens drop the kernel's pages
  // until the committer thread has dropped them (InodeTable::wroteDirectly),
  // for descriptors that are open already too.
  void wroteDirectly(uint64_t ino) EXCLUDES(committerMutex_);
  // `name` in `parent` named `child`, which has no link left: the kernel
  // drops the name and, once unused, forgets the inode (and we free it).
  void notifyDeleted(uint64_t parent, uint64_t child, std::string_view name);
  // Set once the session exists, before the loop runs; used for notifications.
  void setSession(fuse_session* session) { session_ = session; }

 private:
  void committerLoop() EXCLUDES(committerMutex_);

  // The kernel's references and our descriptors, as the namespace asks for
  // them (core/inode_holders.h), from `inodes`.
  class KernelHolders final : public InodeHolders {
   public:
    explicit KernelHolders(FuseFs& fs) : fs_(fs) {}
    bool keep(uint64_t ino, const InodeRecord& inode, LastName how) override;
    void settled(uint64_t ino, const InodeRecord& inode, LastName how, bool committed) override;
    bool holds(uint64_t ino) override;

   private:
    // Whether keep() claims the inode for deletion at once (settled() must
    // then end the claim) rather than asking whether the kernel knows it.
    static bool claimable(const InodeRecord& inode, LastName how);
    FuseFs& fs_;
  };
  KernelHolders holders_{*this};

  Mutex openMutex_;
  std::unordered_map<uint64_t, OpenFile> open_ GUARDED_BY(openMutex_);
  uint64_t nextFh_ GUARDED_BY(openMutex_) = 1;

  fuse_session* session_ = nullptr;

  Mutex committerMutex_;
  std::condition_variable_any committerWake_;
  bool stopping_ GUARDED_BY(committerMutex_) = false;
  // Files whose cached pages may be wrong: a failed commit dropped their
  // draft (the kernel may still cache the lost writes), or a direct write
  // completed beside buffered reads. The committer thread invalidates their
  // pages — not the thread that serves the write, whose pages the kernel may
  // hold locked (the invalidation would wait on them forever).
  std::vector<uint64_t> pagesToDrop_ GUARDED_BY(committerMutex_);
  void dropPagesLater(uint64_t ino) EXCLUDES(committerMutex_);
  void dropQueuedPages() EXCLUDES(committerMutex_);
  std::thread committer_;
};

}  // namespace acidfs
