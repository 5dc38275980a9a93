// The ioctl door's striped locks (fuse/door_locks.h): which stripes a path
// and its prefixes take, that disjoint stripes never wait for each other,
// that a change excludes whoever reveals through the same stripe, and that
// requests taking overlapping sets in any mix do not deadlock.
#include "fuse/door_locks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace acidfs {
namespace {

// A path whose stripe is none of `taken`.
std::string pathOutside(DoorLocks::Stripes taken, const std::string& stem) {
  for (int i = 0;; ++i) {
    std::string path = "/" + stem + std::to_string(i);
    if (!(DoorLocks::stripesOf(path) & taken)) return path;
  }
}

TEST(DoorLocks, APathAlwaysHasTheSameStripe) {
  EXPECT_EQ(DoorLocks::stripeOf("/a/b"), DoorLocks::stripeOf(std::string("/a/") + "b"));
  EXPECT_LT(DoorLocks::stripeOf("/a/b"), DoorLocks::kStripes);
  EXPECT_EQ(1u, std::popcount(DoorLocks::stripesOf("/x")));
}

TEST(DoorLocks, PathsSpreadOverTheStripes) {
  DoorLocks::Stripes seen = 0;
  for (int i = 0; i < 2000; ++i) seen |= DoorLocks::stripesOf("/dir/file" + std::to_string(i));
  EXPECT_EQ(DoorLocks::kAll, seen) << "2,000 names left stripes unused";
}

TEST(DoorLocks, PrefixStripesCoverEveryDirectoryAboveAndThePathItself) {
  const DoorLocks::Stripes stripes = DoorLocks::prefixStripes("/a/b/c");
  EXPECT_EQ(DoorLocks::stripesOf("/a") | DoorLocks::stripesOf("/a/b") | DoorLocks::stripesOf("/a/b/c"), stripes);
  EXPECT_EQ(DoorLocks::stripesOf("/top"), DoorLocks::prefixStripes("/top"));
  EXPECT_EQ(0u, DoorLocks::prefixStripes("/")) << "no door change alters /";
}

TEST(DoorLocks, ChangesOfPathsInOtherStripesDoNotWait) {
  DoorLocks locks;
  const DoorLocks::Stripes held = DoorLocks::stripesOf("/held");
  DoorChangeLock holding(locks, held);
  const std::string other = pathOutside(held, "other");
  bool done = false;
  std::thread change([&] {  // would wait forever on one lock for all
    DoorChangeLock changing(locks, DoorLocks::stripesOf(other));
    done = true;
  });
  change.join();
  EXPECT_TRUE(done);
  std::thread reveal([&] {
    DoorRevealLock seen(locks, DoorLocks::prefixStripes(other));
  });
  reveal.join();
}

TEST(DoorLocks, AChangeExcludesRevealsThroughItsStripesAndNoOthers) {
  DoorLocks locks;
  const DoorLocks::Stripes held = DoorLocks::stripesOf("/d/held");
  locks.lock(held);
  EXPECT_FALSE(locks.tryLockShared(DoorLocks::prefixStripes("/d/held")));
  EXPECT_FALSE(locks.tryLockShared(DoorLocks::kAll)) << "a reveal by inode must wait for every change";
  EXPECT_FALSE(locks.tryLock(held));
  const DoorLocks::Stripes elsewhere = DoorLocks::stripesOf(pathOutside(held, "e"));
  ASSERT_TRUE(locks.tryLockShared(elsewhere));
  locks.unlockShared(elsewhere);
  locks.unlock(held);
  ASSERT_TRUE(locks.tryLockShared(DoorLocks::kAll)) << "a failed try left a stripe taken";
  EXPECT_FALSE(locks.tryLock(held)) << "readers hold it";
  locks.unlockShared(DoorLocks::kAll);
  ASSERT_TRUE(locks.tryLock(DoorLocks::kAll));
  locks.unlock(DoorLocks::kAll);
}

TEST(DoorLocks, OverlappingRequestsInAnyMixDoNotDeadlock) {
  DoorLocks locks;
  std::atomic<int> inside{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 random(t);
      for (int i = 0; i < 3000; ++i) {
        DoorLocks::Stripes stripes = 0;
        for (int n = 1 + static_cast<int>(random() % 4); n > 0; --n) stripes |= DoorLocks::Stripes{1} << (random() % 8);
        switch (random() % 3) {
          case 0: {
            DoorChangeLock changing(locks, stripes);
            inside++;
            break;
          }
          case 1: {
            DoorRevealLock seen(locks, stripes);
            inside++;
            break;
          }
          default: {
            DoorRevealLock seen(locks, DoorLocks::kAll);
            inside++;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(6 * 3000, inside.load());
}

}  // namespace
}  // namespace acidfs
