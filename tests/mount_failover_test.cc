// A database failover that loses nothing (SPEC §9, issue 14): a primary
// PostgreSQL server and a synchronous standby (pg_basebackup -R, then
// synchronous_standby_names = '*'), three acidfsd on one multi-host URI
// (host=PRIMARY,STANDBY&target_session_attrs=read-write). Under a steady
// workload of creates and CAS decrements from all three mounts, the primary
// dies at once (every process SIGKILLed) and the standby is promoted:
//   - every operation that returned success before, during or after is
//     there afterwards, on every mount;
//   - an operation in flight fails with EIO or succeeds, never half-applied
//     (fsck clean; the counter is exact up to the decrements that failed);
//   - the mounts carry on by themselves, without a remount, once the
//     standby is promoted.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/postgres_instance.h"
#include "tests/shared_mounts.h"

#ifndef ACIDFS_TOOL_PATH
#error "ACIDFS_TOOL_PATH must name the acidfs binary"
#endif

namespace acidfs::mounttest {
namespace {

constexpr int kHosts = 3;
constexpr int kCounterStart = 100000;

class FailoverMounts : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = fuseMissing()) GTEST_SKIP() << *why;
    primary_ = std::make_unique<testing::PostgresInstance>();
    ASSERT_TRUE(primary_->ok()) << primary_->why();
    standby_ = primary_->startStandby();
    ASSERT_TRUE(standby_->ok()) << standby_->why();
    ASSERT_TRUE(primary_->makeStandbysSynchronous(1)) << primary_->why();
    // The first mount formats the database; the standby has it before the
    // mount returns (synchronous).
    uri_ = "postgresql:///postgres?host=" + primary_->socketDir() + "," + standby_->socketDir() +
           "&user=postgres&target_session_attrs=read-write";
    for (int h = 0; h < kHosts; ++h) ASSERT_TRUE(start(h));
  }

  void TearDown() override {
    hosts_.stopAll();
    if (standby_ && standby_->ok()) {
      CommandResult fsck = runArgv({ACIDFS_TOOL_PATH, "fsck", uri_}, "/", 300);
      EXPECT_TRUE(fsck.ok()) << "acidfs fsck: " << fsck;
    }
    if (HasFailure()) hosts_.printLogs();
    standby_.reset();
    primary_.reset();
  }

  std::string path(int h, const std::string& rel) const { return hosts_.path(h, rel); }
  std::string mnt(int h) const { return hosts_.mnt(h); }
  // session_timeout outlasts every failover here, so that no daemon thinks
  // another dead.
  ::testing::AssertionResult start(int h) {
    return hosts_.start(h, uri_, "coherence_ms=500,session_timeout=20,db_timeout=" + std::to_string(dbTimeoutSeconds_));
  }

  // Runs the workload, crashes the primary, promotes the standby `outage`
  // later, and checks what the operations that returned say. Returns how
  // many failed (with EIO).
  int failOver(std::chrono::milliseconds outage);

  int dbTimeoutSeconds_ = 20;  // covers a failover: calls wait it out
  std::unique_ptr<testing::PostgresInstance> primary_, standby_;
  std::string uri_;
  SharedStoreMounts hosts_{kHosts, "failover"};
};

// Whether a failed operation's report is EIO: a create's step ("open:
// EIO"), or the tool's message (its errno's name, or strerror's words).
bool saysEio(const std::string& result) {
  return result.find("EIO") != std::string::npos || result.find("Input/output error") != std::string::npos;
}

// What one operation of the workload did.
struct Outcome {
  std::string what;    // "create h1-17", "cas 99998"
  std::string result;  // "OK", "EIO", "conflict", ...
  Clock::time_point began, returned;
};

