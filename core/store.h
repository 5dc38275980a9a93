// A store: one directory holding an acidfs filesystem (format.h), opened by
// one process at a time. The facade that owns the engine's parts; callers
// use ns() for POSIX operations and cas() for the ConvexFS ones.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/cas_ops.h"
#include "core/clock.h"
#include "core/expiry.h"
#include "core/feed.h"
#include "core/id128.h"
#include "core/namespace.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace rocksdb {
class FileSystem;
}

namespace acidfs {

// The engine's parts (internal headers: meta_db.h, segment_store.h, ...).
class ContentStore;
class Leases;
class MetaDb;
class RadosChunkStore;
class ChunkStore;
class MetaEngine;
class Sessions;
class Reservations;
class SegmentFiles;
class SegmentStore;
class SpaceGuard;
class TransactionRunner;
class History;
class Trash;
class Tree;

enum class Durability {
  // Atomic and prefix-consistent: each transaction reaches the OS when it
  // commits (so survives kill -9); the WAL is synced by sync() and every
  // commitInterval. Segment space a commit frees goes back to the
  // filesystem after the next such sync, not before (a power cut may undo
  // the commit).
  kDefault,
  // Every transaction is on stable storage when it returns.
  kSync,
};

struct StoreOptions {
  Durability durability = Durability::kDefault;
  int commitIntervalSeconds = 5;  // background WAL sync in kDefault; 0 = only sync() and close
  uint32_t chunkSize = 64 * 1024;  // used when formatting; an existing store keeps its own
  uint32_t inlineMax = 32 * 1024;
  HashFunction hash = xxh3Hash;   // tests inject degenerate hashes
  int64_t leaseTtlSeconds = 3600;
  int gcIntervalSeconds = 60;     // expired-lease and trash sweep; 0 = only on demand
  // How long dropped names and contents are kept (trash.h, SPEC §10); 0
  // keeps nothing (unless GC is frozen). acidfsd's trash_days= is 1 day
  // unless told otherwise; a library user asks for a trash.
  int64_t trashSeconds = 0;
  // How long the change feed keeps changes (SPEC §11, feed.h); 0: no feed
  // is recorded. acidfsd's feed_days= is 1 day by default.
  int64_t feedSeconds = 24 * 3600;
  // A write-ahead log damaged before its end (not merely cut short by a
  // crash) would lose the complete records after the damage, synced ones
  // too: open() refuses such a store (EUCLEAN) unless this is set, as
  // `acidfs fsck --repair` sets it once it has reported the damage.
  bool dropLogAfterDamage = false;
  // Where the store's files are written: null means the real ones. Tests
  // put a disk model here that can cut the power (tests/fault_injection.h).
  // The segment files and the store's directory syncs go through
  // `segmentFiles`, the metadata database's files through
  // `metadataFileSystem`; the marker and LOCK are written directly.
  std::shared_ptr<SegmentFiles> segmentFiles;
  std::shared_ptr<rocksdb::FileSystem> metadataFileSystem;
  // The time of day for timestamps and lease expiry: null means the real
  // clock. Tests put a ManualClock here to move time.
  std::shared_ptr<const Clock> clock;

  // ---- a database store (SPEC §9) ------------------------------------------
  // Where file contents go: "db" (in the database, the default).
  std::string chunks = "db";
  // How long a call waits for an unreachable database before EIO.
  std::chrono::milliseconds dbTimeout{30000};
  // How late stat, lookup and readdir may show other hosts' commits
  // (SPEC §9, -o coherence_ms=). The store's cache of inodes and entries
  // takes half (core/recent_cache.h); the kernel's caches, which the daemon
  // caps, must keep to the other half. Zero: no cache.
  std::chrono::milliseconds coherence{1000};
  // How long after a daemon's last heartbeat its open-unlinked files are
  // reclaimed by the others.
  int sessionTimeoutSeconds = 30;
};

struct StoreStats {
  uint64_t commits = 0, conflicts = 0, retries = 0;
  uint64_t bytesStored = 0;      // stored bytes of all live chunks, each once (holes, trailing zeros excluded)
  uint64_t bytesReferenced = 0;  // sum of the sizes of the files' blobs
  uint64_t chunkCount = 0, blobCount = 0, leaseCount = 0, inodeCount = 0;
};

// What STORE/ACIDFS says of a store, or nullopt when it is not one. A
// value too wide for its field reads as 0 (refused), not as its low bits.
struct StoreMarker {
  uint32_t format = 0;
  uint32_t chunkSize = 0;
};
std::optional<StoreMarker> readStoreMarker(const std::string& storePath);

// What STORE/LOCK holds: the pid of the process that has the store open, a
// newline, and, once it has said what it does with the store
// (Store::recordUse; acidfsd: "mounted on POINT"), that and a newline.
// Every reader and writer of the file goes through these.
struct LockHolder {
  std::string pid;  // "?" when the file holds none
  std::string use;  // empty until recorded
  std::string describe() const;  // "pid N" or "pid N, USE", for messages
  std::string encode() const;
  static LockHolder decode(std::string_view content);
};
// Reads the LOCK file open at `lockFd`, or the one in `storePath` (no pid
// when it cannot be read).
LockHolder readLockHolder(int lockFd);
LockHolder readLockHolder(const std::string& storePath);

class Store {
 public:
  // Opens STORE, formatting it when empty. Refuses (EBUSY) a store another
  // process has open, (EINVAL) a directory that is not an acidfs store,
  // (EPROTO) an unknown format version and (EUCLEAN) damaged metadata (see
  // dropLogAfterDamage), touching nothing.
  static Result<std::unique_ptr<Store>> open(const std::string& path, StoreOptions options = {});
  ~Store();  // clean close: syncs, stops background work, releases the lock

