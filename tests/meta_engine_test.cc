// The metadata engine contract (core/meta_engine.h, DESIGN.md §1.1), run
// against both engines: RocksDB (MetaDb) and PostgreSQL (PgEngine, each
// test on a fresh database of one server the suite starts). Own writes are
// seen and merged into scans; a commit is all or nothing; tracked reads lock
// absent keys; write skew and lost updates cannot happen under real
// threads; and, for PostgreSQL, a commit whose connection is lost is applied
// exactly once.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/encoding.h"
#include "core/meta_db.h"
#include "core/pg_connection.h"
#include "core/pg_engine.h"
#include "tests/pg_proxy.h"
#include "tests/postgres_instance.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::PgProxy;
using testing::PostgresInstance;
using testing::TempDir;

PostgresInstance& server() { return testing::sharedPostgres(); }
std::string freshDatabase() { return testing::freshDatabaseName(); }

enum class Kind { kRocks, kPostgres };

class MetaEngineTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kPostgres) {
      ASSERT_TRUE(server().ok()) << server().why();
    }
    engine_ = open();
    ASSERT_TRUE(engine_);
  }
  // Another engine over the same data: for PostgreSQL a second "host"; for
  // RocksDB the same engine (one process owns the database).
  MetaEngine& second() {
    if (GetParam() == Kind::kRocks) return *engine_;
    if (!second_) second_ = open();
    return *second_;
  }
  std::unique_ptr<MetaEngine> open() {
    if (GetParam() == Kind::kRocks) {
      auto db = MetaDb::open(dir_.path() + "/db");
      EXPECT_TRUE(db.ok()) << db.status().toString();
      return db.ok() ? std::move(*db) : nullptr;
    }
    if (database_.empty()) database_ = freshDatabase();
    auto engine = PgEngine::open({server().uri(database_), std::chrono::milliseconds(5000)});
    EXPECT_TRUE(engine.ok()) << engine.status().toString();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  std::optional<std::string> committed(Column c, const std::string& key) {
    auto v = engine_->get(c, key);
    EXPECT_TRUE(v.ok()) << v.status().toString();
    return v.ok() ? *v : std::nullopt;
  }
  void putCommitted(Column c, const std::string& key, const std::string& value) {
    auto txn = engine_->begin(true);
    ASSERT_TRUE(txn->put(c, key, value).ok());
    CommitResult r = txn->commit();
    ASSERT_TRUE(r.status.ok()) << r.status.toString();
  }
  // key → value of the column as `cursor` shows it from its first key.
  static std::vector<std::pair<std::string, std::string>> listed(MetaCursor& cursor) {
    std::vector<std::pair<std::string, std::string>> out;
    for (cursor.seekToFirst(); cursor.valid(); cursor.next())
      out.emplace_back(std::string(cursor.key()), std::string(cursor.value()));
    EXPECT_TRUE(cursor.status().ok()) << cursor.status().toString();
    return out;
  }

  TempDir dir_;
  std::string database_;
  std::unique_ptr<MetaEngine> engine_;
  std::unique_ptr<MetaEngine> second_;
};

TEST_P(MetaEngineTest, OwnWritesAreSeenAndOnlyACommitShowsThemToOthers) {
  putCommitted(Column::kInodes, "a", "1");
  auto txn = engine_->begin(false);
  ASSERT_TRUE(txn->put(Column::kInodes, "b", "2").ok());
  ASSERT_TRUE(txn->del(Column::kInodes, "a").ok());
  EXPECT_EQ(std::optional<std::string>("2"), *txn->read(Column::kInodes, "b", MetaTxn::Lock::kExclusive));
  EXPECT_EQ(std::nullopt, *txn->peek(Column::kInodes, "a"));
  EXPECT_TRUE(txn->deletes());
  EXPECT_EQ(std::optional<std::string>("1"), committed(Column::kInodes, "a")) << "uncommitted delete seen";
  EXPECT_EQ(std::nullopt, committed(Column::kInodes, "b")) << "uncommitted put seen";
  ASSERT_TRUE(txn->commit().status.ok());
  EXPECT_EQ(std::nullopt, committed(Column::kInodes, "a"));
  EXPECT_EQ(std::optional<std::string>("2"), committed(Column::kInodes, "b"));
}

