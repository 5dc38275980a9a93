// The virtual attributes of SPEC §4.2 in the core (core/virtual_xattrs.h and
// Namespace): value forms, the conflict each basis gives, consumption, and a
// compare-and-swap race among threads.
#include "core/virtual_xattrs.h"

#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/format.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::StoreFixture;

TEST(DestBasis, AcceptsAbsentAndBlobIdsOnlyAndNormalisesHex) {
  EXPECT_EQ("absent", *parseDestBasis("absent"));
  EXPECT_EQ("0123456789abcdef0123456789abcdef", *parseDestBasis("0123456789ABCDEF0123456789abcdef"));
  for (std::string_view bad : {"", "Absent", "absent\n", "null", "0123456789abcdef0123456789abcde",
                               "0123456789abcdef0123456789abcdef0", "0123456789abcdef0123456789abcdeg"})
    EXPECT_EQ(EINVAL, parseDestBasis(bad).status().errnum()) << "'" << bad << "'";
}

TEST(DestBasis, EachMismatchIsItsConflictWithAFullReport) {
  InodeRecord file;
  file.mode = S_IFREG | 0644;
  file.blob = *Id128::parseHex("11111111111111111111111111111111");
  const std::string other = "22222222222222222222222222222222";
  EXPECT_TRUE(checkDestBasis(Caller::root(), "absent", nullptr, "/d").ok());
  EXPECT_TRUE(checkDestBasis(Caller::root(), file.blob.hex(), &file, "/d").ok());

  Status exists = checkDestBasis(Caller::root(), "absent", &file, "/d");
  ASSERT_TRUE(exists.isConflict());
  EXPECT_EQ(EEXIST, exists.errnum());
  EXPECT_EQ(R"({"code":"DEST_EXISTS","path":"/d","expected":null,"found":"11111111111111111111111111111111","operationIndex":1})",
            exists.conflict()->toJson());

  Status missing = checkDestBasis(Caller::root(), other, nullptr, "/d");
  EXPECT_EQ(ENOENT, missing.errnum());
  EXPECT_EQ(ConflictCode::kDestNotFound, missing.conflict()->code);

  Status changed = checkDestBasis(Caller::root(), other, &file, "/d");
  EXPECT_EQ(ECANCELED, changed.errnum());
  EXPECT_EQ(ConflictCode::kDestChanged, changed.conflict()->code);
  EXPECT_EQ(other, changed.conflict()->expected->hex());
  EXPECT_EQ(file.blob, *changed.conflict()->found);
}

class VirtualXattrs : public StoreFixture {
 protected:
  std::string blobOf(uint64_t ino) { return *ns().getxattr(ino, kBlobIdXattr); }
  std::string content(const std::string& name) {
    auto attr = ns().lookup(kRootIno, name);
    if (!attr.ok()) return "<" + attr.status().toString() + ">";
    std::string out;
    EXPECT_TRUE(ns().read(attr->ino, 0, 1 << 20, out).ok());
    return out;
  }
};

TEST_F(VirtualXattrs, ARefusedRenameChangesNothingAndKeepsTheBasis) {
  const uint64_t dest = makeFile(kRootIno, "dest", "theirs");
  const uint64_t src = makeFile(kRootIno, "src", "mine");
  ASSERT_TRUE(ns().setxattr(src, kDestBasisXattr, blobOf(src), 0).ok());  // dest holds something else
  auto r = ns().rename(Caller::root(), kRootIno, "src", kRootIno, "dest", 0);
  EXPECT_EQ(ECANCELED, r.status().errnum());
  EXPECT_EQ("theirs", content("dest"));
  EXPECT_EQ("mine", content("src"));
  EXPECT_EQ(blobOf(src), *ns().getxattr(src, kDestBasisXattr));
  EXPECT_EQ(dest, ns().lookup(kRootIno, "dest")->ino);
}

TEST_F(VirtualXattrs, ASuccessfulRenameConsumesTheBasisAlsoWithExchange) {
  const uint64_t a = makeFile(kRootIno, "a", "A");
  const uint64_t b = makeFile(kRootIno, "b", "B");
  ASSERT_TRUE(ns().setxattr(a, kDestBasisXattr, blobOf(b), 0).ok());
  ASSERT_TRUE(ns().rename(Caller::root(), kRootIno, "a", kRootIno, "b", kRenameExchange).ok());
  EXPECT_EQ("A", content("b"));
  EXPECT_EQ("B", content("a"));
  EXPECT_EQ(ENODATA, ns().getxattr(a, kDestBasisXattr).status().errnum());
  // A second rename of the same file has no precondition left.
  ASSERT_TRUE(ns().rename(Caller::root(), kRootIno, "b", kRootIno, "c", 0).ok());
}

TEST_F(VirtualXattrs, BasisOnlyOnRegularFilesAndOtherNamesAreRefused) {
  const uint64_t d = makeDir(kRootIno, "d");
  const uint64_t f = makeFile(kRootIno, "f", "x");
  EXPECT_EQ(EINVAL, ns().setxattr(d, kDestBasisXattr, "absent", 0).errnum());
  EXPECT_EQ(ENODATA, ns().getxattr(d, kBlobIdXattr).status().errnum());
  EXPECT_EQ(EINVAL, ns().setxattr(f, kBlobIdXattr, blobOf(f), 0).errnum());
  EXPECT_EQ(EINVAL, ns().setxattr(f, "user.acidfs.other", "x", 0).errnum());
  EXPECT_EQ(EINVAL, ns().removexattr(f, kBlobIdXattr).errnum());
  EXPECT_EQ(ENODATA, ns().removexattr(f, kDestBasisXattr).errnum());
  ASSERT_TRUE(ns().setxattr(f, kDestBasisXattr, "absent", 0).ok());
  ASSERT_TRUE(ns().removexattr(f, kDestBasisXattr).ok());
  EXPECT_EQ(ENODATA, ns().getxattr(f, kDestBasisXattr).status().errnum());
  EXPECT_TRUE(ns().listxattr(f)->empty());
}

// Eight threads take 25 units each from a balance of 1,000 by compare-and-
// swap through the attributes, retrying on ECANCELED: lost updates would
// leave more than 800.
TEST_F(VirtualXattrs, CompareAndSwapByRenameLosesNoUpdateUnderRealConcurrency) {
  makeFile(kRootIno, "balance", "1000");
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach;) {
        auto current = ns().lookup(kRootIno, "balance");
        ASSERT_TRUE(current.ok()) << current.status().toString() << ": the name vanished during a rename";
        std::string value;
        Status read = ns().read(current->ino, 0, 64, value);
        if (read.errnum() == ENOENT) continue;  // replaced and freed since the lookup (no open file holds it)
        ASSERT_TRUE(read.ok()) << read.toString();
        const std::string basis = current->inode.blob.hex();
        const std::string tmp = "tmp" + std::to_string(t);
        const uint64_t next = makeFile(kRootIno, tmp, std::to_string(std::stoi(value) - 1));
        ASSERT_TRUE(ns().setxattr(next, kDestBasisXattr, basis, 0).ok());
        auto moved = ns().rename(Caller::root(), kRootIno, tmp, kRootIno, "balance", 0);
        if (moved.ok()) {
          ++i;
          continue;
        }
        ASSERT_EQ(ECANCELED, moved.status().errnum()) << moved.status().toString();
        ++conflicts;
        ASSERT_TRUE(ns().unlink(kRootIno, tmp).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::to_string(1000 - kThreads * kEach), content("balance"));
  RecordProperty("conflicts", conflicts.load());
}

}  // namespace
}  // namespace acidfs
