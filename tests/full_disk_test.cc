// A full disk under the store (SPEC §3: a full disk loses nothing; issue 11
// item 3). Each test puts its store on a fresh 8 MiB tmpfs in a mount
// namespace of its own, fills it, and checks that the callers get ENOSPC,
// that nothing committed is lost, that reads go on, that removing files
// makes room for new ones, and that nothing aborts the process.
//
// Mounting a tmpfs needs CAP_SYS_ADMIN: as root (CI) in a private mount
// namespace, otherwise in a user namespace; where neither is allowed the
// tests skip, saying so.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "core/file_drafts.h"
#include "core/fsck.h"
#include "core/meta_db.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::randomBytes;
using testing::TempDir;

bool writeTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out.flush());
}

// Private mount namespace for the whole process, set up before any test
// (and so before any thread: unshare(CLONE_NEWNS) needs a lone thread).
std::string& namespaceProblem() {
  static std::string problem;
  return problem;
}

class MountNamespace : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) {
      const uid_t uid = geteuid();
      const gid_t gid = getegid();
      if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        namespaceProblem() = std::string("not root, and no user namespace: ") + strerror(errno);
        return;
      }
      writeTextFile("/proc/self/setgroups", "deny");
      writeTextFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
      writeTextFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
    } else if (unshare(CLONE_NEWNS) != 0) {
      namespaceProblem() = std::string("unshare(CLONE_NEWNS): ") + strerror(errno);
      return;
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      namespaceProblem() = std::string("making / private: ") + strerror(errno);
  }
};
const auto* const kNamespace = ::testing::AddGlobalTestEnvironment(new MountNamespace);

constexpr uint64_t kDiskBytes = 8u << 20;

