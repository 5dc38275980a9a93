// `acidfs log` and `acidfs undelete` in the core (core/history.h,
// CasOps::undelete): versions of a path newest first, also once the path
// and its directories are gone; a restore in one transaction, byte-exact,
// with modes and times, onto an absent destination unless forced; only
// for a caller who could read the version.
#include "core/history.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::StoreFixture;
using testing::writeFile;

constexpr int64_t kStart = 1'800'000'000ll * 1'000'000'000;
const Caller kAlice = Caller::of(1000, 1000);
const Caller kBob = Caller::of(1001, 1001);

class HistoryTest : public StoreFixture {
 protected:
  HistoryTest() {
    options_.clock = clock_;
    options_.trashSeconds = 24 * 3600;
    options_.gcIntervalSeconds = 0;
  }

  std::vector<PathVersion> log(const std::string& path, const Caller& caller = Caller::root()) {
    auto found = store_->history().log(caller, path);
    EXPECT_TRUE(found.ok()) << path << ": " << found.status().toString();
    return found.ok() ? *found : std::vector<PathVersion>();
  }
  std::string contentAt(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    if (!st.ok()) return "<" + code(st.status()) + ">";
    std::string out;
    EXPECT_EQ("OK", code(ns().read(st->ino, 0, st->inode.size, out)));
    return out;
  }
  uint64_t dir(uint64_t parent, const std::string& name, uint32_t mode = 0755, const Caller& who = Caller::root()) {
    auto made = ns().mkdir(who, parent, name, mode);
    EXPECT_TRUE(made.ok()) << made.status().toString();
    return made.ok() ? made->ino : 0;
  }
  // rm -rf of `parent/name`, children first, as rm does.
  void removeTree(uint64_t parent, const std::string& name) {
    auto at = ns().lookup(parent, name);
    ASSERT_TRUE(at.ok());
    if (!at->inode.isDir()) {
      ASSERT_TRUE(ns().unlink(parent, name).ok());
      return;
    }
    std::vector<std::string> names;
    ASSERT_TRUE(ns().readdir(at->ino, 0, [&](const DirEntry& e) {
                      names.push_back(e.name);
                      return true;
                    }).ok());
    for (const std::string& n : names) removeTree(at->ino, n);
    ASSERT_TRUE(ns().rmdir(parent, name).ok());
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kStart);
};

TEST_F(HistoryTest, LogListsEveryVersionOfAPathNewestFirst) {
  const uint64_t f = makeFile(kRootIno, "doc", "v1");
  clock_->advance(1000);
  ASSERT_TRUE(writeFile(ns(), f, 0, "v2").ok());
  clock_->advance(1000);
  ASSERT_TRUE(ns().unlink(kRootIno, "doc").ok());
  clock_->advance(1000);
  makeFile(kRootIno, "doc", "v3");
  std::vector<PathVersion> versions = log("/doc");
  ASSERT_EQ(2u, versions.size());
  EXPECT_EQ(DropCause::kUnlink, versions[0].record.cause);
  EXPECT_EQ(2u, versions[0].record.size);
  EXPECT_EQ(DropCause::kWrite, versions[1].record.cause);
  EXPECT_GT(versions[0].record.droppedNs, versions[1].record.droppedNs);
}

TEST_F(HistoryTest, AnRmRfOfAThousandFilesComesBackWholeInOneUndelete) {
  const uint64_t top = dir(kRootIno, "work", 0750);
  std::vector<std::string> contents;
  for (int d = 0; d < 10; ++d) {
    const uint64_t sub = dir(top, "d" + std::to_string(d), 0700 + d);
    for (int i = 0; i < 100; ++i) {
      contents.push_back(testing::randomBytes(100 + 37 * i, d * 1000 + i));
      makeFile(sub, "f" + std::to_string(i), contents.back(), 0600 + (i % 8) * 010);
    }
  }
  removeTree(kRootIno, "work");
  ASSERT_EQ("<ENOENT>", contentAt("/work/d0/f0"));
  std::vector<PathVersion> versions = log("/work");
  ASSERT_EQ(1u, versions.size());
  auto restored = cas().undelete(Caller::root(), versions[0].key, "/work", false);
  ASSERT_TRUE(restored.ok()) << restored.status().toString();
  EXPECT_EQ(static_cast<uint32_t>(S_IFDIR | 0750), restored->inode.mode);
  size_t n = 0;
  for (int d = 0; d < 10; ++d) {
    auto sub = cas().stat(Caller::root(), "/work/d" + std::to_string(d));
    ASSERT_TRUE(sub.ok());
    EXPECT_EQ(static_cast<uint32_t>(S_IFDIR | (0700 + d)), sub->inode.mode);
    for (int i = 0; i < 100; ++i, ++n) {
      const std::string path = "/work/d" + std::to_string(d) + "/f" + std::to_string(i);
      EXPECT_EQ(contents[n], contentAt(path)) << path;
      EXPECT_EQ(static_cast<uint32_t>(S_IFREG | (0600 + (i % 8) * 010)), cas().stat(Caller::root(), path)->inode.mode);
    }
  }
}