// prefetch() changes nothing a transaction reads: committed values, absent
// keys, its own puts and deletes before and after the prefetch.
TEST_P(MetaEngineTest, APrefetchChangesNothingTheTransactionReads) {
  putCommitted(Column::kChunks, "a", "1");
  putCommitted(Column::kChunks, "b", "2");
  putCommitted(Column::kChunks, "d", "4");
  auto txn = engine_->begin(false);
  ASSERT_TRUE(txn->put(Column::kChunks, "d", "own").ok());
  ASSERT_TRUE(txn->prefetch(Column::kChunks, {"a", "b", "c", "d"}, MetaTxn::Lock::kExclusive).ok());
  ASSERT_TRUE(txn->del(Column::kChunks, "b").ok());
  ASSERT_TRUE(txn->put(Column::kChunks, "c", "new").ok());
  EXPECT_EQ(std::optional<std::string>("1"), *txn->read(Column::kChunks, "a", MetaTxn::Lock::kExclusive));
  EXPECT_EQ(std::optional<std::string>("1"), *txn->peek(Column::kChunks, "a"));
  EXPECT_EQ(std::nullopt, *txn->read(Column::kChunks, "b", MetaTxn::Lock::kExclusive)) << "own delete";
  EXPECT_EQ(std::optional<std::string>("new"), *txn->read(Column::kChunks, "c", MetaTxn::Lock::kShared)) << "own put";
  EXPECT_EQ(std::optional<std::string>("own"), *txn->peek(Column::kChunks, "d")) << "own put before the prefetch";
  EXPECT_EQ(std::nullopt, *txn->read(Column::kChunks, "e", MetaTxn::Lock::kShared)) << "never prefetched";
  ASSERT_TRUE(txn->commit().status.ok());
  EXPECT_EQ(std::nullopt, committed(Column::kChunks, "b"));
  EXPECT_EQ(std::optional<std::string>("new"), committed(Column::kChunks, "c"));
}

TEST_P(MetaEngineTest, RollbackLeavesNothing) {
  putCommitted(Column::kDentries, "keep", "old");
  {
    auto txn = engine_->begin(false);
    ASSERT_TRUE(txn->put(Column::kDentries, "keep", "new").ok());
    ASSERT_TRUE(txn->put(Column::kXattrs, "x", "y").ok());
    txn->rollback();
  }
  {
    auto dropped = engine_->begin(false);  // dropped unended: rolled back too
    ASSERT_TRUE(dropped->put(Column::kDentries, "keep", "newer").ok());
  }
  EXPECT_EQ(std::optional<std::string>("old"), committed(Column::kDentries, "keep"));
  EXPECT_EQ(std::nullopt, committed(Column::kXattrs, "x"));
}

TEST_P(MetaEngineTest, BytesOfEveryValueAndBytewiseKeyOrderSurvive) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  putCommitted(Column::kChunks, binary, binary + binary);
  putCommitted(Column::kChunks, std::string("\xff", 1), "high");
  putCommitted(Column::kChunks, std::string("\x01\x00", 2), "with nul");
  putCommitted(Column::kChunks, std::string("\x01", 1), "short");
  EXPECT_EQ(std::optional<std::string>(binary + binary), committed(Column::kChunks, binary));
  auto all = listed(*engine_->scan(Column::kChunks));
  ASSERT_EQ(4u, all.size());
  EXPECT_EQ(std::string("\x00\x01", 2), all[0].first.substr(0, 2));
  EXPECT_EQ(std::string("\x01", 1), all[1].first) << "a prefix sorts first";
  EXPECT_EQ(std::string("\x01\x00", 2), all[2].first);
  EXPECT_EQ(std::string("\xff", 1), all[3].first);
}

TEST_P(MetaEngineTest, ScansMergeOwnPutsAndHideOwnDeletesAcrossPages) {
  // More rows than a PostgreSQL cursor's first pages hold.
  auto setup = engine_->begin(true);
  for (uint64_t i = 0; i < 300; i += 2) ASSERT_TRUE(setup->put(Column::kCookies, keys::ino(i), "c" + std::to_string(i)).ok());
  ASSERT_TRUE(setup->commit().status.ok());

  auto txn = engine_->begin(false);
  for (uint64_t i = 1; i < 300; i += 10) ASSERT_TRUE(txn->put(Column::kCookies, keys::ino(i), "new").ok());
  for (uint64_t i = 0; i < 300; i += 6) ASSERT_TRUE(txn->del(Column::kCookies, keys::ino(i)).ok());
  ASSERT_TRUE(txn->put(Column::kCookies, keys::ino(2), "replaced").ok());
  ASSERT_TRUE(txn->del(Column::kCookies, keys::ino(298)).ok());  // the last one
  ASSERT_TRUE(txn->del(Column::kCookies, keys::ino(1000)).ok());  // never there

  std::vector<std::pair<std::string, std::string>> expected;
  for (uint64_t i = 0; i < 300; ++i) {
    std::optional<std::string> v;
    if (i % 2 == 0 && i % 6 != 0) v = "c" + std::to_string(i);
    if (i % 10 == 1) v = "new";
    if (i == 2) v = "replaced";
    if (i == 298) v.reset();
    if (v) expected.emplace_back(keys::ino(i), *v);
  }
  auto cursor = txn->scan(Column::kCookies);
  EXPECT_EQ(expected, listed(*cursor));
  cursor->seek(keys::ino(150));
  ASSERT_TRUE(cursor->valid());
  EXPECT_EQ(keys::ino(151), std::string(cursor->key()));
  cursor->seekToLast();
  ASSERT_TRUE(cursor->valid());
  EXPECT_EQ(keys::ino(296), std::string(cursor->key())) << "the last key the transaction did not delete";
  cursor.reset();
  txn->rollback();
}

