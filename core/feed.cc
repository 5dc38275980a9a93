#include "core/feed.h"

#include <unistd.h>

#include "core/caller.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/format.h"
#include "core/meta_engine.h"
#include "core/records.h"

namespace acidfs {

namespace {
constexpr uint8_t kFeedRecordVersion = 1;
}  // namespace

const char* feedOpName(FeedOp op) {
  switch (op) {
    case FeedOp::kCreate: return "create";
    case FeedOp::kMkdir: return "mkdir";
    case FeedOp::kSymlink: return "symlink";
    case FeedOp::kWrite: return "write";
    case FeedOp::kDelete: return "delete";
    case FeedOp::kRmdir: return "rmdir";
    case FeedOp::kRename: return "rename";
    case FeedOp::kExchange: return "exchange";
    case FeedOp::kLink: return "link";
    case FeedOp::kAttr: return "attr";
  }
  return "?";
}

std::string FeedRecord::encode() const {
  Encoder e;
  e.u8(kFeedRecordVersion).u8(static_cast<uint8_t>(op)).i64(timeNs).u32(uid).bytes(path).bytes(to);
  e.u8(blob ? 1 : 0);
  if (blob) e.raw(blob->view());
  e.u32(dirMode).u32(dirUid).u32(dirGid).u32(mode).u32(fileGid);
  return e.take();
}

std::optional<FeedRecord> FeedRecord::decode(std::string_view in) {
  Decoder d(in);
  FeedRecord r;
  uint8_t version = 0, op = 0, hasBlob = 0;
  if (!d.u8(version) || version != kFeedRecordVersion || !d.u8(op) || op < 1 || op > 10) return std::nullopt;
  r.op = static_cast<FeedOp>(op);
  if (!d.i64(r.timeNs) || !d.u32(r.uid) || !d.bytes(r.path) || !d.bytes(r.to) || !d.u8(hasBlob) || hasBlob > 1)
    return std::nullopt;
  if (hasBlob) {
    std::string_view bytes;
    if (!d.raw(16, bytes)) return std::nullopt;
    r.blob = Id128::fromBytes(bytes);
  }
  if (!d.u32(r.dirMode) || !d.u32(r.dirUid) || !d.u32(r.dirGid) || !d.u32(r.mode) || !d.u32(r.fileGid) || !d.done())
    return std::nullopt;
  return r;
}

bool FeedRecord::visibleTo(const Caller& caller) const {
  InodeRecord dir;
  dir.mode = S_IFDIR | (dirMode & 07777);
  dir.uid = dirUid;
  dir.gid = dirGid;
  return mayAccess(caller, dir, R_OK | X_OK);  // may list the directory the name is in
}

bool FeedRecord::blobVisibleTo(const Caller& caller) const {
  InodeRecord file;
  file.mode = mode;
  file.uid = uid;
  file.gid = fileGid;
  return visibleTo(caller) && mayAccess(caller, file, R_OK);
}

namespace {
bool under(std::string_view path, std::string_view prefix) {
  if (prefix.empty() || prefix == "/") return true;
  return path == prefix || (path.size() > prefix.size() && path.starts_with(prefix) && path[prefix.size()] == '/');
}
}  // namespace

Result<uint64_t> Feed::floor() {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, engine_.get(Column::kDefault, kFeedFloorKey));
  if (!value) return uint64_t{1};
  Decoder d(*value);
  uint64_t first = 0;
  if (!d.u64(first) || !d.done()) return Status::Error(EIO, "store corrupted: undecodable feed_floor");
  return first;
}

Result<FeedPage> Feed::read(const Caller& caller, std::string_view prefix, uint64_t from, size_t max) {
  FeedPage page;
  ACIDFS_ASSIGN_OR_RETURN(const uint64_t first, floor());
  if (keepNs_ == 0) {  // the feed is off (feed_days=0): nothing is kept
    page.gone = true;
    ACIDFS_ASSIGN_OR_RETURN(page.next, engine_.feedEnd());
    return page;
  }
  if (from < first) {
    page.gone = true;
    page.next = first;
    return page;
  }
  ACIDFS_ASSIGN_OR_RETURN(std::vector<FeedEntry> entries, engine_.readFeed(from, max));
  page.next = entries.empty() ? from : entries.back().seq + 1;
  for (FeedEntry& entry : entries) {
    std::optional<FeedRecord> record = FeedRecord::decode(entry.value);
    if (!record) return Status::Error(EIO, "store corrupted: undecodable change feed record " + std::to_string(entry.seq));
    if (!under(record->path, prefix) && !under(record->to, prefix)) continue;
    if (!record->visibleTo(caller)) continue;
    const bool blobVisible = record->blobVisibleTo(caller);
    page.changes.push_back(FeedChange{entry.seq, entry.index, std::move(*record), blobVisible});
  }
  return page;
}

Result<FeedPage> Feed::readOrWait(const Caller& caller, std::string_view prefix, uint64_t from, size_t max,
                                  std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    uint64_t seen = 0;
    {
      // Counted as waiting before reading: a commit after the read either
      // sees the count and wakes us, or came before it and is in the read.
      waiters_.fetch_add(1);  // seq_cst: against committed()'s load, a store-load pair
      MutexLock lock(mutex_);
      seen = commits_;
    }
    Result<FeedPage> read = this->read(caller, prefix, from, max);
    if (!read.ok()) {
      waiters_.fetch_sub(1);
      return read.status();
    }
    FeedPage& page = *read;
    // Something to show, or something read past (hidden from this
    // caller): the caller moves on.
    if (page.gone || !page.changes.empty() || page.next != from || std::chrono::steady_clock::now() >= deadline) {
      waiters_.fetch_sub(1);
      return std::move(page);
    }
    const auto now = std::chrono::steady_clock::now();
    // Another host's commits are not heard: look again every 100 ms.
    MutexLock lock(mutex_);
    changed_.wait_for(mutex_, std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(100)),
                      [&]() REQUIRES(mutex_) { return commits_ != seen; });
    waiters_.fetch_sub(1);
  }
}

void Feed::committed() {
  // Most commits have no watcher waiting: no lock and no wake-up for them.
  if (waiters_.load() == 0) return;
  {
    MutexLock lock(mutex_);
    ++commits_;
  }
  changed_.notify_all();
}

Result<uint64_t> Feed::end() { return engine_.feedEnd(); }

Status Feed::expire() {
  const int64_t cutoff = clock_.nowNs() - keepNs_;
  ACIDFS_ASSIGN_OR_RETURN(const uint64_t first, floor());
  uint64_t keepFrom = first;
  for (;;) {
    ACIDFS_ASSIGN_OR_RETURN(std::vector<FeedEntry> entries, engine_.readFeed(keepFrom, 1024));
    if (entries.empty()) break;
    bool reachedKept = false;
    for (const FeedEntry& entry : entries) {
      std::optional<FeedRecord> record = FeedRecord::decode(entry.value);
      if (record && record->timeNs >= cutoff) {
        reachedKept = true;
        break;
      }
      keepFrom = entry.seq + 1;
    }
    if (reachedKept) break;
  }
  if (keepFrom == first) return Status::OK();
  // The floor first: a reader between the two steps is told "gone", never
  // handed a feed with a hole.
  ACIDFS_RETURN_IF_ERROR(engine_.put(Column::kDefault, kFeedFloorKey, Encoder().u64(keepFrom).take(), /*sync=*/true));
  return engine_.trimFeed(keepFrom);
}

}  // namespace acidfs
