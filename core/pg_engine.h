// The PostgreSQL metadata engine (SPEC §9): the MetaEngine of a store whose
// STORE is a postgresql:// URI, so that any number of daemons on any hosts
// share one namespace with the same serializable transactions. DESIGN.md
// §1.2 says why it is built this way, with the measurements.
//
// Schema (created by the first open of an empty database, in schema
// "acidfs"; a database holding anything else is refused):
//   acidfs.<column>   (key bytea PRIMARY KEY, value bytea NOT NULL)
//                     one table per column of format.h, same keys and values
//   acidfs.commits    (id bytea PRIMARY KEY, at timestamptz)
//                     one row per committed transaction that wrote, pruned
//                     after an hour: how a lost connection during COMMIT is
//                     resolved (below)
//   acidfs.counters   (name text PRIMARY KEY, next bigint)
//   acidfs.versions   a sequence: content versions (nextVersion)
//                     numbers handed out in batches (allocate())
//
// Transactions: READ COMMITTED, and a transaction-scoped advisory lock on a
// 64-bit hash of (column, key) taken before every tracked read
// (pg_advisory_xact_lock_shared for Lock::kShared) and, at commit, on every
// key written. An advisory lock exists whether the row does or not, so
// absent keys are locked too (meta_engine.h), and a hot key makes writers
// queue instead of aborting. Each read is one statement after its lock, so
// it sees every commit made before the lock was granted. A hash collision
// only makes two keys share a lock. Writes are buffered in the client (a
// sorted map per column, which read() and scan() consult first) and sent
// with their locks and COMMIT as one message: a transaction costs one round
// trip per tracked read plus one.
//
// Unknown outcomes: a writing commit also inserts a fresh random id into
// acidfs.commits, under an advisory lock on that id. When the connection is
// lost before COMMIT's answer arrives, the engine connects again, takes the
// same lock (so it waits until the old session's transaction has ended, one
// way or the other) and looks for the id: found, the commit took effect
// (OK); absent, it did not (Status::Retry: the runner runs the body again).
// Only when the database cannot be asked within dbTimeout is the outcome
// unknown (CommitResult::outcomeUnknown, EIO). So no commit is applied
// twice, reference counts included.
//
// Durability, as a directory store's (SPEC §3): a transaction begun with
// `sync` is durable when its commit returns (synchronous_commit; with
// synchronous replication, on the standbys too); others commit with
// synchronous_commit off (visible at once to every host, durable within the
// server's wal_writer_delay, and at the next syncLog()). The WAL is one
// sequence, so a server crash keeps a prefix of the commits. syncLog() and
// flush() commit a row synchronously: that flushes the WAL up to it,
// every earlier commit of every session included. A server with
// synchronous standbys (synchronous_standby_names set) gets every writing
// commit synchronous: a failover then loses no commit that returned
// (SPEC §9), and none is visible to any host before the standbys have it.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/meta_engine.h"
#include "core/pg_connection.h"
#include "core/pg_listener.h"
#include "core/recent_cache.h"
#include "core/thread_annotations.h"

namespace acidfs {

struct PgEngineOptions {
  std::string uri;  // a libpq URI or connection string
  // How long a call waits for a database it cannot reach before it fails
  // with EIO (SPEC §9, -o db_timeout=).
  std::chrono::milliseconds dbTimeout{30000};
  // How old an answer of getRecent() may be (core/recent_cache.h); zero:
  // getRecent() is get(). A daemon gives half of coherence_ms (the kernel's
  // caches get the other half).
  std::chrono::milliseconds recentFor{0};
};

class PgEngine final : public MetaEngine {
 public:
  // Connects and checks the schema, creating it in an empty database.
  // EINVAL: the database holds tables that are not acidfs's. EIO: it cannot
  // be reached within dbTimeout.
  static Result<std::unique_ptr<PgEngine>> open(PgEngineOptions options);
  ~PgEngine() override;

