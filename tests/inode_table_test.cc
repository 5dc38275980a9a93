// InodeTable (fuse/inode_table.h): what the kernel holds of each inode —
// lookup counts that FORGET returns, and open descriptors — and the one
// answer the daemon needs from them: is the inode still known (an unlinked
// one must live until it is not)? Single-threaded contract cases first, then
// threads racing lookups, forgets, opens and closes, checked by exact final
// counts.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "fuse/inode_table.h"

namespace acidfs {
namespace {

constexpr uint64_t kIno = 42;

TEST(InodeTable, AnInodeNeverSeenIsUnknownAndForgettingOrClosingItSaysSo) {
  InodeTable table;
  EXPECT_FALSE(table.isKnown(kIno));
  EXPECT_TRUE(table.forget(kIno, 1));
  EXPECT_TRUE(table.closed(kIno));
  EXPECT_FALSE(table.isKnown(kIno)) << "neither call made it known";
}

TEST(InodeTable, LookupsAddUpAndOnlyTheForgetThatReachesZeroDropsTheInode) {
  InodeTable table;
  table.lookedUp(kIno);         // 1
  table.lookedUp(kIno, 4);      // 5
  EXPECT_TRUE(table.isKnown(kIno));
  EXPECT_FALSE(table.forget(kIno, 2));  // 3 left
  EXPECT_TRUE(table.isKnown(kIno));
  EXPECT_FALSE(table.forget(kIno, 2));  // 1 left
  EXPECT_TRUE(table.isKnown(kIno));
  EXPECT_TRUE(table.forget(kIno, 1));
  EXPECT_FALSE(table.isKnown(kIno));
}

TEST(InodeTable, AForgetOfMoreThanWasLookedUpDropsTheInodeWithoutWrapping) {
  InodeTable table;
  table.lookedUp(kIno, 2);
  EXPECT_TRUE(table.forget(kIno, 5));
  EXPECT_FALSE(table.isKnown(kIno));
  // Counting starts again from zero, not from a wrapped-around count.
  table.lookedUp(kIno);
  EXPECT_TRUE(table.isKnown(kIno));
  EXPECT_TRUE(table.forget(kIno, 1));
}

TEST(InodeTable, AForgetOfZeroChangesNothing) {
  InodeTable table;
  table.lookedUp(kIno, 3);
  EXPECT_FALSE(table.forget(kIno, 0));
  EXPECT_TRUE(table.isKnown(kIno));
  EXPECT_FALSE(table.forget(kIno, 2));
  EXPECT_TRUE(table.forget(kIno, 1)) << "still exactly 3 lookups";
}

TEST(InodeTable, AnOpenDescriptorAloneKeepsTheInodeKnown) {
  InodeTable table;
  table.opened(kIno);
  EXPECT_TRUE(table.isKnown(kIno));
  table.opened(kIno);
  EXPECT_FALSE(table.closed(kIno));
  EXPECT_TRUE(table.isKnown(kIno));
  EXPECT_TRUE(table.closed(kIno));
  EXPECT_FALSE(table.isKnown(kIno));
}

TEST(InodeTable, ForgetLeavesAnOpenInodeKnownAndTheLastCloseDropsIt) {
  InodeTable table;
  table.lookedUp(kIno);
  table.opened(kIno);
  EXPECT_FALSE(table.forget(kIno, 1)) << "still open";
  EXPECT_TRUE(table.isKnown(kIno)) << "an unlinked file that is open must stay";
  EXPECT_TRUE(table.closed(kIno));
  EXPECT_FALSE(table.isKnown(kIno));
}

TEST(InodeTable, CloseLeavesALookedUpInodeKnownAndTheLastForgetDropsIt) {
  InodeTable table;
  table.opened(kIno);
  table.lookedUp(kIno);
  EXPECT_FALSE(table.closed(kIno)) << "a lookup reference alone keeps it (a path walk may OPEN it next)";
  EXPECT_TRUE(table.isKnown(kIno));
  EXPECT_TRUE(table.forget(kIno, 1));
  EXPECT_FALSE(table.isKnown(kIno));
}

TEST(InodeTable, AnExtraCloseDoesNotUnderflowTheOpenCount) {
  InodeTable table;
  table.lookedUp(kIno);
  EXPECT_FALSE(table.closed(kIno)) << "nothing open: a close changes nothing";
  table.opened(kIno);
  EXPECT_FALSE(table.forget(kIno, 1));
  EXPECT_TRUE(table.isKnown(kIno)) << "one open, not a wrapped count";
  EXPECT_TRUE(table.closed(kIno));
  EXPECT_FALSE(table.isKnown(kIno));
}

TEST(InodeTable, InodesAreCountedApart) {
  InodeTable table;
  table.lookedUp(1, 2);
  table.lookedUp(2);
  table.opened(3);
  EXPECT_TRUE(table.forget(2, 1));
  EXPECT_TRUE(table.isKnown(1));
  EXPECT_FALSE(table.isKnown(2));
  EXPECT_TRUE(table.isKnown(3));
  EXPECT_FALSE(table.forget(1, 1));
  EXPECT_TRUE(table.closed(3));
  EXPECT_TRUE(table.isKnown(1));
  EXPECT_TRUE(table.forget(1, 1));
}

// ---- unlink deleting at once (claimForDeletion) ------------------------------------------

TEST(InodeTable, AnOpenFileCannotBeClaimedForDeletion) {
  InodeTable table;
  table.lookedUp(kIno);
  ASSERT_TRUE(table.opened(kIno));
  EXPECT_FALSE(table.claimForDeletion(kIno)) << "a descriptor is open: it must become an orphan";
  EXPECT_TRUE(table.closed(kIno) == false) << "the lookup remains";
  EXPECT_TRUE(table.claimForDeletion(kIno)) << "closed now";
  table.deletionEnded(kIno, nullptr);
}

TEST(InodeTable, AfterACommittedDeletionOpensFailAndGetattrSeesTheLastAttributes) {
  InodeTable table;
  table.lookedUp(kIno);
  ASSERT_TRUE(table.claimForDeletion(kIno));
  InodeRecord last;
  last.mode = S_IFREG | 0640;
  last.nlink = 0;
  last.size = 4096;
  table.deletionEnded(kIno, &last);
  EXPECT_FALSE(table.opened(kIno)) << "the inode is gone: ENOENT";
  auto attrs = table.deletedAttributes(kIno);
  ASSERT_TRUE(attrs.has_value());
  EXPECT_EQ(attrs->size, 4096u);
  EXPECT_EQ(attrs->nlink, 0u);
  EXPECT_TRUE(table.isKnown(kIno)) << "the kernel's lookup still counts";
  EXPECT_TRUE(table.forget(kIno, 1));
  EXPECT_FALSE(table.deletedAttributes(kIno).has_value()) << "forgotten with the inode";
}

TEST(InodeTable, AnAbandonedDeletionLeavesTheInodeOpenable) {
  InodeTable table;
  table.lookedUp(kIno);
  ASSERT_TRUE(table.claimForDeletion(kIno));
  table.deletionEnded(kIno, nullptr);  // the transaction did not commit
  EXPECT_TRUE(table.opened(kIno));
  EXPECT_FALSE(table.deletedAttributes(kIno).has_value());
  EXPECT_FALSE(table.closed(kIno));
  EXPECT_TRUE(table.forget(kIno, 1));
}

TEST(InodeTable, AClaimOfAnInodeTheKernelNeverSawIsDroppedWhenItEnds) {
  InodeTable table;
  ASSERT_TRUE(table.claimForDeletion(kIno));
  EXPECT_TRUE(table.isKnown(kIno) == false) << "a claim is not a reference";
  InodeRecord last;
  table.deletionEnded(kIno, &last);
  EXPECT_FALSE(table.deletedAttributes(kIno).has_value()) << "nobody can ask for it: not kept";
}

TEST(InodeTable, AnOpenDuringADeletionWaitsForItsOutcome) {
  for (bool committed : {true, false}) {
    InodeTable table;
    table.lookedUp(kIno);
    ASSERT_TRUE(table.claimForDeletion(kIno));
    std::atomic<int> openResult{-1};
    std::thread opener([&] { openResult = table.opened(kIno) ? 1 : 0; });
    // The opener cannot finish before the deletion ends, however long that takes.
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      ASSERT_EQ(openResult.load(), -1) << "an open got through while the deletion was under way";
    }
    InodeRecord last;
    table.deletionEnded(kIno, committed ? &last : nullptr);
    opener.join();
    EXPECT_EQ(openResult.load(), committed ? 0 : 1) << (committed ? "deleted: ENOENT" : "kept: the open succeeds");
  }
}

TEST(InodeTable, OrphanMarksAreTakenOnce) {
  InodeTable table;
  EXPECT_FALSE(table.takeOrphan(kIno));
  table.markOrphan(kIno);
  EXPECT_TRUE(table.takeOrphan(kIno));
  EXPECT_FALSE(table.takeOrphan(kIno));
}

// ---- threads ----------------------------------------------------------------------------

constexpr int kThreads = 8;
constexpr int kRounds = 20000;

// Lookups and opens racing on a few inodes, each thread leaving exactly one
// lookup behind per inode: the counts must come out exact.
TEST(InodeTableThreads, ConcurrentLookupsOpensAndForgetsLeaveExactCounts) {
  InodeTable table;
  const std::vector<uint64_t> inos = {1, 2, 3};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const uint64_t ino = inos[(i + t) % inos.size()];
        table.lookedUp(ino, 2);
        table.opened(ino);
        table.forget(ino, 1);
        table.closed(ino);
      }
      for (uint64_t ino : inos) table.lookedUp(ino);
    });
  for (auto& t : threads) t.join();
  // Each inode: lookups = rounds that touched it + kThreads; no opens.
  for (uint64_t ino : inos) {
    uint64_t touched = 0;
    for (int t = 0; t < kThreads; ++t)
      for (int i = 0; i < kRounds; ++i) touched += inos[(i + t) % inos.size()] == ino;
    const uint64_t lookups = touched + kThreads;
    EXPECT_FALSE(table.closed(ino)) << "no descriptor is open, yet lookups remain";
    EXPECT_FALSE(table.forget(ino, lookups - 1)) << ino << ": more than " << lookups << " - 1 lookups";
    EXPECT_TRUE(table.isKnown(ino));
    EXPECT_TRUE(table.forget(ino, 1)) << ino << ": exactly " << lookups << " lookups";
    EXPECT_FALSE(table.isKnown(ino));
  }
}

// References only go down: exactly one call, the one that takes the last
// reference, answers "unreferenced now", whichever thread makes it.
TEST(InodeTableThreads, ExactlyOneOfManyConcurrentForgetsAndClosesDropsTheInode) {
  InodeTable table;
  table.lookedUp(kIno, static_cast<uint64_t>(kThreads) * kRounds);
  for (int t = 0; t < kThreads; ++t) table.opened(kIno);
  std::atomic<int> dropped{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kRounds; ++i) {
        if (i == kRounds / 2 + t) dropped += table.closed(kIno);
        dropped += table.forget(kIno, 1);
      }
    });
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(dropped.load(), 1);
  EXPECT_FALSE(table.isKnown(kIno));
}

}  // namespace
}  // namespace acidfs
