// The POSIX surface of a real mount (SPEC §7): every operation through the
// system call a program would make, and every failure with the errno Linux
// filesystems give (ext4 is the reference). Also the write-path promises of
// SPEC §3 that a single mount can show: writes visible to other processes at
// once, content committed at close surviving a remount, and a bad request
// never taking the daemon down.
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {
namespace {

constexpr size_t kMiB = 1 << 20;

class MountPosix : public MountTest {
 protected:
  std::string xattrOf(const std::string& p, const char* name) {
    char buf[65536];
    ssize_t n = getxattr(p.c_str(), name, buf, sizeof buf);
    if (n < 0) return "<" + errnoName(errno) + ">";
    return std::string(buf, static_cast<size_t>(n));
  }
};

// Tests that measure the space a delete gives back: with the trash off, as
// the trash (SPEC §10, on by default) keeps deleted content a day.
class MountPosixTrashOff : public MountPosix {
 protected:
  MountPosixTrashOff() { mountOptions_ = "trash_days=0"; }
};

int renameat2Syscall(const std::string& from, const std::string& to, unsigned flags) {
  return static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags));
}

// ---- files: create, open, read, write, close ------------------------------------

TEST_F(MountPosix, WrittenBytesReadBackExactlyAtEveryOffset) {
  const std::string content = randomBytes(3 * kMiB + 12345, 1);
  ASSERT_EQ("OK", writeFile(path("f"), content));
  EXPECT_TRUE(sameBytes(content, readFile(path("f"))));
  EXPECT_EQ(static_cast<off_t>(content.size()), statOf(path("f")).st_size);

  Fd fd(open(path("f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok()) << strerror(errno);
  for (size_t off : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{1234567}, content.size() - 10}) {
    char buf[100];
    ssize_t n = pread(fd.get(), buf, sizeof buf, static_cast<off_t>(off));
    size_t expected = std::min<size_t>(sizeof buf, content.size() - off);
    ASSERT_EQ(static_cast<ssize_t>(expected), n) << "at " << off;
    EXPECT_EQ(content.substr(off, expected), std::string(buf, expected)) << "at " << off;
  }
  char buf[10];
  EXPECT_EQ(0, pread(fd.get(), buf, sizeof buf, static_cast<off_t>(content.size()))) << "read at EOF";
  EXPECT_EQ(0, pread(fd.get(), buf, sizeof buf, static_cast<off_t>(content.size() + kMiB))) << "read past EOF";
}

TEST_F(MountPosix, OverwriteInTheMiddleKeepsTheRest) {
  std::string content(200000, 'a');
  ASSERT_EQ("OK", writeFile(path("f"), content));
  Fd fd(open(path("f").c_str(), O_WRONLY));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(5, pwrite(fd.get(), "XXXXX", 5, 65534));  // across a 64 KiB boundary
  ASSERT_EQ(0, fd.close());
  content.replace(65534, 5, "XXXXX");
  EXPECT_TRUE(sameBytes(content, readFile(path("f"))));
}

TEST_F(MountPosix, OpenExclOfExistingFileIsEexist) {
  ASSERT_EQ("OK", writeFile(path("f"), "kept"));
  EXPECT_EQ("EEXIST", errnoAfter(open(path("f").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644)));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  EXPECT_EQ("EEXIST", errnoAfter(open(path("d").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644)));
  EXPECT_EQ("kept", readOr(path("f")));
  Fd fresh(open(path("new").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644));
  EXPECT_TRUE(fresh.ok()) << "O_EXCL of a new name: " << strerror(errno);
}

TEST_F(MountPosix, OpenOfMissingFileIsEnoentAndOfDirectoryForWritingIsEisdir) {
  EXPECT_EQ("ENOENT", errnoAfter(open(path("missing").c_str(), O_RDONLY)));
  EXPECT_EQ("ENOENT", errnoAfter(open(path("nodir/f").c_str(), O_WRONLY | O_CREAT, 0644)));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  EXPECT_EQ("EISDIR", errnoAfter(open(path("d").c_str(), O_WRONLY)));
  EXPECT_EQ("EISDIR", errnoAfter(open(path("d").c_str(), O_RDWR)));
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  EXPECT_EQ("ENOTDIR", errnoAfter(open(path("f/x").c_str(), O_WRONLY | O_CREAT, 0644)));
  EXPECT_EQ("ENOTDIR", errnoAfter(open(path("f").c_str(), O_RDONLY | O_DIRECTORY)));
}

TEST_F(MountPosix, AppendWritesAlwaysLandAtTheEnd) {
  ASSERT_EQ("OK", writeFile(path("log"), "start;"));
  Fd a(open(path("log").c_str(), O_WRONLY | O_APPEND));
  Fd b(open(path("log").c_str(), O_WRONLY | O_APPEND));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(2, write(a.get(), "a1", 2));
  ASSERT_EQ(2, write(b.get(), "b1", 2));
  ASSERT_EQ(2, write(a.get(), "a2", 2));
  // Linux: pwrite on an O_APPEND descriptor appends, whatever the offset.
  ASSERT_EQ(2, pwrite(b.get(), "b2", 2, 0));
  EXPECT_EQ("start;a1b1a2b2", readOr(path("log")));
  ASSERT_EQ(0, a.close());
  ASSERT_EQ(0, b.close());
  EXPECT_EQ("start;a1b1a2b2", readOr(path("log")));
}

TEST_F(MountPosix, TruncateShrinksAndGrowsWithZeros) {
  ASSERT_EQ("OK", writeFile(path("f"), std::string(100000, 'x')));
  ASSERT_EQ(0, truncate(path("f").c_str(), 70000));
  EXPECT_EQ(70000, statOf(path("f")).st_size);
  ASSERT_EQ(0, truncate(path("f").c_str(), 140000));
  EXPECT_TRUE(sameBytes(std::string(70000, 'x') + std::string(70000, '\0'), readFile(path("f"))));
  ASSERT_EQ(0, truncate(path("f").c_str(), 0));
  EXPECT_EQ("", readOr(path("f")));
  EXPECT_EQ("ENOENT", errnoAfter(truncate(path("missing").c_str(), 1)));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  EXPECT_EQ("EISDIR", errnoAfter(truncate(path("d").c_str(), 1)));
}

TEST_F(MountPosix, FtruncateAppliesAfterPendingWrites) {
  Fd fd(open(path("f").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  const std::string content = randomBytes(300000, 2);
  ASSERT_EQ(static_cast<ssize_t>(content.size()), write(fd.get(), content.data(), content.size()));
  ASSERT_EQ(0, ftruncate(fd.get(), 100001));  // the writes are not committed yet
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(100001, st.st_size);
  ASSERT_EQ(3, pwrite(fd.get(), "end", 3, 100001));
  ASSERT_EQ(0, fd.close());
  EXPECT_TRUE(sameBytes(content.substr(0, 100001) + "end", readFile(path("f"))));
}

TEST_F(MountPosix, OpenWithOTruncEmptiesTheFile) {
  ASSERT_EQ("OK", writeFile(path("f"), std::string(5000, 'x')));
  ASSERT_EQ("OK", writeFile(path("f"), "new"));
  EXPECT_EQ("new", readOr(path("f")));
  Fd fd(open(path("f").c_str(), O_WRONLY | O_TRUNC));
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(0, statOf(path("f")).st_size);
}

// Linux truncates on O_TRUNC whatever the access mode (open(2): "unspecified"
// for O_RDONLY, but ext4, xfs, btrfs and tmpfs all truncate, after checking
// write permission).
TEST_F(MountPosix, OpenReadOnlyWithOTruncTruncatesLikeLinux) {
  const std::string native = scratchDir() + "/t";
  ASSERT_EQ("OK", writeFile(native, "abc"));
  ASSERT_EQ("OK", writeFile(path("t"), "abc"));
  Fd nativeFd(open(native.c_str(), O_RDONLY | O_TRUNC));
  Fd fd(open(path("t").c_str(), O_RDONLY | O_TRUNC));
  ASSERT_TRUE(nativeFd.ok() && fd.ok()) << strerror(errno);
  ASSERT_EQ("", readOr(native)) << "the native filesystem here does not truncate: nothing to compare with";
  EXPECT_EQ("", readOr(path("t")));
}

// ---- directories -------------------------------------------------------------------

TEST_F(MountPosix, MkdirCountsLinksLikeLinux) {
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  struct stat st = statOf(path("d"));
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(2u, st.st_nlink) << "an empty directory: its name and its '.'";
  ASSERT_EQ(0, mkdir(path("d/sub1").c_str(), 0755));
  ASSERT_EQ(0, mkdir(path("d/sub2").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("d/file"), "x"));
  EXPECT_EQ(4u, statOf(path("d")).st_nlink) << "2 + one '..' per subdirectory";
  EXPECT_EQ(statOf(path("d")).st_ino, statOf(path("d/sub1/..")).st_ino);
  ASSERT_EQ(0, rmdir(path("d/sub1").c_str()));
  EXPECT_EQ(3u, statOf(path("d")).st_nlink);
}

TEST_F(MountPosix, MkdirOfExistingNameIsEexist) {
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  EXPECT_EQ("EEXIST", errnoAfter(mkdir(path("d").c_str(), 0755)));
  EXPECT_EQ("EEXIST", errnoAfter(mkdir(path("f").c_str(), 0755)));
  EXPECT_EQ("ENOENT", errnoAfter(mkdir(path("no/d").c_str(), 0755)));
  EXPECT_EQ("ENOTDIR", errnoAfter(mkdir(path("f/d").c_str(), 0755)));
}

TEST_F(MountPosix, RmdirOfNonEmptyDirectoryIsEnotempty) {
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("d/f"), "x"));
  EXPECT_EQ("ENOTEMPTY", errnoAfter(rmdir(path("d").c_str())));
  EXPECT_EQ("x", readOr(path("d/f")));
  ASSERT_EQ(0, unlink(path("d/f").c_str()));
  EXPECT_EQ(0, rmdir(path("d").c_str())) << strerror(errno);
  EXPECT_EQ("ENOENT", errnoAfter(access(path("d").c_str(), F_OK)));
  EXPECT_EQ("ENOENT", errnoAfter(rmdir(path("d").c_str())));
}

TEST_F(MountPosix, RmdirOfFileIsEnotdir) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  EXPECT_EQ("ENOTDIR", errnoAfter(rmdir(path("f").c_str())));
  EXPECT_EQ("x", readOr(path("f")));
}

TEST_F(MountPosix, UnlinkOfDirectoryIsEisdir) {
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  EXPECT_EQ("EISDIR", errnoAfter(unlink(path("d").c_str())));
  EXPECT_TRUE(S_ISDIR(statOf(path("d")).st_mode));
  EXPECT_EQ("ENOENT", errnoAfter(unlink(path("missing").c_str())));
}

TEST_F(MountPosix, UnlinkedFileStaysReadableThroughAnOpenDescriptor) {
  const std::string content = randomBytes(200000, 3);
  ASSERT_EQ("OK", writeFile(path("f"), content));
  Fd fd(open(path("f").c_str(), O_RDWR));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, unlink(path("f").c_str()));
  EXPECT_EQ("ENOENT", errnoAfter(access(path("f").c_str(), F_OK)));
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(0u, st.st_nlink);
  std::string back(content.size(), '\0');
  EXPECT_EQ(static_cast<ssize_t>(content.size()), pread(fd.get(), back.data(), back.size(), 0));
  EXPECT_TRUE(sameBytes(content, back));
  EXPECT_EQ(4, pwrite(fd.get(), "more", 4, 0)) << "an orphan is still writable";
}