  std::unique_ptr<MetaTxn> begin(bool sync) override;
  Result<std::optional<std::string>> get(Column c, std::string_view key) override;
  // One SELECT for all of them.
  Result<std::vector<std::optional<std::string>>> getMany(Column c, const std::vector<std::string>& keys) override;
  // Inodes and entries from the RecentCache while the listener hears the
  // other engines (so only once watchOthers() was called); get() otherwise.
  Result<std::optional<std::string>> getRecent(Column c, std::string_view key) override;
  std::unique_ptr<MetaCursor> scan(Column c) override;
  Status put(Column c, std::string_view key, std::string_view value, bool sync) override;
  Status syncLog() override;
  Status flush() override { return syncLog(); }
  int writesStopped() const override { return 0; }
  Status resume() override { return Status::OK(); }
  uint64_t unflushedBytes() const override { return 0; }

  Result<uint64_t> allocate(const std::string& name, uint64_t count, uint64_t floor) override;
  Result<uint64_t> nextVersion() override;
  Result<std::vector<FeedEntry>> readFeed(uint64_t from, size_t max) override EXCLUDES(gapsMutex_);
  Status trimFeed(uint64_t before) override;
  Result<uint64_t> feedEnd() override;
  // Listens for the other engines' commits (core/pg_listener.h).
  void watchOthers(std::function<void(const OthersChange&)> changed) override;
  // Whether its listener hears the other engines now (getRecent may answer
  // from the cache).
  bool hearingOthers() const { return hearing_; }
  // This engine's id in the notifications its commits send.
  const std::string& origin() const { return origin_; }

  // ---- for PgTxn and the cursors (core/pg_engine_txn.cc) ---------------------
  // A connection from the pool, or a new one (waiting up to dbTimeout for
  // the server). Lost ones are never pooled.
  Result<std::unique_ptr<PgConnection>> acquire() EXCLUDES(idleMutex_);
  void recycle(std::unique_ptr<PgConnection> conn) EXCLUDES(idleMutex_);
  // "acidfs.inodes" for Column::kInodes.
  static const std::string& table(Column c);
  const PgEngineOptions& options() const { return options_; }
  // A writing commit took place: now and then old acidfs.commits rows go.
  void noteCommitted();
  // Null without options().recentFor.
  RecentCache* recentCache() { return recent_.get(); }

 private:
  explicit PgEngine(PgEngineOptions options);
  Status prepareSchema(PgConnection& conn);
  // Runs `query`, which may run twice, on a pooled connection; a lost
  // connection is replaced until dbTimeout. (Defined in pg_engine.cc, its
  // only user.)
  template <typename T>
  Result<T> repeatable(const std::function<Result<T>(PgConnection&)>& query);
  // repeatable() of one statement (or several, ';'-separated).
  Result<std::vector<PgRows>> runRepeatable(const std::string& sql);
  Status pruneCommits();

  const PgEngineOptions options_;
  const std::string origin_;  // random, in hex
  std::atomic<uint64_t> commits_{0};
  // Before listener_: its thread calls into the cache until it is joined.
  const std::unique_ptr<RecentCache> recent_;
  std::atomic<bool> hearing_{false};      // listener_ LISTENs: recent_ may answer
  std::unique_ptr<PgListener> listener_;  // once watchOthers() was called

  static constexpr size_t kMaxIdle = 16;
  Mutex idleMutex_;
  std::vector<std::unique_ptr<PgConnection>> idle_ GUARDED_BY(idleMutex_);

  // readFeed's gaps: numbers of acidfs.feed_seq missing between records,
  // by when a reader first met them. A gap may be a commit still in flight
  // (it took its number, then waited for a standby): readers stop before
  // it until it is older than dbTimeout, after which no commit can fill it.
  Mutex gapsMutex_;
  std::map<uint64_t, std::chrono::steady_clock::time_point> gapsSeen_ GUARDED_BY(gapsMutex_);
};

// The advisory lock key of (column, key): a 64-bit hash of both.
int64_t pgLockKey(Column c, std::string_view key);

}  // namespace acidfs
