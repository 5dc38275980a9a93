// One namespace across hosts (SPEC §9): three acidfsd, on three mount
// points, over one PostgreSQL database (a server the test starts). The
// same mkdir from all three has one winner; a CAS counter decremented from
// all three loses no update; seats claimed from all three have exactly K
// winners; what one mount wrote and closed, the others read byte-exact at
// their next open; a rename on one shows in the others' listings; a daemon
// killed with -9 leaves the others serving, and its open-unlinked files are
// reclaimed once its session lapses.
#include <libpq-fe.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "tests/postgres_instance.h"
#include "tests/shared_mounts.h"

#ifndef ACIDFS_TOOL_PATH
#error "ACIDFS_TOOL_PATH must name the acidfs binary"
#endif

namespace acidfs::mounttest {
namespace {

constexpr int kHosts = 3;

class SharedMounts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = fuseMissing()) GTEST_SKIP() << *why;
    pg_ = std::make_unique<testing::PostgresInstance>();
    ASSERT_TRUE(pg_->ok()) << pg_->why();
    ASSERT_EQ("", sql("CREATE DATABASE shared", "postgres"));
    uri_ = pg_->uri("shared");
    for (int h = 0; h < kHosts; ++h) ASSERT_TRUE(start(h));
  }

  void TearDown() override {
    hosts_.stopAll();
    // Every test ends with a consistent store: counts, links, chunks.
    if (pg_ && pg_->ok()) {
      CommandResult fsck = runArgv({ACIDFS_TOOL_PATH, "fsck", uri_}, "/", 300);
      EXPECT_TRUE(fsck.ok()) << "acidfs fsck: " << fsck;
    }
    if (HasFailure()) hosts_.printLogs();
    pg_.reset();
  }

  std::string mnt(int h) const { return hosts_.mnt(h); }
  std::string path(int h, const std::string& rel) const { return hosts_.path(h, rel); }
  ::testing::AssertionResult start(int h) {
    return hosts_.start(h, uri_, "coherence_ms=500,session_timeout=3,db_timeout=5");
  }
  void killDaemon(int h) { hosts_.killDaemon(h); }

  // Runs `statement` on the test's database (or `database`): "" when it
  // ran, its first value when it returned rows, "ERROR: ..." when it failed.
  std::string sql(const std::string& statement, const std::string& database = "shared") {
    PGconn* c = PQconnectdb(pg_->uri(database).c_str());
    PGresult* r = PQexec(c, statement.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
      out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    else if (PQresultStatus(r) != PGRES_COMMAND_OK)
      out = std::string("ERROR: ") + PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return out;
  }

  std::unique_ptr<testing::PostgresInstance> pg_;
  std::string uri_;
  SharedStoreMounts hosts_{kHosts, "shared"};
};

TEST_F(SharedMounts, TheSameMkdirFromEveryMountHasExactlyOneWinner) {
  constexpr int kRounds = 30;
  for (int round = 0; round < kRounds; ++round) {
    std::barrier<> go(kHosts);
    std::atomic<int> made{0}, existed{0};
    std::vector<std::string> other(kHosts);
    std::vector<std::thread> hosts;
    for (int h = 0; h < kHosts; ++h)
      hosts.emplace_back([&, h] {
        go.arrive_and_wait();
        const std::string outcome = errnoAfter(mkdir(path(h, "d" + std::to_string(round)).c_str(), 0755));
        if (outcome == "OK") ++made;
        else if (outcome == "EEXIST") ++existed;
        else other[h] = outcome;
      });
    for (auto& t : hosts) t.join();
    ASSERT_EQ(1, made.load()) << "round " << round;
    ASSERT_EQ(kHosts - 1, existed.load()) << "round " << round << ": " << other[0] << other[1] << other[2];
  }
}