// An unlink deletes a file no descriptor has open at once, even while the
// kernel still holds the inode (InodeTable::claimForDeletion): here an
// O_PATH descriptor, which opens nothing in the filesystem, keeps it. fstat
// through it goes on working, as on ext4, and the space is free already.
TEST_F(MountPosixTrashOff, UnlinkOfAFileHeldOnlyByAnOPathDescriptorFreesItsSpaceAndKeepsFstatWorking) {
  constexpr size_t kSize = 16 * kMiB;
  const uint64_t empty = diskBytes(storeDir());
  ASSERT_EQ("OK", writeFile(path("f"), randomBytes(kSize, 21)));
  ASSERT_GT(diskBytes(storeDir()), empty + kSize / 2) << "the store does not show the file";
  Fd pathFd(open(path("f").c_str(), O_PATH));
  ASSERT_TRUE(pathFd.ok()) << strerror(errno);
  ASSERT_EQ(0, unlink(path("f").c_str()));
  struct stat st;
  ASSERT_EQ(0, fstat(pathFd.get(), &st)) << strerror(errno);
  EXPECT_EQ(0u, st.st_nlink);
  EXPECT_EQ(static_cast<off_t>(kSize), st.st_size);
  EXPECT_EQ("ENOENT", errnoAfter(access(path("f").c_str(), F_OK)));
  EXPECT_TRUE(waitUntil([&] { return diskBytes(storeDir()) < empty + kSize / 4; }, 120))
      << "an unlinked file nobody has open still holds " << (diskBytes(storeDir()) - empty) / kMiB << " MiB";
  ASSERT_EQ(0, fstat(pathFd.get(), &st)) << "still, after the space went: " << strerror(errno);
}

// open(2) racing unlink(2) of the same file: the open either fails with
// ENOENT (the unlink came first) or gives a descriptor that reads the whole
// file — never one whose file vanished under it.
TEST_F(MountPosix, OpensRacingUnlinksReadTheWholeFileOrFailWithEnoent) {
  const std::string content = randomBytes(8192, 22);
  int opened = 0, refused = 0;
  for (int round = 0; round < 300; ++round) {
    const std::string f = path("race" + std::to_string(round));
    ASSERT_EQ("OK", writeFile(f, content));
    std::atomic<bool> go{false};
    std::thread unlinker([&] {
      while (!go.load()) {
      }
      ASSERT_EQ(0, unlink(f.c_str())) << strerror(errno);
    });
    go = true;
    Fd fd(open(f.c_str(), O_RDONLY));
    if (fd.ok()) {
      std::string back(content.size(), '\0');
      ASSERT_EQ(static_cast<ssize_t>(content.size()), pread(fd.get(), back.data(), back.size(), 0))
          << "round " << round << ": opened, then: " << strerror(errno);
      ASSERT_TRUE(sameBytes(content, back)) << "round " << round;
      ++opened;
    } else {
      ASSERT_EQ(ENOENT, errno) << "round " << round << ": " << strerror(errno);
      ++refused;
    }
    unlinker.join();
  }
  RecordProperty("opened", opened);
  RecordProperty("refused", refused);
}

TEST_F(MountPosix, DirectoryOfTwentyThousandEntriesListsCompletely) {
  ASSERT_EQ(0, mkdir(path("big").c_str(), 0755));
  std::vector<std::string> expected;
  for (int i = 0; i < 20000; ++i) {
    char name[32];
    snprintf(name, sizeof name, "entry-%05d", i);
    expected.push_back(name);
    ASSERT_EQ(0, mknod(path(std::string("big/") + name).c_str(), S_IFREG | 0644, 0)) << name << ": " << strerror(errno);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> listed = listDir(path("big"));
  EXPECT_EQ(expected.size(), listed.size());
  EXPECT_TRUE(std::adjacent_find(listed.begin(), listed.end()) == listed.end()) << "a name listed twice";
  EXPECT_TRUE(expected == listed) << "the listing differs from the names created";
}

// What rm -rf and find rely on: entries that nobody touches are listed
// exactly once, however the directory changes during the listing; a telldir
// cookie resumes the listing where it was.
TEST_F(MountPosix, ReaddirListsUntouchedEntriesOnceWhileTheDirectoryChanges) {
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  constexpr int kEntries = 3000;
  for (int i = 0; i < kEntries; ++i)
    ASSERT_EQ(0, mknod(path("d/e" + std::to_string(i)).c_str(), S_IFREG | 0644, 0)) << strerror(errno);
  DIR* dir = opendir(path("d").c_str());
  ASSERT_NE(nullptr, dir);
  std::vector<std::string> first;
  while (first.size() < 1000) {
    dirent* e = readdir(dir);
    ASSERT_NE(nullptr, e) << "the listing ended after " << first.size() << " entries";
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) first.push_back(e->d_name);
  }
  const long cookie = telldir(dir);
  std::set<std::string> seen(first.begin(), first.end());
  ASSERT_EQ(first.size(), seen.size()) << "a name listed twice";
  // Change the directory: delete 300 listed and 300 unlisted entries, add 300.
  std::set<std::string> removed;
  int removedSeen = 0, removedUnseen = 0;
  for (int i = 0; i < kEntries && (removedSeen < 300 || removedUnseen < 300); ++i) {
    const std::string name = "e" + std::to_string(i);
    int& count = seen.count(name) ? removedSeen : removedUnseen;
    if (count >= 300) continue;
    ASSERT_EQ(0, unlink(path("d/" + name).c_str()));
    removed.insert(name);
    ++count;
  }
  for (int i = 0; i < 300; ++i) ASSERT_EQ(0, mknod(path("d/new" + std::to_string(i)).c_str(), S_IFREG | 0644, 0));
  std::vector<std::string> rest;
  while (dirent* e = readdir(dir)) rest.push_back(e->d_name);
  for (const std::string& name : rest) {
    EXPECT_TRUE(seen.insert(name).second || name == "." || name == "..") << name << " listed twice";
  }
  for (int i = 0; i < kEntries; ++i) {
    const std::string name = "e" + std::to_string(i);
    if (!removed.count(name)) {
      EXPECT_TRUE(seen.count(name)) << name << " was never listed";
    }
  }
  // Back to the cookie: the same continuation, minus what was deleted since.
  seekdir(dir, cookie);
  std::vector<std::string> again;
  while (dirent* e = readdir(dir)) again.push_back(e->d_name);
  std::vector<std::string> restKept;
  for (const std::string& name : rest)
    if (!removed.count(name)) restKept.push_back(name);
  EXPECT_TRUE(restKept == again) << "seekdir(telldir()) resumed elsewhere: " << restKept.size() << " vs "
                                 << again.size() << " entries";
  closedir(dir);
}

// ---- rename ------------------------------------------------------------------------

TEST_F(MountPosix, RenameReplacesTheTarget) {
  ASSERT_EQ("OK", writeFile(path("a"), "content of a"));
  ASSERT_EQ("OK", writeFile(path("b"), "content of b"));
  const ino_t inoA = statOf(path("a")).st_ino;
  ASSERT_EQ(0, rename(path("a").c_str(), path("b").c_str())) << strerror(errno);
  EXPECT_EQ("ENOENT", errnoAfter(access(path("a").c_str(), F_OK)));
  EXPECT_EQ("content of a", readOr(path("b")));
  EXPECT_EQ(inoA, statOf(path("b")).st_ino);
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ(0, rename(path("b").c_str(), path("d/moved").c_str()));
  EXPECT_EQ("content of a", readOr(path("d/moved")));
  EXPECT_EQ("ENOENT", errnoAfter(rename(path("missing").c_str(), path("x").c_str())));
}

TEST_F(MountPosix, RenameNoReplaceOntoExistingIsEexist) {
  ASSERT_EQ("OK", writeFile(path("a"), "A"));
  ASSERT_EQ("OK", writeFile(path("b"), "B"));
  EXPECT_EQ("EEXIST", errnoAfter(renameat2Syscall(path("a"), path("b"), RENAME_NOREPLACE)));
  EXPECT_EQ("A", readOr(path("a")));
  EXPECT_EQ("B", readOr(path("b")));
  EXPECT_EQ(0, renameat2Syscall(path("a"), path("c"), RENAME_NOREPLACE)) << strerror(errno);
  EXPECT_EQ("A", readOr(path("c")));
  EXPECT_EQ("ENOENT", errnoAfter(access(path("a").c_str(), F_OK)));
}

TEST_F(MountPosix, RenameExchangeSwapsAtomically) {
  ASSERT_EQ("OK", writeFile(path("a"), "A"));
  ASSERT_EQ("OK", writeFile(path("b"), "B"));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("d/inner"), "I"));
  EXPECT_EQ(0, renameat2Syscall(path("a"), path("b"), RENAME_EXCHANGE)) << strerror(errno);
  EXPECT_EQ("B", readOr(path("a")));
  EXPECT_EQ("A", readOr(path("b")));
  // A file and a directory swap too.
  EXPECT_EQ(0, renameat2Syscall(path("a"), path("d"), RENAME_EXCHANGE)) << strerror(errno);
  EXPECT_EQ("B", readOr(path("d")));
  EXPECT_EQ("I", readOr(path("a/inner")));
  EXPECT_EQ("ENOENT", errnoAfter(renameat2Syscall(path("b"), path("missing"), RENAME_EXCHANGE)));
  EXPECT_EQ("A", readOr(path("b")));
  EXPECT_EQ("EINVAL", errnoAfter(renameat2Syscall(path("a"), path("b"), RENAME_EXCHANGE | RENAME_NOREPLACE)));
}

TEST_F(MountPosix, RenameOfDirectoryIntoItsOwnSubtreeIsEinval) {
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ(0, mkdir(path("d/sub").c_str(), 0755));
  EXPECT_EQ("EINVAL", errnoAfter(rename(path("d").c_str(), path("d/sub/d").c_str())));
  EXPECT_EQ("EINVAL", errnoAfter(rename(path("d").c_str(), path("d/x").c_str())));
  EXPECT_TRUE(S_ISDIR(statOf(path("d/sub")).st_mode));
}

TEST_F(MountPosix, RenameBetweenFileAndDirectoryGivesLinuxErrnos) {
  ASSERT_EQ("OK", writeFile(path("f"), "F"));
  ASSERT_EQ(0, mkdir(path("empty").c_str(), 0755));
  ASSERT_EQ(0, mkdir(path("full").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("full/x"), "X"));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  EXPECT_EQ("EISDIR", errnoAfter(rename(path("f").c_str(), path("empty").c_str())));
  EXPECT_EQ("ENOTDIR", errnoAfter(rename(path("d").c_str(), path("f").c_str())));
  EXPECT_EQ("ENOTEMPTY", errnoAfter(rename(path("d").c_str(), path("full").c_str())));
  EXPECT_EQ("X", readOr(path("full/x")));
  EXPECT_EQ("F", readOr(path("f")));
  // Onto an empty directory a directory rename succeeds.
  EXPECT_EQ(0, rename(path("d").c_str(), path("empty").c_str())) << strerror(errno);
  EXPECT_EQ("ENOENT", errnoAfter(access(path("d").c_str(), F_OK)));
}