TEST_P(MetaEngineTest, ACommitIsAllOrNothing) {
  // The second transaction conflicts with the first on one of its keys: it
  // must leave none of its writes.
  putCommitted(Column::kInodes, "x", "0");
  auto holder = engine_->begin(false);
  ASSERT_TRUE(holder->read(Column::kInodes, "x", MetaTxn::Lock::kExclusive).ok());
  MetaEngine& other = second();
  auto txn = other.begin(false);
  Status s = txn->put(Column::kInodes, "y", "1");
  if (s.ok()) s = txn->put(Column::kInodes, "x", "1");
  if (s.ok()) s = txn->commit().status;
  EXPECT_TRUE(s.isRetry()) << s.toString();
  txn->rollback();
  holder->rollback();
  EXPECT_EQ(std::nullopt, committed(Column::kInodes, "y"));
  EXPECT_EQ(std::optional<std::string>("0"), committed(Column::kInodes, "x"));
}

// Regression: PostgreSQL takes at most 1,664 entries in a SELECT list, and
// a commit took the locks of all its writes in one SELECT: a transaction
// writing thousands of keys (an undelete of a tree of 1,000 files, a
// transact of 1,000 moves) failed with EIO.
TEST_P(MetaEngineTest, ACommitWritingThousandsOfKeysGoesThrough) {
  auto txn = engine_->begin(false);
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(txn->put(Column::kXattrs, "key" + std::to_string(i), "v").ok());
  const Status s = txn->commit().status;
  ASSERT_TRUE(s.ok()) << s.toString();
  EXPECT_EQ(std::optional<std::string>("v"), committed(Column::kXattrs, "key0"));
  EXPECT_EQ(std::optional<std::string>("v"), committed(Column::kXattrs, "key4999"));
}

