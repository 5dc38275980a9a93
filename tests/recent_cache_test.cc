// RecentCache (core/recent_cache.h): the promises a database store's
// stat/lookup/readdir cache keeps. Entries expire after maxAge; an answer
// read before a change was heard is never stored after it; a commit of this
// process leaves its own values, or nothing, and never an older value.
#include "core/recent_cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace acidfs {
namespace {

using Answer = std::optional<std::optional<std::string>>;
constexpr auto kLong = std::chrono::hours(1);

TEST(RecentCache, KeepsInodesAndEntriesAndAbsencesUntilMaxAge) {
  RecentCache cache(std::chrono::milliseconds(30), 100);
  EXPECT_TRUE(RecentCache::keeps(Column::kInodes));
  EXPECT_TRUE(RecentCache::keeps(Column::kDentries));
  EXPECT_FALSE(RecentCache::keeps(Column::kXattrs));
  EXPECT_FALSE(RecentCache::keeps(Column::kChunks));
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "a")) << "an empty cache answered";
  cache.store(Column::kInodes, "a", "1", cache.generation());
  cache.store(Column::kDentries, "a", std::nullopt, cache.generation());
  EXPECT_EQ(Answer(std::optional<std::string>("1")), cache.find(Column::kInodes, "a"));
  EXPECT_EQ(Answer(std::optional<std::string>()), cache.find(Column::kDentries, "a")) << "the absence is kept";
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "a")) << "served past maxAge";
  EXPECT_EQ(Answer(), cache.find(Column::kDentries, "a")) << "served past maxAge";
}

TEST(RecentCache, AnAnswerReadBeforeAChangeIsNotStoredAfterIt) {
  RecentCache cache(kLong, 100);
  const uint64_t before = cache.generation();
  cache.invalidate(Column::kInodes, "other key");  // any change heard meanwhile
  cache.store(Column::kInodes, "a", "old", before);
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "a"));

  const uint64_t beforeAll = cache.generation();
  cache.invalidateAll();
  cache.store(Column::kInodes, "a", "old", beforeAll);
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "a"));

  const uint64_t beforeCommit = cache.generation();
  const std::optional<std::string> v = "x";
  cache.afterCommit({{Column::kDentries, "d", &v}}, true, cache.generation());
  cache.store(Column::kInodes, "a", "old", beforeCommit);
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "a")) << "a read from before a commit was stored after it";
}

TEST(RecentCache, InvalidationRemovesOneKeyOrAll) {
  RecentCache cache(kLong, 100);
  cache.store(Column::kInodes, "a", "1", cache.generation());
  cache.store(Column::kInodes, "b", "2", cache.generation());
  cache.store(Column::kDentries, "a", "3", cache.generation());
  cache.invalidate(Column::kInodes, "a");
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "a"));
  EXPECT_EQ(Answer(std::optional<std::string>("3")), cache.find(Column::kDentries, "a")) << "columns are apart";
  EXPECT_EQ(Answer(std::optional<std::string>("2")), cache.find(Column::kInodes, "b"));
  cache.invalidateAll();
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "b"));
  EXPECT_EQ(Answer(), cache.find(Column::kDentries, "a"));
}

TEST(RecentCache, ACommitLeavesItsValuesOnlyWhenNothingChangedMeanwhile) {
  RecentCache cache(kLong, 100);
  cache.store(Column::kInodes, "i", "old", cache.generation());
  cache.store(Column::kDentries, "gone", "old entry", cache.generation());
  const std::optional<std::string> inode = "new", deleted, xattr = "not kept";
  uint64_t before = cache.generation();
  cache.afterCommit({{Column::kInodes, "i", &inode}, {Column::kDentries, "gone", &deleted}, {Column::kXattrs, "x", &xattr}},
                    true, before);
  EXPECT_EQ(Answer(std::optional<std::string>("new")), cache.find(Column::kInodes, "i"));
  EXPECT_EQ(Answer(std::optional<std::string>()), cache.find(Column::kDentries, "gone")) << "a delete is an absence";
  EXPECT_EQ(Answer(), cache.find(Column::kXattrs, "x"));

  // Another host's change was heard during the commit: it may be later than
  // ours, so ours is not kept, and the old value is gone too.
  before = cache.generation();
  cache.invalidate(Column::kInodes, "unrelated");
  const std::optional<std::string> newer = "newer";
  cache.afterCommit({{Column::kInodes, "i", &newer}}, true, before);
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "i"));

  // A commit that failed or whose outcome is unknown leaves nothing.
  cache.store(Column::kInodes, "i", "old", cache.generation());
  cache.afterCommit({{Column::kInodes, "i", &newer}}, false, cache.generation());
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "i"));
}

TEST(RecentCache, StartsOverWhenFull) {
  RecentCache cache(kLong, 3);
  for (const char* k : {"a", "b", "c"}) cache.store(Column::kInodes, k, k, cache.generation());
  cache.store(Column::kInodes, "c", "c again", cache.generation());  // a key it holds: no overflow
  EXPECT_EQ(Answer(std::optional<std::string>("a")), cache.find(Column::kInodes, "a"));
  cache.store(Column::kInodes, "d", "d", cache.generation());
  EXPECT_EQ(Answer(), cache.find(Column::kInodes, "a"));
  EXPECT_EQ(Answer(std::optional<std::string>("d")), cache.find(Column::kInodes, "d"));
}

}  // namespace
}  // namespace acidfs