TEST_F(MountPosix, RenameOfDirectoryAcrossParentsMovesDotDot) {
  ASSERT_EQ(0, mkdir(path("p1").c_str(), 0755));
  ASSERT_EQ(0, mkdir(path("p2").c_str(), 0755));
  ASSERT_EQ(0, mkdir(path("p1/d").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("p1/d/f"), "deep"));
  ASSERT_EQ(0, rename(path("p1/d").c_str(), path("p2/d").c_str()));
  EXPECT_EQ("deep", readOr(path("p2/d/f")));
  EXPECT_EQ(statOf(path("p2")).st_ino, statOf(path("p2/d/..")).st_ino);
  EXPECT_EQ(2u, statOf(path("p1")).st_nlink);
  EXPECT_EQ(3u, statOf(path("p2")).st_nlink);
}

// ---- links ---------------------------------------------------------------------------

TEST_F(MountPosix, HardLinksShareTheInodeAndCountLinks) {
  ASSERT_EQ("OK", writeFile(path("a"), "shared"));
  ASSERT_EQ(0, link(path("a").c_str(), path("b").c_str())) << strerror(errno);
  struct stat a = statOf(path("a")), b = statOf(path("b"));
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(2u, a.st_nlink);
  EXPECT_EQ(2u, b.st_nlink);
  ASSERT_EQ("OK", writeFile(path("b"), "changed through b"));
  EXPECT_EQ("changed through b", readOr(path("a")));
  ASSERT_EQ(0, link(path("a").c_str(), path("c").c_str()));
  EXPECT_EQ(3u, statOf(path("b")).st_nlink);
  ASSERT_EQ(0, unlink(path("a").c_str()));
  ASSERT_EQ(0, unlink(path("c").c_str()));
  EXPECT_EQ(1u, statOf(path("b")).st_nlink);
  EXPECT_EQ("changed through b", readOr(path("b")));
}

TEST_F(MountPosix, LinkOntoExistingIsEexistAndOfDirectoryIsEperm) {
  ASSERT_EQ("OK", writeFile(path("a"), "A"));
  ASSERT_EQ("OK", writeFile(path("b"), "B"));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  EXPECT_EQ("EEXIST", errnoAfter(link(path("a").c_str(), path("b").c_str())));
  EXPECT_EQ("EPERM", errnoAfter(link(path("d").c_str(), path("d2").c_str())));
  EXPECT_EQ("ENOENT", errnoAfter(link(path("missing").c_str(), path("x").c_str())));
  EXPECT_EQ(1u, statOf(path("a")).st_nlink);
  EXPECT_EQ("B", readOr(path("b")));
}

TEST_F(MountPosix, SymlinkStoresItsTargetAndReadlinkReturnsIt) {
  ASSERT_EQ("OK", writeFile(path("target"), "through the link"));
  ASSERT_EQ(0, symlink("target", path("rel").c_str()));
  ASSERT_EQ(0, symlink("no/such/thing", path("dangling").c_str()));
  char buf[256];
  ssize_t n = readlink(path("rel").c_str(), buf, sizeof buf);
  ASSERT_EQ(6, n);
  EXPECT_EQ("target", std::string(buf, 6));
  n = readlink(path("dangling").c_str(), buf, sizeof buf);
  EXPECT_EQ("no/such/thing", std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))));
  EXPECT_TRUE(S_ISLNK(lstatOf(path("rel")).st_mode));
  EXPECT_EQ(13, lstatOf(path("dangling")).st_size) << "a symlink's size is its target's length";
  EXPECT_EQ("through the link", readOr(path("rel")));
  EXPECT_EQ("ENOENT", errnoAfter(open(path("dangling").c_str(), O_RDONLY)));
  EXPECT_EQ("EINVAL", errnoAfter(readlink(path("target").c_str(), buf, sizeof buf)));
  EXPECT_EQ("EEXIST", errnoAfter(symlink("x", path("target").c_str())));
  const std::string longTarget(4000, 'x');
  ASSERT_EQ(0, symlink(longTarget.c_str(), path("long").c_str())) << strerror(errno);
  std::string back(4096, '\0');
  n = readlink(path("long").c_str(), back.data(), back.size());
  EXPECT_EQ(longTarget, back.substr(0, static_cast<size_t>(std::max<ssize_t>(n, 0))));
}

// ---- special nodes -----------------------------------------------------------------

TEST_F(MountPosix, MknodMakesFifoAndSocketNodes) {
  ASSERT_EQ(0, mknod(path("fifo").c_str(), S_IFIFO | 0644, 0)) << strerror(errno);
  ASSERT_EQ(0, mkfifo(path("fifo2").c_str(), 0600)) << strerror(errno);
  ASSERT_EQ(0, mknod(path("sock").c_str(), S_IFSOCK | 0644, 0)) << strerror(errno);
  EXPECT_TRUE(S_ISFIFO(statOf(path("fifo")).st_mode));
  EXPECT_TRUE(S_ISFIFO(statOf(path("fifo2")).st_mode));
  EXPECT_TRUE(S_ISSOCK(statOf(path("sock")).st_mode));
  EXPECT_EQ(0600u, statOf(path("fifo2")).st_mode & 07777);

  // The FIFO works as a pipe (the kernel runs it; the filesystem holds the node).
  Fd fifo(open(path("fifo").c_str(), O_RDWR | O_NONBLOCK));
  ASSERT_TRUE(fifo.ok()) << strerror(errno);
  ASSERT_EQ(5, write(fifo.get(), "piped", 5));
  char buf[8];
  EXPECT_EQ(5, read(fifo.get(), buf, sizeof buf));

  // bind() of a Unix socket creates a socket node through the filesystem.
  Fd sock(socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string bound = path("bound.sock");
  ASSERT_LT(bound.size(), sizeof addr.sun_path);
  strcpy(addr.sun_path, bound.c_str());
  ASSERT_EQ(0, bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr)) << strerror(errno);
  EXPECT_TRUE(S_ISSOCK(statOf(bound).st_mode));
  std::vector<std::string> names = listDir(mountpoint());
  for (const char* n : {"bound.sock", "fifo", "fifo2", "sock"})
    EXPECT_TRUE(std::count(names.begin(), names.end(), n)) << n << " not listed";
  EXPECT_EQ("EEXIST", errnoAfter(mknod(path("fifo").c_str(), S_IFIFO | 0644, 0)));
}

// ---- attributes ------------------------------------------------------------------------

TEST_F(MountPosix, ChmodChownAndUtimensatKeepNanoseconds) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  ASSERT_EQ(0, chmod(path("f").c_str(), 04751)) << strerror(errno);
  EXPECT_EQ(04751u, statOf(path("f")).st_mode & 07777);
  ASSERT_EQ(0, chown(path("f").c_str(), 4242, 4343)) << strerror(errno);
  struct stat st = statOf(path("f"));
  EXPECT_EQ(4242u, st.st_uid);
  EXPECT_EQ(4343u, st.st_gid);

  const timespec times[2] = {{1000000001, 123456789}, {1500000002, 987654321}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("f").c_str(), times, 0)) << strerror(errno);
  st = statOf(path("f"));
  EXPECT_EQ(1000000001, st.st_atim.tv_sec);
  EXPECT_EQ(123456789, st.st_atim.tv_nsec);
  EXPECT_EQ(1500000002, st.st_mtim.tv_sec);
  EXPECT_EQ(987654321, st.st_mtim.tv_nsec);

  // UTIME_OMIT leaves a time alone; UTIME_NOW sets it to now.
  const timespec omitNow[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("f").c_str(), omitNow, 0));
  st = statOf(path("f"));
  EXPECT_EQ(1000000001, st.st_atim.tv_sec);
  EXPECT_EQ(123456789, st.st_atim.tv_nsec);
  EXPECT_GT(st.st_mtim.tv_sec, 1700000000);

  // Through a symlink without following it: the link's own times.
  ASSERT_EQ(0, symlink("f", path("l").c_str()));
  const timespec linkTimes[2] = {{1111, 1}, {2222, 2}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("l").c_str(), linkTimes, AT_SYMLINK_NOFOLLOW)) << strerror(errno);
  EXPECT_EQ(2222, lstatOf(path("l")).st_mtim.tv_sec);
  EXPECT_EQ(2, lstatOf(path("l")).st_mtim.tv_nsec);
  EXPECT_NE(2222, statOf(path("f")).st_mtim.tv_sec);
  ASSERT_EQ(0, lchown(path("l").c_str(), 77, 78));
  EXPECT_EQ(77u, lstatOf(path("l")).st_uid);
  EXPECT_EQ(4242u, statOf(path("f")).st_uid);
}

// The mount says relatime (/proc/mounts): a read after a modification moves
// atime past mtime, as on ext4 — what mail readers and tmpwatch rely on.
TEST_F(MountPosix, ReadAfterAModificationMovesAtimeLikeRelatime) {
  ASSERT_EQ("OK", writeFile(path("f"), "unread mail"));
  // atime before mtime (both in the past): unread. relatime sets atime to now.
  const timespec old[2] = {{1000000000, 0}, {1500000000, 0}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("f").c_str(), old, 0));
  EXPECT_EQ("unread mail", readOr(path("f")));
  struct stat st = statOf(path("f"));
  EXPECT_GT(st.st_atim.tv_sec, 1500000000) << "the read left atime before mtime";
  EXPECT_EQ(1500000000, st.st_mtim.tv_sec) << "a read changed mtime";
  // Read again: atime is now after mtime and recent, so relatime leaves it.
  const timespec first = st.st_atim;
  EXPECT_EQ("unread mail", readOr(path("f")));
  EXPECT_EQ(first.tv_nsec, statOf(path("f")).st_atim.tv_nsec);
}

// Whole pages written through the mount stay in the kernel's page cache, and
// a later read is served from it without a READ reaching the daemon. relatime
// must still hold: atime moves when the reading descriptor is closed.
TEST_F(MountPosix, ReadFromTheKernelsPageCacheStillMovesAtime) {
  const std::string pages(8192, 'p');
  ASSERT_EQ("OK", writeFile(path("f"), pages));
  const timespec old[2] = {{1000000000, 0}, {1500000000, 0}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("f").c_str(), old, 0));
  EXPECT_EQ(1000000000, statOf(path("f")).st_atim.tv_sec);
  EXPECT_EQ(pages, readOr(path("f")));
  EXPECT_GT(statOf(path("f")).st_atim.tv_sec, 1500000000) << "a read from cached pages left atime before mtime";
}

// A write on one descriptor is seen by a read on another, also after a stat
// has shown the new mtime (the kernel keeps its cached pages: no auto
// invalidation, every write passes through it).
TEST_F(MountPosix, CachedPagesFollowWritesAfterAStat) {
  ASSERT_EQ("OK", writeFile(path("f"), std::string(8192, 'a')));
  EXPECT_EQ(std::string(8192, 'a'), readOr(path("f")));
  Fd w(open(path("f").c_str(), O_WRONLY));
  ASSERT_GE(w.get(), 0);
  ASSERT_EQ(4, pwrite(w.get(), "bbbb", 4, 4096));
  statOf(path("f"));
  std::string expected(8192, 'a');
  expected.replace(4096, 4, "bbbb");
  EXPECT_EQ(expected, readOr(path("f")));
}

