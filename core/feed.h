// The change feed (SPEC §11): one record per committed change, numbered in
// commit order, read by `acidfs watch` (resumable with --from), kept
// `feed_days`.
//
// Who numbers: the engine, at commit (MetaTxn::appendFeed): every record of
// one transaction gets its sequence number, taken while the transaction
// holds all its locks, so a transaction that conflicts with another always
// numbers after it — and no counter key is read or written, so numbering
// adds no conflict. RocksDB: a count in memory (one process), readers held
// below the oldest number still in flight; PostgreSQL: a sequence, taken in
// the COMMIT statement, readers waiting out gaps (core/meta_engine.h).
//
// Records are written by the transaction that makes the change, so a
// committed change always has its record (a kill -9 loses neither or both).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/id128.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

struct Caller;
class Clock;
class MetaEngine;

// Values are stored.
enum class FeedOp : uint8_t {
  kCreate = 1,   // a regular file, device node or FIFO made
  kMkdir = 2,
  kSymlink = 3,
  kWrite = 4,    // new content (blobId): a close, fsync, CAS, copy onto, truncate
  kDelete = 5,   // a name of a non-directory went (unlink, a transact's delete, expiry)
  kRmdir = 6,
  kRename = 7,   // path → to
  kExchange = 8, // path ⇄ to (RENAME_EXCHANGE)
  kLink = 9,     // a new name (`path`) of an existing file
  kAttr = 10,    // mode, owner or times changed
};
const char* feedOpName(FeedOp op);  // "create", "mkdir", ..., "attr"

struct FeedRecord {
  FeedOp op = FeedOp::kCreate;
  int64_t timeNs = 0;
  uint32_t uid = 0;      // the file's owner
  std::string path;      // absolute within the mount
  std::string to;        // renames and exchanges
  std::optional<Id128> blob;  // writes and creates of regular files
  // Who may see the record (SPEC §6, "readable changes only"): a caller
  // who could search the directories of `path` (and of `to`) — kept here as
  // the directory's mode and owner when the change was made — sees it, and
  // its blobId only if it could read the file.
  uint32_t dirMode = 0, dirUid = 0, dirGid = 0;
  uint32_t mode = 0, fileGid = 0;

  std::string encode() const;
  static std::optional<FeedRecord> decode(std::string_view in);
  // Whether `caller` may see it, and its blobId.
  bool visibleTo(const Caller& caller) const;
  bool blobVisibleTo(const Caller& caller) const;
};

// A change with its place in the feed, as a watcher gets it.
struct FeedChange {
  uint64_t seq = 0;
  uint32_t index = 0;  // among its transaction's records
  FeedRecord record;
  bool blobVisible = false;  // the watcher may see record.blob
};

struct FeedPage {
  std::vector<FeedChange> changes;
  uint64_t next = 0;  // resume here (--from): past every change read, shown or not
  bool gone = false;  // `from` is older than what is kept: nothing read (exit 3)
};

// Reading and keeping the feed. Safe from any thread.
class Feed {
 public:
  Feed(MetaEngine& engine, const Clock& clock, int64_t keepNs) : engine_(engine), clock_(clock), keepNs_(keepNs) {}

  // The changes from `from` on, under `prefix` ("/" for all), that
  // `caller` may see, at most about `max` read. Never one that a later
  // read from `next` could find before another it has not shown: the
  // engine holds readers below numbers still in flight.
  Result<FeedPage> read(const Caller& caller, std::string_view prefix, uint64_t from, size_t max);
  // As read(), but with nothing to show yet waits up to `wait` for a
  // commit (of this process; others' are polled for), then reads again.
  Result<FeedPage> readOrWait(const Caller& caller, std::string_view prefix, uint64_t from, size_t max,
                              std::chrono::milliseconds wait) EXCLUDES(mutex_);
  // Wakes the readers that wait: a transaction with records committed.
  void committed() EXCLUDES(mutex_);
  // Where a watcher that asks for no past starts: no change committed
  // after this call numbers below it (a database store: but one racing
  // this very call, see DESIGN.md).
  Result<uint64_t> end();
  // Drops the changes older than the retention, first moving the floor
  // (below which read() says gone) past them.
  Status expire();

 private:
  Result<uint64_t> floor();

  MetaEngine& engine_;
  const Clock& clock_;
  const int64_t keepNs_;
  Mutex mutex_;
  std::condition_variable_any changed_;
  uint64_t commits_ GUARDED_BY(mutex_) = 0;
  std::atomic<int> waiters_{0};  // readOrWait calls between their read and their wait's end
};

}  // namespace acidfs