TEST_F(SharedMounts, ACasCounterDecrementedFromEveryMountLosesNoUpdate) {
  constexpr int kPerHost = 15;
  ASSERT_EQ("OK", writeFile(path(0, "counter"), std::to_string(kHosts * kPerHost)));
  // Each host: read the blobId, then the value (an open: close-to-open
  // shows at least that version), and CAS the decrement; retry on conflict.
  const std::string script = std::string("for i in $(seq ") + std::to_string(kPerHost) +
                              "); do while :; do b=$('" + ACIDFS_TOOL_PATH + "' blob-id counter) || exit 2; "
                              "v=$(cat counter) || exit 2; echo $((v - 1)) | '" + ACIDFS_TOOL_PATH +
                              "' cas counter --expect \"$b\" >/dev/null; rc=$?; [ $rc = 0 ] && break; "
                              "[ $rc = 1 ] || exit $rc; done; done";
  std::vector<CommandResult> results(kHosts);
  std::vector<std::thread> hosts;
  for (int h = 0; h < kHosts; ++h)
    hosts.emplace_back([&, h] { results[h] = runArgv({"/bin/sh", "-c", script}, mnt(h), 600); });
  for (auto& t : hosts) t.join();
  for (int h = 0; h < kHosts; ++h) EXPECT_TRUE(results[h].ok()) << "mount " << h << ": " << results[h];
  for (int h = 0; h < kHosts; ++h) EXPECT_EQ("0\n", readOr(path(h, "counter"))) << "mount " << h << " sees a lost update";
}

// The change feed of a shared store (SPEC §11): CAS decrements from every
// mount conflict with each other, and every mount's `acidfs watch` shows
// the same changes in the same order — the counter's writes counting down
// one by one, the database's commit order.
TEST_F(SharedMounts, EveryMountsFeedShowsAllMountsCommitsInTheirCommitOrder) {
  constexpr int kPerHost = 10;
  const int start = kHosts * kPerHost;
  ASSERT_EQ("OK", writeFile(path(0, "counter"), std::to_string(start) + "\n"));
  const std::string tool = ACIDFS_TOOL_PATH;
  const std::string script = std::string("for i in $(seq ") + std::to_string(kPerHost) +
                              "); do while :; do b=$('" + tool + "' blob-id counter) || exit 2; "
                              "v=$(cat counter) || exit 2; echo $((v - 1)) | '" + tool +
                              "' cas counter --expect \"$b\" >/dev/null; rc=$?; [ $rc = 0 ] && break; "
                              "[ $rc = 1 ] || exit $rc; done; done";
  std::vector<std::thread> hosts;
  for (int h = 0; h < kHosts; ++h)
    hosts.emplace_back([&, h] { EXPECT_TRUE(runArgv({"/bin/sh", "-c", script}, mnt(h), 600).ok()); });
  for (auto& t : hosts) t.join();
  // The blobId of each value (content-addressed: `acidfs put` names it).
  std::map<std::string, int> valueOf;
  for (int v = 0; v <= start; ++v) {
    CommandResult put = runArgv({"/bin/sh", "-c", "echo " + std::to_string(v) + " | '" + tool + "' put"}, mnt(0), 60);
    ASSERT_TRUE(put.ok()) << put;
    valueOf[put.out.substr(0, 32)] = v;
  }
  std::optional<std::vector<std::string>> first;
  for (int h = 0; h < kHosts; ++h) {
    // Every change of /counter: its first write, then one per decrement.
    CommandResult watched =
        runArgv({"/bin/sh", "-c", "timeout 60 '" + tool + "' watch . /counter --from 1 | head -n " +
                                      std::to_string(start + 2)},
                mnt(h), 90);
    std::vector<std::string> lines;
    std::vector<int> values;
    std::istringstream in(watched.out);
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line.substr(0, line.find(",\"time\"")));  // the same change has the same time everywhere too; shorter
      nlohmann::json change = nlohmann::json::parse(line);
      if (change["op"] == "write") values.push_back(valueOf.at(change["blobId"].get<std::string>()));
    }
    ASSERT_EQ(static_cast<size_t>(start + 1), values.size()) << "mount " << h << ":\n" << watched.out;
    for (int i = 0; i <= start; ++i) EXPECT_EQ(start - i, values[static_cast<size_t>(i)]) << "mount " << h << ", write " << i;
    if (!first) first = lines;
    EXPECT_EQ(*first, lines) << "mount " << h << "'s feed differs from mount 0's";
  }
}