// The atomic replace of a file by rename(2), with readers opening it all
// the while: each open finds the old file or the new one, never nothing —
// also when the kernel looked the old one up just before the rename, and
// opens it just after (it must outlive the rename until the kernel lets go).
TEST_F(MountPosix, OpensRacingWithAReplacingRenameNeverFail) {
  ASSERT_EQ("OK", writeFile(path("config"), "version 0"));
  std::atomic<bool> done{false};
  std::thread replacer([&] {
    for (int i = 1; i <= 1500; ++i) {
      ASSERT_EQ("OK", writeFile(path("config.new"), "version " + std::to_string(i)));
      ASSERT_EQ(0, rename(path("config.new").c_str(), path("config").c_str())) << strerror(errno);
    }
    done = true;
  });
  int opens = 0, failures = 0, firstErrno = 0;
  while (!done) {
    int fd = open(path("config").c_str(), O_RDONLY);
    ++opens;
    if (fd < 0) {
      if (failures++ == 0) firstErrno = errno;
      continue;
    }
    char buf[64];
    EXPECT_GT(read(fd, buf, sizeof buf), 0);
    close(fd);
  }
  replacer.join();
  EXPECT_EQ(0, failures) << "of " << opens << " opens; first: " << strerror(firstErrno);
}

TEST_F(MountPosix, WriteMovesMtimeAndCtimeForward) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  const timespec old[2] = {{1000, 5}, {1000, 5}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("f").c_str(), old, 0));
  ASSERT_EQ("OK", writeFile(path("f"), "more", O_WRONLY | O_APPEND));
  struct stat st = statOf(path("f"));
  EXPECT_GT(st.st_mtim.tv_sec, 1000);
  EXPECT_GT(st.st_ctim.tv_sec, 1000);
  EXPECT_EQ("xmore", readOr(path("f")));
}

TEST_F(MountPosix, EntryChangesMoveTheDirectorysMtimeAndCtime) {
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("d/f"), "x"));
  const timespec old[2] = {{1000, 0}, {1000, 0}};
  auto dirMoved = [&](const char* what, const std::function<int()>& change) {
    ASSERT_EQ(0, utimensat(AT_FDCWD, path("d").c_str(), old, 0));
    ASSERT_EQ(0, change()) << what << ": " << strerror(errno);
    struct stat st = statOf(path("d"));
    EXPECT_GT(st.st_mtim.tv_sec, 1000) << what << " left the directory's mtime";
    EXPECT_GT(st.st_ctim.tv_sec, 1000) << what << " left the directory's ctime";
  };
  dirMoved("create", [&] { return close(open(path("d/new").c_str(), O_WRONLY | O_CREAT, 0644)); });
  dirMoved("mkdir", [&] { return mkdir(path("d/sub").c_str(), 0755); });
  dirMoved("rmdir", [&] { return rmdir(path("d/sub").c_str()); });
  dirMoved("link", [&] { return link(path("d/f").c_str(), path("d/g").c_str()); });
  dirMoved("rename", [&] { return rename(path("d/g").c_str(), path("d/h").c_str()); });
  dirMoved("unlink", [&] { return unlink(path("d/h").c_str()); });
  dirMoved("symlink", [&] { return symlink("f", path("d/s").c_str()); });
  dirMoved("mknod", [&] { return mknod(path("d/p").c_str(), S_IFIFO | 0644, 0); });
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("d").c_str(), old, 0));
  ASSERT_EQ(0, rename(path("d/f").c_str(), path("moved-out").c_str()));
  ASSERT_TRUE(restart());
  EXPECT_GT(statOf(path("d")).st_mtim.tv_sec, 1000) << "moving an entry out changes the directory (after remount)";
}

TEST_F(MountPosix, ChmodLinkRenameAndXattrChangesMoveTheFilesCtime) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  auto ctimeMoved = [&](const char* what, const std::function<int()>& change) {
    const struct stat before = statOf(path("f"));
    sleepMs(2);
    ASSERT_EQ(0, change()) << what << ": " << strerror(errno);
    const struct stat after = statOf(path("f"));
    EXPECT_TRUE(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
                (after.st_ctim.tv_sec == before.st_ctim.tv_sec && after.st_ctim.tv_nsec > before.st_ctim.tv_nsec))
        << what << " left ctime alone";
    EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec) << what << " changed mtime";
  };
  ctimeMoved("chmod", [&] { return chmod(path("f").c_str(), 0600); });
  ctimeMoved("chown", [&] { return chown(path("f").c_str(), 1, 1); });
  ctimeMoved("link", [&] { return link(path("f").c_str(), path("g").c_str()); });
  ctimeMoved("unlink of another name", [&] { return unlink(path("g").c_str()); });
  ctimeMoved("setxattr", [&] { return setxattr(path("f").c_str(), "user.a", "1", 1, 0); });
  const struct stat before = statOf(path("f"));
  sleepMs(2);
  ASSERT_EQ(0, rename(path("f").c_str(), path("renamed").c_str()));
  const struct stat after = statOf(path("renamed"));
  EXPECT_TRUE(after.st_ctim.tv_sec > before.st_ctim.tv_sec ||
              (after.st_ctim.tv_sec == before.st_ctim.tv_sec && after.st_ctim.tv_nsec > before.st_ctim.tv_nsec))
      << "rename left ctime alone";
  ASSERT_TRUE(restart());
  const struct stat remounted = statOf(path("renamed"));
  EXPECT_EQ(after.st_ctim.tv_sec, remounted.st_ctim.tv_sec) << "the kernel's ctime is the stored one";
  EXPECT_EQ(after.st_ctim.tv_nsec, remounted.st_ctim.tv_nsec);
}

TEST_F(MountPosix, UmaskIsHonoured) {
  const mode_t old = umask(027);
  ASSERT_EQ(0, close(open(path("f").c_str(), O_WRONLY | O_CREAT, 0666)));
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0777));
  ASSERT_EQ(0, mknod(path("p").c_str(), S_IFIFO | 0666, 0));
  umask(0);
  ASSERT_EQ(0, close(open(path("g").c_str(), O_WRONLY | O_CREAT, 0666)));
  umask(old);
  EXPECT_EQ(0640u, statOf(path("f")).st_mode & 07777);
  EXPECT_EQ(0750u, statOf(path("d")).st_mode & 07777);
  EXPECT_EQ(0640u, statOf(path("p")).st_mode & 07777);
  EXPECT_EQ(0666u, statOf(path("g")).st_mode & 07777);
}

TEST_F(MountPosix, SetgidDirectoryPassesItsGroupOn) {
  ASSERT_EQ(0, mkdir(path("shared").c_str(), 0775));
  ASSERT_EQ(0, chown(path("shared").c_str(), 0, 4242));
  ASSERT_EQ(0, chmod(path("shared").c_str(), 02775));
  EXPECT_EQ(02775u, statOf(path("shared")).st_mode & 07777);
  ASSERT_EQ("OK", writeFile(path("shared/f"), "x"));
  ASSERT_EQ(0, mkdir(path("shared/sub").c_str(), 0755));
  EXPECT_EQ(4242u, statOf(path("shared/f")).st_gid) << "a file takes the directory's group";
  struct stat sub = statOf(path("shared/sub"));
  EXPECT_EQ(4242u, sub.st_gid) << "a subdirectory takes the group";
  EXPECT_TRUE(sub.st_mode & S_ISGID) << "and the setgid bit";
  ASSERT_EQ("OK", writeFile(path("plain"), "x"));
  EXPECT_EQ(getgid(), statOf(path("plain")).st_gid) << "elsewhere: the creator's group";
}

TEST_F(MountPosix, StickyBitIsKept) {
  ASSERT_EQ(0, mkdir(path("tmp").c_str(), 0777));
  ASSERT_EQ(0, chmod(path("tmp").c_str(), 01777));
  struct stat st = statOf(path("tmp"));
  EXPECT_EQ(01777u, st.st_mode & 07777);
  EXPECT_TRUE(st.st_mode & S_ISVTX);
}

TEST_F(MountPosix, StatfsReportsTheStoresSpaceAndNameMax) {
  struct statvfs vfs;
  ASSERT_EQ(0, statvfs(mountpoint().c_str(), &vfs)) << strerror(errno);
  EXPECT_EQ(255u, vfs.f_namemax);
  EXPECT_GT(vfs.f_bsize, 0u);
  EXPECT_GT(vfs.f_frsize, 0u);
  EXPECT_GT(vfs.f_blocks, 0u);
  EXPECT_LE(vfs.f_bfree, vfs.f_blocks);
  EXPECT_LE(vfs.f_bavail, vfs.f_bfree);
  EXPECT_GT(vfs.f_ffree, 0u);
  struct statvfs host;
  ASSERT_EQ(0, statvfs(storeDir().c_str(), &host));
  const double total = static_cast<double>(vfs.f_blocks) * vfs.f_frsize;
  const double hostTotal = static_cast<double>(host.f_blocks) * host.f_frsize;
  EXPECT_NEAR(hostTotal, total, hostTotal * 0.01) << "total space is the store's filesystem's";
  struct statfs fs;
  ASSERT_EQ(0, statfs(mountpoint().c_str(), &fs));
  EXPECT_EQ(0x65735546, fs.f_type) << "FUSE_SUPER_MAGIC";
}

// ---- extended attributes -----------------------------------------------------------------

TEST_F(MountPosix, UserAndTrustedXattrsSetGetListRemove) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  const std::string p = path("f");
  ASSERT_EQ(0, setxattr(p.c_str(), "user.color", "blue", 4, 0)) << strerror(errno);
  ASSERT_EQ(0, setxattr(p.c_str(), "trusted.level", "7", 1, 0)) << strerror(errno);
  const std::string binary("\0\x01\xff value", 9);
  ASSERT_EQ(0, setxattr(p.c_str(), "user.binary", binary.data(), binary.size(), 0));
  ASSERT_EQ(0, setxattr(p.c_str(), "user.empty", "", 0, 0));
  EXPECT_EQ("blue", xattrOf(p, "user.color"));
  EXPECT_EQ("7", xattrOf(p, "trusted.level"));
  EXPECT_EQ(binary, xattrOf(p, "user.binary"));
  EXPECT_EQ("", xattrOf(p, "user.empty"));

  char list[4096];
  ssize_t n = listxattr(p.c_str(), list, sizeof list);
  ASSERT_GT(n, 0) << strerror(errno);
  std::set<std::string> names;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(strlen(list + i)) + 1) names.insert(list + i);
  EXPECT_EQ((std::set<std::string>{"trusted.level", "user.binary", "user.color", "user.empty"}), names)
      << "and no virtual user.acidfs.* attribute is listed";

  EXPECT_EQ("EEXIST", errnoAfter(setxattr(p.c_str(), "user.color", "red", 3, XATTR_CREATE)));
  EXPECT_EQ("ENODATA", errnoAfter(setxattr(p.c_str(), "user.none", "red", 3, XATTR_REPLACE)));
  ASSERT_EQ(0, setxattr(p.c_str(), "user.color", "green", 5, XATTR_REPLACE));
  EXPECT_EQ("green", xattrOf(p, "user.color"));

  ASSERT_EQ(0, removexattr(p.c_str(), "user.color")) << strerror(errno);
  EXPECT_EQ("<ENODATA>", xattrOf(p, "user.color"));
  EXPECT_EQ("ENODATA", errnoAfter(removexattr(p.c_str(), "user.color")));
  EXPECT_EQ("<ENODATA>", xattrOf(p, "user.never"));

  // Directories carry them too.
  ASSERT_EQ(0, mkdir(path("d").c_str(), 0755));
  ASSERT_EQ(0, setxattr(path("d").c_str(), "user.tag", "dir", 3, 0)) << strerror(errno);
  EXPECT_EQ("dir", xattrOf(path("d"), "user.tag"));
}

