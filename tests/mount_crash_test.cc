// kill -9 of the daemon (SPEC §3, "Crash, daemon killed"): everything
// committed — closed, fsynced, or committed by commit_interval while open —
// is there after a restart, byte for byte; the tree is exactly as some
// committed state left it (every entry stats, find and ls -R work); and no
// file ever holds a mix of two commits. Each test kills at several points.
#include <ftw.h>

#include <map>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

class MountCrash : public MountTest {
 protected:
  // Walks the whole tree with lstat, and runs find and ls -R over it: all
  // must succeed and agree on the number of entries; and the link counts
  // must be those of a committed state — a directory's is 2 plus its
  // subdirectories, a file's the number of its names in the tree.
  ::testing::AssertionResult treeIsConsistent() {
    struct Walk {
      long entries = 0, failures = 0;
      std::map<std::string, long> subdirs;                  // directory -> subdirectories seen
      std::map<std::string, nlink_t> dirLinks;              // directory -> st_nlink
      std::map<ino_t, std::pair<nlink_t, long>> fileLinks;  // ino -> (st_nlink, names seen)
    };
    static Walk* walk = nullptr;
    Walk state;
    walk = &state;
    int rc = nftw(
        mountpoint().c_str(),
        [](const char* p, const struct stat*, int type, FTW* ftw) {
          struct stat st;
          ++walk->entries;
          if (type == FTW_NS || type == FTW_DNR || lstat(p, &st) != 0) {
            fprintf(stderr, "cannot stat %s\n", p);
            ++walk->failures;
            return 0;
          }
          const std::string self(p), parent = self.substr(0, self.size() - strlen(p + ftw->base) - 1);
          if (S_ISDIR(st.st_mode)) {
            walk->dirLinks[self] = st.st_nlink;
            walk->subdirs[self];  // present even without subdirectories
            if (ftw->level > 0) ++walk->subdirs[parent];
          } else if (!S_ISLNK(st.st_mode)) {
            auto& links = walk->fileLinks[st.st_ino];
            links.first = st.st_nlink;
            ++links.second;
          }
          return 0;
        },
        32, FTW_PHYS);
    walk = nullptr;
    if (rc != 0) return ::testing::AssertionFailure() << "nftw: " << strerror(errno);
    if (state.failures > 0) return ::testing::AssertionFailure() << state.failures << " entries do not stat";
    for (const auto& [dir, links] : state.dirLinks)
      if (links != static_cast<nlink_t>(2 + state.subdirs[dir]))
        return ::testing::AssertionFailure()
               << dir << " has nlink " << links << " but " << state.subdirs[dir] << " subdirectories";
    for (const auto& [ino, links] : state.fileLinks)
      if (links.first != static_cast<nlink_t>(links.second))
        return ::testing::AssertionFailure()
               << "inode " << ino << " has nlink " << links.first << " but " << links.second << " names in the tree";
    CommandResult find = sh("find . | wc -l", 120);
    if (!find.ok()) return ::testing::AssertionFailure() << "find: " << find;
    if (std::stol(find.out) != state.entries)
      return ::testing::AssertionFailure() << "find lists " << find.out << " entries, the walk " << state.entries;
    CommandResult ls = sh("ls -laR . > /dev/null", 120);
    if (!ls.ok()) return ::testing::AssertionFailure() << "ls -R: " << ls;
    return ::testing::AssertionSuccess();
  }

  // A child process that keeps appending to `name` without fsync or close
  // until its writes fail (the daemon died): the kill lands during writes.
  pid_t startBackgroundWriter(const std::string& name) {
    const std::string p = path(name);
    fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd < 0) _exit(1);
      const std::string block = randomBytes(32768, 99);
      for (int i = 0;; ++i) {
        if (write(fd, block.data(), block.size()) < 0) _exit(0);
        if (i % 64 == 63 && ftruncate(fd, 0) != 0) _exit(0);  // bounded size
      }
    }
    return pid;
  }
  void reap(pid_t pid) {
    bool timedOut = false;
    waitChild(pid, 60, &timedOut);
    EXPECT_FALSE(timedOut) << "a writer on the killed mount did not finish";
  }
};

// ---- closed and renamed files -------------------------------------------------------------