// A tracked read of an absent key keeps anyone else from creating it until
// the reader ends: "must not exist" checks rest on it.
TEST_P(MetaEngineTest, ATrackedReadOfAnAbsentKeyHoldsOffItsCreation) {
  MetaEngine& other = second();
  auto reader = engine_->begin(false);
  ASSERT_EQ(std::nullopt, *reader->read(Column::kDentries, "name", MetaTxn::Lock::kExclusive));
  std::atomic<bool> created{false};
  Status creatorResult;
  std::thread creator([&] {
    for (;;) {
      auto txn = other.begin(false);
      Status s = txn->put(Column::kDentries, "name", "theirs");
      if (s.ok()) s = txn->commit().status;
      if (!s.isRetry()) {
        creatorResult = s;
        created = s.ok();
        return;
      }
      txn->rollback();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Still absent for the reader, so its own create is the one that counts.
  EXPECT_FALSE(created.load()) << "created while a reader held the absent key";
  ASSERT_TRUE(reader->put(Column::kDentries, "name", "mine").ok());
  ASSERT_TRUE(reader->commit().status.ok());
  creator.join();
  EXPECT_TRUE(creatorResult.ok()) << creatorResult.toString();
  EXPECT_EQ(std::optional<std::string>("theirs"), committed(Column::kDentries, "name"))
      << "the creator, serialized after the reader, wins last";
}

// Two on-call doctors; each transaction reads both and takes one off call
// only if the other is still on: never both off.
TEST_P(MetaEngineTest, WriteSkewCannotHappenUnderThreads) {
  MetaEngine& other = second();
  constexpr int kRounds = 40;
  int bothOff = 0;
  for (int round = 0; round < kRounds; ++round) {
    putCommitted(Column::kDefault, "a", "on");
    putCommitted(Column::kDefault, "b", "on");
    std::barrier<> sync(2);
    auto doctor = [&](MetaEngine& engine, const std::string& me, const std::string& them) {
      sync.arrive_and_wait();
      for (int attempt = 0; attempt < 100; ++attempt) {
        auto txn = engine.begin(false);
        auto mine = txn->read(Column::kDefault, me, MetaTxn::Lock::kShared);
        auto theirs = txn->read(Column::kDefault, them, MetaTxn::Lock::kShared);
        if (!mine.ok() || !theirs.ok()) continue;
        if (**theirs != "on") return;  // cannot leave
        Status s = txn->put(Column::kDefault, me, "off");
        if (s.ok()) s = txn->commit().status;
        if (s.ok() || !s.isRetry()) return;
      }
    };
    std::thread a(doctor, std::ref(*engine_), "a", "b"), b(doctor, std::ref(other), "b", "a");
    a.join();
    b.join();
    if (committed(Column::kDefault, "a") == "off" && committed(Column::kDefault, "b") == "off") ++bothOff;
  }
  EXPECT_EQ(0, bothOff);
}

// Threads (on two engines for PostgreSQL: two hosts) move money between
// accounts with read-modify-write transactions: the total stays, every
// transfer that returned OK is counted once.
TEST_P(MetaEngineTest, BankTransfersLoseNoUpdate) {
  constexpr int kAccounts = 5, kThreads = 6, kTransfers = 40, kInitial = 1000;
  for (int i = 0; i < kAccounts; ++i) putCommitted(Column::kInodes, "acct" + std::to_string(i), std::to_string(kInitial));
  MetaEngine& other = second();
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      MetaEngine& engine = t % 2 ? other : *engine_;
      for (int n = 0; n < kTransfers; ++n) {
        const std::string from = "acct" + std::to_string((t + n) % kAccounts);
        const std::string to = "acct" + std::to_string((t + 2 * n + 1) % kAccounts);
        if (from == to) continue;
        for (;;) {
          auto txn = engine.begin(false);
          auto a = txn->read(Column::kInodes, from, MetaTxn::Lock::kExclusive);
          auto b = a.ok() ? txn->read(Column::kInodes, to, MetaTxn::Lock::kExclusive) : a;
          Status s = b.status();
          if (s.ok()) s = txn->put(Column::kInodes, from, std::to_string(std::stoi(**a) - 7));
          if (s.ok()) s = txn->put(Column::kInodes, to, std::to_string(std::stoi(**b) + 7));
          if (s.ok()) s = txn->commit().status;
          if (s.ok()) {
            ++done;
            break;
          }
          ASSERT_TRUE(s.isRetry()) << s.toString();
          txn->rollback();
        }
      }
    });
  for (auto& th : threads) th.join();
  int total = 0;
  for (int i = 0; i < kAccounts; ++i) total += std::stoi(*committed(Column::kInodes, "acct" + std::to_string(i)));
  EXPECT_EQ(kAccounts * kInitial, total);
  EXPECT_GT(done.load(), 0);
}

// getMany answers each key in the order asked, absent ones as nullopt and
// a key asked twice twice; binary keys and values of 64 KiB (a chunk) intact.
TEST_P(MetaEngineTest, GetManyAnswersEveryKeyInItsPlace) {
  std::string big(64 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + 3);
  const std::string binaryKey("\x00\xff\x27\x5c", 4);  // NUL, high, quote, backslash
  putCommitted(Column::kChunks, "a", big);
  putCommitted(Column::kChunks, binaryKey, "b");
  putCommitted(Column::kPages, "a", "another column");
  auto none = engine_->getMany(Column::kChunks, {});
  ASSERT_TRUE(none.ok()) << none.status().toString();
  EXPECT_TRUE(none->empty());
  auto got = second().getMany(Column::kChunks, {"missing", binaryKey, "a", "a", "also missing"});
  ASSERT_TRUE(got.ok()) << got.status().toString();
  const std::vector<std::optional<std::string>> expected = {std::nullopt, "b", big, big, std::nullopt};
  EXPECT_EQ(expected, *got);
}

INSTANTIATE_TEST_SUITE_P(Engines, MetaEngineTest, ::testing::Values(Kind::kRocks, Kind::kPostgres),
                         [](const ::testing::TestParamInfo<Kind>& info) {
                           return info.param == Kind::kRocks ? "RocksDB" : "PostgreSQL";
                         });

// ---- PostgreSQL only ---------------------------------------------------------------

class PgEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server().ok()) << server().why(); }
};