TEST_F(MountPosix, XattrsSurviveARemount) {
  ASSERT_EQ("OK", writeFile(path("f"), "x"));
  ASSERT_EQ(0, setxattr(path("f").c_str(), "user.k", "v1", 2, 0));
  ASSERT_EQ(0, setxattr(path("f").c_str(), "trusted.t", "v2", 2, 0));
  ASSERT_TRUE(restart());
  EXPECT_EQ("v1", xattrOf(path("f"), "user.k"));
  EXPECT_EQ("v2", xattrOf(path("f"), "trusted.t"));
}

// ---- names ---------------------------------------------------------------------------

TEST_F(MountPosix, NameOf255BytesWorksAnd256IsEnametoolong) {
  const std::string name255(255, 'n'), name256(256, 'n');
  ASSERT_EQ("OK", writeFile(path(name255), "long name"));
  EXPECT_EQ("long name", readOr(path(name255)));
  std::vector<std::string> names = listDir(mountpoint());
  EXPECT_TRUE(std::count(names.begin(), names.end(), name255));
  const std::string other255(255, 'm');
  EXPECT_EQ(0, rename(path(name255).c_str(), path(other255).c_str())) << strerror(errno);
  EXPECT_EQ(0, mkdir(path(std::string(255, 'd')).c_str(), 0755)) << strerror(errno);

  EXPECT_EQ("ENAMETOOLONG", errnoAfter(open(path(name256).c_str(), O_WRONLY | O_CREAT, 0644)));
  EXPECT_EQ("ENAMETOOLONG", errnoAfter(mkdir(path(name256).c_str(), 0755)));
  EXPECT_EQ("ENAMETOOLONG", errnoAfter(symlink("x", path(name256).c_str())));
  EXPECT_EQ("ENAMETOOLONG", errnoAfter(mknod(path(name256).c_str(), S_IFIFO | 0644, 0)));
  EXPECT_EQ("ENAMETOOLONG", errnoAfter(link(path(other255).c_str(), path(name256).c_str())));
  EXPECT_EQ("ENAMETOOLONG", errnoAfter(rename(path(other255).c_str(), path(name256).c_str())));
  struct stat st;
  EXPECT_EQ("ENAMETOOLONG", errnoAfter(stat(path(name256).c_str(), &st)));
  EXPECT_EQ("long name", readOr(path(other255)));
  names = listDir(mountpoint());
  EXPECT_EQ(2u, names.size()) << "nothing with a 256-byte name appeared";
}

// ---- space: fallocate, holes ---------------------------------------------------------

TEST_F(MountPosix, FallocateModeZeroGrowsTheFileWithZeros) {
  Fd fd(open(path("f").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, fallocate(fd.get(), 0, 0, kMiB)) << strerror(errno);
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(static_cast<off_t>(kMiB), st.st_size);
  ASSERT_EQ(0, fallocate(fd.get(), 0, 0, 1000)) << "a range inside the file";
  ASSERT_EQ(0, fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, kMiB, kMiB)) << strerror(errno);
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(static_cast<off_t>(kMiB), st.st_size) << "neither shrinks, KEEP_SIZE does not grow";
  ASSERT_EQ(0, fd.close());
  EXPECT_TRUE(sameBytes(std::string(kMiB, '\0'), readFile(path("f"))));
}

