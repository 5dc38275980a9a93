// The metadata engine as the core sees it: the narrow interface that the
// namespace, content and CAS logic (and fsck) talk to, so that the engine
// under them can change. RocksDB is one implementation (core/meta_db.h);
// PostgreSQL will be the second (issue 13, SPEC §9). DESIGN.md, "The
// metadata engine", says what an implementation must guarantee; the
// contract of each call is written next to it here.
//
// Data: the columns of format.h, each an ordered map from byte-string keys
// to byte-string values. Keys sort bytewise (memcmp order, shorter first on
// a tie), as RocksDB's default comparator sorts them: format.h puts integers
// in keys big-endian so that they sort numerically, and scans rely on it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/format.h"
#include "core/status.h"

namespace acidfs {

// A position in one column's keys, moving forward in key order. One thread
// uses a cursor at a time. It releases what it holds (RocksDB: an iterator
// pinning memtables and table files) when it goes.
class MetaCursor {
 public:
  virtual ~MetaCursor() = default;

  // At the first key >= `key`; at the first key; at the last key.
  virtual void seek(std::string_view key) = 0;
  virtual void seekToFirst() = 0;
  virtual void seekToLast() = 0;
  // Whether the cursor is at a record: false past either end, and once an
  // error stopped it (status()).
  virtual bool valid() const = 0;
  // To the next key. Only while valid().
  virtual void next() = 0;
  // The record at the cursor, only while valid(). The bytes stay valid until
  // the cursor moves or goes.
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // OK, or why valid() turned false before the end: EUCLEAN when the engine
  // found its stored data damaged (RocksDB: a table block that fails its
  // checksum), else the engine's error as any other call returns it (EIO,
  // ENOSPC, Status::Retry). The message is the engine's own words: the
  // caller adds what it was doing (Status::withContext).
  virtual Status status() const = 0;

  // The bytes key() or value() shows, copied out: how code that scans while
  // others write reads them. Under ThreadSanitizer the copy is exempt from
  // checking: an engine may hand out bytes that its uninstrumented library
  // wrote and published with atomics TSan cannot see (RocksDB's memtable,
  // written by Debian's RocksDB build), and every such read would be
  // reported as a race (tests/tsan.supp explains the rest). What is done
  // with the copy is checked as usual.
  static std::string copyOut(std::string_view bytes);
};

// What a commit did.
struct CommitResult {
  // OK: committed, all of it. Status::Retry: a conflict with a concurrent
  // transaction (the runner runs the body again). Anything else: an error
  // (EIO; ENOSPC when the engine ran out of room).
  Status status;
  // Only when status is not OK: the engine cannot tell whether the commit
  // took effect, so it may yet turn out committed. RocksDB cannot tell for
  // any failed Commit: the batch may already be in the write-ahead log (an
  // error syncing it, say) and come back at the next open. The caller must
  // neither undo what the commit would have made durable (the runner leaves
  // its new chunk bytes to the next open's sweep) nor count on it.
  bool outcomeUnknown = false;
};

// One transaction of the engine: serializable with every other, through
// locks on the keys it reads with read() and writes. Begun by
// MetaEngine::begin; used by one thread at a time; ended by commit() or
// rollback() (dropping it unended rolls it back).
class MetaTxn {
 public:
  enum class Lock { kShared, kExclusive };

  virtual ~MetaTxn() = default;

  // Reads a key that a decision rests on and locks it, present or absent,
  // until the transaction ends: no other transaction can create, change or
  // delete it meanwhile. Shared locks admit other readers; exclusive ones
  // (and writes) none. Sees this transaction's own writes. Status::Retry
  // when the lock cannot be had (RocksDB: a deadlock, or a wait past its
  // lock timeout); EIO on the engine's own errors.
  virtual Result<std::optional<std::string>> read(Column c, std::string_view key, Lock lock) = 0;
  // Reads without a lock: the latest committed value, or this transaction's
  // own write. For data that cannot change under a lock already held.
  virtual Result<std::optional<std::string>> peek(Column c, std::string_view key) = 0;
  // A hint that read(c, key, lock) of each of `keys` comes soon: an engine
  // whose reads are round trips may lock and read them all at once now and
  // answer those reads from what it fetched (the locks keep it current; its
  // own writes still come first). Nothing changes for the caller but
  // speed; errors as read()'s. The default does nothing, and
  // prefetches() says whether this engine's does something.
  virtual bool prefetches() const { return false; }
  virtual Status prefetch(Column c, const std::vector<std::string>& keys, Lock lock) {
    (void)c;
    (void)keys;
    (void)lock;
    return Status::OK();
  }
  // Writes lock the key exclusively (Status::Retry as read()). Nothing is
  // visible to others before commit.
  virtual Status put(Column c, std::string_view key, std::string_view value) = 0;
  virtual Status del(Column c, std::string_view key) = 0;
  // The column's committed records merged with this transaction's own writes
  // (its puts seen, its deletes hidden). A scan locks nothing: a decision
  // that rests on a key it found reads that key again with read(), or rests
  // on a lock that fixes the range (format.h: a directory's inode fixes its
  // entries). Not to be used after the transaction writes again or ends.
  virtual std::unique_ptr<MetaCursor> scan(Column c) = 0;
  // Whether this transaction deletes anything (a commit that frees space,
  // SpaceGuard::mayCommit).
  virtual bool deletes() const = 0;
  // Adds a record to the change feed (core/feed.h), written with the
  // commit under the transaction's feed sequence number: one number for
  // all of a transaction's records, taken at commit while it holds every
  // lock, so that it is larger than the number of every transaction this
  // one waited for. No key is read or locked for it.
  virtual void appendFeed(std::string value) = 0;