TEST_F(HistoryTest, AFileInADeletedDirectoryIsFoundByItsOldPath) {
  const uint64_t d = dir(kRootIno, "old");
  makeFile(d, "keep.txt", "precious");
  removeTree(kRootIno, "old");
  std::vector<PathVersion> versions = log("/old/keep.txt");
  ASSERT_EQ(1u, versions.size());
  auto restored = cas().undelete(Caller::root(), versions[0].key, "/keep.txt", false);
  ASSERT_TRUE(restored.ok()) << restored.status().toString();
  EXPECT_EQ("precious", contentAt("/keep.txt"));
  EXPECT_EQ("ENOENT", code(store_->history().log(Caller::root(), "/never/there").status()));
}

TEST_F(HistoryTest, AnOverwrittenVersionComesBackOverTheFileOnlyWithForce) {
  const uint64_t f = makeFile(kRootIno, "cfg", "good settings");
  const int64_t goodMtime = ns().getattr(f)->inode.mtimeNs;
  clock_->advance(5'000'000'000);
  SetAttrRequest truncate;
  truncate.size = 0;
  ASSERT_TRUE(ns().setattr(f, truncate).ok());
  ASSERT_TRUE(writeFile(ns(), f, 0, "bad").ok());
  std::vector<PathVersion> versions = log("/cfg");
  ASSERT_EQ(1u, versions.size()) << "the truncate dropped it; the write replaced only the empty file";
  const std::string before = contentAt("/cfg");
  auto refused = cas().undelete(Caller::root(), versions[0].key, "/cfg", false);
  ASSERT_TRUE(refused.status().isConflict());
  EXPECT_EQ(ConflictCode::kDestExists, refused.status().conflict()->code);
  EXPECT_EQ(before, contentAt("/cfg")) << "a refused undelete changes nothing";
  clock_->advance(1000);
  auto restored = cas().undelete(Caller::root(), versions[0].key, "/cfg", true);
  ASSERT_TRUE(restored.ok()) << restored.status().toString();
  EXPECT_EQ("good settings", contentAt("/cfg"));
  EXPECT_EQ(goodMtime, restored->inode.mtimeNs) << "times come back too";
  EXPECT_EQ(DropCause::kUnlink, log("/cfg")[0].record.cause) << "the replaced file went to the trash in turn";
}

TEST_F(HistoryTest, OnlyACallerWhoCouldReadAVersionSeesOrRestoresIt) {
  const uint64_t shared = dir(kRootIno, "shared", 01777);
  makeFile(shared, "alice-private", "secret", 0600, kAlice);
  makeFile(shared, "alice-public", "hello", 0644, kAlice);
  ASSERT_TRUE(ns().unlink(shared, "alice-private").ok());
  ASSERT_TRUE(ns().unlink(shared, "alice-public").ok());
  EXPECT_TRUE(log("/shared/alice-private", kBob).empty());
  EXPECT_EQ(1u, log("/shared/alice-private", kAlice).size());
  const std::string key = log("/shared/alice-private")[0].key;
  auto denied = cas().undelete(kBob, key, "/shared/mine", false);
  EXPECT_EQ("EACCES", code(denied.status()));
  EXPECT_EQ("<ENOENT>", contentAt("/shared/mine"));
  // Bob may restore what he could read; the copy is his.
  auto restored = cas().undelete(kBob, log("/shared/alice-public", kBob)[0].key, "/shared/copy", false);
  ASSERT_TRUE(restored.ok()) << restored.status().toString();
  EXPECT_EQ(kBob.uid, restored->inode.uid);
  // Restoring needs what creating the destination needs.
  dir(kRootIno, "alices", 0755, kAlice);
  EXPECT_EQ("EACCES", code(cas().undelete(kBob, log("/shared/alice-public", kBob)[0].key, "/alices/x", false).status()));
}

TEST_F(HistoryTest, AVersionThatExpiredCannotBeRestored) {
  makeFile(kRootIno, "f", "short-lived");
  ASSERT_TRUE(ns().unlink(kRootIno, "f").ok());
  const std::string key = log("/f")[0].key;
  clock_->advance(25ll * 3600 * 1'000'000'000);
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  EXPECT_EQ("ENOENT", code(cas().undelete(Caller::root(), key, "/f", false).status()));
  EXPECT_TRUE(log("/f").empty());
}

}  // namespace
}  // namespace acidfs
