// The trash (core/trash.h, SPEC §10): every drop — unlink, rmdir, a rename
// over a name, a truncate, a content commit — is kept with its facts for
// trash_days, holds its content meanwhile, and is reclaimed after; GC
// frozen keeps everything. Time is a ManualClock moved by the tests.
#include "core/trash.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/format.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::StoreFixture;
using testing::writeFile;

constexpr int64_t kDayNs = 24ll * 3600 * 1'000'000'000;
constexpr int64_t kStart = 1'800'000'000ll * 1'000'000'000;  // 2027
const Caller kAlice = Caller::of(1000, 1000);

class TrashTest : public StoreFixture {
 protected:
  TrashTest() {
    options_.clock = clock_;
    options_.trashSeconds = 24 * 3600;
    options_.gcIntervalSeconds = 0;  // expiry only when a test asks
  }

  Trash& trash() { return store_->trash(); }
  std::vector<TrashEntry> namesOf(uint64_t dir, const std::string& name) {
    auto found = trash().namesOf(dir, name);
    EXPECT_TRUE(found.ok()) << found.status().toString();
    return found.ok() ? *found : std::vector<TrashEntry>();
  }
  std::vector<TrashEntry> versionsOf(uint64_t ino) {
    auto found = trash().versionsOf(ino);
    EXPECT_TRUE(found.ok()) << found.status().toString();
    return found.ok() ? *found : std::vector<TrashEntry>();
  }
  Id128 blobOf(uint64_t ino) { return ns().getattr(ino)->inode.blob; }
  uint64_t bytesStored() { return store_->stats()->bytesStored; }
  // Reads `record`'s content back: the trash must keep it readable.
  std::string contentOf(const TrashRecord& record) {
    std::string out;
    EXPECT_EQ("OK", code(store_->content().read(record.blob, 0, record.size, out)));
    return out;
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kStart);
};

