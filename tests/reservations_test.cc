// fallocate's reservations (core/reservations.h; issue 18, xfstests
// generic/213 and generic/568): which windows a file holds, when it gives
// them back, and that the store's total always equals the sum over files —
// across a restart too. Space itself (ENOSPC, writes into a reservation on a
// full disk) is tested in full_disk_test.cc.
#include <gtest/gtest.h>

#include "core/encoding.h"
#include "core/format.h"
#include "core/fsck.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::randomBytes;

class Reservations : public testing::StoreFixture {
 protected:
  void SetUp() override {
    options_.chunkSize = 64 * 1024;
    StoreFixture::SetUp();
  }
  static constexpr uint64_t C = 64 * 1024;
  std::vector<ReservedWindows> reservedOf(uint64_t ino) {
    auto attr = ns().getattr(ino);
    EXPECT_TRUE(attr.ok()) << attr.status().toString();
    return attr.ok() ? attr->inode.reserved : std::vector<ReservedWindows>{};
  }
  uint64_t sizeOf(uint64_t ino) {
    auto attr = ns().getattr(ino);
    return attr.ok() ? attr->inode.size : ~0ull;
  }
};

TEST_F(Reservations, AllocateReservesEveryWindowItTouchesAndGrowsTheFile) {
  const uint64_t ino = makeFile(kRootIno, "f", "");
  // Two bytes across a window boundary touch two windows (generic/568).
  ASSERT_EQ("OK", code(ns().allocate(ino, C - 1, 2, /*keepSize=*/false)));
  EXPECT_EQ((std::vector<ReservedWindows>{{0, 2}}), reservedOf(ino));
  EXPECT_EQ(C + 1, sizeOf(ino));
  EXPECT_EQ(2 * C, store_->reservedBytes());
  // Again over the same range: nothing more is held.
  ASSERT_EQ("OK", code(ns().allocate(ino, 0, 2 * C, false)));
  EXPECT_EQ(2 * C, store_->reservedBytes());
  EXPECT_EQ(2 * C, sizeOf(ino));
}

TEST_F(Reservations, KeepSizeReservesPastTheEndWithoutGrowing) {
  const uint64_t ino = makeFile(kRootIno, "f", "abc");
  ASSERT_EQ("OK", code(ns().allocate(ino, 0, 4 * C, /*keepSize=*/true)));
  EXPECT_EQ(3u, sizeOf(ino));
  // Window 0 holds data already: only the holes are reserved.
  EXPECT_EQ((std::vector<ReservedWindows>{{1, 3}}), reservedOf(ino));
  EXPECT_EQ(3 * C, store_->reservedBytes());
}

TEST_F(Reservations, AWriteUsesTheWindowsItFillsAndOnlyThose) {
  const uint64_t ino = makeFile(kRootIno, "f", "");
  ASSERT_EQ("OK", code(ns().allocate(ino, 0, 8 * C, false)));
  ASSERT_EQ("OK", code(testing::writeFile(ns(), ino, 2 * C + 10, randomBytes(C, 1))));  // windows 2 and 3
  EXPECT_EQ((std::vector<ReservedWindows>{{0, 2}, {4, 4}}), reservedOf(ino));
  EXPECT_EQ(6 * C, store_->reservedBytes());
  // A window written with zeros stays a hole, so it stays reserved.
  ASSERT_EQ("OK", code(testing::writeFile(ns(), ino, 0, std::string(C, '\0'))));
  EXPECT_EQ(6 * C, store_->reservedBytes());
}

TEST_F(Reservations, TruncatingGivesBackWindowsPastTheNewSize) {
  const uint64_t ino = makeFile(kRootIno, "f", "");
  ASSERT_EQ("OK", code(ns().allocate(ino, 0, 10 * C, false)));
  SetAttrRequest shrink;
  shrink.size = 3 * C + 1;  // window 3 still holds a byte of the file
  ASSERT_EQ("OK", code(ns().setattr(ino, shrink)));
  EXPECT_EQ((std::vector<ReservedWindows>{{0, 4}}), reservedOf(ino));
  EXPECT_EQ(4 * C, store_->reservedBytes());
  // Growing again reserves nothing by itself (generic/213: truncate past a reservation).
  SetAttrRequest grow;
  grow.size = 20 * C;
  ASSERT_EQ("OK", code(ns().setattr(ino, grow)));
  EXPECT_EQ(4 * C, store_->reservedBytes());
}

