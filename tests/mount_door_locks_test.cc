// The ioctl door's locks on a real mount (fuse/door_locks.h): a door change
// of one file holds back no door request on another, and whoever reveals a
// blobId of the file being changed (ioctl STAT, user.acidfs.blob_id) waits
// until the kernel has been told to forget the old content, so that what it
// then reads through the kernel is the content that blobId names.
//
// The daemon is started with its test pause (FuseFs::doorPauseForTests): a
// door change of /held stops, holding its locks, after its transaction and
// before telling the kernel, until the test opens and closes a FIFO. No
// assertion here depends on timing.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "fuse/door_locks.h"
#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

using nlohmann::json;

// Holds the daemon at its pause from the moment it gets there until release().
class HeldChange {
 public:
  explicit HeldChange(std::string fifo) : fifo_(std::move(fifo)) {}
  ~HeldChange() { release(); }
  // True once the daemon waits at the pause: it has opened the FIFO for
  // reading, so that a writer's open succeeds.
  bool reached(double timeoutSeconds) {
    return waitUntil([&] { return (fd_ = open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0; },
                     timeoutSeconds);
  }
  void release() {
    if (fd_ >= 0) ::close(fd_);  // the daemon reads end-of-file and goes on
    fd_ = -1;
  }

 private:
  const std::string fifo_;
  int fd_ = -1;
};

class MountDoorLocks : public MountTest {
 protected:
  MountDoorLocks() {
    char dir[] = "/tmp/acidfs-door-pause-XXXXXX";
    if (mkdtemp(dir)) pauseDir_ = dir;
    fifo_ = pauseDir_ + "/fifo";
    EXPECT_EQ(0, mkfifo(fifo_.c_str(), 0600)) << strerror(errno);
    setenv("ACIDFS_TEST_PAUSE_DOOR_AT", "/held", 1);  // inherited by acidfsd (SetUp starts it)
    setenv("ACIDFS_TEST_PAUSE_DOOR_FIFO", fifo_.c_str(), 1);
  }
  ~MountDoorLocks() override {
    unsetenv("ACIDFS_TEST_PAUSE_DOOR_AT");
    unsetenv("ACIDFS_TEST_PAUSE_DOOR_FIFO");
    unlink(fifo_.c_str());
    rmdir(pauseDir_.c_str());
  }