  Namespace& ns() { return *ns_; }
  CasOps& cas() { return *cas_; }
  ContentStore& content() { return *content_; }

  // Everything committed so far is on stable storage when this returns;
  // then the space those commits freed is handed to the reclaimer.
  Status sync();
  // Expires leases (leases.h) that ended before the clock's now, freeing
  // the blobs only they held. Unreferenced chunks are
  // freed by the transactions that drop them; this only sweeps leases.
  Result<uint64_t> collectGarbage();
  // `acidfs gc --freeze|--thaw` (SPEC §10): while frozen nothing is
  // reclaimed — the trash does not expire, and drops are kept even with the
  // trash off. Shared by every host of a database store.
  Status setGcFrozen(bool frozen);
  Result<bool> gcFrozen();
  // Deletes every trash record expired by now (unless GC is frozen): the
  // background does it every gcIntervalSeconds; a thaw at once.
  Status expireTrash();
  // Forgets the txnIds recorded more than 24 h ago (txn_ids.h); the
  // background loop calls it every gc interval.
  Status expireTxnIds();
  // Deletes the files whose user.acidfs.expires_at has come (expiry.h); the
  // background loop calls it every second (unless gcIntervalSeconds is 0).
  // Returns how many it deleted.
  Result<uint64_t> fireExpiries() EXCLUDES(expiredMutex_);
  // Called after each such deletion, from the thread that made it: how
  // the FUSE layer drops the kernel's entry. Empty: nobody is told.
  void onExpired(Expiries::Deleted deleted) EXCLUDES(expiredMutex_);
  Trash& trash() { return *trash_; }
  Feed& feed() { return *feed_; }
  History& history() { return *history_; }
  Result<StoreStats> stats();
  uint64_t diskUsage();  // bytes the store occupies in the filesystem
  // Adds what the holder does with the store to STORE/LOCK, after its pid
  // (acidfsd: the mount point), for a process that finds the store in use
  // to tell a serving daemon from one that is closing (store_handover.h).
  void recordUse(const std::string& use) { writeLock(use); }
  // What another daemon's commit changed, for a database store's caches
  // (SPEC §9): an inode, a name in a directory (`name` set: `ino` is the
  // directory), or possibly anything (`everything`).
  struct OthersChange {
    bool everything = false;
    uint64_t ino = 0;
    std::optional<std::string> name;
  };
  // Calls `changed` from a thread of the store's own, soon after each commit
  // of another daemon sharing the database. nullptr stops the calls: none
  // runs once this returns. A directory store, which one process owns,
  // never calls it.
  void watchOthers(std::function<void(const OthersChange&)> changed);
  // Space fallocate holds for files, all together (core/reservations.h):
  // statfs leaves it out of the free space.
  uint64_t reservedBytes() const;
  uint32_t chunkSize() const;  // a reserved window holds this much
  // Space as statfs shows it, in bytes: the store's filesystem's, less what
  // fallocate reserved (taken, though not written yet); `available` is also
  // less what the space guard keeps for removals and metadata (as ext4's
  // reserved blocks), so a program may take all it is shown.
  struct Space {
    uint64_t total = 0, free = 0, available = 0;
  };
  Result<Space> space();
  const std::string& path() const { return path_; }
  // Every record, for fsck and tests: the engine, whichever it is.
  MetaEngine& engine() { return *db_; }
  // A directory store's RocksDB (null for a database store).
  MetaDb* rocksDb() { return rocks_; }
  // The same, for the many tests that know their store is a directory.
  MetaDb& db() { return *rocks_; }
  // Whether the store lives in a database (SPEC §9) rather than a directory.
  bool isDatabase() const { return sessions_ != nullptr; }
  // A database store's setting (default column): where its chunks are,
  // "db" or "rados:POOL" (no conf= or id=, which may differ from host to
  // host). Stores formatted before it existed are "db".
  static constexpr char kChunksKey[] = "chunks";
  // The RADOS namespace of a chunks=rados store's objects (RadosChunkStoreOptions::nspace).
  static constexpr char kRadosNamespaceKey[] = "rados_namespace";
  TransactionRunner& runner() { return *runner_; }
  // A database store's chunk objects with chunks=rados: (null for other
  // stores), for fsck to account for every object of the pool.
  RadosChunkStore* radosChunks() { return rados_.get(); }