TEST_F(MountCrash, FilesClosedAndRenamedBeforeKill9AreAllThereByteForByte) {
  std::map<std::string, std::string> expected;  // path -> content, across rounds
  std::vector<std::string> gone;                // names renamed away or deleted
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string dir = "round" + std::to_string(round);
    ASSERT_EQ(0, mkdir(path(dir).c_str(), 0755));
    pid_t writer = startBackgroundWriter(dir + "/noise");
    for (int i = 0; i < 30; ++i) {
      const std::string name = dir + "/f" + std::to_string(i);
      const size_t size = static_cast<size_t>((i * 7919 + round * 104729) % 200000);
      const std::string content = randomBytes(size, static_cast<uint64_t>(round * 1000 + i));
      ASSERT_EQ("OK", writeFile(path(name), content)) << name;
      if (i % 5 == 1) {  // a second name, in another directory
        const std::string hard = "hard-" + dir + "-" + std::to_string(i);
        ASSERT_EQ(0, link(path(name).c_str(), path(hard).c_str())) << strerror(errno);
        expected[hard] = content;
      }
      if (i % 3 == 0) {
        const std::string renamed = dir + "/renamed" + std::to_string(i);
        ASSERT_EQ(0, rename(path(name).c_str(), path(renamed).c_str())) << strerror(errno);
        expected[renamed] = content;
        gone.push_back(name);
      } else if (i % 7 == 0) {
        ASSERT_EQ(0, unlink(path(name).c_str()));
        gone.push_back(name);
      } else {
        expected[name] = content;
      }
    }
    // A rewrite of an earlier round's file, a directory moved as a whole, and
    // a rename over one of two hard links.
    if (round > 0) {
      const std::string earlier = "round" + std::to_string(round - 1) + "/f1";
      expected[earlier] = "rewritten in round " + std::to_string(round);
      expected["hard-round" + std::to_string(round - 1) + "-1"] = expected[earlier];  // the same inode
      ASSERT_EQ("OK", writeFile(path(earlier), expected[earlier]));
    }
    ASSERT_EQ(0, mkdir(path(dir + "/sub").c_str(), 0755));
    ASSERT_EQ("OK", writeFile(path(dir + "/sub/inner"), "inner " + dir));
    ASSERT_EQ(0, rename(path(dir + "/sub").c_str(), path(dir + "/moved").c_str()));
    expected[dir + "/moved/inner"] = "inner " + dir;
    gone.push_back(dir + "/sub");
    ASSERT_EQ("OK", writeFile(path(dir + "/over"), "replaces a hard link"));
    ASSERT_EQ(0, rename(path(dir + "/over").c_str(), path(dir + "/f11").c_str()));
    expected[dir + "/f11"] = "replaces a hard link";
    gone.push_back(dir + "/over");

    ASSERT_TRUE(killDaemon9());
    reap(writer);
    ASSERT_TRUE(restart());
    for (const auto& [name, content] : expected) EXPECT_TRUE(sameBytes(content, readFile(path(name)))) << name;
    for (const std::string& name : gone)
      EXPECT_EQ("ENOENT", errnoAfter(access(path(name).c_str(), F_OK))) << name << " came back";
    EXPECT_TRUE(treeIsConsistent());
    if (HasFailure()) break;
  }
}