int FailoverMounts::failOver(std::chrono::milliseconds outage) {
  if (mkdir(path(0, "created").c_str(), 0755) != 0 || writeFile(path(0, "counter"), std::to_string(kCounterStart)) != "OK") {
    ADD_FAILURE() << "setting up the workload: " << errnoName(errno);
    return 0;
  }
  std::atomic<bool> working{true};
  std::mutex mutex;
  std::vector<Outcome> outcomes;
  auto record = [&](std::string what, std::string result, Clock::time_point began) {
    std::lock_guard<std::mutex> lock(mutex);
    outcomes.push_back({std::move(what), std::move(result), began, Clock::now()});
  };
  auto contentOf = [](int h, int i) { return "file " + std::to_string(i) + " of mount " + std::to_string(h); };

  std::vector<std::thread> workers;
  for (int h = 0; h < kHosts; ++h) {
    // Creates: each a new file with its own content.
    workers.emplace_back([&, h] {
      for (int i = 0; working; ++i) {
        const std::string name = "h" + std::to_string(h) + "-" + std::to_string(i);
        const auto began = Clock::now();
        const std::string result = writeFile(path(h, "created/" + name), contentOf(h, i), O_WRONLY | O_CREAT | O_EXCL);
        record("create " + name, result, began);
      }
    });
    // CAS decrements of one counter, as a script would: blob-id, read,
    // cas --expect; exit 1 is a conflict (someone else got in first).
    workers.emplace_back([&, h] {
      const std::string tool = ACIDFS_TOOL_PATH;
      const std::string attempt = "b=$('" + tool + "' blob-id counter) && v=$(cat counter) || exit 2; "
                                  "echo $((v - 1)) | '" + tool + "' cas counter --expect \"$b\" >/dev/null && echo $((v - 1))";
      while (working) {
        const auto began = Clock::now();
        CommandResult r = runArgv({"/bin/sh", "-c", attempt}, mnt(h), 120);
        std::string value = r.out;
        while (!value.empty() && value.back() == '\n') value.pop_back();
        record("cas " + value, r.ok() ? "OK" : r.exitStatus == 1 ? "conflict" : "exit " + std::to_string(r.exitStatus) + ": " + r.err,
               began);
      }
    });
  }
  sleepMs(2000);  // a steady workload
  auto okCount = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return std::count_if(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.result == "OK"; });
  };
  EXPECT_GT(okCount(), 10) << "the workload did not get going";

  EXPECT_TRUE(primary_->crash()) << primary_->why();
  const auto crashed = Clock::now();  // every process of it is gone now
  std::this_thread::sleep_for(outage);  // calls meet a dead primary and a read-only standby
  EXPECT_TRUE(standby_->promote()) << standby_->why();
  const auto promoted = Clock::now();
  // Each mount must succeed again, by itself: wait for a success after the
  // promotion from each, then a little more work.
  auto succeededSince = [&](Clock::time_point since, int h) {
    const std::string create = "create h" + std::to_string(h) + "-";
    std::lock_guard<std::mutex> lock(mutex);
    return std::any_of(outcomes.begin(), outcomes.end(), [&](const Outcome& o) {
      return o.returned > since && o.result == "OK" && o.what.rfind(create, 0) == 0;
    });
  };
  for (int h = 0; h < kHosts; ++h)
    EXPECT_TRUE(waitUntil([&] { return succeededSince(promoted, h); }, 20))
        << "mount " << h << " did not carry on within db_timeout (20 s) of the promotion";
  sleepMs(1000);
  working = false;
  for (auto& t : workers) t.join();
  fprintf(stderr, "failover: workload ended %.2f s after the crash\n",
          std::chrono::duration<double>(Clock::now() - crashed).count());

  // Every outcome is a success, a conflict, or EIO (a create: the step that
  // failed; a cas: the tool's exit 2 saying EIO); nothing else.
  std::map<std::string, std::string> created;  // name → content, creates that returned OK
  std::set<std::string> createsFailed;
  std::vector<long> decremented;  // the values successful CASes wrote
  int casFailed = 0;
  Clock::time_point firstAfter = Clock::time_point::max();
  for (const Outcome& o : outcomes) {
    // The measure of the outage: the first operation begun after the crash
    // to succeed.
    if (o.result == "OK" && o.began > crashed) firstAfter = std::min(firstAfter, o.returned);
    if (o.what.rfind("create ", 0) == 0) {
      const std::string name = o.what.substr(7);
      if (o.result == "OK") {
        const int h = name[1] - '0', i = std::stoi(name.substr(3));
        created[name] = contentOf(h, i);
      } else {
        EXPECT_TRUE(saysEio(o.result)) << o.what << ": " << o.result;
        fprintf(stderr, "failover: %s failed: %s\n", o.what.c_str(), o.result.c_str());
        createsFailed.insert(name);
      }
    } else if (o.result == "OK") {
      decremented.push_back(std::stol(o.what.substr(4)));
    } else if (o.result != "conflict") {
      EXPECT_TRUE(saysEio(o.result)) << o.what << ": " << o.result;
      fprintf(stderr, "failover: %s failed: %s\n", o.what.c_str(), o.result.c_str());
      ++casFailed;
    }
  }
  fprintf(stderr, "failover: %zu creates and %zu CAS decrements returned OK, %zu creates and %d CASes failed; "
                  "first success %.2f s after the crash (%.2f s after the promotion)\n",
          created.size(), decremented.size(), createsFailed.size(), casFailed,
          std::chrono::duration<double>(firstAfter - crashed).count(),
          std::chrono::duration<double>(firstAfter - promoted).count());

  // Nothing that returned is lost, on any mount.
  for (const auto& [name, content] : created)
    for (int h = 0; h < kHosts; ++h) EXPECT_EQ(content, readOr(path(h, "created/" + name))) << name << " on mount " << h;
  // A create that failed left nothing, or the file (its create committed,
  // its content commit not), or all of it; never anything else.
  for (const std::string& name : createsFailed) {
    auto content = readFile(path(1, "created/" + name));
    if (!content) continue;
    const int h = name[1] - '0', i = std::stoi(name.substr(3));
    EXPECT_TRUE(content->empty() || *content == contentOf(h, i)) << name << " holds \"" << *content << "\"";
  }
  // Every successful decrement wrote a value no other wrote, and the
  // counter stands at most the failed ones below what the successes say.
  std::sort(decremented.begin(), decremented.end());
  EXPECT_TRUE(std::adjacent_find(decremented.begin(), decremented.end()) == decremented.end())
      << "two CASes that returned OK wrote the same value: one update was lost";
  const long counter = std::stol(readOr(path(2, "counter")));
  const long applied = kCounterStart - counter;
  EXPECT_GE(applied, static_cast<long>(decremented.size())) << "a CAS that returned OK is missing";
  EXPECT_LE(applied, static_cast<long>(decremented.size()) + casFailed) << "a decrement was applied twice";
  if (!decremented.empty()) {
    EXPECT_LE(counter, decremented.front());
  }
  return static_cast<int>(createsFailed.size()) + casFailed;
}

TEST_F(FailoverMounts, AFailoverLosesNoOperationThatReturnedAndTheMountsCarryOn) {
  EXPECT_EQ(0, failOver(std::chrono::milliseconds(1000))) << "a call failed though db_timeout=20 outlasts the failover";
}

// A failover slower than db_timeout: the calls that waited it out fail
// with EIO, leaving nothing half-done, and the mounts carry on once the
// standby is promoted.
class SlowFailoverMounts : public FailoverMounts {
 protected:
  void SetUp() override {
    dbTimeoutSeconds_ = 2;
    FailoverMounts::SetUp();
  }
};

TEST_F(SlowFailoverMounts, CallsThatOutwaitDbTimeoutFailWithEioAndNothingIsHalfApplied) {
  EXPECT_GT(failOver(std::chrono::milliseconds(5000)), 0) << "no call waited past db_timeout=2 in a 5 s outage";
}

}  // namespace
}  // namespace acidfs::mounttest