// The connection goes after the server ran COMMIT but before its answer
// came back: the engine finds its commit id and says OK; the increment is
// applied once. Then the connection goes before the server saw COMMIT: the
// engine finds no id and says Retry; nothing was applied.
TEST_F(PgEngineTest, ACommitWhoseConnectionIsLostIsAppliedExactlyOnce) {
  const std::string db = freshDatabase();
  PgProxy proxy(server().socketDir());
  auto engine = PgEngine::open({proxy.uri(db), std::chrono::milliseconds(5000)});
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  auto increment = [&]() -> CommitResult {
    auto txn = (*engine)->begin(true);
    auto v = txn->read(Column::kDefault, "counter", MetaTxn::Lock::kExclusive);
    if (!v.ok()) return {v.status(), false};
    const int n = *v ? std::stoi(**v) : 0;
    EXPECT_TRUE(txn->put(Column::kDefault, "counter", std::to_string(n + 1)).ok());
    return txn->commit();
  };
  ASSERT_TRUE(increment().status.ok());

  proxy.arm("INSERT INTO acidfs.commits", PgProxy::Cut::kAfterSending);
  CommitResult answerLost = increment();
  EXPECT_EQ(1, proxy.cuts());
  EXPECT_TRUE(answerLost.status.ok()) << answerLost.status.toString();
  EXPECT_FALSE(answerLost.outcomeUnknown);
  EXPECT_EQ(std::optional<std::string>("2"), *(*engine)->get(Column::kDefault, "counter"));

  proxy.arm("INSERT INTO acidfs.commits", PgProxy::Cut::kInsteadOfSending);
  CommitResult neverSent = increment();
  EXPECT_EQ(2, proxy.cuts());
  EXPECT_TRUE(neverSent.status.isRetry()) << neverSent.status.toString();
  EXPECT_FALSE(neverSent.outcomeUnknown);
  EXPECT_EQ(std::optional<std::string>("2"), *(*engine)->get(Column::kDefault, "counter"));

  ASSERT_TRUE(increment().status.ok()) << "the engine serves on";
  EXPECT_EQ(std::optional<std::string>("3"), *(*engine)->get(Column::kDefault, "counter"));
}

// The connection goes at the COMMIT of a transaction that only read (a
// door's blob-id, say, as the primary dies): nothing was to be applied, so
// the answer is Retry (the runner reads again on a new connection), never
// EIO. Regression: a CAS in tests/mount_failover_test.cc failed with EIO.
TEST_F(PgEngineTest, AReadOnlyCommitWhoseConnectionIsLostIsRetried) {
  const std::string db = freshDatabase();
  PgProxy proxy(server().socketDir());
  auto engine = PgEngine::open({proxy.uri(db), std::chrono::milliseconds(5000)});
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  auto txn = (*engine)->begin(true);
  auto v = txn->read(Column::kDefault, "counter", MetaTxn::Lock::kShared);
  ASSERT_TRUE(v.ok()) << v.status().toString();
  proxy.arm("COMMIT", PgProxy::Cut::kInsteadOfSending);
  CommitResult lost = txn->commit();
  EXPECT_EQ(1, proxy.cuts());
  EXPECT_TRUE(lost.status.isRetry()) << lost.status.toString();
  EXPECT_FALSE(lost.outcomeUnknown);
  auto again = (*engine)->begin(true);
  ASSERT_TRUE(again->read(Column::kDefault, "counter", MetaTxn::Lock::kShared).ok()) << "the engine serves on";
  EXPECT_TRUE(again->commit().status.ok());
}

// A prefetch locks what it read: another transaction cannot change a
// prefetched key until this one ends (its write waits, then is retried).
TEST_F(PgEngineTest, APrefetchLocksEveryKeyItRead) {
  const std::string db = freshDatabase();
  auto a = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000)});
  auto b = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000)});
  ASSERT_TRUE(a.ok() && b.ok());
  auto holder = (*a)->begin(false);
  ASSERT_TRUE(holder->prefetch(Column::kChunks, {"x", "y"}, MetaTxn::Lock::kExclusive).ok());
  for (const char* key : {"x", "y"}) {
    auto writer = (*b)->begin(false);
    ASSERT_TRUE(writer->put(Column::kChunks, key, "theirs").ok());
    CommitResult r = writer->commit();  // waits lock_timeout (2 s)
    EXPECT_TRUE(r.status.isRetry()) << key << ": " << r.status.toString();
  }
  EXPECT_EQ(std::nullopt, *holder->read(Column::kChunks, "x", MetaTxn::Lock::kExclusive));
  ASSERT_TRUE(holder->put(Column::kChunks, "x", "mine").ok());
  ASSERT_TRUE(holder->commit().status.ok());
  auto writer = (*b)->begin(false);
  ASSERT_TRUE(writer->put(Column::kChunks, "y", "theirs").ok());
  EXPECT_TRUE(writer->commit().status.ok()) << "the lock went with the transaction";
  EXPECT_EQ(std::optional<std::string>("mine"), *(*b)->get(Column::kChunks, "x"));
}