 private:
  Store() = default;
  static Result<std::unique_ptr<Store>> openDatabase(const std::string& uri, StoreOptions options);
  // Builds the parts above the engine and chunk store (db_, segments_ and
  // space_ are set, or null where the store has none).
  Status assemble(uint32_t chunkSize, uint32_t inlineMax);
  // Commits the root directory, `settings` (default column) and
  // "format_version", unless another process did first: true when this
  // call formatted the store.
  Result<bool> format(const std::vector<std::pair<std::string, std::string>>& settings);
  static constexpr char kChunkSizeKey[] = "chunk_size";  // a database store's; a directory's is in its marker
  // Deletes RADOS objects no chunk record names (RadosChunkStore::sweep).
  void sweepRados();
  static constexpr uint64_t kDatabaseShownBytes = 1ull << 50;  // space() of a database store
  // Rewrites STORE/LOCK as held by this process, doing `use`.
  void writeLock(const std::string& use);
  void backgroundLoop();
  static constexpr size_t kTrashExpiryBatch = 512;  // records per transaction
  // The trash gives way to a full disk: while the store's filesystem has
  // less free space than the space guard's growth floor and one more
  // margin, the oldest drops are reclaimed early (kTrashEvictionBatch per
  // transaction, the space they freed handed back after each; a second of
  // it per call), unless GC is frozen. A directory store only (a database
  // store has no space guard).
  void evictTrashForSpace();
  static constexpr size_t kTrashEvictionBatch = 32;
  // What SpaceGuard asks for when the filesystem is nearly full: gives back
  // the space held for durability, and flushes the metadata's log to tables
  // when it holds at least kMinFlushBytes.
  Status makeRoom();
  static constexpr uint64_t kMinFlushBytes = 64u << 10;

  std::string path_;
  StoreOptions options_;  // options_.clock is never null once open() has begun
  int lockFd_ = -1;
  // In the order they are built; the destructor takes them down in reverse.
  std::unique_ptr<MetaEngine> db_;
  MetaDb* rocks_ = nullptr;  // db_ when it is RocksDB (a directory store)
  std::unique_ptr<SegmentStore> segments_;  // null for a database store
  std::unique_ptr<RadosChunkStore> rados_;  // a database store's with chunks=rados:
  // segments_, rados_ or null (every chunk inline: chunks=db).
  ChunkStore* chunkStore() const;
  std::unique_ptr<SpaceGuard> space_;
  std::unique_ptr<Reservations> reservations_;
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<TransactionRunner> runner_;
  std::unique_ptr<Trash> trash_;
  std::unique_ptr<History> history_;
  std::unique_ptr<Tree> tree_;
  std::unique_ptr<Namespace> ns_;
  std::unique_ptr<Leases> leases_;
  std::unique_ptr<TxnIds> txnIds_;
  std::unique_ptr<CasOps> cas_;
  std::unique_ptr<Expiries> expiries_;
  std::unique_ptr<Feed> feed_;
  Mutex expiredMutex_;
  Expiries::Deleted onExpired_ GUARDED_BY(expiredMutex_);
  std::unique_ptr<Sessions> sessions_;  // a database store's

  Mutex backgroundMutex_;
  std::condition_variable_any backgroundWake_;
  bool stopping_ GUARDED_BY(backgroundMutex_) = false;
  // makeRoom ran (the space guard was short of space): evict trash now
  // rather than at the next tick.
  std::atomic<bool> spacePressure_{false};
  std::thread background_;
};

}  // namespace acidfs