TEST_F(SharedMounts, SeatsClaimedFromEveryMountHaveExactlyKWinners) {
  constexpr int kSeats = 4, kClaimantsPerHost = 3;
  ASSERT_EQ(0, mkdir(path(0, "seats").c_str(), 0755));
  std::mutex mutex;
  std::map<std::string, std::string> wonBy;  // seat → claimant
  std::vector<std::string> errors;
  std::barrier<> go(kHosts * kClaimantsPerHost);
  std::vector<std::thread> claimants;
  for (int h = 0; h < kHosts; ++h)
    for (int c = 0; c < kClaimantsPerHost; ++c)
      claimants.emplace_back([&, h, c] {
        const std::string me = "host" + std::to_string(h) + "-claimant" + std::to_string(c);
        go.arrive_and_wait();
        for (int s = 0; s < kSeats; ++s) {
          const std::string seat = "seats/seat-" + std::to_string(s);
          Fd fd(open(path(h, seat).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
          if (!fd.ok()) {
            if (errno != EEXIST) {
              std::lock_guard<std::mutex> lock(mutex);
              errors.push_back(me + ": " + errnoName(errno));
            }
            continue;
          }
          const bool wrote = write(fd.get(), me.data(), me.size()) == static_cast<ssize_t>(me.size());
          const bool closed = fd.close() == 0;
          std::lock_guard<std::mutex> lock(mutex);
          if (!wrote || !closed) errors.push_back(me + ": write or close failed");
          if (wonBy.count(seat)) errors.push_back(seat + " won twice");
          wonBy[seat] = me;
          return;  // one seat each
        }
      });
  for (auto& t : claimants) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(static_cast<size_t>(kSeats), wonBy.size());
  for (const auto& [seat, claimant] : wonBy)
    for (int h = 0; h < kHosts; ++h) EXPECT_EQ(claimant, readOr(path(h, seat))) << seat << " on mount " << h;
}

// Swaps of two files by `acidfs transact` (three moves, preconditions on
// both blobIds) race from every mount: every swap that returned 0 happened
// once and whole, so the files end swapped exactly as often as the swaps
// that succeeded say, and no content is lost or doubled.
TEST_F(SharedMounts, TransactSwapsRacingFromEveryMountAreEachWholeAndCounted) {
  ASSERT_EQ("OK", writeFile(path(0, "a"), "content of A"));
  ASSERT_EQ("OK", writeFile(path(0, "b"), "content of B"));
  constexpr int kSwapsPerHost = 12;
  const std::string tool = ACIDFS_TOOL_PATH;
  std::vector<CommandResult> results(kHosts);
  std::vector<std::thread> hosts;
  for (int h = 0; h < kHosts; ++h)
    hosts.emplace_back([&, h] {
      const std::string tmp = "/swap-" + std::to_string(h);
      const std::string script =
          "ok=0; for i in $(seq " + std::to_string(kSwapsPerHost) + "); do while :; do "
          "a=$('" + tool + "' blob-id a) && b=$('" + tool + "' blob-id b) || exit 2; "
          "printf '[{\"op\":\"move\",\"source\":{\"path\":\"/a\",\"blobId\":\"%s\"},"
          "\"dest\":{\"path\":\"" + tmp + "\",\"basis\":null}},"
          "{\"op\":\"move\",\"source\":{\"path\":\"/b\",\"blobId\":\"%s\"},\"dest\":{\"path\":\"/a\"}},"
          "{\"op\":\"move\",\"source\":{\"path\":\"" + tmp + "\"},\"dest\":{\"path\":\"/b\"}}]' \"$a\" \"$b\" "
          "| '" + tool + "' transact >/dev/null; rc=$?; "
          "[ $rc = 0 ] && { ok=$((ok + 1)); break; }; [ $rc = 1 ] || exit $rc; done; done; echo $ok";
      results[h] = runArgv({"/bin/sh", "-c", script}, mnt(h), 600);
    });
  for (auto& t : hosts) t.join();
  int swaps = 0;
  for (int h = 0; h < kHosts; ++h) {
    ASSERT_TRUE(results[h].ok()) << "mount " << h << ": " << results[h];
    swaps += std::stoi(results[h].out);
  }
  EXPECT_EQ(kHosts * kSwapsPerHost, swaps);
  const bool swapped = swaps % 2 == 1;
  for (int h = 0; h < kHosts; ++h) {
    EXPECT_EQ(swapped ? "content of B" : "content of A", readOr(path(h, "a"))) << "mount " << h;
    EXPECT_EQ(swapped ? "content of A" : "content of B", readOr(path(h, "b"))) << "mount " << h;
  }
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(mnt(1))) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }()) << "a swap's temporary name was left behind";
}

