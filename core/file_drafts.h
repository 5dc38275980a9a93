// Uncommitted writes to files (SPEC §3). A write() lands in the file's draft
// and is visible at once to every reader; the draft is committed as one new
// blob — one transaction — at fsync, at the close of a descriptor that
// wrote, once it is older than the commit interval, or when it outgrows its
// memory budget. A crash loses at most the drafts, never part of a commit.
//
// A draft exists only while it holds uncommitted bytes; its `base` is the
// file's committed blob, because every other change to a file's content
// (truncate, copy, CAS) commits the file's draft first (commit()).
//
// A commit that fails for want of space or with an I/O error (ENOSPC,
// EDQUOT, EIO) drops the draft, as Linux drops dirty pages whose writeback
// failed: the file keeps its last committed content, and nothing commits the
// lost writes later behind the caller's back (eating space freed since).
// The error goes to whoever tried the commit, and to the next commit(ino) of
// the file, that is its next fsync or close — once, like Linux's writeback
// errors — so a writer whose draft the background committer or another
// door tried to commit still hears of the loss.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/namespace.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

class FileDrafts {
 public:
  // `maxDraftBytes` bounds one file's draft (a write that reaches it
  // commits the draft early), `maxTotalBytes` all of them together: a write
  // that finds the total past it commits its own file's draft, so that the
  // writers who fill memory are the ones who wait.
  FileDrafts(Namespace& ns, ContentStore& content, size_t maxDraftBytes = kDefaultMaxDraftBytes,
             size_t maxTotalBytes = kMaxTotalDraftBytes);
  // A draft lives in the daemon's memory: 32 MiB keeps a long sequential
  // write within the memory issue 12 allows, and writes as fast as 64 MiB
  // did (2.7 s per GiB either way, measured).
  static constexpr size_t kDefaultMaxDraftBytes = 32u << 20;
  static constexpr size_t kMaxTotalDraftBytes = 256u << 20;

  // Writes into the file's draft (EISDIR/EINVAL for non-files, ENOENT).
  Status write(uint64_t ino, uint64_t offset, std::string_view data);
  // Reads what a reader must see now: the draft over the committed content.
  Status read(uint64_t ino, uint64_t offset, size_t length, std::string& out);
  // Folds a pending size and mtime into attributes read from the store.
  void overlay(uint64_t ino, InodeRecord& inode);

  // Commits the file's draft, if any. After OK, the store holds every write;
  // an error reports writes that were lost (this commit's, or an earlier
  // failed one's since the last report).
  Status commit(uint64_t ino);
  // Commits every draft whose first uncommitted write is older than `ageNs`.
  Status commitOlderThan(int64_t ageNs);
  Status commitAll();
  // Drops a draft without committing (its file is gone).
  void discard(uint64_t ino);
  // Changes the file's content by other means than its draft (a truncate, a
  // copy onto it, a compare-and-swap commit): pending writes are committed
  // first and `change` runs while the file's writers and readers wait, so
  // none lands or looks in between. Every door changes content through this;
  // a draft that still finds its base moved (a door that found the file by
  // path after another change) is rebased, never stuck.
  Status changeContent(uint64_t ino, const std::function<Status()>& change);
  // A draft whose base is no longer the file's content is rebased on it:
  // the bytes its writes wrote are laid over the current content. Drafts are
  // never stuck on a base that moved; this makes it happen now.
  Status rebase(uint64_t ino);
  bool hasDraft(uint64_t ino);
  size_t draftCount();
  // Called with the ino of every draft a failed commit dropped, while that
  // draft's lock is held: it must not block (the FUSE layer queues the
  // kernel-cache invalidation it needs, since the kernel may still cache
  // the dropped writes). Set once, before any write.
  void setDroppedHandler(std::function<void(uint64_t ino)> handler) { droppedHandler_ = std::move(handler); }
  // Whether a commit that failed so dropped its draft (see above): ENOSPC,
  // EDQUOT, EIO. Other failures keep the draft for a later commit.
  static bool dropsDraft(const Status& failed) {
    const int e = failed.errnum();
    return e == ENOSPC || e == EDQUOT || e == EIO;
  }
  // Bytes held by all drafts together.
  size_t totalBytes() const { return totalBytes_.load(); }

 private:
  struct Draft {
    Mutex mutex;
    bool retired GUARDED_BY(mutex) = false;  // committed or discarded: fetch a new one
    uint64_t size GUARDED_BY(mutex) = 0;
    uint64_t baseSize GUARDED_BY(mutex) = 0;  // the size of `base`
    int64_t mtimeNs GUARDED_BY(mutex) = 0;
    int64_t firstWriteNs GUARDED_BY(mutex) = 0;
    Id128 base GUARDED_BY(mutex);
    // Window index → the window's bytes (shorter than a chunk = zero-padded),
    // and which of them writes wrote (the rest came from `base`).
    struct Window {
      std::string bytes;
      std::vector<std::pair<uint32_t, uint32_t>> written;  // [begin, end), sorted, disjoint
    };
    std::map<uint64_t, Window> windows GUARDED_BY(mutex);
    uint64_t writtenEnd GUARDED_BY(mutex) = 0;  // the end of the furthest write
    size_t bytes GUARDED_BY(mutex) = 0;
  };
  std::shared_ptr<Draft> find(uint64_t ino);
  Result<std::shared_ptr<Draft>> findOrCreate(uint64_t ino);
  // Commits and retires the draft.
  Status commitLocked(uint64_t ino, Draft& draft) REQUIRES(draft.mutex);
  // Commits the draft's windows, leaving it empty and in place (its lock
  // still held off others).
  Status commitWindowsLocked(uint64_t ino, Draft& draft) REQUIRES(draft.mutex);
  // Rebases `draft` on the file's current content (see rebase()).
  Status rebaseLocked(uint64_t ino, Draft& draft) REQUIRES(draft.mutex);
  void retire(uint64_t ino, Draft& draft) REQUIRES(draft.mutex);
  // Drops the draft when `failed` lost its writes (see above), and keeps
  // the error for the file's next commit(ino). Returns `failed`.
  Status dropIfLost(uint64_t ino, Draft& draft, Status failed) REQUIRES(draft.mutex);
  // The lost-writes error kept for `ino`, once (OK when none).
  Status takeLostWrites(uint64_t ino);

  Namespace& ns_;
  ContentStore& content_;
  const size_t maxDraftBytes_;
  const size_t maxTotalBytes_;
  std::atomic<size_t> totalBytes_{0};
  std::function<void(uint64_t)> droppedHandler_;  // constant once writes begin
  Mutex mutex_;
  std::unordered_map<uint64_t, std::shared_ptr<Draft>> drafts_ GUARDED_BY(mutex_);
  // Files whose draft was dropped by a failed commit, with that failure,
  // until their next commit(ino) reports it (or the file is discarded).
  std::unordered_map<uint64_t, Status> lostWrites_ GUARDED_BY(mutex_);
};

}  // namespace acidfs
