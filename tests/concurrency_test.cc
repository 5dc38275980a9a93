// Serializability under real threads (SPEC §3, §4): transactions whose
// preconditions exclude each other never both succeed, however they
// interleave. The bank (no lost update, money conserved), the seats (exactly
// K winners among M > K claimants) and write skew (two transactions that each
// read what the other writes).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/cas_ops.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/store.h"
#include "core/transaction.h"
#include "tests/cas_test_util.h"
#include "tests/test_util.h"

namespace acidfs {

namespace {

using namespace ::acidfs::testing::ops;
using ::acidfs::testing::StoreFixture;
using ::acidfs::testing::writeFile;

constexpr int kThreads = 8;

// A failure that a client retries: a precondition that no longer holds, or
// the runner giving up on lock conflicts.
bool retryable(const Status& s) { return s.isConflict() || s.errnum() == ECANCELED || s.errnum() == EBUSY; }

class Concurrency : public StoreFixture {
 protected:
  // What a client does: stat for the blobId, then read that very blob (not
  // the inode, which may hold newer content by then).
  struct Snapshot {
    Id128 blob;
    std::string content;
  };
  std::optional<Snapshot> readPath(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    if (!st.ok() || !st->blob) return std::nullopt;
    Snapshot snap{*st->blob, {}};
    Status s = store_->content().read(snap.blob, 0, 1 << 20, snap.content);
    if (!s.ok()) return std::nullopt;  // replaced and collected meanwhile (ESTALE): retry
    return snap;
  }
  bool exists(const std::string& path) { return cas().stat(Caller::root(), path).ok(); }
  // Writes `content` at `path` through put + commit (basis any).
  Status commitText(const std::string& path, const std::string& content) {
    auto id = cas().put(Caller::root(), content);
    if (!id.ok()) return id.status();
    return cas().commit(Caller::root(), path, *id, Basis::any()).status();
  }
};

// ---- the bank ----------------------------------------------------------------------

// N accounts, each a file holding a decimal balance. Every thread repeatedly
// reads two balances and moves money from one to the other with one
// transaction that replaces both files only if both still hold what was read.
TEST_F(Concurrency, BankTransfersConserveMoneyAndLoseNoUpdate) {
  constexpr int kAccounts = 8;
  constexpr int kInitial = 1000;
  constexpr int kTransfersPerThread = 25;
  constexpr int kMaxAttemptsPerThread = 5000;

  uint64_t bank = makeDir(kRootIno, "bank");
  for (int i = 0; i < kAccounts; ++i) makeFile(bank, "acct-" + std::to_string(i), std::to_string(kInitial));
  for (int t = 0; t < kThreads; ++t) makeDir(kRootIno, "scratch-" + std::to_string(t));
  auto account = [](int i) { return "/bank/acct-" + std::to_string(i); };

  std::vector<std::vector<long>> deltas(kThreads, std::vector<long>(kAccounts, 0));
  std::vector<int> successes(kThreads, 0), conflicts(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::atomic<int> leaseLost{0};
  std::barrier start(kThreads);

  auto worker = [&](int t) {
    std::mt19937 rng(1234 + t);
    const std::string tmpA = "/scratch-" + std::to_string(t) + "/a";
    const std::string tmpB = "/scratch-" + std::to_string(t) + "/b";
    start.arrive_and_wait();
    for (int attempt = 0; successes[t] < kTransfersPerThread; ++attempt) {
      if (attempt == kMaxAttemptsPerThread) {
        errors[t] = "gave up after " + std::to_string(attempt) + " attempts";
        return;
      }
      int from = static_cast<int>(rng() % kAccounts);
      int to = static_cast<int>(rng() % (kAccounts - 1));
      if (to >= from) ++to;
      auto a = readPath(account(from));
      auto b = readPath(account(to));
      if (!a || !b) {
        ++conflicts[t];
        continue;
      }
      long balanceA = std::stol(a->content), balanceB = std::stol(b->content);
      long amount = 1 + static_cast<long>(rng() % 50);
      // The new contents, staged in this thread's scratch directory.
      Status s = commitText(tmpA, std::to_string(balanceA - amount));
      if (s.ok()) s = commitText(tmpB, std::to_string(balanceB + amount));
      if (s.errnum() == ENOENT) {
        // The commit found no lease for the blob this thread just put
        // (ConcurrentPutsOfEqualContentEachGrantOneCommit): counted apart.
        ++leaseLost;
        continue;
      }
      if (!s.ok()) {
        errors[t] = "staging: " + s.toString();
        return;
      }
      // Both replaced, or neither: each move's dest basis is the blob read.
      s = cas()
              .transact(Caller::root(), {Move(tmpA, std::nullopt, account(from), Basis::of(a->blob)),
                                         Move(tmpB, std::nullopt, account(to), Basis::of(b->blob))})
              .status();
      if (s.ok()) {
        deltas[t][from] -= amount;
        deltas[t][to] += amount;
        ++successes[t];
      } else if (retryable(s)) {
        ++conflicts[t];
      } else {
        errors[t] = "transfer: " + s.toString();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  int totalSuccesses = 0, totalConflicts = 0;
  for (int t = 0; t < kThreads; ++t) totalSuccesses += successes[t], totalConflicts += conflicts[t];
  EXPECT_EQ(totalSuccesses, kThreads * kTransfersPerThread);

  long total = 0;
  for (int i = 0; i < kAccounts; ++i) {
    long expected = kInitial;
    for (int t = 0; t < kThreads; ++t) expected += deltas[t][i];
    std::string text = contentAt(account(i));
    long balance = std::stol(text);
    EXPECT_EQ(balance, expected) << account(i) << ": a transfer was lost or applied twice";
    total += balance;
  }
  EXPECT_EQ(total, long{kAccounts} * kInitial) << "money was created or destroyed";
  EXPECT_EQ(leaseLost.load(), 0) << "commits of content this thread had just put failed with ENOENT";
  EXPECT_EQ(stats().leaseCount, 0u) << "every put was committed";
  RecordProperty("conflicts", totalConflicts);
}

// The single-file form: a counter incremented with put + commit(basis = the
// blob read). Every increment that commit accepted is in the final value.
TEST_F(Concurrency, CommitWithBasisLosesNoIncrement) {
  constexpr int kIncrementsPerThread = 30;
  makeFile(kRootIno, "counter", "0");
  std::vector<std::string> errors(kThreads);
  std::atomic<int> conflicts{0}, leaseLost{0};
  std::barrier start(kThreads);
  auto worker = [&](int t) {
    start.arrive_and_wait();
    for (int done = 0, attempt = 0; done < kIncrementsPerThread; ++attempt) {
      if (attempt == 20000) {
        errors[t] = "gave up";
        return;
      }
      auto snap = readPath("/counter");
      if (!snap) continue;
      auto id = cas().put(Caller::root(), std::to_string(std::stol(snap->content) + 1));
      if (!id.ok()) {
        errors[t] = id.status().toString();
        return;
      }
      Status s = cas().commit(Caller::root(), "/counter", *id, Basis::of(snap->blob)).status();
      if (s.ok()) {
        ++done;
      } else if (s.errnum() == ENOENT && !s.isConflict()) {
        ++leaseLost;  // see ConcurrentPutsOfEqualContentEachGrantOneCommit
      } else if (retryable(s)) {
        ++conflicts;
        // The lease of a failed commit is still held: let it expire below.
      } else {
        errors[t] = s.toString();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  EXPECT_EQ(contentAt("/counter"), std::to_string(kThreads * kIncrementsPerThread));
  EXPECT_EQ(leaseLost.load(), 0) << "commits of content this thread had just put failed with ENOENT";
  RecordProperty("conflicts", conflicts.load());
}

// Every put grants one commit, also when threads put equal content at the
// same time: N puts of one content are N leases, and N commits succeed.
TEST_F(Concurrency, ConcurrentPutsOfEqualContentEachGrantOneCommit) {
  constexpr int kRounds = 400;
  std::atomic<int> failures{0};
  std::mutex firstErrorMutex;
  std::string firstError;
  std::barrier sync(kThreads);
  auto worker = [&](int t) {
    for (int round = 0; round < kRounds; ++round) {
      sync.arrive_and_wait();
      std::string content = "same content, round " + std::to_string(round);
      auto id = cas().put(Caller::root(), content);
      Status s = id.status();
      if (id.ok()) {
        std::string path = "/r" + std::to_string(round) + "-t" + std::to_string(t);
        s = cas().commit(Caller::root(), path, *id, Basis::absent()).status();
      }
      if (!s.ok() && failures++ == 0) {
        std::lock_guard lock(firstErrorMutex);
        firstError = "thread " + std::to_string(t) + ", round " + std::to_string(round) + ": " + s.toString();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0) << "of " << kThreads * kRounds << " put+commit pairs; first: " << firstError;
  EXPECT_EQ(stats().leaseCount, 0u) << "every lease was consumed by exactly one commit";
}

// ---- the seats -----------------------------------------------------------------------

// K seats, M > K claimants. A claim copies the claimant's name onto
// /claimed/seat-i if nothing is there yet and removes the free seat, in one
// transaction. Exactly K claims succeed, one per seat, and each claimed seat
// names the claimant that was told it won.
TEST_F(Concurrency, SeatsExactlyKClaimantsWinOnePerSeat) {
  constexpr int kSeats = 5;
  constexpr int kClaimants = 16;
  static_assert(kClaimants > kSeats && kClaimants >= kThreads);
  uint64_t seats = makeDir(kRootIno, "seats");
  makeDir(kRootIno, "claimed");
  uint64_t people = makeDir(kRootIno, "claimants");
  std::vector<Id128> seatBlob(kSeats), personBlob(kClaimants);
  for (int i = 0; i < kSeats; ++i) makeFile(seats, "seat-" + std::to_string(i), "free seat " + std::to_string(i));
  for (int c = 0; c < kClaimants; ++c) makeFile(people, "c-" + std::to_string(c), "claimant " + std::to_string(c));
  for (int i = 0; i < kSeats; ++i) seatBlob[i] = *cas().stat(Caller::root(), "/seats/seat-" + std::to_string(i))->blob;
  for (int c = 0; c < kClaimants; ++c)
    personBlob[c] = *cas().stat(Caller::root(), "/claimants/c-" + std::to_string(c))->blob;

  std::vector<int> won(kClaimants, -1);
  std::vector<std::string> errors(kClaimants);
  std::barrier start(kClaimants);
  auto claimant = [&](int c) {
    start.arrive_and_wait();
    for (int k = 0; k < kSeats && won[c] < 0; ++k) {
      int seat = (c + k) % kSeats;  // start at different seats, then try the rest
      const std::string claimed = "/claimed/seat-" + std::to_string(seat);
      for (int retry = 0; retry < 100; ++retry) {
        Status s = cas()
                       .transact(Caller::root(),
                                 {Copy("/claimants/c-" + std::to_string(c), personBlob[c], claimed, Basis::absent()),
                                  Delete("/seats/seat-" + std::to_string(seat), seatBlob[seat])})
                       .status();
        if (s.ok()) {
          won[c] = seat;
          break;
        }
        if (s.isConflict()) {
          // Someone else holds this seat: DEST_EXISTS at op 1 (or, had the
          // claims been ordered otherwise, SOURCE_NOT_FOUND at op 2).
          const ConflictReport& r = *s.conflict();
          bool expected = (r.code == ConflictCode::kDestExists && r.operationIndex == 1 && r.path == claimed) ||
                          (r.code == ConflictCode::kSourceNotFound && r.operationIndex == 2);
          if (!expected) errors[c] = "unexpected conflict " + r.toJson();
          break;
        }
        if (s.errnum() == EBUSY) continue;  // lock conflicts: try the same seat again
        errors[c] = s.toString();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < kClaimants; ++c) threads.emplace_back(claimant, c);
  for (auto& th : threads) th.join();

  for (int c = 0; c < kClaimants; ++c) EXPECT_EQ(errors[c], "") << "claimant " << c;
  std::map<int, int> winnerOf;  // seat → claimant
  for (int c = 0; c < kClaimants; ++c) {
    if (won[c] < 0) continue;
    EXPECT_EQ(winnerOf.count(won[c]), 0u) << "seat " << won[c] << " sold twice";
    winnerOf[won[c]] = c;
  }
  EXPECT_EQ(winnerOf.size(), static_cast<size_t>(kSeats)) << "exactly K winners";
  for (int seat = 0; seat < kSeats; ++seat) {
    EXPECT_FALSE(exists("/seats/seat-" + std::to_string(seat))) << "a claimed seat is no longer free";
    if (winnerOf.count(seat)) {
      EXPECT_EQ(contentAt("/claimed/seat-" + std::to_string(seat)), "claimant " + std::to_string(winnerOf[seat]));
    }
  }
}

// The same with a move: the seat file itself goes to /claimed, so a second
// claimant finds its source gone or its dest taken.
TEST_F(Concurrency, SeatsClaimedByMoveHaveExactlyKWinners) {
  constexpr int kSeats = 6;
  constexpr int kClaimants = 12;
  uint64_t seats = makeDir(kRootIno, "seats");
  makeDir(kRootIno, "claimed");
  for (int i = 0; i < kSeats; ++i) makeFile(seats, "seat-" + std::to_string(i), "seat " + std::to_string(i));

  std::vector<int> won(kClaimants, -1);
  std::vector<std::string> errors(kClaimants);
  std::barrier start(kClaimants);
  auto claimant = [&](int c) {
    start.arrive_and_wait();
    for (int k = 0; k < kSeats && won[c] < 0; ++k) {
      int seat = (c * 7 + k) % kSeats;
      for (int retry = 0; retry < 100; ++retry) {
        Status s = cas()
                       .transact(Caller::root(), {Move("/seats/seat-" + std::to_string(seat), std::nullopt,
                                                       "/claimed/seat-" + std::to_string(seat), Basis::absent())})
                       .status();
        if (s.ok()) {
          won[c] = seat;
          break;
        }
        if (s.isConflict()) {
          ConflictCode code = s.conflict()->code;
          if (code != ConflictCode::kSourceNotFound && code != ConflictCode::kDestExists)
            errors[c] = "unexpected conflict " + s.conflict()->toJson();
          break;
        }
        if (s.errnum() == EBUSY) continue;
        errors[c] = s.toString();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < kClaimants; ++c) threads.emplace_back(claimant, c);
  for (auto& th : threads) th.join();

  for (int c = 0; c < kClaimants; ++c) EXPECT_EQ(errors[c], "") << "claimant " << c;
  std::set<int> claimedSeats;
  int winners = 0;
  for (int c = 0; c < kClaimants; ++c) {
    if (won[c] < 0) continue;
    ++winners;
    EXPECT_TRUE(claimedSeats.insert(won[c]).second) << "seat " << won[c] << " sold twice";
  }
  EXPECT_EQ(winners, kSeats);
  for (int seat = 0; seat < kSeats; ++seat) {
    EXPECT_FALSE(exists("/seats/seat-" + std::to_string(seat)));
    EXPECT_EQ(contentAt("/claimed/seat-" + std::to_string(seat)), "seat " + std::to_string(seat));
  }
}

// ---- write skew -----------------------------------------------------------------------

// Two doctors on call; each may go off call only if the other is still on
// call. Each transaction reads the other's file (a copy with a source
// precondition, to a private scratch path it then deletes) and deletes its
// own. The two write disjoint keys, so only locked reads keep them from both
// succeeding. Invariant: at least one doctor stays on call.
// rename(2) replaces a name atomically: a lookup racing with renames onto
// that name finds the old file or the new one, never nothing. (The entry and
// the inode are two reads; the replaced inode is deleted in between.)
TEST_F(Concurrency, ALookupRacingWithReplacingRenamesAlwaysFindsTheName) {
  makeFile(kRootIno, "name", "0");
  std::atomic<bool> done{false};
  std::thread replacer([&] {
    for (int i = 1; i <= 2000; ++i) {
      makeFile(kRootIno, "tmp", std::to_string(i));
      ASSERT_TRUE(ns().rename(Caller::root(), kRootIno, "tmp", kRootIno, "name", 0).ok());
    }
    done = true;
  });
  int lookups = 0, failures = 0;
  std::string firstFailure;
  while (!done) {
    auto found = ns().lookup(kRootIno, "name");
    ++lookups;
    if (!found.ok() && failures++ == 0) firstFailure = found.status().toString();
  }
  replacer.join();
  EXPECT_EQ(0, failures) << "of " << lookups << " lookups; first: " << firstFailure;
}

// Listings racing with renames in the directory they list (xfstests
// generic/736, the renames in another thread): no listing returns a name
// twice or more entries than the directory holds; an entry renamed away and
// back is listed at most once under either name; and names that exist
// throughout, untouched or replaced by a rename onto them, are in every
// listing exactly once.
TEST_F(Concurrency, ReaddirRacingWithRenamesListsNoNameTwice) {
  constexpr int n = 400;
  const uint64_t d = makeDir(kRootIno, "d"), other = makeDir(kRootIno, "other");
  for (int i = 0; i < n; ++i) makeFile(d, "e" + std::to_string(i), "");
  // The renamer stops once both scanners have each listed the directory a
  // few times while it ran, not after a fixed count of its own (a slow build,
  // TSan, would then finish before the scans begin); but at most kMaxRenames,
  // as every rename leaves versions in the memtable that each later scan
  // steps over.
  constexpr int kScansEach = 3, kMinRenames = 1000, kMaxRenames = 20000;
  std::atomic<bool> done{false};
  std::atomic<int> renames{0}, scansHere{0}, scansThere{0};
  std::thread renamer([&] {
    std::mt19937 rng(736);
    while ((scansHere < kScansEach || scansThere < kScansEach || renames < kMinRenames) && renames < kMaxRenames &&
           !::testing::Test::HasFailure()) {
      const int i = static_cast<int>(rng() % n);
      const std::string name = "e" + std::to_string(i), away = "t" + std::to_string(i);
      if (i % 2 == 0) {  // away and back
        EXPECT_TRUE(ns().rename(Caller::root(), d, name, d, away, 0).ok()) << name;
        EXPECT_TRUE(ns().rename(Caller::root(), d, away, d, name, 0).ok()) << name;
      } else if (i % 4 == 1) {  // replaced, as an editor saves
        makeFile(other, "tmp", "");
        EXPECT_TRUE(ns().rename(Caller::root(), other, "tmp", d, name, 0).ok()) << name;
      }
      ++renames;
    }
    done = true;
  });
  auto scan = [&](std::atomic<int>& scans) {
    while (!done && !::testing::Test::HasFailure()) {
      std::map<std::string, int> seen;
      size_t listed = 0;
      uint64_t cookie = 0;
      for (size_t inPage = 16; inPage == 16;) {  // pages of 16, as a small getdents buffer
        inPage = 0;
        Status s = ns().readdir(d, cookie, [&](const DirEntry& e) {
          if (inPage == 16) return false;
          ++inPage;
          ++listed;
          ++seen[e.name];
          cookie = e.cookie;
          return true;
        });
        EXPECT_TRUE(s.ok()) << s.toString();
      }
      ++scans;
      EXPECT_LE(listed, static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        const std::string name = "e" + std::to_string(i);
        if (i % 2 == 0) {
          EXPECT_LE(seen[name] + seen["t" + std::to_string(i)], 1) << name << " listed twice";
        } else {
          EXPECT_EQ(seen[name], 1) << name << " exists throughout";
        }
      }
    }
  };
  std::thread scanner([&] { scan(scansThere); });
  scan(scansHere);
  scanner.join();
  renamer.join();
}

// Only a Status::Retry runs the body again; an error that happens to carry
// the same errno (EDEADLK) is an answer, returned after one attempt.
TEST_F(Concurrency, RunnerRetriesARetryStatusButNotItsErrno) {
  TransactionRunner& runner = store_->runner();
  const uint64_t retriesBefore = runner.counters().retries;
  int attempts = 0;
  Status s = runner.run([&](Txn&) { return ++attempts < 3 ? Status::Retry("lost a race") : Status::OK(); });
  EXPECT_TRUE(s.ok()) << s.toString();
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(runner.counters().retries - retriesBefore, 2u);

  attempts = 0;
  s = runner.run([&](Txn&) {
    ++attempts;
    return Status::Error(EDEADLK, "a body's own EDEADLK");
  });
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(s.errnum(), EDEADLK);
  EXPECT_FALSE(s.isRetry());
}

TEST_F(Concurrency, RunnerGivesUpOnEndlessRetriesWithEbusy) {
  int attempts = 0;
  Status s = store_->runner().run([&](Txn&) {
    ++attempts;
    return Status::Retry("always conflicting");
  });
  EXPECT_EQ(s.errnum(), EBUSY);
  EXPECT_FALSE(s.isRetry());
  EXPECT_GT(attempts, 1);
  EXPECT_EQ(Status::Retry("escaped").errnum(), EDEADLK) << "a Retry that reached a reply would read EDEADLK";
}

TEST_F(Concurrency, WriteSkewCannotTakeBothDoctorsOffCall) {
  constexpr int kPairs = kThreads / 2;
  constexpr int kRounds = 120;
  struct Pair {
    uint64_t dir[2];
    std::string oncall[2], scratch[2];
    Id128 blob[2];
  };
  std::vector<Pair> pairs(kPairs);
  for (int p = 0; p < kPairs; ++p) {
    std::string base = "pair-" + std::to_string(p);
    uint64_t pd = makeDir(kRootIno, base);
    for (int side = 0; side < 2; ++side) {
      std::string name = side == 0 ? "a" : "b";
      pairs[p].dir[side] = makeDir(pd, name);
      makeDir(pd, "scratch-" + name);
      pairs[p].oncall[side] = "/" + base + "/" + name + "/oncall";
      pairs[p].scratch[side] = "/" + base + "/scratch-" + name + "/probe";
    }
  }

  std::vector<int> violations(kPairs, 0), bothFailed(kPairs, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::unique_ptr<std::barrier<>>> barriers;
  for (int p = 0; p < kPairs; ++p) barriers.push_back(std::make_unique<std::barrier<>>(2));
  std::vector<int> succeeded(kThreads, 0);

  auto doctor = [&](int p, int side) {
    const int t = 2 * p + side;
    Pair& pair = pairs[p];
    std::barrier<>& sync = *barriers[p];
    for (int round = 0; round < kRounds; ++round) {
      if (side == 0) {
        // Put both doctors (back) on call.
        for (int s = 0; s < 2; ++s) {
          if (exists(pair.oncall[s])) continue;
          auto made = ns().mknod(Caller::root(), pair.dir[s], "oncall", S_IFREG | 0644, 0);
          Status wrote = made.ok() ? writeFile(ns(), made->ino, 0, "doctor " + std::to_string(s)).status() : made.status();
          if (!wrote.ok()) errors[t] += "reset: " + wrote.toString() + "; ";
        }
        for (int s = 0; s < 2; ++s) {
          auto st = cas().stat(Caller::root(), pair.oncall[s]);
          if (st.ok() && st->blob) pair.blob[s] = *st->blob;
        }
      }
      sync.arrive_and_wait();
      const int other = 1 - side;
      Status s;
      for (int retry = 0; retry < 20; ++retry) {
        s = cas()
                .transact(Caller::root(), {Copy(pair.oncall[other], pair.blob[other], pair.scratch[side]),
                                           Delete(pair.scratch[side], std::nullopt),
                                           Delete(pair.oncall[side], pair.blob[side])})
                .status();
        if (s.errnum() != EBUSY) break;
      }
      succeeded[t] = s.ok() ? 1 : 0;
      if (!s.ok() && !(s.isConflict() && s.conflict()->code == ConflictCode::kSourceNotFound &&
                       s.conflict()->path == pair.oncall[other] && s.conflict()->operationIndex == 1)) {
        errors[t] += "round " + std::to_string(round) + ": " + s.toString() + "; ";
      }
      sync.arrive_and_wait();
      if (side == 0) {
        bool onCall0 = exists(pair.oncall[0]), onCall1 = exists(pair.oncall[1]);
        if (!onCall0 && !onCall1) ++violations[p];
        int wins = succeeded[2 * p] + succeeded[2 * p + 1];
        if (wins == 0) ++bothFailed[p];
        if (wins == 2) ++violations[p];
        if (wins == 1 && onCall0 == onCall1) ++violations[p];  // the state must match the outcome
      }
      sync.arrive_and_wait();
    }
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < kPairs; ++p)
    for (int side = 0; side < 2; ++side) threads.emplace_back(doctor, p, side);
  for (auto& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  for (int p = 0; p < kPairs; ++p) {
    EXPECT_EQ(violations[p], 0) << "pair " << p << ": both doctors went off call";
    EXPECT_EQ(bothFailed[p], 0) << "pair " << p << ": a round where neither could go off call";
  }
}

// "At most one of two": each side may raise its flag only if the other's is
// absent. The absence check is a copy with basis absent onto the other's
// flag path, undone by the next op. Invariant: never both flags.
TEST_F(Concurrency, AbsenceChecksKeepAtMostOneOfTwoFlags) {
  constexpr int kPairs = kThreads / 2;
  constexpr int kRounds = 120;
  struct Pair {
    std::string token[2], flag[2];
    Id128 tokenBlob[2];
  };
  std::vector<Pair> pairs(kPairs);
  for (int p = 0; p < kPairs; ++p) {
    std::string base = "pair-" + std::to_string(p);
    uint64_t pd = makeDir(kRootIno, base);
    for (int side = 0; side < 2; ++side) {
      std::string name = side == 0 ? "x" : "y";
      makeDir(pd, name);
      makeFile(pd, "token-" + name, "raised by " + name);
      pairs[p].token[side] = "/" + base + "/token-" + name;
      pairs[p].flag[side] = "/" + base + "/" + name + "/flag";
      pairs[p].tokenBlob[side] = *cas().stat(Caller::root(), pairs[p].token[side])->blob;
    }
  }

  std::vector<int> violations(kPairs, 0), bothFailed(kPairs, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::unique_ptr<std::barrier<>>> barriers;
  for (int p = 0; p < kPairs; ++p) barriers.push_back(std::make_unique<std::barrier<>>(2));
  std::vector<int> succeeded(kThreads, 0);

  auto side_ = [&](int p, int side) {
    const int t = 2 * p + side;
    Pair& pair = pairs[p];
    std::barrier<>& sync = *barriers[p];
    const int other = 1 - side;
    for (int round = 0; round < kRounds; ++round) {
      if (side == 0) {
        // Lower both flags.
        for (int s = 0; s < 2; ++s) {
          if (!exists(pair.flag[s])) continue;
          Status lowered = cas().transact(Caller::root(), {Delete(pair.flag[s], std::nullopt)}).status();
          if (!lowered.ok()) errors[t] += "reset: " + lowered.toString() + "; ";
        }
      }
      sync.arrive_and_wait();
      Status s;
      for (int retry = 0; retry < 20; ++retry) {
        s = cas()
                .transact(Caller::root(),
                          {Copy(pair.token[side], pair.tokenBlob[side], pair.flag[other], Basis::absent()),
                           Delete(pair.flag[other], pair.tokenBlob[side]),
                           Copy(pair.token[side], pair.tokenBlob[side], pair.flag[side], Basis::absent())})
                .status();
        if (s.errnum() != EBUSY) break;
      }
      succeeded[t] = s.ok() ? 1 : 0;
      if (!s.ok() && !(s.isConflict() && s.conflict()->code == ConflictCode::kDestExists &&
                       s.conflict()->path == pair.flag[other] && s.conflict()->operationIndex == 1 &&
                       s.conflict()->found == pair.tokenBlob[other])) {
        errors[t] += "round " + std::to_string(round) + ": " + s.toString() + "; ";
      }
      sync.arrive_and_wait();
      if (side == 0) {
        bool raised0 = exists(pair.flag[0]), raised1 = exists(pair.flag[1]);
        if (raised0 && raised1) ++violations[p];
        int wins = succeeded[2 * p] + succeeded[2 * p + 1];
        if (wins == 2) ++violations[p];
        if (wins == 0) ++bothFailed[p];
        if (wins == 1 && raised0 + raised1 != 1) ++violations[p];
      }
      sync.arrive_and_wait();
    }
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < kPairs; ++p)
    for (int side = 0; side < 2; ++side) threads.emplace_back(side_, p, side);
  for (auto& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  for (int p = 0; p < kPairs; ++p) {
    EXPECT_EQ(violations[p], 0) << "pair " << p << ": both flags raised";
    EXPECT_EQ(bothFailed[p], 0) << "pair " << p;
  }
}

// Many threads each moving their own file back and forth between two
// directories while others create and delete in the same directories: every
// transaction commits or fails whole, so the file count is exact at the end.
TEST_F(Concurrency, ConcurrentTransactsOnSharedDirectoriesKeepTheTreeExact) {
  constexpr int kOpsPerThread = 60;
  uint64_t left = makeDir(kRootIno, "left");
  makeDir(kRootIno, "right");
  for (int t = 0; t < kThreads; ++t) makeFile(left, "f-" + std::to_string(t), "file " + std::to_string(t));
  const uint64_t inodesBefore = stats().inodeCount;
  std::vector<std::string> errors(kThreads);
  std::barrier start(kThreads);
  auto worker = [&](int t) {
    const std::string name = "f-" + std::to_string(t);
    std::string here = "/left/" + name, there = "/right/" + name;
    auto runRetrying = [&](const std::vector<TransactOp>& ops) {
      Status s;
      for (int retry = 0; retry < 20; ++retry) {
        s = cas().transact(Caller::root(), ops).status();
        if (s.errnum() != EBUSY) break;
      }
      return s;
    };
    start.arrive_and_wait();
    for (int i = 0; i < kOpsPerThread; ++i) {
      // Move, and leave a copy behind; then delete the copy.
      Status s = runRetrying({Move(here, std::nullopt, there, Basis::absent()),
                              Copy(there, std::nullopt, here + ".trace", Basis::absent())});
      if (s.ok()) s = runRetrying({Delete(here + ".trace", std::nullopt)});
      if (!s.ok()) {
        errors[t] = "op " + std::to_string(i) + ": " + s.toString();
        return;
      }
      std::swap(here, there);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
  // kOpsPerThread is even: every file is back on the left, no traces remain.
  for (int t = 0; t < kThreads; ++t) {
    std::string name = "f-" + std::to_string(t);
    EXPECT_EQ(contentAt("/left/" + name), "file " + std::to_string(t));
    EXPECT_FALSE(exists("/right/" + name));
    EXPECT_FALSE(exists("/left/" + name + ".trace"));
    EXPECT_FALSE(exists("/right/" + name + ".trace"));
  }
  EXPECT_EQ(stats().inodeCount, inodesBefore) << "every copy was deleted; no inode leaked";
}

}  // namespace
}  // namespace acidfs