class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!namespaceProblem().empty())
      GTEST_SKIP() << "SKIPPED LOUDLY: cannot mount a tmpfs to fill (" << namespaceProblem() << ")";
    disk_ = dir_.path() + "/disk";
    ASSERT_EQ(0, mkdir(disk_.c_str(), 0755));
    ASSERT_EQ(0, mount("tmpfs", disk_.c_str(), "tmpfs", 0, ("size=" + std::to_string(kDiskBytes)).c_str()))
        << strerror(errno);
    mounted_ = true;
    options_.chunkSize = 16 * 1024;
    options_.inlineMax = 1024;  // most content goes to segment files
    options_.commitIntervalSeconds = 0;
    openStore();
  }
  void TearDown() override {
    drafts_.reset();
    store_.reset();
    if (mounted_) umount2(disk_.c_str(), MNT_DETACH);
  }

  std::string storePath() const { return disk_ + "/store"; }
  void openStore() {
    auto opened = Store::open(storePath(), options_);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    store_ = std::move(opened.value());
    drafts_ = std::make_unique<FileDrafts>(store_->ns(), store_->content(), 1u << 20);
  }
  void closeStore() {
    drafts_.reset();
    store_.reset();
  }

  // Creates `name` holding `content` the way a FUSE create + write + close
  // does; the first error, or the inode.
  Result<uint64_t> createFile(const std::string& name, const std::string& content) {
    ACIDFS_ASSIGN_OR_RETURN(Attr attr, store_->ns().mknod(Caller::root(), kRootIno, name, S_IFREG | 0644, 0));
    ACIDFS_RETURN_IF_ERROR(drafts_->write(attr.ino, 0, content));
    ACIDFS_RETURN_IF_ERROR(drafts_->commit(attr.ino));
    return attr.ino;
  }
  // Removes `name` as a FUSE unlink does (no one has it open).
  Status removeFile(const std::string& name) {
    ACIDFS_ASSIGN_OR_RETURN(Unlinked gone, store_->ns().unlink(kRootIno, name));
    store_->ns().releaseIfUnused(gone);
    return Status::OK();
  }
  std::string readFile(const std::string& name) {
    auto entry = store_->ns().lookup(kRootIno, name);
    if (!entry.ok()) return "<" + entry.status().toString() + ">";
    std::string out;
    Status s = store_->ns().read(entry->ino, 0, 1u << 20, out);
    return s.ok() ? out : "<" + s.toString() + ">";
  }
  static std::string contentOf(int i) { return randomBytes(3000 + (i % 7) * 1000, i); }

  // Creates files until the store answers ENOSPC; returns how many it took.
  // Any other error fails the test.
  int fillWithFiles(int first) {
    for (int i = first; i < first + 100000; ++i) {
      auto made = createFile("f" + std::to_string(i), contentOf(i));
      if (made.ok()) continue;
      EXPECT_EQ("ENOSPC", code(made)) << made.status().toString();
      // A refused create leaves no name behind... or an empty file, when
      // the name committed and its content did not: remove that.
      if (store_->ns().lookup(kRootIno, "f" + std::to_string(i)).ok()) {
        EXPECT_EQ("OK", code(removeFile("f" + std::to_string(i))));
      }
      return i - first;
    }
    ADD_FAILURE() << "an 8 MiB filesystem took 100,000 files";
    return 0;
  }
  // Fills what is left of the filesystem with a file of zeros.
  void fillBehindTheStoresBack() {
    int fd = ::open((disk_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_GE(fd, 0);
    std::string block(64 * 1024, 'z');
    for (size_t size = block.size(); size >= 512; size /= 2)
      while (::write(fd, block.data(), size) == static_cast<ssize_t>(size)) {
      }
    ::close(fd);
  }
  void expectClean() {
    auto report = fsckStore(*store_, false);
    ASSERT_TRUE(report.ok()) << report.status().toString();
    EXPECT_TRUE(report->clean()) << (report->findings.empty() ? "" : report->findings.front());
  }

  TempDir dir_;
  std::string disk_;
  bool mounted_ = false;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<FileDrafts> drafts_;
};

TEST_F(FullDisk, FillingUpAnswersEnospcAndRemovingFilesMakesRoomAgain) {
  const int made = fillWithFiles(0);
  ASSERT_GT(made, 100) << "the guard keeps too much of an 8 MiB filesystem back";
  // Nothing that committed is lost; reads still work.
  for (int i = 0; i < made; i += 37) ASSERT_EQ(contentOf(i), readFile("f" + std::to_string(i))) << "f" << i;
  // Full for growth, never for removals: a third of the files go.
  for (int i = 0; i < made; i += 3)
    ASSERT_EQ("OK", code(removeFile("f" + std::to_string(i)))) << "f" << i;
  // ... and their room takes new files again.
  auto again = createFile("again", "written after the removals");
  ASSERT_EQ("OK", code(again)) << again.status().toString();
  EXPECT_EQ("OK", code(store_->sync()));
  expectClean();

  closeStore();
  openStore();
  for (int i = 0; i < made; ++i) {
    const std::string name = "f" + std::to_string(i);
    if (i % 3 == 0) {
      EXPECT_EQ("ENOENT", code(store_->ns().lookup(kRootIno, name))) << name;
    } else {
      ASSERT_EQ(contentOf(i), readFile(name)) << name;
    }
  }
  EXPECT_EQ("written after the removals", readFile("again"));
  expectClean();
}

TEST_F(FullDisk, DiskFilledBehindTheStoresBackStopsWritesUntilThereIsRoom) {
  // Enough in the log that the guard's flush has work to do; then another
  // process takes every free byte, again and again. Whatever the store
  // manages to commit meanwhile (a flush gives room back) it keeps; the rest
  // is ENOSPC; RocksDB itself may fail a write and stop taking them.
  for (int i = 0; i < 300; ++i) ASSERT_EQ("OK", code(createFile("f" + std::to_string(i), contentOf(i))));
  std::map<std::string, std::string> late;
  int refused = 0, stopped = 0;
  for (int i = 0; i < 40; ++i) {
    fillBehindTheStoresBack();
    const std::string name = "late" + std::to_string(i);
    auto made = createFile(name, contentOf(1000 + i));
    if (made.ok()) {
      late[name] = contentOf(1000 + i);
    } else {
      ++refused;
      EXPECT_EQ("ENOSPC", code(made)) << made.status().toString();
      if (store_->ns().lookup(kRootIno, name).ok()) late[name] = "";  // the name committed, the content did not
    }
    if (store_->db().writesStopped() != 0) ++stopped;
    Status synced = store_->sync();  // must not touch a log whose write failed
    EXPECT_TRUE(synced.ok() || synced.errnum() == ENOSPC) << synced.toString();
    EXPECT_EQ(contentOf(7), readFile("f7"));
  }
  EXPECT_GT(refused, 0) << "a full disk never said ENOSPC";
  std::printf("%d of 40 creates on a full disk refused; RocksDB had stopped taking writes after %d\n", refused,
              stopped);

  ASSERT_EQ(0, unlink((disk_ + "/filler").c_str()));
  auto made = createFile("after", "written once there was room");
  ASSERT_EQ("OK", code(made)) << made.status().toString();
  EXPECT_EQ("OK", code(store_->sync()));

  closeStore();
  openStore();
  for (int i = 0; i < 300; ++i) ASSERT_EQ(contentOf(i), readFile("f" + std::to_string(i))) << "f" << i;
  for (const auto& [name, content] : late) EXPECT_EQ(content, readFile(name)) << name;
  EXPECT_EQ("written once there was room", readFile("after"));
  expectClean();
}

TEST_F(FullDisk, OpeningOnAFullDiskIsRefusedCleanlyAndWorksOnceThereIsRoom) {
  for (int i = 0; i < 200; ++i) ASSERT_EQ("OK", code(createFile("f" + std::to_string(i), contentOf(i))));
  closeStore();
  fillBehindTheStoresBack();
  // The open needs room to write the tables of its log; it must say so,
  // not abort. (Or, if RocksDB found the room, open.)
  {
    auto opened = Store::open(storePath(), options_);
    if (!opened.ok()) {
      EXPECT_EQ("ENOSPC", code(opened)) << opened.status().toString();
    }
  }  // closed again here, if it opened
  // The offline check needs no room at all.
  FsckOptions check;
  auto report = fsckStore(storePath(), check);
  ASSERT_TRUE(report.ok()) << report.status().toString();
  EXPECT_TRUE(report->clean()) << (report->findings.empty() ? "" : report->findings.front());

  ASSERT_EQ(0, unlink((disk_ + "/filler").c_str()));
  openStore();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(contentOf(i), readFile("f" + std::to_string(i))) << "f" << i;
  expectClean();
}

// The rule for a draft whose commit fails (file_drafts.h): dropped, the file
// keeps its committed content, and the loss is reported to the committer and
// to the file's next fsync or close, once.
TEST_F(FullDisk, AFailedCommitDropsTheDraftAndTheNextCloseReportsIt) {
  auto small = createFile("kept", "committed before the disk filled");
  ASSERT_EQ("OK", code(small));
  fillWithFiles(0);
  // A write the background committer fails to commit (commitOlderThan)...
  const std::string big = randomBytes(512 * 1024, 99);
  ASSERT_EQ("OK", code(drafts_->write(*small, 0, big)));
  EXPECT_EQ("ENOSPC", code(drafts_->commitAll()));
  EXPECT_FALSE(drafts_->hasDraft(*small)) << "a draft that failed to commit stays to eat space later";
  EXPECT_EQ("committed before the disk filled", readFile("kept"));
  // ... is reported by the file's next close, once.
  EXPECT_EQ("ENOSPC", code(drafts_->commit(*small)));
  EXPECT_EQ("OK", code(drafts_->commit(*small)));
  // A write whose own commit (its close) fails: that close hears it, and
  // nothing is left to commit later.
  ASSERT_EQ("OK", code(drafts_->write(*small, 0, big)));
  EXPECT_EQ("ENOSPC", code(drafts_->commit(*small)));
  EXPECT_EQ("OK", code(drafts_->commitAll()));
  EXPECT_EQ("committed before the disk filled", readFile("kept"));
  expectClean();
}

// fallocate's promise (core/reservations.h): space reserved for a file's
// holes is not taken by other writes, so writing the reserved range succeeds
// on a disk that is otherwise full.
TEST_F(FullDisk, WritesIntoAReservedRangeSucceedWhenOtherWritesFindTheDiskFull) {
  constexpr uint64_t kReserved = 1u << 20;
  auto held = createFile("held", "");
  ASSERT_EQ("OK", code(held));
  ASSERT_EQ("OK", code(store_->ns().allocate(*held, 0, kReserved, /*keepSize=*/false)));
  EXPECT_EQ(kReserved, store_->reservedBytes());
  const int made = fillWithFiles(0);
  ASSERT_GT(made, 10);
  // Others are refused; the reserved range takes its bytes, none of them zero.
  const std::string content = randomBytes(kReserved, 7);
  for (uint64_t at = 0; at < kReserved; at += 256 * 1024) {
    ASSERT_EQ("OK", code(drafts_->write(*held, at, std::string_view(content).substr(at, 256 * 1024)))) << at;
    ASSERT_EQ("OK", code(drafts_->commit(*held))) << "a write into reserved windows refused at " << at;
  }
  EXPECT_EQ(content, readFile("held"));
  EXPECT_EQ(0u, store_->reservedBytes()) << "written windows are no longer reserved";
  EXPECT_EQ("ENOSPC", code(createFile("after", randomBytes(256 * 1024, 8))));
  expectClean();
}

// xfstests generic/103: fallocate of all the space statfs shows available,
// less 512 KiB, succeeds; the space shown then is what is left.
TEST_F(FullDisk, FallocateTakesAllTheSpaceStatfsShowsAvailable) {
  auto file = createFile("spc", "");
  ASSERT_EQ("OK", code(file));
  auto before = store_->space();
  ASSERT_EQ("OK", code(before));
  ASSERT_GT(before->available, 1u << 20);
  EXPECT_LT(before->available, before->free) << "the space guard's floor is not shown as available";
  ASSERT_EQ("OK", code(store_->ns().allocate(*file, 0, before->available - (512u << 10), /*keepSize=*/false)));
  auto after = store_->space();
  ASSERT_EQ("OK", code(after));
  EXPECT_LE(after->available, 512u << 10);
  EXPECT_EQ("ENOSPC", code(store_->ns().allocate(*file, before->available, 1u << 20, false)));
  expectClean();
}

TEST_F(FullDisk, ReservingMoreThanIsFreeIsEnospcAndChangesNothing) {
  auto file = createFile("f", "abc");
  ASSERT_EQ("OK", code(file));
  EXPECT_EQ("ENOSPC", code(store_->ns().allocate(*file, 0, 2 * kDiskBytes, /*keepSize=*/false)));
  auto attr = store_->ns().getattr(*file);
  ASSERT_EQ("OK", code(attr));
  EXPECT_EQ(3u, attr->inode.size);
  EXPECT_TRUE(attr->inode.reserved.empty());
  EXPECT_EQ(0u, store_->reservedBytes());
  // What fits is reserved; the next request that does not fit is refused.
  ASSERT_EQ("OK", code(store_->ns().allocate(*file, 0, 2u << 20, true)));
  EXPECT_EQ("ENOSPC", code(store_->ns().allocate(*file, 0, kDiskBytes, true)));
  EXPECT_EQ(2u << 20, store_->reservedBytes() + options_.chunkSize) << "window 0 holds data: not reserved";
  expectClean();
}

}  // namespace
}  // namespace acidfs