// A user's cp -a is running when the daemon dies: afterwards every entry
// stats, and every file is either whole (cp closed it) or empty (created,
// its writes not yet committed) — never a part of its content.
TEST_F(MountCrash, KillDuringCpOfATreeLeavesOnlyWholeOrEmptyFiles) {
  const std::string source = scratchDir() + "/source";
  ASSERT_EQ(0, mkdir(source.c_str(), 0755));
  std::map<std::string, std::string> contents;  // relative path -> content
  for (int d = 0; d < 10; ++d) {
    const std::string dir = "d" + std::to_string(d);
    ASSERT_EQ(0, mkdir((source + "/" + dir).c_str(), 0755));
    for (int i = 0; i < 60; ++i) {
      const std::string rel = dir + "/f" + std::to_string(i);
      contents[rel] = randomBytes(static_cast<size_t>(1 + (d * 60 + i) * 7777 % 180000), d * 100 + i);
      ASSERT_EQ("OK", writeFile(source + "/" + rel, contents[rel]));
    }
  }
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string copy = "copy" + std::to_string(round);
    const long killAt = 60 + 180 * round;  // entries in the copy when the kill comes
    fflush(nullptr);
    pid_t cp = fork();
    if (cp == 0) {
      setpgid(0, 0);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, STDERR_FILENO);
      execlp("cp", "cp", "-a", source.c_str(), path(copy).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    long seen = 0;
    const bool reached = waitUntil(
        [&] {
          CommandResult count = sh("find " + copy + " 2>/dev/null | wc -l", 30);
          seen = count.ok() ? std::stol(count.out) : 0;
          return seen >= killAt || !processAlive(cp);
        },
        300);
    ASSERT_TRUE(reached && seen >= killAt) << "cp finished or stalled before the kill point (" << seen << " entries)";
    ASSERT_TRUE(killDaemon9());
    reap(cp);
    ASSERT_TRUE(restart());
    EXPECT_TRUE(treeIsConsistent());
    long whole = 0, empty = 0;
    for (const auto& [rel, content] : contents) {
      auto got = readFile(path(copy + "/" + rel));
      if (!got) continue;  // not copied yet
      if (got->empty()) {
        ++empty;
      } else if (sameBytes(content, got)) {
        ++whole;
      } else {
        ADD_FAILURE() << copy << "/" << rel << " holds " << got->size() << " of " << content.size()
                      << " bytes, or other bytes";
      }
    }
    EXPECT_GT(whole, 0) << "files closed before the kill are there";
    if (HasFailure()) break;
  }
}

// An unlinked file still open when the daemon dies is an orphan in the
// store; the restart deletes it and frees its space.
// The trash (on by default) would keep the file's content a day.
class MountCrashTrashOff : public MountCrash {
 protected:
  MountCrashTrashOff() { mountOptions_ = "trash_days=0"; }
};

TEST_F(MountCrashTrashOff, FileUnlinkedButOpenAtKill9IsReclaimedAtRestart) {
  constexpr size_t kSize = 32 << 20;
  ASSERT_EQ("OK", writeFile(path("keep"), "kept"));
  const uint64_t before = diskBytes(storeDir());
  ASSERT_EQ("OK", writeFile(path("orphan"), randomBytes(kSize, 31)));
  Fd fd(open(path("orphan").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, unlink(path("orphan").c_str()));
  ASSERT_GT(diskBytes(storeDir()), before + kSize / 2);
  ASSERT_TRUE(killDaemon9());
  fd.reset();
  ASSERT_TRUE(restart());
  EXPECT_TRUE(waitUntil([&] { return diskBytes(storeDir()) < before + kSize / 4; }, 120))
      << "the orphan's " << (diskBytes(storeDir()) - before) / (1 << 20) << " MiB stay in the store";
  EXPECT_EQ("kept", readOr(path("keep")));
  EXPECT_EQ("ENOENT", errnoAfter(access(path("orphan").c_str(), F_OK)));
  EXPECT_TRUE(treeIsConsistent());
}

// ---- fsync --------------------------------------------------------------------------------

TEST_F(MountCrash, EveryFsyncedRecordSurvivesKill9) {
  constexpr size_t kRecord = 1000;
  auto record = [](uint32_t k) {
    char head[32];
    snprintf(head, sizeof head, "record %08u ", k);
    std::string r = head;
    r.resize(kRecord - 1, static_cast<char>('a' + k % 26));
    return r + "\n";
  };
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string p = path("log" + std::to_string(round));
    const uint32_t killAfter = 10 + 25 * static_cast<uint32_t>(round);
    int report[2];
    ASSERT_EQ(0, pipe(report));
    fflush(nullptr);
    pid_t writer = fork();
    ASSERT_GE(writer, 0);
    if (writer == 0) {
      setpgid(0, 0);
      close(report[0]);
      int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd < 0) _exit(1);
      for (uint32_t k = 0;; ++k) {
        const std::string r = record(k);
        if (write(fd, r.data(), r.size()) != static_cast<ssize_t>(r.size()) || fsync(fd) != 0) _exit(0);
        const uint32_t synced = k + 1;
        if (write(report[1], &synced, sizeof synced) != sizeof synced) _exit(2);
      }
    }
    close(report[1]);
    uint32_t synced = 0, got = 0;
    while (synced < killAfter && read(report[0], &got, sizeof got) == sizeof got) synced = got;
    ASSERT_GE(synced, killAfter) << "the writer stopped early";
    ASSERT_TRUE(killDaemon9());
    while (read(report[0], &got, sizeof got) == sizeof got) synced = got;  // fsyncs that returned before the kill
    close(report[0]);
    reap(writer);
    ASSERT_TRUE(restart());

    auto content = readFile(p);
    ASSERT_TRUE(content.has_value()) << strerror(errno);
    EXPECT_EQ(0u, content->size() % kRecord) << "a record cut in the middle: not a committed state";
    const size_t records = content->size() / kRecord;
    EXPECT_GE(records, synced) << "fsynced records were lost";
    for (size_t k = 0; k < records; ++k) {
      if (content->compare(k * kRecord, kRecord, record(static_cast<uint32_t>(k))) != 0) {
        ADD_FAILURE() << "record " << k << " is damaged";
        break;
      }
    }
    EXPECT_TRUE(treeIsConsistent());
    if (HasFailure()) break;
  }
}