// What one engine commits to inodes and dentries, the others hear (and it
// does not hear itself): how each daemon keeps its kernel's caches within
// coherence_ms.
TEST_F(PgEngineTest, OtherEnginesHearWhichInodesAndEntriesACommitChanged) {
  const std::string db = freshDatabase();
  auto a = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000)});
  auto b = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000)});
  ASSERT_TRUE(a.ok() && b.ok());
  std::mutex mutex;
  std::condition_variable heard;
  std::vector<std::pair<Column, std::string>> heardByA, heardByB;
  auto watcher = [&](std::vector<std::pair<Column, std::string>>& into) {
    return [&](const OthersChange& change) {
      std::lock_guard<std::mutex> lock(mutex);
      into.emplace_back(change.column, change.everything ? "*" : change.key);
      heard.notify_all();
    };
  };
  (*a)->watchOthers(watcher(heardByA));
  (*b)->watchOthers(watcher(heardByB));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both LISTENing
  auto txn = (*a)->begin(true);
  ASSERT_TRUE(txn->put(Column::kInodes, keys::ino(42), "inode").ok());
  ASSERT_TRUE(txn->put(Column::kDentries, keys::dentry(1, "name"), "entry").ok());
  ASSERT_TRUE(txn->put(Column::kXattrs, "x", "not a cache's concern").ok());
  ASSERT_TRUE(txn->commit().status.ok());
  auto rolledBack = (*a)->begin(true);
  ASSERT_TRUE(rolledBack->put(Column::kInodes, keys::ino(43), "never").ok());
  rolledBack->rollback();

  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(heard.wait_for(lock, std::chrono::seconds(10), [&] { return heardByB.size() >= 2; }));
  const std::vector<std::pair<Column, std::string>> expected = {{Column::kInodes, keys::ino(42)},
                                                                {Column::kDentries, keys::dentry(1, "name")}};
  EXPECT_EQ(expected, heardByB);
  lock.unlock();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  lock.lock();
  EXPECT_TRUE(heardByA.empty()) << "an engine hears its own commits";
  EXPECT_EQ(2u, heardByB.size()) << "a rolled-back transaction was heard";
}

// getRecent (SPEC §9: what stat, lookup and readdir may show): this
// engine's own commits at once; another engine's as soon as its
// notification is heard, long before maxAge; a change nobody announced (an
// administrator's UPDATE) once a latest get() read it, or after maxAge; and
// after the listener lost its connection, nothing heard before is trusted.
TEST_F(PgEngineTest, RecentReadsSeeOwnCommitsAtOnceOthersWhenHeardAndAnyChangeWithinMaxAge) {
  const std::string db = freshDatabase();
  auto a = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000), std::chrono::minutes(1)});
  auto b = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000)});
  ASSERT_TRUE(a.ok() && b.ok());
  auto admin = PgConnection::connect(server().uri(db), std::chrono::steady_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(admin.ok()) << admin.status().toString();
  const std::string key = keys::ino(7);
  auto recentOf = [&](PgEngine& e) {
    auto v = e.getRecent(Column::kInodes, key);
    EXPECT_TRUE(v.ok()) << v.status().toString();
    return v.ok() ? v->value_or("<absent>") : "<error>";
  };
  auto commit = [&](PgEngine& e, const std::string& value) {
    auto txn = e.begin(false);
    ASSERT_TRUE(txn->put(Column::kInodes, key, value).ok());
    ASSERT_TRUE(txn->commit().status.ok());
  };
  auto updateUnannounced = [&](const std::string& value) {
    std::string sql = "UPDATE acidfs.inodes SET value = ";
    appendByteaLiteral(sql, value);
    sql += " WHERE key = ";
    appendByteaLiteral(sql, key);
    ASSERT_TRUE((*admin)->run(sql).ok());
  };
  auto eventually = [&](PgEngine& e, const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (recentOf(e) != want && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return recentOf(e);
  };

  EXPECT_EQ("<absent>", recentOf(**a)) << "before anything is cached";
  (*a)->watchOthers([](const OthersChange&) {});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(*a)->hearingOthers() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE((*a)->hearingOthers());

  commit(**a, "v0");
  EXPECT_EQ(std::optional<std::string>("v0"), *(*a)->get(Column::kInodes, key));  // cached
  commit(**a, "v1");
  EXPECT_EQ("v1", recentOf(**a)) << "an own commit is not seen at once";
  updateUnannounced("v2");
  EXPECT_EQ("v1", recentOf(**a)) << "the cache was not used";
  EXPECT_EQ(std::optional<std::string>("v2"), *(*a)->get(Column::kInodes, key));
  EXPECT_EQ("v2", recentOf(**a)) << "a latest read did not refresh the cache (close-to-open)";

  commit(**b, "v3");
  EXPECT_EQ("v3", eventually(**a, "v3")) << "another engine's commit was not heard";

  // The listener's connection goes: whatever it may have missed, the cache
  // does not answer with what it held.
  EXPECT_EQ("v3", recentOf(**a));
  ASSERT_TRUE((*admin)
                  ->run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
                        "AND datname = current_database()")
                  .ok());
  updateUnannounced("v4");
  EXPECT_EQ("v4", eventually(**a, "v4")) << "a cache kept through a listener's lost connection";

  // Nothing announced and nothing read it: maxAge bounds how late it shows.
  auto c = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000), std::chrono::milliseconds(300)});
  ASSERT_TRUE(c.ok());
  (*c)->watchOthers([](const OthersChange&) {});
  while (!(*c)->hearingOthers()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ("v4", recentOf(**c));
  updateUnannounced("v5");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ("v5", recentOf(**c)) << "served past maxAge";
  (*a)->watchOthers(nullptr);
  (*c)->watchOthers(nullptr);
}