TEST_F(SharedMounts, WhatOneMountWroteAndClosedTheOthersReadByteExactAtTheirNextOpen) {
  const std::string first = randomBytes(3 << 20, 1), second = randomBytes((1 << 20) + 4321, 2);
  ASSERT_EQ("OK", writeFile(path(0, "data.bin"), first));
  for (int h = 1; h < kHosts; ++h) EXPECT_TRUE(sameBytes(first, readFile(path(h, "data.bin")))) << "mount " << h;
  // Mounts 0 and 2 now hold the first version in their caches; mount 1
  // replaces it with a shorter one.
  ASSERT_EQ("OK", writeFile(path(1, "data.bin"), second));
  for (int h : {0, 2}) EXPECT_TRUE(sameBytes(second, readFile(path(h, "data.bin")))) << "mount " << h;
  struct stat st;
  ASSERT_EQ(0, stat(path(2, "data.bin").c_str(), &st));
  EXPECT_EQ(static_cast<off_t>(second.size()), st.st_size);
}

TEST_F(SharedMounts, ARenameOnOneMountShowsInTheOthersListingsSoon) {
  ASSERT_EQ(0, mkdir(path(0, "dir").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path(0, "dir/old"), "x"));
  for (int h = 1; h < kHosts; ++h) {
    struct stat st;
    ASSERT_EQ(0, stat(path(h, "dir/old").c_str(), &st)) << "mount " << h;  // now cached there
  }
  ASSERT_EQ(0, rename(path(0, "dir/old").c_str(), path(0, "dir/new").c_str()));
  for (int h = 1; h < kHosts; ++h) {
    auto listing = [&] {
      std::set<std::string> names;
      if (DIR* d = opendir(path(h, "dir").c_str())) {
        while (dirent* e = readdir(d)) names.insert(e->d_name);
        closedir(d);
      }
      return names;
    };
    EXPECT_TRUE(waitUntil([&] { return listing() == std::set<std::string>{".", "..", "new"}; }, 10))
        << "mount " << h << " never listed the rename";
    struct stat st;
    EXPECT_TRUE(waitUntil([&] { return stat(path(h, "dir/old").c_str(), &st) != 0 && errno == ENOENT; }, 10))
        << "mount " << h << " still finds the old name";
  }
}

