// The change feed on a real mount (SPEC §11): `acidfs watch` prints what
// the shell does, in order; a watcher killed and started again with
// `--from` at random points while four writers commit concurrently misses
// nothing and reorders nothing; a kill -9 of the daemon loses no record of
// a change that returned; a watcher sees only what it may read; exit 3 for
// what is no longer kept.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/mount_fixture.h"
#include "tests/test_util.h"

namespace acidfs::mounttest {
namespace {

using nlohmann::json;

constexpr const char* kNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

// `acidfs watch ARGS` in the background, its lines going to a file.
class Watcher {
 public:
  Watcher(const std::string& args, const std::string& out, bool asNobody = false) : out_(out) {
    pid_ = fork();
    if (pid_ == 0) {
      setsid();
      const std::string command = std::string("exec ") + (asNobody ? kNobody : "") + "'" + ACIDFS_TOOL_PATH + "' watch " +
                                  args + " > '" + out + "'";
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Watcher() { stop(); }
  // Its lines so far (a last line being written is left out).
  std::vector<json> lines() const {
    std::vector<json> out;
    std::ifstream in(out_);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream split(all);
    for (std::string line; std::getline(split, line);) {
      if (split.eof() && all.back() != '\n') break;
      out.push_back(json::parse(line));
    }
    return out;
  }
  // Waits until it printed `n` lines (30 s at most).
  bool waitFor(size_t n) const {
    return waitUntil([&] { return lines().size() >= n; }, 30);
  }
  int stop() {
    if (pid_ <= 0) return status_;
    // The tool itself (sh and setpriv exec it), and anything it started; the
    // group may not exist yet, if the child has not reached setsid().
    kill(pid_, SIGKILL);
    kill(-pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    pid_ = 0;
    return status_;
  }
  // Waits for it to exit by itself; its exit status, or -1.
  int exitStatus() {
    if (pid_ > 0) {
      waitpid(pid_, &status_, 0);
      pid_ = 0;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

 private:
  std::string out_;
  pid_t pid_ = 0;
  int status_ = 0;
};

std::string summary(const json& change) {
  std::string s = change["op"].get<std::string>() + " " + change["path"].get<std::string>();
  if (change.contains("to")) s += " -> " + change["to"].get<std::string>();
  return s;
}

class MountFeed : public MountTest {
 protected:
  MountFeed() { mountOptions_ = "allow_other"; }
  std::string tool() const { return std::string("'") + ACIDFS_TOOL_PATH + "' "; }
  bool tool_ok(const std::string& args, const std::string& input) {
    CommandResult r = sh("printf %s '" + input + "' | " + tool() + args, 60, mountpoint());
    EXPECT_TRUE(r.ok()) << r;
    return r.ok();
  }
  ::testing::AssertionResult restartWithOptions(const std::string& options) {
    mountOptions_ = options;
    return restart();
  }
};

TEST_F(MountFeed, WatchPrintsWhatTheShellDoesInCommitOrder) {
  Watcher watcher("'" + mountpoint() + "'", scratchDir() + "/watch.out");
  sleepMs(300);  // it asked for "from now on"
  ASSERT_TRUE(sh("mkdir d && echo one > d/a && mv d/a d/b && ln d/b hard && rm d/b && echo two > hard", 30,
                 mountpoint()).ok());
  ASSERT_TRUE(watcher.waitFor(7)) << "watch printed " << watcher.lines().size() << " lines";
  std::vector<std::string> got;
  uint64_t lastSeq = 0;
  for (const json& change : watcher.lines()) {
    got.push_back(summary(change));
    EXPECT_GE(change["seq"].get<uint64_t>(), lastSeq) << "out of order";
    lastSeq = change["seq"].get<uint64_t>();
  }
  // The shell's steps; a write is the content commit at close.
  const std::vector<std::string> want = {"mkdir /d",  "create /d/a", "write /d/a",  "rename /d/a -> /d/b",
                                         "link /hard", "delete /d/b", "write /hard"};
  EXPECT_EQ(want, std::vector<std::string>(got.begin(), got.begin() + std::min(got.size(), want.size())));
  const json write = watcher.lines()[2];
  EXPECT_EQ(write["blobId"].get<std::string>().size(), 32u);
  EXPECT_EQ(0, write["uid"].get<int>());
  EXPECT_GT(write["time"].get<int64_t>(), 0);
}

// SPEC §11's test: no change missed or reordered while 4 writers commit
// and the watcher is killed and restarted from --from at random points.
TEST_F(MountFeed, AWatcherRestartedFromItsLastSeqAtRandomPointsMissesNothing) {
  Watcher first("'" + mountpoint() + "' --from 1", scratchDir() + "/w0.out");
  ASSERT_TRUE(sh("true", 5, mountpoint()).ok());
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      const std::string d = "w" + std::to_string(w);
      CommandResult r = sh("mkdir " + d + " && for i in $(seq 1 40); do echo $i > " + d + "/f$i; mv " + d + "/f$i " + d +
                               "/g$i; done",
                           120, mountpoint());
      EXPECT_TRUE(r.ok()) << r;
    });
  // Restarts: each new watcher from the last seq the previous printed (a
  // transaction's records may have been cut: its lines come again, and are
  // counted once).
  std::vector<json> seen;
  std::mt19937 rng(11);
  std::unique_ptr<Watcher> current;
  first.waitFor(5);
  first.stop();
  for (const json& j : first.lines()) seen.push_back(j);
  for (int restart = 1; restart <= 8; ++restart) {
    const uint64_t from = seen.empty() ? 1 : seen.back()["seq"].get<uint64_t>();
    current = std::make_unique<Watcher>("'" + mountpoint() + "' --from " + std::to_string(from),
                                        scratchDir() + "/w" + std::to_string(restart) + ".out");
    sleepMs(50 + static_cast<int>(rng() % 400));
    current->stop();
    for (const json& j : current->lines()) seen.push_back(j);
  }
  for (auto& t : writers) t.join();
  const uint64_t from = seen.empty() ? 1 : seen.back()["seq"].get<uint64_t>();
  Watcher last("'" + mountpoint() + "' --from " + std::to_string(from), scratchDir() + "/wlast.out");
  // Everything: 4 × (mkdir + 40 × (create, write, rename)).
  const size_t total = 4 * (1 + 40 * 3);
  ASSERT_TRUE(waitUntil([&] {
    std::set<std::pair<uint64_t, std::string>> unique;
    for (const json& j : seen) unique.emplace(j["seq"].get<uint64_t>(), summary(j));
    for (const json& j : last.lines()) unique.emplace(j["seq"].get<uint64_t>(), summary(j));
    return unique.size() >= total;
  }, 60)) << "the restarted watchers never saw every change";
  last.stop();
  for (const json& j : last.lines()) seen.push_back(j);
  // Once each (a line seen twice is the same (seq, change)), in seq order.
  std::vector<std::pair<uint64_t, std::string>> ordered;
  std::set<std::pair<uint64_t, std::string>> once;
  for (const json& j : seen) {
    auto key = std::make_pair(j["seq"].get<uint64_t>(), summary(j));
    if (once.insert(key).second) ordered.push_back(key);
  }
  EXPECT_EQ(total, ordered.size());
  for (size_t i = 1; i < ordered.size(); ++i) EXPECT_LE(ordered[i - 1].first, ordered[i].first) << "reordered at " << i;
  // The whole feed, read at once, is the same.
  Watcher whole("'" + mountpoint() + "' --from 1", scratchDir() + "/whole.out");
  ASSERT_TRUE(whole.waitFor(total));
  whole.stop();
  std::vector<std::pair<uint64_t, std::string>> all;
  for (const json& j : whole.lines()) all.emplace_back(j["seq"].get<uint64_t>(), summary(j));
  EXPECT_EQ(all, ordered);
  // Each writer's files in its own order: f$i created before g$i renamed.
  for (int w = 0; w < 4; ++w)
    for (int i = 1; i <= 40; ++i) {
      const std::string d = "/w" + std::to_string(w);
      auto at = [&](const std::string& s) {
        for (size_t k = 0; k < all.size(); ++k)
          if (all[k].second == s) return static_cast<long>(k);
        return -1L;
      };
      const long created = at("create " + d + "/f" + std::to_string(i));
      const long renamed = at("rename " + d + "/f" + std::to_string(i) + " -> " + d + "/g" + std::to_string(i));
      EXPECT_GE(created, 0);
      EXPECT_GT(renamed, created);
    }
}

TEST_F(MountFeed, AKill9LosesNoRecordOfAChangeThatReturned) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(tool_ok("cas c" + std::to_string(i) + " --absent", std::to_string(i)));
  ASSERT_TRUE(killDaemon9());
  ASSERT_TRUE(restart());
  Watcher whole("'" + mountpoint() + "' --from 1", scratchDir() + "/whole.out");
  ASSERT_TRUE(whole.waitFor(40)) << whole.lines().size();
  whole.stop();
  std::set<std::string> got;
  for (const json& j : whole.lines()) got.insert(summary(j));
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(got.count("create /c" + std::to_string(i))) << i;
    EXPECT_TRUE(got.count("write /c" + std::to_string(i))) << i;
  }
  // And the numbering goes on above what was there.
  ASSERT_TRUE(tool_ok("cas after --absent", "x"));
  Watcher more("'" + mountpoint() + "' --from 1", scratchDir() + "/more.out");
  ASSERT_TRUE(more.waitFor(42));
  more.stop();
  EXPECT_EQ("write /after", summary(more.lines().back()));
  EXPECT_GT(more.lines().back()["seq"].get<uint64_t>(), whole.lines().back()["seq"].get<uint64_t>());
}

TEST_F(MountFeed, AWatcherSeesOnlyWhatItMayReadAndOldChangesAreGone) {
  // Who may see a change is decided by the modes when it was made: open/file
  // is made unreadable to others before its content is written.
  ASSERT_TRUE(sh("mkdir -m 700 private && echo s > private/secret && mkdir -m 755 open && "
                 "(umask 077 && echo o > open/file) && echo p > open/public", 30, mountpoint()).ok());
  Watcher nobody("'" + mountpoint() + "' --from 1", scratchDir() + "/nobody.out", /*asNobody=*/true);
  ASSERT_TRUE(nobody.waitFor(3));
  sleepMs(300);
  nobody.stop();
  for (const json& j : nobody.lines()) {
    EXPECT_EQ(std::string::npos, summary(j).find("secret")) << summary(j);
    if (summary(j) == "write /open/file") {
      EXPECT_FALSE(j.contains("blobId")) << "the blobId of a file nobody may read";
    }
    if (summary(j) == "write /open/public") {
      EXPECT_TRUE(j.contains("blobId"));
    }
  }
  // What is not kept: exit 3. Nothing here is older than a day (the core's
  // FeedRetention test ages a feed); a mount with the feed off keeps
  // nothing, so whatever a watcher asks for is gone.
  ASSERT_TRUE(restartWithOptions("allow_other,feed_days=0"));
  CommandResult gone = sh(tool() + "watch '" + mountpoint() + "' --from 1", 30, "/");
  EXPECT_EQ(3, gone.exitStatus) << gone;
  EXPECT_NE(std::string::npos, gone.err.find("no longer kept")) << gone;
}

// The README's follow-changes recipe, verbatim: killed twice mid-stream and
// started again on its SEQFILE, it hands every change to its command, none
// lost; and exit 3 when what it would resume from is gone.
TEST_F(MountFeed, TheReadmeFollowRecipeResumesAfterBeingKilledAndMissesNothing) {
  const std::string recipe = readmeRecipe("follow-changes");
  ASSERT_FALSE(recipe.empty()) << "README.md has no follow-changes recipe";
  const std::string script = scratchDir() + "/follow-changes", seqfile = scratchDir() + "/seq",
                    handled = scratchDir() + "/handled";
  std::ofstream(script) << recipe;
  ASSERT_EQ(0, mkdir(path("reports").c_str(), 0755));
  const std::string tool = ACIDFS_TOOL_PATH;
  const std::string env = "PATH='" + tool.substr(0, tool.rfind('/')) + "':/usr/bin:/bin ";
  auto follower = [&] {
    pid_t pid = fork();
    if (pid == 0) {
      setsid();
      const std::string command = env + "exec sh '" + script + "' '" + mountpoint() + "' /reports '" + seqfile +
                                  "' sh -c 'echo \"$1\" >> \"" + handled + "\"' sh";
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  auto stopFollower = [](pid_t pid) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  };
  std::thread writer([&] {
    for (int i = 1; i <= 30; ++i) {
      EXPECT_EQ("OK", writeFile(path("reports/r" + std::to_string(i)), std::to_string(i)));
      sleepMs(30);
    }
  });
  pid_t pid = follower();
  for (int kill = 0; kill < 2; ++kill) {
    sleepMs(250);
    stopFollower(pid);
    pid = follower();
  }
  writer.join();
  auto handledChanges = [&] {
    std::set<std::string> writes;
    std::ifstream in(handled);
    for (std::string line; std::getline(in, line);) {
      json change = json::parse(line, nullptr, false);
      if (!change.is_discarded() && change["op"] == "write") writes.insert(change["path"].get<std::string>());
    }
    return writes;
  };
  EXPECT_TRUE(waitUntil([&] { return handledChanges().size() == 30; }, 30))
      << handledChanges().size() << " of 30 writes handled";
  stopFollower(pid);
  // The feed off: whatever it would resume from is gone.
  ASSERT_TRUE(restartWithOptions("allow_other,feed_days=0"));
  CommandResult gone = sh(env + "sh '" + script + "' '" + mountpoint() + "' /reports '" + seqfile + "' true", 30, "/");
  EXPECT_EQ(3, gone.exitStatus) << gone;
  EXPECT_NE(std::string::npos, gone.err.find("rescan /reports")) << gone;
}

}  // namespace
}  // namespace acidfs::mounttest