// ---- commit_interval ------------------------------------------------------------------------

class MountCrashInterval : public MountCrash {
 protected:
  MountCrashInterval() { mountOptions_ = "commit_interval=1"; }
};

TEST_F(MountCrashInterval, FileLeftOpenIsCommittedWithinTheIntervalAndSurvivesKill9) {
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string p = path("open" + std::to_string(round));
    const std::string first = randomBytes(5000 + 300000 * static_cast<size_t>(round), 7 + round);
    const std::string second = "and a second write, " + std::to_string(round);
    Fd fd(open(p.c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_TRUE(fd.ok()) << strerror(errno);
    ASSERT_EQ(static_cast<ssize_t>(first.size()), write(fd.get(), first.data(), first.size()));
    sleepMs(3000);  // three commit intervals; no close, no fsync
    ASSERT_EQ(static_cast<ssize_t>(second.size()), write(fd.get(), second.data(), second.size()));
    sleepMs(3000);
    ASSERT_TRUE(killDaemon9());
    fd.reset();  // a descriptor of the dead mount
    ASSERT_TRUE(restart());
    EXPECT_TRUE(sameBytes(first + second, readFile(p))) << "the open file was not committed by commit_interval=1";
    EXPECT_TRUE(treeIsConsistent());
    if (HasFailure()) break;
  }
}

// ---- no mixed commits ---------------------------------------------------------------------------

// Commits happen only at close here (an interval longer than the test), so a
// file is, before and after the kill, wholly one version.
class MountCrashRewrite : public MountCrash {
 protected:
  MountCrashRewrite() { mountOptions_ = "commit_interval=3600"; }
};

// "v000042\n" repeated, cut to `size`.
std::string versionContent(int version, size_t size) {
  char unit[16];
  snprintf(unit, sizeof unit, "v%06d\n", version);
  std::string out;
  out.reserve(size + 8);
  while (out.size() < size) out += unit;
  out.resize(size);
  return out;
}

// The version a file holds throughout, or -1 if it mixes versions (or is cut).
int singleVersion(const std::string& content, size_t size) {
  if (content.size() != size || size < 8 || content[0] != 'v') return -1;
  const int version = atoi(content.substr(1, 6).c_str());
  return content == versionContent(version, size) ? version : -1;
}

TEST_F(MountCrashRewrite, NoFileHoldsAMixOfTwoCommitsAfterKill9MidRewrite) {
  constexpr int kFiles = 40;
  std::vector<size_t> sizes;
  std::vector<int> version(kFiles, 1);
  ASSERT_EQ(0, mkdir(path("v").c_str(), 0755));
  for (int i = 0; i < kFiles; ++i) {
    sizes.push_back(8 + static_cast<size_t>(i) * 10007 % 400000);
    ASSERT_EQ("OK", writeFile(path("v/f" + std::to_string(i)), versionContent(1, sizes[i])));
  }
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int next = round + 2;
    const int killAfter = 4 + round * 9;  // files reported rewritten before the kill
    int report[2];
    ASSERT_EQ(0, pipe(report));
    fflush(nullptr);
    pid_t writer = fork();
    ASSERT_GE(writer, 0);
    if (writer == 0) {
      setpgid(0, 0);
      close(report[0]);
      // Rewrites each file in place (same size, no truncation) in 16 KiB
      // writes, closes it, reports it; then goes round again with the same
      // version until the daemon dies under it.
      for (;;) {
        for (int i = 0; i < kFiles; ++i) {
          const std::string content = versionContent(next, sizes[i]);
          int fd = open(path("v/f" + std::to_string(i)).c_str(), O_WRONLY);
          if (fd < 0) _exit(0);
          for (size_t off = 0; off < content.size(); off += 16384) {
            size_t n = std::min<size_t>(16384, content.size() - off);
            if (pwrite(fd, content.data() + off, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) _exit(0);
          }
          if (close(fd) != 0) _exit(0);
          if (write(report[1], &i, sizeof i) != sizeof i) _exit(2);
        }
      }
    }
    close(report[1]);
    int done = -1, got = 0, reports = 0;
    while (reports < killAfter && read(report[0], &got, sizeof got) == sizeof got) done = got, ++reports;
    ASSERT_EQ(killAfter, reports) << "the writer stopped early";
    ASSERT_TRUE(killDaemon9());
    bool wrapped = false;
    while (read(report[0], &got, sizeof got) == sizeof got) {
      if (got < done) wrapped = true;
      done = got;
      ++reports;
    }
    close(report[0]);
    reap(writer);
    ASSERT_TRUE(restart());

    for (int i = 0; i < kFiles; ++i) {
      auto content = readFile(path("v/f" + std::to_string(i)));
      ASSERT_TRUE(content.has_value()) << "f" << i << ": " << strerror(errno);
      const int found = singleVersion(*content, sizes[i]);
      EXPECT_NE(-1, found) << "f" << i << " (" << sizes[i] << " bytes) mixes versions or was cut";
      const bool closedBeforeKill = wrapped || i <= done;
      if (closedBeforeKill) {
        EXPECT_EQ(next, found) << "f" << i << " was closed before the kill";
      } else {
        EXPECT_TRUE(found == version[i] || found == next) << "f" << i << " holds version " << found;
      }
      if (found > 0) version[i] = found;
    }
    EXPECT_TRUE(treeIsConsistent());
    if (HasFailure()) break;
  }
}

// ---- the daemon's own lifecycle (SPEC §1) ------------------------------------------------

using MountDaemon = MountCrash;

TEST_F(MountDaemon, SigtermCommitsPendingWritesUnmountsAndExits) {
  const std::string content = randomBytes(200000, 21);
  Fd fd(open(path("pending").c_str(), O_WRONLY | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(static_cast<ssize_t>(content.size()), write(fd.get(), content.data(), content.size()));
  const pid_t pid = daemonPid();
  ASSERT_EQ(0, kill(pid, SIGTERM));
  EXPECT_TRUE(waitUntil([&] { return !processAlive(pid); }, 120)) << "acidfsd did not exit on SIGTERM";
  EXPECT_TRUE(waitUntil([&] { return !isMountPoint(mountpoint()); }, 30)) << "SIGTERM left the mount behind";
  fd.reset();
  ASSERT_TRUE(restart());
  EXPECT_TRUE(sameBytes(content, readFile(path("pending")))) << "the write pending at SIGTERM was not committed";
}

TEST_F(MountDaemon, SecondDaemonOnTheSameStoreIsRefused) {
  ASSERT_EQ("OK", writeFile(path("f"), "first daemon's"));
  const std::string other = scratchDir() + "/other-mnt";
  ASSERT_EQ(0, mkdir(other.c_str(), 0755));
  CommandResult second = runArgv({ACIDFS_DAEMON_PATH, storeDir(), other}, "/", 120);
  EXPECT_FALSE(second.timedOut);
  EXPECT_NE(0, second.exitStatus) << "a second acidfsd on a busy store";
  EXPECT_FALSE(second.err.empty()) << "with a message";
  if (isMountPoint(other)) runArgv({"fusermount3", "-u", "-z", other}, "/", 30);
  EXPECT_FALSE(isMountPoint(other));
  EXPECT_TRUE(daemonAlive());
  EXPECT_EQ("first daemon's", readOr(path("f")));
}

}  // namespace
}  // namespace acidfs::mounttest