TEST_F(TrashTest, AnUnlinkedFileIsKeptWithItsFactsAndContent) {
  const uint64_t f = makeFile(kRootIno, "report.txt", "quarterly numbers", 0640, kAlice);
  const Id128 blob = blobOf(f);
  clock_->advance(1'000'000'000);
  ASSERT_TRUE(ns().unlink(kRootIno, "report.txt").ok());
  std::vector<TrashEntry> kept = namesOf(kRootIno, "report.txt");
  ASSERT_EQ(1u, kept.size());
  const TrashRecord& r = kept[0].record;
  EXPECT_EQ(DropCause::kUnlink, r.cause);
  EXPECT_EQ(f, r.ino);
  EXPECT_EQ(blob, r.blob);
  EXPECT_EQ(17u, r.size);
  EXPECT_EQ(static_cast<uint32_t>(S_IFREG | 0640), r.mode);
  EXPECT_EQ(1000u, r.uid);
  EXPECT_EQ(1000u, r.gid);
  EXPECT_EQ(kStart + 1'000'000'000, r.droppedNs);
  EXPECT_EQ(r.droppedNs + kDayNs, r.expiresNs);
  EXPECT_EQ("quarterly numbers", contentOf(r)) << "the content outlives the file";
  EXPECT_TRUE(namesOf(kRootIno, "report").empty()) << "a prefix of the name is another name";
}

TEST_F(TrashTest, EachDropOfANameIsKeptNewestFirst) {
  for (const char* content : {"one", "two", "three"}) {
    makeFile(kRootIno, "f", content);
    clock_->advance(1'000'000'000);
    ASSERT_TRUE(ns().unlink(kRootIno, "f").ok());
  }
  std::vector<TrashEntry> kept = namesOf(kRootIno, "f");
  ASSERT_EQ(3u, kept.size());
  EXPECT_EQ("three", contentOf(kept[0].record));
  EXPECT_EQ("two", contentOf(kept[1].record));
  EXPECT_EQ("one", contentOf(kept[2].record));
  EXPECT_GT(kept[0].record.droppedNs, kept[1].record.droppedNs);
}

TEST_F(TrashTest, ARenameOverAFileKeepsTheReplacedOneAndWhatReplacedIt) {
  const uint64_t old = makeFile(kRootIno, "config", "old settings");
  const uint64_t fresh = makeFile(kRootIno, "config.new", "new settings");
  const Id128 oldBlob = blobOf(old), newBlob = blobOf(fresh);
  ASSERT_TRUE(ns().rename(Caller::root(), kRootIno, "config.new", kRootIno, "config", 0).ok());
  std::vector<TrashEntry> kept = namesOf(kRootIno, "config");
  ASSERT_EQ(1u, kept.size());
  EXPECT_EQ(DropCause::kRenamedOver, kept[0].record.cause);
  EXPECT_EQ(oldBlob, kept[0].record.blob);
  EXPECT_EQ(newBlob, kept[0].record.replacedBy);
  EXPECT_TRUE(namesOf(kRootIno, "config.new").empty()) << "a move drops nothing";
}

TEST_F(TrashTest, OverwritesAndTruncatesKeepEachReplacedContent) {
  const uint64_t f = makeFile(kRootIno, "notes", "first draft");
  const Id128 first = blobOf(f);
  ASSERT_TRUE(writeFile(ns(), f, 0, "second").ok());
  const Id128 second = blobOf(f);
  SetAttrRequest truncate;
  truncate.size = 0;
  ASSERT_TRUE(ns().setattr(f, truncate).ok());
  std::vector<TrashEntry> kept = versionsOf(f);
  ASSERT_EQ(2u, kept.size());
  EXPECT_EQ(DropCause::kTruncate, kept[0].record.cause);
  EXPECT_EQ(second, kept[0].record.blob);
  EXPECT_EQ("seconddraft", contentOf(kept[0].record)) << "\"second\" written over \"first \"";
  EXPECT_EQ(DropCause::kWrite, kept[1].record.cause);
  EXPECT_EQ(first, kept[1].record.blob);
  EXPECT_EQ(second, kept[1].record.replacedBy);
  EXPECT_EQ("first draft", contentOf(kept[1].record));
}

TEST_F(TrashTest, ARemovedTreeIsFoundAgainFromItsTop) {
  auto dir = ns().mkdir(Caller::root(), kRootIno, "project", 0750);
  ASSERT_TRUE(dir.ok());
  makeFile(dir->ino, "a.c", "int a;");
  ASSERT_TRUE(ns().unlink(dir->ino, "a.c").ok());
  ASSERT_TRUE(ns().rmdir(kRootIno, "project").ok());
  std::vector<TrashEntry> top = namesOf(kRootIno, "project");
  ASSERT_EQ(1u, top.size());
  EXPECT_EQ(DropCause::kRmdir, top[0].record.cause);
  EXPECT_TRUE(S_ISDIR(top[0].record.mode));
  EXPECT_EQ(Id128(), top[0].record.blob) << "a directory keeps no content";
  // Its entries are keyed by its old inode number.
  std::vector<TrashEntry> child = namesOf(top[0].record.ino, "a.c");
  ASSERT_EQ(1u, child.size());
  EXPECT_EQ("int a;", contentOf(child[0].record));
}

TEST_F(TrashTest, ContentIsReclaimedOnlyOnceTheTrashExpires) {
  const uint64_t emptyStore = bytesStored();
  makeFile(kRootIno, "big", testing::randomBytes(1 << 20, 7));
  const uint64_t full = bytesStored();
  ASSERT_GT(full, emptyStore);
  ASSERT_TRUE(ns().unlink(kRootIno, "big").ok());
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  EXPECT_EQ(full, bytesStored()) << "kept by the trash";
  clock_->advance(kDayNs - 1);
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  EXPECT_EQ(full, bytesStored()) << "a nanosecond before the day is out";
  clock_->advance(2);
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  EXPECT_EQ(emptyStore, bytesStored()) << "back to the empty store's size";
  EXPECT_TRUE(namesOf(kRootIno, "big").empty());
}

TEST_F(TrashTest, FrozenGcKeepsEverythingPastExpiryAndThawedReclaims) {
  const uint64_t emptyStore = bytesStored();
  makeFile(kRootIno, "evidence", testing::randomBytes(200000, 3));
  ASSERT_TRUE(ns().unlink(kRootIno, "evidence").ok());
  const uint64_t kept = bytesStored();
  ASSERT_EQ("OK", code(store_->setGcFrozen(true)));
  EXPECT_TRUE(*store_->gcFrozen());
  clock_->advance(30 * kDayNs);
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  EXPECT_EQ(kept, bytesStored()) << "frozen: nothing expires";
  EXPECT_EQ(1u, namesOf(kRootIno, "evidence").size());
  ASSERT_EQ("OK", code(store_->setGcFrozen(false)));
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  EXPECT_EQ(emptyStore, bytesStored());
}

TEST_F(TrashTest, ExpiryGoesInBatchesUntilNothingExpiredIsLeft) {
  for (int i = 0; i < 1200; ++i) {
    makeFile(kRootIno, "f" + std::to_string(i), "content " + std::to_string(i));
    ASSERT_TRUE(ns().unlink(kRootIno, "f" + std::to_string(i)).ok());
  }
  clock_->advance(kDayNs + 1);
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  for (int i : {0, 600, 1199}) EXPECT_TRUE(namesOf(kRootIno, "f" + std::to_string(i)).empty()) << i;
  EXPECT_EQ(0u, store_->stats()->blobCount);
}

// trash_days=0: nothing is kept, and an unlink reclaims at once — unless GC
// is frozen, which keeps drops until the thaw.
class NoTrash : public TrashTest {
 protected:
  NoTrash() { options_.trashSeconds = 0; }
};

TEST_F(NoTrash, NothingIsKeptAndSpaceComesBackAtOnce) {
  const uint64_t emptyStore = bytesStored();
  const uint64_t f = makeFile(kRootIno, "f", testing::randomBytes(100000, 1));
  ASSERT_TRUE(writeFile(ns(), f, 0, "x").ok());
  ASSERT_TRUE(ns().unlink(kRootIno, "f").ok());
  EXPECT_TRUE(namesOf(kRootIno, "f").empty());
  EXPECT_TRUE(versionsOf(f).empty());
  EXPECT_EQ(emptyStore, bytesStored());
}

TEST_F(NoTrash, WhileFrozenDropsAreKeptUntilTheThaw) {
  const uint64_t emptyStore = bytesStored();
  makeFile(kRootIno, "f", testing::randomBytes(100000, 2));
  ASSERT_EQ("OK", code(store_->setGcFrozen(true)));
  ASSERT_TRUE(ns().unlink(kRootIno, "f").ok());
  ASSERT_EQ(1u, namesOf(kRootIno, "f").size());
  EXPECT_GT(bytesStored(), emptyStore);
  ASSERT_EQ("OK", code(store_->setGcFrozen(false)));
  ASSERT_EQ("OK", code(store_->collectGarbage()));
  EXPECT_EQ(emptyStore, bytesStored());
}

TEST_F(TrashTest, TrashSurvivesAReopen) {
  makeFile(kRootIno, "f", "persisted");
  ASSERT_TRUE(ns().unlink(kRootIno, "f").ok());
  reopen();
  std::vector<TrashEntry> kept = namesOf(kRootIno, "f");
  ASSERT_EQ(1u, kept.size());
  EXPECT_EQ("persisted", contentOf(kept[0].record));
}

TEST(TrashRecordTest, EncodingRoundTripsAndRejectsGarbage) {
  TrashRecord r;
  r.cause = DropCause::kRenamedOver;
  r.ino = 42;
  r.mode = S_IFLNK | 0777;
  r.uid = 7;
  r.gid = 8;
  r.size = 9;
  r.atimeNs = 1;
  r.mtimeNs = 2;
  r.ctimeNs = 3;
  r.droppedNs = 4;
  r.expiresNs = 5;
  r.symlinkTarget = "../target";
  const std::string bytes = r.encode();
  auto back = TrashRecord::decode(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(r.encode(), back->encode());
  EXPECT_FALSE(TrashRecord::decode(bytes.substr(0, bytes.size() - 1)).has_value());
  EXPECT_FALSE(TrashRecord::decode(bytes + "x").has_value());
  std::string badCause = bytes;
  badCause[1] = 9;
  EXPECT_FALSE(TrashRecord::decode(badCause).has_value());
}

}  // namespace
}  // namespace acidfs
