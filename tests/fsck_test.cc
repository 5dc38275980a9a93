// acidfs fsck (core/fsck.h): a clean store is clean; a corrupted chunk, a
// wrong reference count, a wrong link count and an entry naming a missing
// inode are each found; --repair fixes all but the corrupted chunk.
#include "core/fsck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/format.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "core/transaction.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::StoreFixture;

class Fsck : public StoreFixture {
 protected:
  FsckReport check(bool repair = false) {
    auto report = fsckStore(*store_, repair);
    EXPECT_TRUE(report.ok()) << report.status().toString();
    return report.ok() ? *report : FsckReport{};
  }
  static bool mentions(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
  }
  // Rewrites a record behind the core's back, as a bug or a bad disk would.
  void overwrite(Column column, const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->runner().run([&](Txn& txn) { return txn.put(column, key, value); }).ok());
  }
  void erase(Column column, const std::string& key) {
    ASSERT_TRUE(store_->runner().run([&](Txn& txn) { return txn.del(column, key); }).ok());
  }
  void populate() {
    const uint64_t d = makeDir(kRootIno, "d");
    makeFile(d, "small", "a small file");
    makeFile(d, "big", ::acidfs::testing::randomBytes(300000, 7));
    makeFile(kRootIno, "same", "a small file");  // shares its blob
    ASSERT_TRUE(ns().link(ns().lookup(d, "small")->ino, kRootIno, "hardlink").ok());
    ASSERT_TRUE(cas().put(Caller::root(), "leased, not committed").ok());
  }
};

TEST_F(Fsck, APopulatedStoreIsClean) {
  populate();
  FsckReport r = check();
  EXPECT_TRUE(r.clean()) << r.findings.front();
  EXPECT_EQ(5u, r.inodes);  // root, d, small, big, same; hardlink shares small's inode
  EXPECT_EQ(5u, r.entries);
  EXPECT_GE(r.chunks, 6u);  // the big file's 5 chunks, the small content, the leased bytes
}

TEST_F(Fsck, AWrongReferenceCountIsFoundAndRepaired) {
  populate();
  const Id128 blob = ns().getattr(ns().lookup(kRootIno, "same")->ino)->inode.blob;
  auto record = BlobRecord::decode(**store_->db().get(Column::kBlobs, keys::id(blob)));
  ASSERT_TRUE(record);
  EXPECT_EQ(2u, record->head.refcount);  // "small" (with its hard link, one inode) and "same"
  record->head.refcount = 7;
  overwrite(Column::kBlobs, keys::id(blob), record->encode());
  FsckReport found = check();
  ASSERT_EQ(1u, found.findings.size());
  EXPECT_TRUE(mentions(found.findings, "blob " + blob.hex() + ": reference count 7, but 2")) << found.findings[0];
  FsckReport repaired = check(/*repair=*/true);
  EXPECT_TRUE(mentions(repaired.repairs, "to 2"));
  EXPECT_TRUE(check().clean());
  // And the store still works: deleting both holders frees the blob.
  ASSERT_TRUE(ns().unlink(kRootIno, "same").ok());
  EXPECT_TRUE(check().clean());
}

TEST_F(Fsck, ACorruptedChunkIsFoundAndNotRepairable) {
  populate();
  const std::string big = ::acidfs::testing::randomBytes(300000, 7);
  ASSERT_TRUE(store_->sync().ok());
  ASSERT_EQ(1, ::acidfs::testing::flipSegmentByte(store_->path(), big.substr(70000, 64), 3));  // in chunk 1
  FsckReport r = check(/*repair=*/true);
  ASSERT_EQ(1u, r.findings.size());
  EXPECT_TRUE(mentions(r.findings, "does not match its hash")) << r.findings[0];
  EXPECT_TRUE(r.repairs.empty());
  EXPECT_FALSE(check().clean());
}

TEST_F(Fsck, WrongLinkCountsAndDanglingEntriesAreFoundAndRepaired) {
  populate();
  const uint64_t small = ns().lookup(kRootIno, "hardlink")->ino;
  InodeRecord inode = ns().getattr(small)->inode;
  inode.nlink = 5;
  overwrite(Column::kInodes, keys::ino(small), inode.encode());
  const uint64_t same = ns().lookup(kRootIno, "same")->ino;
  erase(Column::kInodes, keys::ino(same));  // "same" now names nothing
  FsckReport r = check();
  EXPECT_TRUE(mentions(r.findings, "inode " + std::to_string(small) + ": link count 5, but 2 found"));
  EXPECT_TRUE(mentions(r.findings, "entry 'same' of directory 1: names missing inode " + std::to_string(same)));
  EXPECT_TRUE(mentions(r.findings, "reference count 2, but 1 references found")) << "the blob lost a holder";
  check(/*repair=*/true);
  FsckReport after = check();
  EXPECT_TRUE(after.clean()) << after.findings.front();
  EXPECT_EQ(2u, ns().getattr(small)->inode.nlink);
  EXPECT_EQ(ENOENT, ns().lookup(kRootIno, "same").status().errnum());
  std::vector<std::string> names;
  ASSERT_TRUE(ns().readdir(kRootIno, 0, [&](const DirEntry& e) { names.push_back(e.name); return true; }).ok());
  EXPECT_EQ(std::count(names.begin(), names.end(), "same"), 0) << "the readdir index still lists it";
}

}  // namespace
}  // namespace acidfs