// xfstests generic/568: the space fallocate reserved is counted in
// st_blocks, and writing inside the range does not grow it.
TEST_F(MountPosix, FallocateCountsItsSpaceAndAWriteInsideItDoesNotGrowTheFile) {
  Fd fd(open(path("f").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  const off_t block = st.st_blksize;
  ASSERT_EQ(0, fallocate(fd.get(), 0, block - 1, 2)) << strerror(errno);
  ASSERT_EQ(0, fstat(fd.get(), &st));
  const blkcnt_t before = st.st_blocks;
  EXPECT_GE(before * 512, 2) << "the two bytes' space is counted";
  ASSERT_EQ(2, pwrite(fd.get(), "ab", 2, block - 1));
  ASSERT_EQ(0, fd.close());
  EXPECT_LE(statOf(path("f")).st_blocks, before) << "the file grew when written inside its allocated range";
}

// xfstests generic/213: more than the free space is refused, and what was
// reserved leaves the free space statfs shows.
TEST_F(MountPosix, FallocateBeyondTheFreeSpaceIsRefusedAndAReservationLeavesStatfs) {
  struct statvfs vfs;
  ASSERT_EQ(0, statvfs(mountpoint().c_str(), &vfs));
  const uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  Fd fd(open(path("big").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  const int rc = fallocate(fd.get(), 0, 0, static_cast<off_t>(2 * avail));
  // Past the 1 TiB file limit the refusal is EFBIG; either way nothing changes.
  EXPECT_EQ(2 * avail > (1ull << 40) ? "EFBIG" : "ENOSPC", errnoAfter(rc));
  struct stat st;
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(0, st.st_size);
  EXPECT_EQ(0, st.st_blocks);

  constexpr uint64_t kGiB = 1ull << 30;
  ASSERT_EQ(0, fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, kGiB)) << strerror(errno);
  ASSERT_EQ(0, statvfs(mountpoint().c_str(), &vfs));
  const uint64_t availAfter = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  EXPECT_LE(availAfter + kGiB / 2, avail) << "a reservation of 1 GiB left the free space as it was";
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(0, st.st_size);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kGiB);
  // The same range without KEEP_SIZE grows the file and reserves nothing
  // more; truncating to 100 bytes then gives back all but the first window
  // (generic/213).
  ASSERT_EQ(0, fallocate(fd.get(), 0, 0, kGiB)) << strerror(errno);
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_EQ(static_cast<off_t>(kGiB), st.st_size);
  EXPECT_EQ(kGiB, static_cast<uint64_t>(st.st_blocks) * 512);
  ASSERT_EQ(0, ftruncate(fd.get(), 100));
  ASSERT_EQ(0, fstat(fd.get(), &st));
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, kGiB / 1024);
}

TEST_F(MountPosix, PunchHoleKeepSizeReadsZeros) {
  const std::string content(300000, 'x');
  Fd fd(open(path("f").c_str(), O_RDWR | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(static_cast<ssize_t>(content.size()), write(fd.get(), content.data(), content.size()));
  // Punch while the writes are still pending, across chunk boundaries.
  ASSERT_EQ(0, fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 60000, 150000)) << strerror(errno);
  std::string expected = content;
  expected.replace(60000, 150000, std::string(150000, '\0'));
  std::string back(content.size(), '?');
  ASSERT_EQ(static_cast<ssize_t>(back.size()), pread(fd.get(), back.data(), back.size(), 0));
  EXPECT_TRUE(sameBytes(expected, back)) << "before close";
  // A hole reaching past the end keeps the size.
  ASSERT_EQ(0, fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 290000, 100000));
  expected.replace(290000, 10000, std::string(10000, '\0'));
  ASSERT_EQ(0, fd.close());
  EXPECT_EQ(static_cast<off_t>(content.size()), statOf(path("f")).st_size);
  EXPECT_TRUE(sameBytes(expected, readFile(path("f")))) << "after close";
}

TEST_F(MountPosix, SeekDataAndSeekHoleFindTheHoleOfASparseFile) {
  constexpr off_t kFar = 10 * kMiB;
  const std::string head(4096, 'h'), tail(4096, 't');
  {
    Fd fd(open(path("sparse").c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_TRUE(fd.ok());
    ASSERT_EQ(4096, pwrite(fd.get(), head.data(), head.size(), 0));
    ASSERT_EQ(4096, pwrite(fd.get(), tail.data(), tail.size(), kFar));
    ASSERT_EQ(0, fsync(fd.get()));
  }
  Fd fd(open(path("sparse").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  const off_t size = kFar + 4096;
  EXPECT_EQ(0, lseek(fd.get(), 0, SEEK_DATA));
  const off_t hole = lseek(fd.get(), 0, SEEK_HOLE);
  EXPECT_GE(hole, 4096) << "the hole starts after the data at 0";
  EXPECT_LT(hole, kFar) << "the hole between the two writes is found (not just the end of the file)";
  const off_t data = lseek(fd.get(), hole, SEEK_DATA);
  EXPECT_GT(data, hole);
  EXPECT_LE(data, kFar);
  EXPECT_EQ(size, lseek(fd.get(), kFar, SEEK_HOLE)) << "the implicit hole at the end";
  EXPECT_EQ("ENXIO", errnoAfter(lseek(fd.get(), size, SEEK_DATA)));
  EXPECT_EQ("ENXIO", errnoAfter(lseek(fd.get(), size + 10, SEEK_HOLE)));
  std::string expected = head + std::string(kFar - 4096, '\0') + tail;
  EXPECT_TRUE(sameBytes(expected, readFile(path("sparse"))));
}

// du and ls -s read st_blocks: a sparse file occupies its data, not its size
// (ext4: 16 KiB for this file).
TEST_F(MountPosix, SparseFileCountsOnlyItsDataInStBlocks) {
  {
    Fd fd(open(path("sparse").c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_TRUE(fd.ok());
    ASSERT_EQ(4096, pwrite(fd.get(), std::string(4096, 'h').data(), 4096, 0));
    ASSERT_EQ(4096, pwrite(fd.get(), std::string(4096, 't').data(), 4096, 10 * kMiB));
  }
  ASSERT_EQ("OK", writeFile(path("holes-only"), ""));
  ASSERT_EQ(0, truncate(path("holes-only").c_str(), 50 * kMiB));
  struct stat sparse = statOf(path("sparse")), holes = statOf(path("holes-only"));
  EXPECT_EQ(static_cast<off_t>(10 * kMiB + 4096), sparse.st_size);
  EXPECT_LT(sparse.st_blocks * 512, static_cast<blkcnt_t>(kMiB))
      << "st_blocks says " << sparse.st_blocks * 512 / 1024 << " KiB for 8 KiB of data";
  EXPECT_LT(holes.st_blocks * 512, static_cast<blkcnt_t>(kMiB))
      << "st_blocks says " << holes.st_blocks * 512 / 1024 << " KiB for a file that is all hole";
}

TEST_F(MountPosix, CopyFileRangeOfAWholeFileSharesItsContent) {
  constexpr size_t kSize = 64 * kMiB;
  const std::string content = randomBytes(kSize, 4);
  const uint64_t before = diskBytes(storeDir());
  {
    Fd src(open(path("src").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(src.ok());
    for (size_t off = 0; off < kSize; off += kMiB)
      ASSERT_EQ(static_cast<ssize_t>(kMiB), write(src.get(), content.data() + off, kMiB));
    ASSERT_EQ(0, fsync(src.get()));
  }
  const uint64_t afterWrite = diskBytes(storeDir());
  ASSERT_GT(afterWrite, before + kSize / 2) << "the store does hold the 64 MiB written (or du cannot see it)";

  Fd in(open(path("src").c_str(), O_RDONLY));
  Fd out(open(path("dst").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_TRUE(in.ok() && out.ok());
  size_t copied = 0;
  while (copied < kSize) {
    ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, kSize - copied, 0);
    ASSERT_GE(n, 0) << "copy_file_range: " << strerror(errno);
    if (n == 0) break;
    copied += static_cast<size_t>(n);
  }
  EXPECT_EQ(kSize, copied);
  ASSERT_EQ(0, fsync(out.get()));
  ASSERT_EQ(0, out.close());
  const uint64_t afterCopy = diskBytes(storeDir());
  EXPECT_LT(afterCopy, afterWrite + 8 * kMiB)
      << "the copy grew the store by " << (afterCopy - afterWrite) / kMiB << " MiB: its content is not shared";
  EXPECT_EQ(static_cast<off_t>(kSize), statOf(path("dst")).st_size);
  EXPECT_TRUE(sameBytes(content, readFile(path("dst"))));
  // The copy is a file of its own: changing it leaves the source alone.
  ASSERT_EQ("OK", writeFile(path("dst"), "changed", O_WRONLY));
  EXPECT_TRUE(sameBytes(content, readFile(path("src"))));
}

// SPEC §3, Space: content no file references any more is reclaimed — for an
// unlinked file once its last descriptor closes.
TEST_F(MountPosixTrashOff, UnlinkReclaimsSpaceOnceTheLastDescriptorCloses) {
  constexpr size_t kSize = 32 * kMiB;
  const std::string content = randomBytes(kSize, 13);
  const uint64_t empty = diskBytes(storeDir());
  ASSERT_EQ("OK", writeFile(path("big"), content));
  const uint64_t written = diskBytes(storeDir());
  ASSERT_GT(written, empty + kSize / 2) << "the store does not show the file";
  Fd fd(open(path("big").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, unlink(path("big").c_str()));
  char byte;
  EXPECT_EQ(1, pread(fd.get(), &byte, 1, kSize - 1)) << "still readable while open";
  EXPECT_GT(diskBytes(storeDir()), empty + kSize / 2) << "reclaimed while a descriptor still reads it";
  ASSERT_EQ(0, fd.close());
  EXPECT_TRUE(waitUntil([&] { return diskBytes(storeDir()) < empty + kSize / 4; }, 120))
      << "the store still holds " << (diskBytes(storeDir()) - empty) / kMiB << " MiB more than when empty";
}

TEST_F(MountPosix, CopyFileRangeOfPartsCopiesTheBytes) {
  const std::string content = randomBytes(500000, 5);
  ASSERT_EQ("OK", writeFile(path("src"), content));
  ASSERT_EQ("OK", writeFile(path("dst"), std::string(100, 'd')));
  Fd in(open(path("src").c_str(), O_RDONLY));
  Fd out(open(path("dst").c_str(), O_WRONLY));
  ASSERT_TRUE(in.ok() && out.ok());
  loff_t inOff = 1000, outOff = 50;
  ssize_t n = copy_file_range(in.get(), &inOff, out.get(), &outOff, 200000, 0);
  ASSERT_EQ(200000, n) << strerror(errno);
  ASSERT_EQ(0, out.close());
  EXPECT_TRUE(sameBytes(std::string(50, 'd') + content.substr(1000, 200000), readFile(path("dst"))));
}

TEST_F(MountPosix, CopyFileRangeOverALargerFileKeepsItsTail) {
  const std::string source = randomBytes(150000, 7), dest = randomBytes(400000, 8);
  ASSERT_EQ("OK", writeFile(path("src"), source));
  ASSERT_EQ("OK", writeFile(path("dst"), dest));
  Fd in(open(path("src").c_str(), O_RDONLY));
  Fd out(open(path("dst").c_str(), O_WRONLY));
  ASSERT_TRUE(in.ok() && out.ok());
  size_t copied = 0;
  while (copied < source.size()) {
    ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, source.size() - copied, 0);
    ASSERT_GT(n, 0) << strerror(errno);
    copied += static_cast<size_t>(n);
  }
  ASSERT_EQ(0, out.close());
  EXPECT_TRUE(sameBytes(source + dest.substr(source.size()), readFile(path("dst"))));
}

TEST_F(MountPosix, FileLargerThanTheDraftBudgetRoundTrips) {
  // 80 MiB: more than one draft holds (32 MiB), so it is committed in steps.
  constexpr size_t kSize = 80 * kMiB;
  const std::string content = randomBytes(kSize, 9);
  {
    Fd fd(open(path("big").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.ok());
    for (size_t off = 0; off < kSize; off += 4 * kMiB)
      ASSERT_EQ(static_cast<ssize_t>(4 * kMiB), write(fd.get(), content.data() + off, 4 * kMiB));
    // Read back while still open (part committed, part pending).
    Fd reader(open(path("big").c_str(), O_RDONLY));
    std::string middle(kMiB, '\0');
    ASSERT_EQ(static_cast<ssize_t>(kMiB), pread(reader.get(), middle.data(), kMiB, 70 * kMiB - 5));
    EXPECT_TRUE(sameBytes(content.substr(70 * kMiB - 5, kMiB), middle));
    ASSERT_EQ(0, fd.close());
  }
  EXPECT_TRUE(sameBytes(content, readFile(path("big"))));
  ASSERT_TRUE(restart());
  EXPECT_TRUE(sameBytes(content, readFile(path("big")))) << "after a remount";
}

// ---- mmap ------------------------------------------------------------------------------

TEST_F(MountPosix, SharedWritableMmapWritesReachTheFile) {
  const size_t size = 3 * 4096 + 100;
  std::string expected(size, 'a');
  ASSERT_EQ("OK", writeFile(path("m"), expected));
  ASSERT_EQ("OK", writeFile(path("m2"), expected));
  {
    Fd fd(open(path("m").c_str(), O_RDWR));
    ASSERT_TRUE(fd.ok());
    void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(MAP_FAILED, map) << strerror(errno);
    char* bytes = static_cast<char*>(map);
    memcpy(bytes + 5000, "hello", 5);
    memcpy(bytes + size - 5, "world", 5);
    ASSERT_EQ(0, msync(map, size, MS_SYNC)) << strerror(errno);
    expected.replace(5000, 5, "hello");
    expected.replace(size - 5, 5, "world");
    std::string viaRead(size, '\0');
    EXPECT_EQ(static_cast<ssize_t>(size), pread(fd.get(), viaRead.data(), size, 0));
    EXPECT_TRUE(sameBytes(expected, viaRead)) << "read() sees what the mapping wrote";
    ASSERT_EQ(0, munmap(map, size));
    ASSERT_EQ(0, fd.close());
  }
  {
    // No msync: munmap and close must still carry the write to the file.
    Fd fd(open(path("m2").c_str(), O_RDWR));
    ASSERT_TRUE(fd.ok());
    void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(MAP_FAILED, map) << strerror(errno);
    memcpy(static_cast<char*>(map) + 4096, "unsynced", 8);
    ASSERT_EQ(0, munmap(map, size));
    ASSERT_EQ(0, fd.close());
  }
  std::string expected2(size, 'a');
  expected2.replace(4096, 8, "unsynced");
  EXPECT_TRUE(sameBytes(expected, readFile(path("m"))));
  EXPECT_TRUE(sameBytes(expected2, readFile(path("m2"))));
  ASSERT_TRUE(restart());
  EXPECT_TRUE(sameBytes(expected, readFile(path("m")))) << "after a remount";
  EXPECT_TRUE(sameBytes(expected2, readFile(path("m2")))) << "after a remount";
}

// ---- locks between processes -------------------------------------------------------------

TEST_F(MountPosix, FlockExcludesAnotherProcess) {
  ASSERT_EQ("OK", writeFile(path("lock"), ""));
  Fd fd(open(path("lock").c_str(), O_RDWR));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, flock(fd.get(), LOCK_EX)) << strerror(errno);
  const std::string p = path("lock");
  // The child's result: 0 as expected, else the number of the step that was not.
  int step = runInChild([&] {
    int other = open(p.c_str(), O_RDWR);
    if (other < 0) return 1;
    if (flock(other, LOCK_EX | LOCK_NB) != -1 || errno != EWOULDBLOCK) return 2;
    if (flock(other, LOCK_SH | LOCK_NB) != -1 || errno != EWOULDBLOCK) return 3;
    return 0;
  });
  EXPECT_EQ(0, step) << "the second process got the lock (step " << step << ")";
  ASSERT_EQ(0, flock(fd.get(), LOCK_SH));  // downgrade: shared now
  step = runInChild([&] {
    int other = open(p.c_str(), O_RDWR);
    if (other < 0) return 1;
    if (flock(other, LOCK_SH | LOCK_NB) != 0) return 2;
    int third = open(p.c_str(), O_RDWR);
    if (flock(third, LOCK_EX | LOCK_NB) != -1 || errno != EWOULDBLOCK) return 3;
    return 0;
  });
  EXPECT_EQ(0, step) << "shared locks (step " << step << ")";
  ASSERT_EQ(0, flock(fd.get(), LOCK_UN));
  step = runInChild([&] {
    int other = open(p.c_str(), O_RDWR);
    return other >= 0 && flock(other, LOCK_EX | LOCK_NB) == 0 ? 0 : 1;
  });
  EXPECT_EQ(0, step) << "after LOCK_UN the lock is free";
}

TEST_F(MountPosix, FcntlLocksConflictBetweenProcesses) {
  ASSERT_EQ("OK", writeFile(path("lock"), std::string(1000, 'x')));
  Fd fd(open(path("lock").c_str(), O_RDWR));
  ASSERT_TRUE(fd.ok());
  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  lk.l_start = 0;
  lk.l_len = 100;
  ASSERT_EQ(0, fcntl(fd.get(), F_SETLK, &lk)) << strerror(errno);
  const std::string p = path("lock");
  const pid_t parent = getpid();
  int step = runInChild([&] {
    int other = open(p.c_str(), O_RDWR);
    if (other < 0) return 1;
    struct flock want {};
    want.l_type = F_WRLCK;
    want.l_whence = SEEK_SET;
    want.l_start = 50;
    want.l_len = 10;
    if (fcntl(other, F_SETLK, &want) != -1 || (errno != EAGAIN && errno != EACCES)) return 2;
    struct flock probe = want;
    if (fcntl(other, F_GETLK, &probe) != 0) return 3;
    if (probe.l_type != F_WRLCK || probe.l_pid != parent) return 4;
    want.l_type = F_RDLCK;
    if (fcntl(other, F_SETLK, &want) != -1 || (errno != EAGAIN && errno != EACCES)) return 5;
    want.l_type = F_WRLCK;
    want.l_start = 100;  // beside the parent's range
    want.l_len = 100;
    if (fcntl(other, F_SETLK, &want) != 0) return 6;
    return 0;
  });
  EXPECT_EQ(0, step) << "step " << step << " (2: the conflicting lock was granted; 4: F_GETLK wrong)";
  lk.l_type = F_UNLCK;
  ASSERT_EQ(0, fcntl(fd.get(), F_SETLK, &lk));
  step = runInChild([&] {
    int other = open(p.c_str(), O_RDWR);
    struct flock want {};
    want.l_type = F_WRLCK;
    want.l_whence = SEEK_SET;
    want.l_start = 0;
    want.l_len = 100;
    return other >= 0 && fcntl(other, F_SETLK, &want) == 0 ? 0 : 1;
  });
  EXPECT_EQ(0, step) << "after unlocking, the range is free";
}

// ---- visibility and durability -------------------------------------------------------------

TEST_F(MountPosix, WritesOfAnotherProcessAreVisibleBeforeItCloses) {
  int toParent[2], toChild[2];
  ASSERT_EQ(0, pipe(toParent));
  ASSERT_EQ(0, pipe(toChild));
  const std::string p = path("shared");
  fflush(nullptr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = open(p.c_str(), O_WRONLY | O_CREAT, 0644);
    char go;
    if (fd < 0 || write(fd, "first", 5) != 5) _exit(1);
    if (write(toParent[1], "1", 1) != 1 || read(toChild[0], &go, 1) != 1) _exit(2);
    if (pwrite(fd, " second", 7, 5) != 7) _exit(3);
    if (write(toParent[1], "2", 1) != 1 || read(toChild[0], &go, 1) != 1) _exit(4);
    _exit(0);  // the kernel closes fd: the commit happens now
  }
  close(toParent[1]);
  close(toChild[0]);
  char got;
  ASSERT_EQ(1, read(toParent[0], &got, 1));
  EXPECT_EQ("first", readOr(p)) << "a write not yet closed is visible at once";
  ASSERT_EQ(1, write(toChild[1], "g", 1));
  ASSERT_EQ(1, read(toParent[0], &got, 1));
  EXPECT_EQ("first second", readOr(p));
  struct stat st;
  ASSERT_EQ(0, stat(p.c_str(), &st));
  EXPECT_EQ(12, st.st_size);
  ASSERT_EQ(1, write(toChild[1], "g", 1));
  bool timedOut = false;
  EXPECT_EQ(0, waitChild(child, 60, &timedOut));
  close(toParent[0]);
  close(toChild[1]);
  ASSERT_TRUE(restart());
  EXPECT_EQ("first second", readOr(p)) << "committed when the writer exited";
}

TEST_F(MountPosix, TwoProcessesWritingOneFileBothLand) {
  const std::string p = path("shared");
  ASSERT_EQ("OK", writeFile(p, ""));
  const std::string a = randomBytes(300000, 11), b = randomBytes(300000, 12);
  auto writer = [&](const std::string& content, off_t at) {
    return [&content, at, &p] {
      int fd = open(p.c_str(), O_WRONLY);
      if (fd < 0) return 1;
      for (size_t off = 0; off < content.size(); off += 4096) {
        size_t n = std::min<size_t>(4096, content.size() - off);
        if (pwrite(fd, content.data() + off, n, at + static_cast<off_t>(off)) != static_cast<ssize_t>(n)) return 2;
      }
      return close(fd) == 0 ? 0 : 3;
    };
  };
  fflush(nullptr);
  pid_t first = fork();
  if (first == 0) _exit(writer(a, 0)());
  pid_t second = fork();
  if (second == 0) _exit(writer(b, 300000)());
  bool timedOut = false;
  EXPECT_EQ(0, waitChild(first, 60, &timedOut));
  EXPECT_EQ(0, waitChild(second, 60, &timedOut));
  EXPECT_TRUE(sameBytes(a + b, readFile(p)));
  ASSERT_TRUE(restart());
  EXPECT_TRUE(sameBytes(a + b, readFile(p))) << "after a remount";
}

TEST_F(MountPosix, ParallelWritersOfManyFilesAllLand) {
  constexpr int kWriters = 4, kFiles = 60;
  std::vector<pid_t> pids;
  fflush(nullptr);
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = fork();
    if (pid == 0) {
      const std::string dir = path("w" + std::to_string(w));
      if (mkdir(dir.c_str(), 0755) != 0) _exit(1);
      for (int i = 0; i < kFiles; ++i) {
        const std::string content = randomBytes(static_cast<size_t>(i) * 3001 % 150000, w * 1000 + i);
        if (writeFile(dir + "/f" + std::to_string(i), content) != "OK") _exit(2);
        if (i % 5 == 0 && rename((dir + "/f" + std::to_string(i)).c_str(), (dir + "/r" + std::to_string(i)).c_str()))
          _exit(3);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    bool timedOut = false;
    EXPECT_EQ(0, waitChild(pid, 120, &timedOut));
  }
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kFiles; ++i) {
      const std::string content = randomBytes(static_cast<size_t>(i) * 3001 % 150000, w * 1000 + i);
      const std::string name = "w" + std::to_string(w) + (i % 5 == 0 ? "/r" : "/f") + std::to_string(i);
      EXPECT_TRUE(sameBytes(content, readFile(path(name)))) << name;
    }
    EXPECT_EQ(static_cast<size_t>(kFiles), listDir(path("w" + std::to_string(w))).size());
  }
}

TEST_F(MountPosix, ClosedWritesSurviveUnmountAndRemountByteForByte) {
  std::vector<std::pair<std::string, std::string>> files;
  ASSERT_EQ(0, mkdir(path("dir").c_str(), 0750));
  ASSERT_EQ(0, mkdir(path("dir/sub").c_str(), 0755));
  int seed = 10;
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{4095}, size_t{65535}, size_t{65536}, size_t{65537}, kMiB + 3, 5 * kMiB}) {
    files.emplace_back("dir/sub/f" + std::to_string(size), randomBytes(size, seed++));
    files.emplace_back("f" + std::to_string(size), std::string(size, 'z'));  // dedup-friendly
  }
  for (const auto& [name, content] : files) ASSERT_EQ("OK", writeFile(path(name), content)) << name;
  ASSERT_EQ(0, symlink("dir/sub/f1", path("link").c_str()));
  ASSERT_EQ(0, link(path("f65536").c_str(), path("dir/hard").c_str()));
  ASSERT_EQ(0, chmod(path("f1").c_str(), 0604));
  const timespec times[2] = {{1600000000, 111}, {1600000001, 222222222}};
  ASSERT_EQ(0, utimensat(AT_FDCWD, path("f4095").c_str(), times, 0));

  ASSERT_TRUE(restart());
  for (const auto& [name, content] : files) EXPECT_TRUE(sameBytes(content, readFile(path(name)))) << name;
  char buf[64];
  ssize_t n = readlink(path("link").c_str(), buf, sizeof buf);
  EXPECT_EQ("dir/sub/f1", std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))));
  EXPECT_EQ(statOf(path("f65536")).st_ino, statOf(path("dir/hard")).st_ino);
  EXPECT_EQ(2u, statOf(path("dir/hard")).st_nlink);
  EXPECT_EQ(0604u, statOf(path("f1")).st_mode & 07777);
  EXPECT_EQ(0750u, statOf(path("dir")).st_mode & 07777);
  struct stat st = statOf(path("f4095"));
  EXPECT_EQ(1600000001, st.st_mtim.tv_sec);
  EXPECT_EQ(222222222, st.st_mtim.tv_nsec);
}

TEST_F(MountPosix, MtimeOfTheLastWriteIsKeptByTheCommitAtClose) {
  Fd fd(open(path("f").c_str(), O_WRONLY | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(5, write(fd.get(), "hello", 5));
  struct stat written;
  ASSERT_EQ(0, fstat(fd.get(), &written));
  sleepMs(50);  // so that a commit stamping "now" would show
  ASSERT_EQ(0, fd.close());
  struct stat closed = statOf(path("f"));
  EXPECT_EQ(written.st_mtim.tv_sec, closed.st_mtim.tv_sec);
  EXPECT_EQ(written.st_mtim.tv_nsec, closed.st_mtim.tv_nsec);
  ASSERT_TRUE(restart());
  struct stat remounted = statOf(path("f"));
  EXPECT_EQ(closed.st_mtim.tv_sec, remounted.st_mtim.tv_sec);
  EXPECT_EQ(closed.st_mtim.tv_nsec, remounted.st_mtim.tv_nsec);
}

// cp -p and rsync set the times through the descriptor before they close it.
TEST_F(MountPosix, TimesSetThroughADescriptorBeforeCloseAreKept) {
  Fd fd(open(path("f").c_str(), O_WRONLY | O_CREAT, 0644));
  ASSERT_TRUE(fd.ok());
  const std::string content = randomBytes(100000, 6);
  ASSERT_EQ(static_cast<ssize_t>(content.size()), write(fd.get(), content.data(), content.size()));
  const timespec times[2] = {{1234567890, 5}, {1234567891, 999999999}};
  ASSERT_EQ(0, futimens(fd.get(), times)) << strerror(errno);
  ASSERT_EQ(0, fd.close());
  struct stat st = statOf(path("f"));
  EXPECT_EQ(1234567891, st.st_mtim.tv_sec);
  EXPECT_EQ(999999999, st.st_mtim.tv_nsec);
  EXPECT_EQ(1234567890, st.st_atim.tv_sec);
  ASSERT_TRUE(restart());
  st = statOf(path("f"));
  EXPECT_EQ(1234567891, st.st_mtim.tv_sec);
  EXPECT_EQ(999999999, st.st_mtim.tv_nsec);
  EXPECT_EQ(1234567890, st.st_atim.tv_sec);
  // Reading comes last: relatime moves atime (it is older than mtime), as on ext4.
  EXPECT_TRUE(sameBytes(content, readFile(path("f"))));
}

TEST_F(MountPosix, RenameOverAnOpenFileKeepsItReadableThroughItsDescriptor) {
  ASSERT_EQ("OK", writeFile(path("old"), "old content"));
  ASSERT_EQ("OK", writeFile(path("new"), "new content"));
  Fd fd(open(path("old").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(0, rename(path("new").c_str(), path("old").c_str()));
  char buf[32];
  ssize_t n = pread(fd.get(), buf, sizeof buf, 0);
  EXPECT_EQ("old content", std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))));
  EXPECT_EQ("new content", readOr(path("old")));
}

// ---- parity with the native filesystem ---------------------------------------------------

// The mergerfs posix_parity idea: the same sequence of calls in a native
// directory (the filesystem of TMPDIR, ext4 here) and in the mount, and the
// same outcome — errno or resulting state — for each.
TEST_F(MountPosix, SameOutcomesAsTheNativeFilesystemForEdgeCases) {
  using Step = std::pair<const char*, std::function<std::string(const std::string&)>>;
  auto at = [](const std::string& base, const char* rel) { return base + "/" + rel; };
  auto modeOf = [](const std::string& p) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0) return "<" + errnoName(errno) + ">";
    char out[64];
    snprintf(out, sizeof out, "%o nlink=%lu", st.st_mode, static_cast<unsigned long>(st.st_nlink));
    return std::string(out);
  };
  const std::vector<Step> steps = {
      {"mkdir d", [&](auto& b) { return errnoAfter(mkdir(at(b, "d").c_str(), 0755)); }},
      {"mkdir d/sub/", [&](auto& b) { return errnoAfter(mkdir(at(b, "d/sub/").c_str(), 0755)); }},
      {"create f 07777",
       [&](auto& b) { return errnoAfter(close(open(at(b, "f").c_str(), O_WRONLY | O_CREAT, 07777))); }},
      {"mode f", [&](auto& b) { return modeOf(at(b, "f")); }},
      {"mkdir m 07777", [&](auto& b) { return errnoAfter(mkdir(at(b, "m").c_str(), 07777)); }},
      {"mode m", [&](auto& b) { return modeOf(at(b, "m")); }},
      {"unlink f/", [&](auto& b) { return errnoAfter(unlink(at(b, "f/").c_str())); }},
      {"rename f g/", [&](auto& b) { return errnoAfter(rename(at(b, "f").c_str(), at(b, "g/").c_str())); }},
      {"rename f d/sub/x/y",
       [&](auto& b) { return errnoAfter(rename(at(b, "f").c_str(), at(b, "d/sub/x/y").c_str())); }},
      {"rmdir d/.", [&](auto& b) { return errnoAfter(rmdir(at(b, "d/.").c_str())); }},
      {"rmdir d/sub/..", [&](auto& b) { return errnoAfter(rmdir(at(b, "d/sub/..").c_str())); }},
      {"rename d/sub d", [&](auto& b) { return errnoAfter(rename(at(b, "d/sub").c_str(), at(b, "d").c_str())); }},
      {"rename d d/sub/deeper",
       [&](auto& b) { return errnoAfter(rename(at(b, "d").c_str(), at(b, "d/sub/deeper").c_str())); }},
      {"exchange d d/sub",
       [&](auto& b) { return errnoAfter(renameat2Syscall(at(b, "d"), at(b, "d/sub"), RENAME_EXCHANGE)); }},
      {"rename f f", [&](auto& b) { return errnoAfter(rename(at(b, "f").c_str(), at(b, "f").c_str())); }},
      {"link f f", [&](auto& b) { return errnoAfter(link(at(b, "f").c_str(), at(b, "f").c_str())); }},
      {"link f h", [&](auto& b) { return errnoAfter(link(at(b, "f").c_str(), at(b, "h").c_str())); }},
      {"rename f h (same inode)", [&](auto& b) { return errnoAfter(rename(at(b, "f").c_str(), at(b, "h").c_str())); }},
      {"f still there", [&](auto& b) { return modeOf(at(b, "f")); }},
      {"h still there", [&](auto& b) { return modeOf(at(b, "h")); }},
      {"symlink loop", [&](auto& b) { return errnoAfter(symlink("loop", at(b, "loop").c_str())); }},
      {"open loop", [&](auto& b) { return errnoAfter(open(at(b, "loop").c_str(), O_RDONLY)); }},
      {"link to symlink", [&](auto& b) { return errnoAfter(link(at(b, "loop").c_str(), at(b, "loop2").c_str())); }},
      {"mode loop2", [&](auto& b) { return modeOf(at(b, "loop2")); }},
      {"user xattr on symlink",
       [&](auto& b) { return errnoAfter(lsetxattr(at(b, "loop").c_str(), "user.a", "1", 1, 0)); }},
      {"chmod nofollow on symlink",
       [&](auto& b) { return errnoAfter(fchmodat(AT_FDCWD, at(b, "loop").c_str(), 0700, AT_SYMLINK_NOFOLLOW)); }},
      {"open O_CREAT|O_DIRECTORY",
       [&](auto& b) { return errnoAfter(open(at(b, "newdir").c_str(), O_CREAT | O_DIRECTORY | O_RDONLY, 0644)); }},
      {"newdir absent", [&](auto& b) { return modeOf(at(b, "newdir")); }},
      {"mknod chr", [&](auto& b) { return errnoAfter(mknod(at(b, "chr").c_str(), S_IFCHR | 0600, makedev(1, 3))); }},
      {"mode chr", [&](auto& b) { return modeOf(at(b, "chr")); }},
      {"rdev chr",
       [&](auto& b) {
         struct stat st;
         return lstat(at(b, "chr").c_str(), &st) == 0
                    ? std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev))
                    : errnoName(errno);
       }},
      {"xattr create|replace",
       [&](auto& b) {
         return errnoAfter(setxattr(at(b, "f").c_str(), "user.x", "1", 1, XATTR_CREATE | XATTR_REPLACE));
       }},
      {"getxattr missing on dir",
       [&](auto& b) { return errnoAfter(getxattr(at(b, "d").c_str(), "user.none", nullptr, 0)); }},
      {"write to O_RDONLY",
       [&](auto& b) {
         Fd fd(open(at(b, "f").c_str(), O_RDONLY));
         return errnoAfter(write(fd.get(), "x", 1));
       }},
      {"read from O_WRONLY",
       [&](auto& b) {
         Fd fd(open(at(b, "f").c_str(), O_WRONLY));
         char c;
         return errnoAfter(read(fd.get(), &c, 1));
       }},
      {"ftruncate O_RDONLY",
       [&](auto& b) {
         Fd fd(open(at(b, "f").c_str(), O_RDONLY));
         return errnoAfter(ftruncate(fd.get(), 0));
       }},
      {"truncate -1", [&](auto& b) { return errnoAfter(truncate(at(b, "f").c_str(), -1)); }},
      {"SEEK_DATA on empty",
       [&](auto& b) {
         Fd fd(open(at(b, "f").c_str(), O_RDONLY));
         return errnoAfter(lseek(fd.get(), 0, SEEK_DATA));
       }},
      {"SEEK_HOLE on empty",
       [&](auto& b) {
         Fd fd(open(at(b, "f").c_str(), O_RDONLY));
         return errnoAfter(lseek(fd.get(), 0, SEEK_HOLE));
       }},
      {"pread at negative",
       [&](auto& b) {
         Fd fd(open(at(b, "f").c_str(), O_RDONLY));
         char c;
         return errnoAfter(pread(fd.get(), &c, 1, -1));
       }},
      {"utimensat missing",
       [&](auto& b) { return errnoAfter(utimensat(AT_FDCWD, at(b, "missing").c_str(), nullptr, 0)); }},
      {"rename d m (empty)", [&](auto& b) { return errnoAfter(rename(at(b, "d").c_str(), at(b, "m").c_str())); }},
      {"mode m after", [&](auto& b) { return modeOf(at(b, "m")); }},
      {"mode root after", [&](auto& b) { return modeOf(b).substr(modeOf(b).find(' ')); }},
      {"rmdir m (non-empty)", [&](auto& b) { return errnoAfter(rmdir(at(b, "m").c_str())); }},
      {"rmdir m/sub", [&](auto& b) { return errnoAfter(rmdir(at(b, "m/sub").c_str())); }},
      {"mode m after rmdir", [&](auto& b) { return modeOf(at(b, "m")); }},
      {"exchange f with missing",
       [&](auto& b) { return errnoAfter(renameat2Syscall(at(b, "f"), at(b, "nothing"), RENAME_EXCHANGE)); }},
      {"noreplace onto itself",
       [&](auto& b) { return errnoAfter(renameat2Syscall(at(b, "f"), at(b, "f"), RENAME_NOREPLACE)); }},
      {"write abc", [&](auto& b) { return writeFile(at(b, "t"), "abc"); }},
      {"open O_WRONLY|O_APPEND|O_TRUNC",
       [&](auto& b) { return errnoAfter(close(open(at(b, "t").c_str(), O_WRONLY | O_APPEND | O_TRUNC))); }},
      {"content after O_APPEND|O_TRUNC", [&](auto& b) { return readOr(at(b, "t")); }},
      {"open dir O_RDONLY|O_TRUNC", [&](auto& b) { return errnoAfter(open(at(b, "m").c_str(), O_RDONLY | O_TRUNC)); }},
      {"chown -1 -1", [&](auto& b) { return errnoAfter(chown(at(b, "t").c_str(), -1, -1)); }},
      {"mkdir x//", [&](auto& b) { return errnoAfter(mkdir(at(b, "x//").c_str(), 0755)); }},
  };
  const std::string native = scratchDir() + "/parity", mounted = path("parity");
  ASSERT_EQ(0, mkdir(native.c_str(), 0755));
  ASSERT_EQ(0, mkdir(mounted.c_str(), 0755));
  const mode_t old = umask(022);
  std::string differences;
  for (const auto& [what, step] : steps) {
    const std::string expected = step(native), actual = step(mounted);
    if (expected != actual) differences += std::string("\n  ") + what + ": native " + expected + ", acidfs " + actual;
  }
  umask(old);
  EXPECT_TRUE(differences.empty()) << "outcomes that differ from the native filesystem:" << differences;
}

// ---- robustness ------------------------------------------------------------------------------

TEST_F(MountPosix, BadRequestsGetErrorsAndTheDaemonLivesOn) {
  ASSERT_EQ("OK", writeFile(path("f"), "still here"));
  const std::string value(100, 'v');
  ASSERT_EQ(0, setxattr(path("f").c_str(), "user.big", value.data(), value.size(), 0));
  char tiny[4];
  EXPECT_EQ("ERANGE", errnoAfter(getxattr(path("f").c_str(), "user.big", tiny, sizeof tiny)));
  EXPECT_EQ("ERANGE", errnoAfter(listxattr(path("f").c_str(), tiny, 2)));
  EXPECT_EQ(100, getxattr(path("f").c_str(), "user.big", nullptr, 0)) << "size query";
  EXPECT_EQ("EOPNOTSUPP", errnoAfter(setxattr(path("f").c_str(), "system.bogus", "x", 1, 0)));
  EXPECT_EQ("EINVAL", errnoAfter(renameat2Syscall(path("f"), path("g"), 0x80)));  // unknown flag
  Fd fd(open(path("f").c_str(), O_RDONLY));
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ("EINVAL", errnoAfter(lseek(fd.get(), 0, 42)));
  EXPECT_EQ("EBADF", errnoAfter(write(fd.get(), "x", 1)));
  fd.reset(open(path("f").c_str(), O_RDWR));
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ("EOPNOTSUPP", errnoAfter(fallocate(fd.get(), FALLOC_FL_COLLAPSE_RANGE, 0, 65536)));
  EXPECT_EQ("EINVAL", errnoAfter(fallocate(fd.get(), 0, 0, 0)));
  fd.reset();

  EXPECT_TRUE(daemonAlive()) << "a bad request took the daemon down";
  EXPECT_EQ("still here", readOr(path("f")));
  ASSERT_EQ("OK", writeFile(path("after"), "works"));
  EXPECT_EQ("works", readOr(path("after")));
  EXPECT_EQ(std::string(100, 'v'), xattrOf(path("f"), "user.big"));
}

// ---- file handles (name_to_handle_at / open_by_handle_at; xfstests generic/426, 477)

// A handle's bytes, as name_to_handle_at gives them.
std::optional<std::vector<char>> handleOf(const std::string& p) {
  std::vector<char> buf(sizeof(file_handle) + MAX_HANDLE_SZ);
  auto* h = reinterpret_cast<file_handle*>(buf.data());
  h->handle_bytes = MAX_HANDLE_SZ;
  int mountId = 0;
  if (name_to_handle_at(AT_FDCWD, p.c_str(), h, &mountId, 0) != 0) return std::nullopt;
  return buf;
}

TEST_F(MountPosix, FileHandlesOpenTheirFilesAfterTheDaemonRestartsAndAreStaleOnceUnlinked) {
  ASSERT_EQ("OK", writeFile(path("kept"), "kept content"));
  ASSERT_EQ("OK", writeFile(path("gone"), "gone content"));
  ASSERT_EQ(0, mkdir(path("dir").c_str(), 0755));
  ASSERT_EQ("OK", writeFile(path("dir/inner"), "inner"));
  auto kept = handleOf(path("kept"));
  auto gone = handleOf(path("gone"));
  auto dir = handleOf(path("dir"));
  ASSERT_TRUE(kept && gone && dir) << strerror(errno);
  ASSERT_EQ(0, unlink(path("gone").c_str()));
  // A new daemon and a new kernel mount: nothing cached knows the inodes.
  ASSERT_TRUE(restart());
  Fd mountFd(open(mountpoint().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(mountFd.ok());
  Fd file(open_by_handle_at(mountFd.get(), reinterpret_cast<file_handle*>(kept->data()), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file.ok()) << "open_by_handle_at of a linked file: " << errnoName(errno);
  char buf[64] = {0};
  EXPECT_EQ(12, pread(file.get(), buf, sizeof buf, 0));
  EXPECT_STREQ("kept content", buf);
  // A directory is reconnected to its parent (a lookup of "..").
  Fd d(open_by_handle_at(mountFd.get(), reinterpret_cast<file_handle*>(dir->data()), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(d.ok()) << "open_by_handle_at of a directory: " << errnoName(errno);
  EXPECT_EQ("inner", readOr(path("dir/inner")));
  struct stat st;
  EXPECT_EQ(0, fstatat(d.get(), "inner", &st, 0));
  EXPECT_EQ("ESTALE", errnoAfter(open_by_handle_at(mountFd.get(), reinterpret_cast<file_handle*>(gone->data()),
                                                   O_RDONLY | O_CLOEXEC)));
}

}  // namespace
}  // namespace acidfs::mounttest
