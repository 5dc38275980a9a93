// relatime held in memory (core/access_times.h): what a stat shows at once,
// what persist() writes, and what it must never overwrite.
#include "core/access_times.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/format.h"
#include "core/meta_engine.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::StoreFixture;
using testing::writeFile;

class AccessTimesTest : public StoreFixture {
 protected:
  int64_t storedAtime(uint64_t ino) { return ns().getattr(ino)->inode.atimeNs; }
  // Puts atime before mtime, as a file modified since its last read has it.
  void makeUnread(uint64_t ino) {
    SetAttrRequest r;
    r.atimeNs = 1'000'000'000;
    r.mtimeNs = 2'000'000'000;
    ASSERT_TRUE(ns().setattr(ino, r).ok());
  }
};

TEST_F(AccessTimesTest, AReadAfterAChangeMovesAtimeAtOnceAndPersistWritesIt) {
  AccessTimes times(ns());
  const uint64_t f = makeFile(kRootIno, "f", "mail");
  makeUnread(f);
  ASSERT_TRUE(*times.noteRead(f));
  const InodeRecord before = ns().getattr(f)->inode;
  EXPECT_EQ(1'000'000'000, before.atimeNs) << "written before persist()";
  const int64_t shown = times.effectiveAtime(f, before);
  EXPECT_GT(shown, 2'000'000'000);
  ASSERT_TRUE(times.persist().ok());
  EXPECT_EQ(shown, storedAtime(f));
  EXPECT_EQ(0u, times.pendingCount());
}

TEST_F(AccessTimesTest, ASecondReadDoesNotMoveAtimeAgain) {
  AccessTimes times(ns());
  const uint64_t f = makeFile(kRootIno, "f", "x");
  makeUnread(f);
  ASSERT_TRUE(*times.noteRead(f));
  EXPECT_FALSE(*times.noteRead(f)) << "pending atime is newer than mtime";
  ASSERT_TRUE(times.persist().ok());
  EXPECT_FALSE(*times.noteRead(f)) << "stored atime is newer than mtime";
}

TEST_F(AccessTimesTest, StrictMovesAtimeAtEveryRead) {
  AccessTimes times(ns(), /*strict=*/true);
  const uint64_t f = makeFile(kRootIno, "f", "x");
  makeUnread(f);
  ASSERT_TRUE(*times.noteRead(f));
  ASSERT_TRUE(times.persist().ok());
  const int64_t first = storedAtime(f);
  EXPECT_TRUE(*times.noteRead(f)) << "strictatime: a read after a read moves atime too";
  ASSERT_TRUE(times.persist().ok());
  EXPECT_GE(storedAtime(f), first);
}

TEST_F(AccessTimesTest, AnExplicitAtimeSetAfterTheReadWins) {
  AccessTimes times(ns());
  const uint64_t f = makeFile(kRootIno, "f", "x");
  makeUnread(f);
  ASSERT_TRUE(*times.noteRead(f));
  SetAttrRequest r;
  r.atimeNs = 1'234'000'000;  // utimensat after the read
  ASSERT_TRUE(ns().setattr(f, r).ok());
  EXPECT_EQ(1'234'000'000, times.effectiveAtime(f, ns().getattr(f)->inode));
  ASSERT_TRUE(times.persist().ok());
  EXPECT_EQ(1'234'000'000, storedAtime(f));
}

TEST_F(AccessTimesTest, AWriteAfterTheReadKeepsTheReadsAtime) {
  AccessTimes times(ns());
  const uint64_t f = makeFile(kRootIno, "f", "x");
  makeUnread(f);
  ASSERT_TRUE(*times.noteRead(f));
  const int64_t shown = times.effectiveAtime(f, ns().getattr(f)->inode);
  ASSERT_TRUE(writeFile(ns(), f, 0, "y").ok());
  EXPECT_EQ(shown, times.effectiveAtime(f, ns().getattr(f)->inode));
  ASSERT_TRUE(times.persist().ok());
  EXPECT_EQ(shown, storedAtime(f));
}

TEST_F(AccessTimesTest, AFileRemovedBeforePersistIsSkipped) {
  AccessTimes times(ns());
  const uint64_t f = makeFile(kRootIno, "f", "x");
  const uint64_t g = makeFile(kRootIno, "g", "y");
  makeUnread(f);
  makeUnread(g);
  ASSERT_TRUE(*times.noteRead(f));
  ASSERT_TRUE(*times.noteRead(g));
  ASSERT_TRUE(ns().unlink(kRootIno, "f").ok());
  ASSERT_TRUE(times.persist().ok());
  EXPECT_GT(storedAtime(g), 2'000'000'000);
  EXPECT_EQ(0u, times.pendingCount());
}

TEST_F(AccessTimesTest, ManyPendingAtimesArePersistedWithoutWaiting) {
  AccessTimes times(ns());
  std::vector<uint64_t> files;
  for (size_t i = 0; i < AccessTimes::kMaxPending; ++i) {
    files.push_back(makeFile(kRootIno, "f" + std::to_string(i), ""));
    makeUnread(files.back());
  }
  for (uint64_t f : files) ASSERT_TRUE(*times.noteRead(f));
  EXPECT_EQ(0u, times.pendingCount()) << "the read that filled the map wrote it";
  for (uint64_t f : {files.front(), files.back()}) EXPECT_GT(storedAtime(f), 2'000'000'000);
}

// Regression: the commit interval's persist and a 1,000-op transact on the
// same inodes each ran again after every deadlock between them, until the
// transact gave up with EBUSY (MountTool.AThousandOpTransactionIsAllOrNothing
// under TSan). In the background persisting now yields: it leaves the atimes
// pending, and the holder of the lock is never made to lose.
TEST_F(AccessTimesTest, PersistingInTheBackgroundYieldsToATransactionHoldingTheInode) {
  AccessTimes times(ns());
  const uint64_t f = makeFile(kRootIno, "f", "mail");
  makeUnread(f);
  ASSERT_TRUE(*times.noteRead(f));
  std::unique_ptr<MetaTxn> holder = store_->engine().begin(/*sync=*/false);
  auto held = holder->read(Column::kInodes, keys::ino(f), MetaTxn::Lock::kExclusive);
  ASSERT_TRUE(held.ok() && held->has_value());
  ASSERT_TRUE(times.persistUnlessBusy().ok());
  EXPECT_EQ(1u, times.pendingCount()) << "left for the next turn";
  EXPECT_EQ(1'000'000'000, storedAtime(f));
  ASSERT_TRUE(holder->put(Column::kInodes, keys::ino(f), **held).ok());
  ASSERT_TRUE(holder->commit().status.ok()) << "the holder never loses to persisting";
  ASSERT_TRUE(times.persistUnlessBusy().ok());
  EXPECT_EQ(0u, times.pendingCount());
  EXPECT_GT(storedAtime(f), 2'000'000'000);
}

}  // namespace
}  // namespace acidfs
