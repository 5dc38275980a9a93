// Unmount and mount again at once, as scripts do (issue 18): umount(2)
// returns once the kernel has let go of the mount, while the daemon that
// served it is still closing the store. A new acidfsd on that store waits for
// the old one's lock, for a bounded time, so that `umount M && acidfsd S M`
// never needs a retry; a store still mounted is refused at once (SPEC §1).
// DESIGN.md, "Unmounting and the store's lock", says why it is done so.
#include <sys/file.h>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

using Seconds = std::chrono::duration<double>;

// What acidfsd waits at most for the store's previous holder (daemon/store_handover.h).
constexpr double kHandoverBoundSeconds = 10;

class MountRemount : public MountTest {
 protected:
  // A second acidfsd on the mounted store, at another mount point: refused
  // at once (its mount is there to see: no waiting for a daemon that is
  // serving), and the first goes on serving.
  void expectSecondDaemonRefusedAtOnce() {
    const std::string other = scratchDir() + "/other-mnt";
    ASSERT_EQ(0, mkdir(other.c_str(), 0755));
    const auto begun = Clock::now();
    CommandResult second = runArgv({ACIDFS_DAEMON_PATH, storeDir(), other}, "/", 120);
    const double took = Seconds(Clock::now() - begun).count();
    EXPECT_EQ(1, second.exitStatus) << second;
    EXPECT_NE(std::string::npos, second.err.find("is in use by another process (pid " + std::to_string(daemonPid())))
        << second;
    EXPECT_EQ(std::string::npos, second.err.find("waiting for")) << second;
    EXPECT_LT(took, kHandoverBoundSeconds / 2) << "refused only after " << took << " s";
    if (isMountPoint(other)) runArgv({"fusermount3", "-u", "-z", other}, "/", 30);
    EXPECT_TRUE(daemonAlive());
  }
};

TEST_F(MountRemount, MountRightAfterUmountSucceedsEveryTime) {
  constexpr int kRounds = 20;
  double slowest = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string name = "round-" + std::to_string(round);
    // Enough to leave the old daemon work at close: a few files, one large.
    ASSERT_EQ("OK", writeFile(path(name), name + " " + randomBytes(300000, round)));
    ASSERT_EQ("OK", writeFile(path("latest"), name));
    // umount(8) and umount2(2) by turns: both return before the daemon exits.
    std::string error;
    const pid_t old = unmountWithoutWaiting(round % 2 == 0, &error);
    ASSERT_NE(0, old) << error;
    const auto begun = Clock::now();
    ASSERT_TRUE(start()) << "round " << round << ": the mount straight after umount failed";
    const double took = Seconds(Clock::now() - begun).count();
    slowest = std::max(slowest, took);
    EXPECT_LT(took, kHandoverBoundSeconds) << "round " << round;
    EXPECT_TRUE(waitUntil([&] { return !processAlive(old); }, 30)) << "the old daemon " << old << " stays";
    for (int earlier = 0; earlier <= round; ++earlier) {
      const std::string e = "round-" + std::to_string(earlier);
      EXPECT_TRUE(sameBytes(e + " " + randomBytes(300000, earlier), readFile(path(e))))
          << e << " after round " << round;
    }
    EXPECT_EQ(name, readOr(path("latest")));
    if (HasFailure()) break;
  }
  RecordProperty("slowest_remount_ms", static_cast<int>(slowest * 1000));
  printf("slowest mount straight after umount: %.0f ms (%d rounds)\n", slowest * 1000, kRounds);
}

TEST_F(MountRemount, SecondDaemonOnAMountedStoreIsRefusedAtOnce) { expectSecondDaemonRefusedAtOnce(); }

// A mount named otherwise (fsname=, as xfstests names its mounts) is still
// recognised as serving: the daemon records its mount point in STORE/LOCK.
TEST_F(MountRemount, SecondDaemonIsRefusedAtOnceWhenTheMountHasAnotherFsname) {
  mountOptions_ = "fsname=some-tag";
  ASSERT_TRUE(restart());
  expectSecondDaemonRefusedAtOnce();
  EXPECT_EQ("OK", writeFile(path("still"), "serving"));
}

// Holds STORE/LOCK as a daemon holds it (an flock, our pid inside) until
// destroyed, or until release().
class StoreLockHolder {
 public:
  explicit StoreLockHolder(const std::string& store)
      : fd_(open((store + "/LOCK").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (!fd_.ok() || flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) return;
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_.get(), 0) == 0 && pwrite(fd_.get(), pid.data(), pid.size(), 0) > 0) held_ = true;
  }
  bool held() const { return held_; }
  void release() { fd_.reset(); }

 private:
  Fd fd_;
  bool held_ = false;
};

TEST_F(MountRemount, NewDaemonWaitsForTheStoresHolderToLetGo) {
  ASSERT_EQ("OK", writeFile(path("f"), "kept"));
  ASSERT_TRUE(unmount());
  StoreLockHolder holder(storeDir());
  ASSERT_TRUE(holder.held());
  std::thread letGo([&] {
    sleepMs(2000);
    holder.release();
  });
  const auto begun = Clock::now();
  const auto started = start();
  const double took = Seconds(Clock::now() - begun).count();
  letGo.join();
  ASSERT_TRUE(started);
  EXPECT_GE(took, 1.9);
  EXPECT_NE(std::string::npos, daemonLog().find("waiting for pid " + std::to_string(getpid()))) << daemonLog();
  EXPECT_EQ("kept", readOr(path("f")));
}

TEST_F(MountRemount, NewDaemonGivesUpOnAHolderThatKeepsTheStore) {
  ASSERT_TRUE(unmount());
  StoreLockHolder holder(storeDir());
  ASSERT_TRUE(holder.held());
  const auto begun = Clock::now();
  CommandResult second = runArgv({ACIDFS_DAEMON_PATH, storeDir(), mountpoint()}, "/", 120);
  const double took = Seconds(Clock::now() - begun).count();
  EXPECT_EQ(1, second.exitStatus) << second;
  EXPECT_NE(std::string::npos, second.err.find("waiting for pid " + std::to_string(getpid()))) << second;
  EXPECT_NE(std::string::npos, second.err.find("is in use by another process (pid " + std::to_string(getpid())))
      << second;
  EXPECT_GE(took, kHandoverBoundSeconds - 0.5);
  EXPECT_LT(took, kHandoverBoundSeconds + 5);
  EXPECT_FALSE(isMountPoint(mountpoint()));
  holder.release();
  EXPECT_TRUE(start()) << "the store once let go";
}

}  // namespace
}  // namespace acidfs::mounttest