  // One door request on the mount's root directory; its answer as JSON.
  json door(unsigned long cmd, const std::string& payload) {
    Fd dir(open(mountpoint().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    IoctlAnswer a = ioctlRequest(dir.get(), cmd, payload);
    EXPECT_EQ(0, a.ioctlRc) << strerror(a.result);
    EXPECT_EQ(0, a.result) << a.data;
    return json::parse(a.data, nullptr, false);
  }
  std::string put(const std::string& content) { return door(ACIDFS_IOC_PUT, content).value("blobId", ""); }
  json commit(const std::string& at, const std::string& blob) {
    return door(ACIDFS_IOC_COMMIT, json{{"path", at}, {"blobId", blob}}.dump());
  }
  std::string blobAt(const std::string& at) { return door(ACIDFS_IOC_STAT, json{{"path", at}}.dump()).value("blobId", ""); }

  // A name in the root whose stripe is not /held's: door requests on it
  // share no lock with a change of /held.
  static std::string nameApartFromHeld(const std::string& stem) {
    for (int i = 0;; ++i) {
      std::string name = stem + std::to_string(i);
      if (!(DoorLocks::prefixStripes("/" + name) & DoorLocks::stripesOf("/held"))) return name;
    }
  }

  std::string pauseDir_ = "/nonexistent";
  std::string fifo_;
};

TEST_F(MountDoorLocks, DoorRequestsOnOtherFilesCompleteWhileAChangeIsHeld) {
  const std::string other = nameApartFromHeld("other"), copy = nameApartFromHeld("copy");
  ASSERT_EQ("OK", writeFile(path("held"), "old"));
  ASSERT_EQ("OK", writeFile(path(other), "x"));
  const std::string newHeld = put("new");
  json heldAnswer;
  std::thread heldCommit([&] { heldAnswer = commit("/held", newHeld); });
  HeldChange held(fifo_);
  ASSERT_TRUE(held.reached(60)) << "the commit of /held never reached the test pause";

  // /held's stripe is taken exclusively now. With one lock for the whole
  // door, each of these would wait for it; they must all complete.
  std::atomic<bool> done{false};
  std::string otherBlob, copyBlob, otherStat, copyStat;
  std::thread others([&] {
    otherBlob = put("changed while /held was held");
    commit("/" + other, otherBlob);
    otherStat = blobAt("/" + other);
    door(ACIDFS_IOC_TRANSACT,
         json::array({{{"op", "copy"}, {"source", {{"path", "/" + other}}}, {"dest", {{"path", "/" + copy}}}}}).dump());
    copyStat = blobAt("/" + copy);
    done = true;
  });
  const bool completed = waitUntil([&] { return done.load(); }, 120);
  held.release();  // whatever happened, let the daemon go on
  others.join();
  heldCommit.join();
  EXPECT_TRUE(completed) << "door requests on " << other << " and " << copy << " waited for the change of /held";
  EXPECT_EQ(otherBlob, otherStat);
  EXPECT_EQ(otherBlob, copyStat);
  EXPECT_EQ("changed while /held was held", readOr(path(copy)));
  EXPECT_EQ(newHeld, heldAnswer.value("blobId", ""));
  EXPECT_EQ("new", readOr(path("held")));
}

// The stale-cache invariant (FuseFs::doorLocks): the commit of /held has
// changed the store and not yet told the kernel, whose page cache still
// holds the old content. A STAT, or the blob_id xattr, that answered now
// would name the new content while a read returned the old.
TEST_F(MountDoorLocks, NoBlobIdIsRevealedBeforeTheKernelForgetsTheOldContent) {
  ASSERT_EQ("OK", writeFile(path("held"), "old content"));
  EXPECT_EQ("old content", readOr(path("held")));  // into the kernel's page cache (kept across opens)
  const std::string oldBlob = blobAt("/held");
  const std::string newBlob = put("new content");
  json heldAnswer;
  std::thread heldCommit([&] { heldAnswer = commit("/held", newBlob); });
  HeldChange held(fifo_);
  ASSERT_TRUE(held.reached(60)) << "the commit of /held never reached the test pause";

  std::string statBlob, statRead, xattrBlob, xattrRead;
  std::thread byStat([&] {
    statBlob = blobAt("/held");
    statRead = readOr(path("held"));
  });
  std::thread byXattr([&] {
    char value[64];
    ssize_t n = getxattr(path("held").c_str(), "user.acidfs.blob_id", value, sizeof value);
    xattrBlob = n > 0 ? std::string(value, static_cast<size_t>(n)) : std::string("error ") + strerror(errno);
    xattrRead = readOr(path("held"));
  });
  // Give both the chance to run ahead were they not held back; nothing
  // below depends on how long this is.
  sleepMs(300);
  held.release();
  byStat.join();
  byXattr.join();
  heldCommit.join();
  EXPECT_EQ(newBlob, heldAnswer.value("blobId", ""));
  ASSERT_NE(oldBlob, newBlob);
  // Each reader read what the blobId it was shown names.
  EXPECT_EQ(statBlob == newBlob ? "new content" : "old content", statRead) << "STAT showed " << statBlob;
  EXPECT_EQ(xattrBlob == newBlob ? "new content" : "old content", xattrRead) << "blob_id showed " << xattrBlob;
  EXPECT_EQ("new content", readOr(path("held")));
}

// A file with a second name: a door change through one name, a STAT
// through the other. The STAT cannot know the changed path, so it waits for
// every change under way (door_locks.h) and reads what it was shown.
TEST_F(MountDoorLocks, AStatThroughAnotherNameWaitsForTheChange) {
  const std::string alias = nameApartFromHeld("alias");  // a STAT by its path alone would not wait
  ASSERT_EQ("OK", writeFile(path("held"), "old content"));
  ASSERT_EQ(0, link(path("held").c_str(), path(alias).c_str())) << strerror(errno);
  EXPECT_EQ("old content", readOr(path(alias)));
  const std::string newBlob = put("new content");
  json heldAnswer;
  std::thread heldCommit([&] { heldAnswer = commit("/held", newBlob); });
  HeldChange held(fifo_);
  ASSERT_TRUE(held.reached(60)) << "the commit of /held never reached the test pause";
  std::string statBlob, statRead;
  std::thread byStat([&] {
    statBlob = blobAt("/" + alias);
    statRead = readOr(path(alias));
  });
  sleepMs(300);
  held.release();
  byStat.join();
  heldCommit.join();
  EXPECT_EQ(statBlob == newBlob ? "new content" : "old content", statRead) << "STAT showed " << statBlob;
  EXPECT_EQ("new content", readOr(path(alias)));
}

// A door copy onto an existing file gives it new content in place: a
// descriptor opened before reads the new content, not pages the kernel
// cached of the old (attributes are cached for 60 s: no GETATTR would
// notice by itself).
TEST_F(MountDoorLocks, ACopyOntoAnOpenFileReachesItsOpenDescriptor) {
  ASSERT_EQ("OK", writeFile(path("f"), "old content"));
  ASSERT_EQ("OK", writeFile(path("src"), "new content"));
  Fd fd(open(path("f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  char buf[64];
  ASSERT_EQ(11, pread(fd.get(), buf, sizeof buf, 0));
  door(ACIDFS_IOC_TRANSACT,
       json::array({{{"op", "copy"}, {"source", {{"path", "/src"}}}, {"dest", {{"path", "/f"}}}}}).dump());
  ssize_t n = pread(fd.get(), buf, sizeof buf, 0);
  ASSERT_GE(n, 0) << strerror(errno);
  EXPECT_EQ("new content", std::string(buf, static_cast<size_t>(n)));
}

}  // namespace
}  // namespace acidfs::mounttest