  // All or nothing: every write lands, or none does.
  virtual CommitResult commit() = 0;
  // Drops every write and lock. Also after a commit that failed.
  virtual void rollback() = 0;
};

// The due entries of a time-ordered index: the keys under `prefix` whose
// next 8 bytes (a big-endian time, ns) are at most `nowNs`, oldest first, at
// most `max` of them, read from `cursor` (the trash's, txnIds' and
// expiries' indexes). `what` names the index in an error.
Result<std::vector<std::string>> dueKeys(MetaCursor& cursor, std::string_view prefix, int64_t nowNs, size_t max,
                                         const char* what);

// The committed data, read outside any transaction: a store's engine, or
// its files opened read-only for fsck (MetaDbReader).
class MetaReader {
 public:
  virtual ~MetaReader() = default;

  // The latest committed value, or nullopt. EIO on the engine's errors.
  virtual Result<std::optional<std::string>> get(Column c, std::string_view key) = 0;
  // get() of each key, answers in the keys' order; not one instant for all
  // of them. An engine across a network answers in one round trip (a cold
  // read's chunks: core/content_store.cc); this default asks one by one.
  virtual Result<std::vector<std::optional<std::string>>> getMany(Column c, const std::vector<std::string>& keys);
  // A value the key held at most a bounded time ago (SPEC §9: what stat,
  // lookup and readdir may show of other hosts' commits, within
  // coherence_ms), and never older than this process's own commits. An
  // engine shared with other processes may answer from a cache
  // (core/recent_cache.h); this default is get().
  virtual Result<std::optional<std::string>> getRecent(Column c, std::string_view key) { return get(c, key); }
  // The column's committed records as of one instant (the cursor's
  // creation), whatever commits meanwhile.
  virtual std::unique_ptr<MetaCursor> scan(Column c) = 0;
};

// What another process's commit changed, as caches of the data need to
// know it: a key of the inodes or dentries column, or (`everything`) more
// than was said, or what may have been missed.
struct OthersChange {
  bool everything = false;
  Column column = Column::kInodes;
  std::string key;
};

// A change feed record with its place: its transaction's sequence number,
// and its index among that transaction's records.
struct FeedEntry {
  uint64_t seq = 0;
  uint32_t index = 0;
  std::string value;
};

// The engine of an open store. All calls are safe from any thread.
class MetaEngine : public MetaReader {
 public:
  // The feed's records with seq >= `from`, in order, at most about `max`
  // (a transaction's records are never split), and never one past a number
  // that may still commit: a reader that resumes after the last seq it saw
  // misses nothing. RocksDB: below the oldest number in flight; PostgreSQL:
  // below the first gap younger than the database timeout.
  virtual Result<std::vector<FeedEntry>> readFeed(uint64_t from, size_t max) = 0;
  // Deletes the records with seq < `before`.
  virtual Status trimFeed(uint64_t before) = 0;
  // A number no commit that begins after this call takes less than.
  virtual Result<uint64_t> feedEnd() = 0;

  // Calls `changed`, from a thread of the engine's own, for what other
  // processes' commits change from now on, soon after each commits: how a
  // daemon keeps its kernel's caches within coherence_ms of a shared store
  // (SPEC §9). An empty function stops the calls: none is running or made
  // once this returns. RocksDB: never called (one process owns the
  // database); PostgreSQL: LISTEN/NOTIFY (core/pg_listener.h).
  virtual void watchOthers(std::function<void(const OthersChange&)> changed) { (void)changed; }

  // A new transaction. With `sync`, its commit is durable when it returns;
  // without, it is durable after the next syncLog() (or flush()). Commits
  // become durable in commit order: a power cut loses at most the last
  // ones not yet synced, never one without those after it.
  virtual std::unique_ptr<MetaTxn> begin(bool sync) = 0;
  // One write outside any transaction (it takes no lock and checks nothing).
  virtual Status put(Column c, std::string_view key, std::string_view value, bool sync) = 0;
  // Numbers for new records (inode numbers): the first of `count`
  // consecutive numbers of the counter `name` that no call got before, in
  // any process sharing the data, none below `floor`. Numbers handed out and
  // never used are simply skipped. RocksDB: a count in memory (one process
  // owns the database, and the caller's floor is what it holds); PostgreSQL:
  // a row of acidfs.counters.
  virtual Result<uint64_t> allocate(const std::string& name, uint64_t count, uint64_t floor) = 0;
  // A content version (InodeRecord::contentVersion, SPEC §11): larger than
  // every one this engine, or any process sharing the data, returned
  // before, even across a crash or a power cut, so that a fencing token
  // only grows. RocksDB: a count in memory behind a mark synced ahead of
  // it (format.h, "version_mark"); PostgreSQL: the sequence
  // acidfs.versions.
  virtual Result<uint64_t> nextVersion() = 0;

  // Everything committed so far is durable when these return. syncLog()
  // syncs the engine's log of commits; flush() also writes out what the
  // engine holds in memory (RocksDB: memtables to table files, so that no
  // log needs replaying at the next open).
  virtual Status syncLog() = 0;
  virtual Status flush() = 0;

  // An engine may stop taking writes after it failed to write its own files
  // (a full disk, an I/O error): then every commit fails, until resume().
  // writesStopped() is the errno of that (ENOSPC, EIO), or 0.
  virtual int writesStopped() const = 0;
  // Asks the engine to take writes again; OK when they were not stopped.
  // It may need some free space to do so (RocksDB flushes its memtables).
  virtual Status resume() = 0;
  // Bytes committed that only the log holds yet: about what the next
  // flush() writes (SpaceGuard keeps room for it). 0 for an engine that
  // writes nothing later.
  virtual uint64_t unflushedBytes() const = 0;
};

}  // namespace acidfs
