// Expiry on a real mount (SPEC §11): `setfattr -n user.acidfs.expires_at`
// deletes the file within a second of its time, the kernel forgets the name,
// `mv` clears it; and the README's lock recipe ("Locks and leases from the
// shell"), run verbatim by holders racing for one lock, some of them killed
// mid-lease: one holder at a time, fencing tokens that only grow, and a
// killed holder's lock taken over once its lease runs out.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/mount_fixture.h"
#include "tests/test_util.h"

namespace acidfs::mounttest {
namespace {

using Clock = std::chrono::steady_clock;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

class MountExpiry : public MountTest {
 protected:
  // PATH with the acidfs tool first, as the recipes assume it is installed.
  std::string pathWithTool() const {
    const std::string tool = ACIDFS_TOOL_PATH;
    return tool.substr(0, tool.rfind('/')) + ":/usr/sbin:/usr/bin:/sbin:/bin";
  }
};

TEST_F(MountExpiry, AnExpiredFileGoesWithinASecondAndAMoveClearsTheExpiry) {
  ASSERT_EQ("OK", writeFile(path("lease"), "mine"));
  ASSERT_EQ("OK", writeFile(path("moved"), "also mine"));
  const long now = static_cast<long>(time(nullptr));
  const std::string at = std::to_string(now + 2);
  ASSERT_TRUE(sh("setfattr -n user.acidfs.expires_at -v " + at + " lease moved", 30, mountpoint()).ok());
  CommandResult read = sh("getfattr --only-values -n user.acidfs.expires_at lease", 30, mountpoint());
  EXPECT_EQ(at, read.out) << read;
  ASSERT_TRUE(sh("mv moved moved-away", 30, mountpoint()).ok());
  EXPECT_NE(0, sh("getfattr -n user.acidfs.expires_at moved-away", 30, mountpoint()).exitStatus)
      << "a move clears the expiry";
  ASSERT_EQ("mine", readOr(path("lease")));  // the kernel knows the name
  ASSERT_TRUE(waitUntil([&] { return access(path("lease").c_str(), F_OK) != 0; }, 30)) << "never deleted";
  const double late = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                      static_cast<double>(now + 2);
  fprintf(stderr, "expiry: the file went %.2f s after its time\n", late);
  EXPECT_LT(late, 3.0) << "SPEC §11: within a second (with room for a loaded machine)";
  EXPECT_EQ(std::string::npos, sh("ls", 30, mountpoint()).out.find("lease")) << "the kernel still lists the expired name";
  EXPECT_EQ("also mine", readOr(path("moved-away")));
  EXPECT_NE(0, sh("setfattr -n user.acidfs.expires_at -v soon moved-away", 30, mountpoint()).exitStatus);
}

TEST_F(MountExpiry, TheReadmeLockRecipeHoldsWithHoldersKilledMidLease) {
  const std::string recipe = readmeRecipe("with-lock");
  ASSERT_FALSE(recipe.empty()) << "README.md has no with-lock recipe";
  const std::string script = scratchDir() + "/with-lock", log = scratchDir() + "/holders.log";
  std::ofstream(script) << recipe;
  // Each holder's work: note its token, then (victims) hang until killed,
  // or take a moment and note the end.
  const std::string work =
      "echo \"start $1 $HOLDER\" >> '" + log + "'; [ \"$VICTIM\" = 1 ] && sleep 300; sleep 0.2; "
      "echo \"end $1 $HOLDER\" >> '" + log + "'";
  constexpr int kHolders = 8, kTtlSeconds = 2;
  std::map<int, pid_t> pids;  // holder → process group
  for (int h = 0; h < kHolders; ++h) {
    const bool victim = h == 2 || h == 5;
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      setsid();
      setenv("PATH", pathWithTool().c_str(), 1);
      setenv("HOLDER", std::to_string(h).c_str(), 1);
      setenv("VICTIM", victim ? "1" : "0", 1);
      if (chdir(mountpoint().c_str()) != 0) _exit(127);
      execl("/bin/sh", "sh", script.c_str(), "lock", std::to_string(kTtlSeconds).c_str(), "sh", "-c", work.c_str(), "sh",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    pids[h] = pid;
  }
  auto logLines = [&] {
    std::vector<std::string> lines;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  };
  // Kill each victim (its whole process group: the script, its work) once
  // it holds the lock.
  std::map<int, bool> killed;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  int exited = 0;
  std::map<int, int> status;
  while (exited < kHolders && Clock::now() < deadline) {
    for (const std::string& line : logLines()) {
      std::istringstream words(line);
      std::string what, token;
      int holder = -1;
      words >> what >> token >> holder;
      if (what == "start" && (holder == 2 || holder == 5) && !killed[holder]) {
        kill(-pids[holder], SIGKILL);
        killed[holder] = true;
      }
    }
    for (auto& [h, pid] : pids) {
      if (pid <= 0) continue;
      int st = 0;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        status[h] = st;
        pid = 0;
        ++exited;
      }
    }
    usleep(20000);
  }
  for (auto& [h, pid] : pids)
    if (pid > 0) kill(-pid, SIGKILL), waitpid(pid, nullptr, 0);
  ASSERT_EQ(kHolders, exited) << "holders still waiting after 120 s";

  // One holder at a time: each start is followed by that holder's end, or
  // (a victim) by the next start once its lease ran out. Tokens only grow.
  const std::vector<std::string> lines = logLines();
  fprintf(stderr, "lock recipe, in order (holders 2 and 5 killed while holding):\n%s", joined(lines).c_str());
  std::string held;  // the holder inside, "" when none
  long lastToken = 0;
  int starts = 0;
  for (const std::string& line : lines) {
    std::istringstream words(line);
    std::string what, holder;
    long token = 0;
    words >> what >> token >> holder;
    if (what == "start") {
      EXPECT_TRUE(held.empty() || held == "2" || held == "5") << "holder " << holder << " entered while " << held
                                                               << " held the lock:\n" << joined(lines);
      EXPECT_GT(token, lastToken) << "a fencing token that did not grow:\n" << joined(lines);
      lastToken = token;
      held = holder;
      ++starts;
    } else {
      EXPECT_EQ(held, holder) << "an end without its start";
      held.clear();
    }
  }
  EXPECT_EQ(kHolders, starts) << joined(lines);
  for (const auto& [h, st] : status) {
    if (!killed[h]) {
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "holder " << h << " status " << st;
    }
  }
  // Released by the last holder, or expired (a victim was last).
  EXPECT_TRUE(waitUntil([&] { return access(path("lock").c_str(), F_OK) != 0; }, 30)) << "the lock stays";
}

}  // namespace
}  // namespace acidfs::mounttest