TEST(PgNotifyPayload, RoundTripsAndSaysEverythingWhenTooLong) {
  const std::vector<std::pair<Column, std::string>> keys = {
      {Column::kInodes, keys::ino(7)}, {Column::kXattrs, "skipped"}, {Column::kDentries, keys::dentry(2, "a,b:*")}};
  const std::string payload = notifyPayload("abc", keys);
  std::string origin;
  std::vector<std::pair<Column, std::string>> parsed;
  ASSERT_TRUE(parseNotifyPayload(payload, origin, [&](const OthersChange& c) {
    EXPECT_FALSE(c.everything);
    parsed.emplace_back(c.column, c.key);
  }));
  EXPECT_EQ("abc", origin);
  EXPECT_EQ((std::vector<std::pair<Column, std::string>>{keys[0], keys[2]}), parsed);

  std::vector<std::pair<Column, std::string>> many;
  for (uint64_t i = 0; i < 1000; ++i) many.emplace_back(Column::kInodes, keys::ino(i));
  const std::string all = notifyPayload("abc", many);
  EXPECT_EQ("abc:*", all);
  bool everything = false;
  ASSERT_TRUE(parseNotifyPayload(all, origin, [&](const OthersChange& c) { everything = c.everything; }));
  EXPECT_TRUE(everything);
  EXPECT_EQ("", notifyPayload("abc", {{Column::kXattrs, "x"}})) << "nothing to say, no NOTIFY";
  EXPECT_FALSE(parseNotifyPayload("no colon", origin, [](const OthersChange&) {}));
  EXPECT_FALSE(parseNotifyPayload("o:q12", origin, [](const OthersChange&) {}));
}

TEST_F(PgEngineTest, ADatabaseHoldingSomethingElseIsRefusedUntouched) {
  const std::string db = freshDatabase();
  PGconn* c = PQconnectdb(server().uri(db).c_str());
  PQclear(PQexec(c, "CREATE TABLE invoices (id int)"));
  auto engine = PgEngine::open({server().uri(db), std::chrono::milliseconds(2000)});
  EXPECT_EQ(EINVAL, engine.status().errnum()) << engine.status().toString();
  EXPECT_NE(std::string::npos, engine.status().message().find("public.invoices")) << engine.status().toString();
  PGresult* r = PQexec(c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'acidfs'");
  EXPECT_STREQ("0", PQgetvalue(r, 0, 0)) << "no schema made in a foreign database";
  PQclear(r);
  PQfinish(c);
}

// Regression: after the server stopped, a pooled connection failed its next
// statement with libpq's own error (no SQLSTATE) and the read answered EIO
// at once instead of waiting for the server.
TEST(PgEngineRestart, CallsWaitOutAServerRestartAndFailWithEioWhenItStaysAway) {
  PostgresInstance pg;
  ASSERT_TRUE(pg.ok()) << pg.why();
  auto engine = PgEngine::open({pg.uri(), std::chrono::milliseconds(3000)});
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  auto put = (*engine)->begin(true);
  ASSERT_TRUE(put->put(Column::kInodes, "k", "v").ok());
  ASSERT_TRUE(put->commit().status.ok());
  put.reset();

  ASSERT_TRUE(pg.stop("immediate"));
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    pg.start();
  });
  auto during = (*engine)->get(Column::kInodes, "k");  // a pooled connection of the old server first
  restart.join();
  ASSERT_TRUE(during.ok()) << during.status().toString();
  EXPECT_EQ(std::optional<std::string>("v"), *during);
  auto txn = (*engine)->begin(true);
  auto read = txn->read(Column::kInodes, "k", MetaTxn::Lock::kExclusive);
  ASSERT_TRUE(read.ok()) << read.status().toString();

  ASSERT_TRUE(pg.stop("immediate"));
  const auto start = std::chrono::steady_clock::now();
  auto away = (*engine)->get(Column::kInodes, "k");
  EXPECT_EQ(EIO, away.status().errnum()) << away.status().toString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500)) << "it did not wait dbTimeout";
  txn.reset();
}