TEST_F(Reservations, DeletingTheFileGivesEverythingBack) {
  const uint64_t a = makeFile(kRootIno, "a", "");
  const uint64_t b = makeFile(kRootIno, "b", "");
  ASSERT_EQ("OK", code(ns().allocate(a, 0, 5 * C, false)));
  ASSERT_EQ("OK", code(ns().allocate(b, 0, 3 * C, true)));
  EXPECT_EQ(8 * C, store_->reservedBytes());
  auto gone = ns().unlink(kRootIno, "a");
  ASSERT_EQ("OK", code(gone));
  ns().releaseIfUnused(*gone);
  EXPECT_EQ(3 * C, store_->reservedBytes());
}

TEST_F(Reservations, ContentReplacedByACopyKeepsOnlyItsHoles) {
  const uint64_t source = makeFile(kRootIno, "source", randomBytes(2 * C, 2));
  const uint64_t dest = makeFile(kRootIno, "dest", "");
  ASSERT_EQ("OK", code(ns().allocate(dest, 0, 4 * C, false)));
  ASSERT_EQ("OK", code(ns().shareContent(source, dest)));  // now 2 windows of data, size 2C
  EXPECT_EQ(std::vector<ReservedWindows>{}, reservedOf(dest));
  EXPECT_EQ(0u, store_->reservedBytes());
}

TEST_F(Reservations, AllocateOfADirectoryOrPastTheLargestFileIsRefused) {
  const uint64_t dir = makeDir(kRootIno, "d");
  EXPECT_EQ("EISDIR", code(ns().allocate(dir, 0, C, false)));
  const uint64_t ino = makeFile(kRootIno, "f", "");
  EXPECT_EQ("EFBIG", code(ns().allocate(ino, (1ull << 40) - 1, 2, false)));
  EXPECT_EQ(0u, store_->reservedBytes());
}

TEST_F(Reservations, TheTotalAndEachFilesWindowsSurviveARestart) {
  const uint64_t ino = makeFile(kRootIno, "f", "");
  ASSERT_EQ("OK", code(ns().allocate(ino, C, 3 * C, false)));
  reopen();
  EXPECT_EQ(3 * C, store_->reservedBytes());
  EXPECT_EQ((std::vector<ReservedWindows>{{1, 3}}), reservedOf(ino));
}

TEST_F(Reservations, FsckFindsAndRepairsATotalThatDisagreesWithTheFiles) {
  const uint64_t ino = makeFile(kRootIno, "f", "");
  ASSERT_EQ("OK", code(ns().allocate(ino, 0, 3 * C, false)));
  auto clean = fsckStore(*store_, false);
  ASSERT_EQ("OK", code(clean));
  EXPECT_TRUE(clean->clean()) << clean->findings.front();
  ASSERT_EQ("OK", code(store_->engine().put(Column::kDefault, kReservedWindowsKey, Encoder().u64(7).take(), true)));
  auto found = fsckStore(*store_, /*repair=*/true);
  ASSERT_EQ("OK", code(found));
  ASSERT_EQ(1u, found->findings.size());
  EXPECT_EQ("reserved_windows: 7 recorded, but the files reserve 3", found->findings[0]);
  auto again = fsckStore(*store_, false);
  ASSERT_EQ("OK", code(again));
  EXPECT_TRUE(again->clean()) << again->findings.front();
}

TEST(ReservedWindowsRecord, RoundTripsAndRefusesRangesOutOfOrder) {
  InodeRecord r;
  r.mode = S_IFREG | 0644;
  const std::string plain = r.encode();
  EXPECT_EQ(1, plain[0]) << "a file with no reservation keeps record version 1";
  r.reserved = {{0, 2}, {5, 1}};
  const std::string encoded = r.encode();
  EXPECT_EQ(2, encoded[0]);
  auto decoded = InodeRecord::decode(encoded);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(r.reserved, decoded->reserved);
  for (auto bad : std::vector<std::vector<ReservedWindows>>{{{5, 1}, {0, 2}}, {{0, 2}, {2, 1}}, {{0, 0}}}) {
    r.reserved = bad;
    EXPECT_FALSE(InodeRecord::decode(r.encode()).has_value()) << bad.size();
  }
}

}  // namespace
}  // namespace acidfs