TEST_F(SharedMounts, ADaemonKilledLeavesTheOthersServingAndItsOrphansAreReclaimed) {
  ASSERT_EQ("OK", writeFile(path(2, "held"), randomBytes(200000, 3)));
  Fd held(open(path(2, "held").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(0, unlink(path(2, "held").c_str()));
  EXPECT_EQ("1", sql("SELECT count(*) FROM acidfs.orphans")) << "the open, unlinked file is an orphan";
  held.reset();  // the descriptor goes with the process anyway
  killDaemon(2);
  // The others serve on...
  ASSERT_EQ(0, mkdir(path(0, "after-kill").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path(1, "after-kill/f"), "still here"));
  EXPECT_EQ("still here", readOr(path(0, "after-kill/f")));
  // ... and reclaim the dead daemon's orphan once its session lapsed (3 s).
  EXPECT_TRUE(waitUntil([&] { return sql("SELECT count(*) FROM acidfs.orphans") == "0"; }, 30))
      << "the orphan of the killed daemon was never reclaimed";
  EXPECT_TRUE(waitUntil([&] { return sql("SELECT count(*) FROM acidfs.default WHERE key >= 'session/'::bytea AND key < 'session0'::bytea") == "2"; }, 30))
      << "the killed daemon's session record stayed";
}

// The database stops (as a crash: -m immediate) and comes back: what was
// fsynced before is there, a call made meanwhile waits db_timeout (5 s
// here) and fails with EIO, leaving nothing half-done; afterwards every
// mount works again without a remount.
TEST_F(SharedMounts, ADatabaseOutageFailsCallsWithEioAndTheMountsRecoverByThemselves) {
  {
    // fsync: what survives a crash of the database is what was synced (SPEC
    // §3; a default mount's commits are durable within commit_interval).
    Fd fd(open(path(0, "before").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.ok()) << errnoName(errno);
    ASSERT_EQ(9, write(fd.get(), "committed", 9));
    ASSERT_EQ(0, fsync(fd.get())) << errnoName(errno);
    ASSERT_EQ(0, fd.close());
  }
  ASSERT_TRUE(pg_->stop("immediate")) << pg_->why();
  const auto asked = Clock::now();
  EXPECT_EQ("EIO", errnoAfter(mkdir(path(0, "during").c_str(), 0755)));
  EXPECT_GE(Clock::now() - asked, std::chrono::seconds(4)) << "the call did not wait for the database (db_timeout=5)";
  ASSERT_TRUE(pg_->start()) << pg_->why();
  for (int h = 0; h < kHosts; ++h) {
    const std::string dir = path(h, "after-" + std::to_string(h));
    EXPECT_TRUE(waitUntil([&] { return mkdir(dir.c_str(), 0755) == 0; }, 60)) << "mount " << h << " did not recover";
    EXPECT_EQ("committed", readOr(path(h, "before"))) << "mount " << h;
  }
  for (int h = 0; h < kHosts; ++h) {
    struct stat st;
    EXPECT_EQ("ENOENT", errnoAfter(stat(path(h, "during").c_str(), &st))) << "a failed mkdir left a trace";
  }
}

// Every connection of the daemons is killed again and again while two
// mounts write: each write either succeeds whole or fails, no commit is
// applied twice (reference counts exact: fsck in TearDown), and every file
// reads back as its last successful write left it — or as a later failed
// attempt may have: the open's O_TRUNC committed before the failure (an
// empty file), or a close whose commit lost its connection after applying
// (the whole new content; the outcome could not be asked). Never anything
// else: no mix, no older content.
TEST_F(SharedMounts, ConnectionsKilledMidWorkLeaveEveryCountExact) {
  std::atomic<bool> writing{true};
  std::thread killer([&] {
    while (writing) {
      sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'shared' "
          "AND pid <> pg_backend_pid()");
      sleepMs(30);
    }
  });
  struct Outcomes {
    std::vector<std::string> mayHold;  // since the last success: its content, then each failed attempt's
    std::string attempts;              // for the failure message: each attempt's writeFile result, in order
  };
  std::mutex mutex;
  std::map<std::string, Outcomes> outcomes;  // path (relative) → what it may hold, once a write succeeded
  size_t succeeded = 0;
  std::vector<std::thread> writers;
  for (int h = 0; h < 2; ++h)
    writers.emplace_back([&, h] {
      for (int i = 0; i < 40; ++i) {
        const std::string rel = "w" + std::to_string(h) + "-" + std::to_string(i % 10);
        const std::string content = randomBytes(20000 + 1000 * i, static_cast<uint64_t>(h * 1000 + i));
        const std::string result = writeFile(path(h, rel), content);
        std::lock_guard<std::mutex> lock(mutex);
        Outcomes& o = outcomes[rel];
        o.attempts += (o.attempts.empty() ? "" : ", ") + result;
        if (result == "OK") {
          ++succeeded;
          o.mayHold = {content};
        } else if (!o.mayHold.empty()) {
          o.mayHold.push_back("");
          o.mayHold.push_back(content);
        }
      }
    });
  for (auto& t : writers) t.join();
  writing = false;
  killer.join();
  EXPECT_GT(succeeded, 0u) << "no write survived the killing";
  for (const auto& [rel, o] : outcomes) {
    if (o.mayHold.empty()) continue;  // never written whole: nothing to expect
    auto holdsOneOfThem = [&, &rel = rel, &o = o] {
      std::optional<std::string> now = readFile(path(2, rel));
      return now && std::find(o.mayHold.begin(), o.mayHold.end(), *now) != o.mayHold.end();
    };
    EXPECT_TRUE(waitUntil(holdsOneOfThem, 30)) << rel << " (attempts: " << o.attempts << ")";
  }
}

}  // namespace
}  // namespace acidfs::mounttest