// Commits begun without `sync` are not waited for (synchronous_commit
// off), as a directory store's between log syncs; syncLog() makes every one
// before it durable: the server crashing right after keeps them all.
TEST(PgEngineRestart, SyncLogMakesEveryEarlierCommitSurviveAServerCrash) {
  PostgresInstance pg;
  ASSERT_TRUE(pg.ok()) << pg.why();
  auto engine = PgEngine::open({pg.uri(), std::chrono::milliseconds(5000)});
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  constexpr int kCommits = 200;
  for (int i = 0; i < kCommits; ++i) {
    auto txn = (*engine)->begin(/*sync=*/false);
    ASSERT_TRUE(txn->put(Column::kInodes, keys::ino(i), "v").ok());
    ASSERT_TRUE(txn->commit().status.ok());
  }
  ASSERT_TRUE((*engine)->syncLog().ok());
  ASSERT_TRUE(pg.stop("immediate"));  // a crash: WAL buffers not yet written are lost
  ASSERT_TRUE(pg.start());
  int found = 0;
  auto cursor = (*engine)->scan(Column::kInodes);
  for (cursor->seekToFirst(); cursor->valid(); cursor->next()) ++found;
  EXPECT_TRUE(cursor->status().ok()) << cursor->status().toString();
  EXPECT_EQ(kCommits, found);
}

TEST_F(PgEngineTest, AnUnreachableDatabaseFailsWithEioAfterTheTimeout) {
  TempDir nowhere;
  const auto start = std::chrono::steady_clock::now();
  auto engine = PgEngine::open({"postgresql:///x?host=" + nowhere.path() + "&user=postgres", std::chrono::milliseconds(700)});
  EXPECT_EQ(EIO, engine.status().errnum()) << engine.status().toString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500)) << "it waited for the server";
}

// libpq says why each host of a multi-host URI failed, a line each; our
// errors (a log line, the tool's stderr) are one line (SPEC §5, §8).
TEST_F(PgEngineTest, AnUnreachableMultiHostDatabaseIsOneLineNamingEveryHost) {
  TempDir first, second;
  auto engine = PgEngine::open({"postgresql:///x?host=" + first.path() + "," + second.path() + "&user=postgres",
                                std::chrono::milliseconds(300)});
  ASSERT_EQ(EIO, engine.status().errnum()) << engine.status().toString();
  const std::string message = engine.status().message();
  EXPECT_EQ(std::string::npos, message.find('\n')) << message;
  EXPECT_NE(std::string::npos, message.find(first.path())) << message;
  EXPECT_NE(std::string::npos, message.find(second.path())) << message;
}

TEST_F(PgEngineTest, CountersHandOutEachNumberOnceAcrossEngines) {
  const std::string db = freshDatabase();
  auto a = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000)});
  auto b = PgEngine::open({server().uri(db), std::chrono::milliseconds(5000)});
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<uint64_t> firsts;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      PgEngine& engine = t % 2 ? **a : **b;
      for (int i = 0; i < 25; ++i) {
        auto first = engine.allocate("ino", 100, 2);
        ASSERT_TRUE(first.ok()) << first.status().toString();
        std::lock_guard<std::mutex> lock(mutex);
        firsts.push_back(*first);
      }
    });
  for (auto& th : threads) th.join();
  std::sort(firsts.begin(), firsts.end());
  ASSERT_EQ(100u, firsts.size());
  EXPECT_EQ(2u, firsts.front()) << "none below the floor, the first batch at it";
  for (size_t i = 1; i < firsts.size(); ++i) EXPECT_EQ(firsts[i - 1] + 100, firsts[i]) << "batches overlap or leave gaps";
  auto raised = (*a)->allocate("ino", 10, 1000000);
  ASSERT_TRUE(raised.ok());
  EXPECT_EQ(1000000u, *raised) << "a floor above the counter moves it up";
}

}  // namespace
}  // namespace acidfs
