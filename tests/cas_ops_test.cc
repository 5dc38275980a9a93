// The ConvexFS operations of SPEC §4 (core/cas_ops.h): every conflict code
// with its full report and errno, every basis form, the journal semantics of
// transact (each op sees the ones before it), all-or-nothing rollback, O(1)
// copies, put/commit leases, and the blobId rules of SPEC §2.
//
// Cases ported from ConvexFS src/component/ops.test.ts: chained moves, swap
// through a temp path, circular rename, rollback of earlier ops.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/cas_ops.h"
#include "core/clock.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/status.h"
#include "core/store.h"
#include "core/virtual_xattrs.h"
#include "tests/cas_test_util.h"
#include "tests/test_util.h"

namespace acidfs {

namespace {

using namespace ::acidfs::testing::ops;
using ::acidfs::testing::StoreFixture;
using ::acidfs::testing::TempDir;
using ::acidfs::testing::writeFile;

// ---- building ops ----------------------------------------------------------

// An id that no content in these tests has.
Id128 bogusId(uint8_t fill = 0xab) {
  Id128 id;
  id.bytes.fill(fill);
  return id;
}

std::string randomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, size - i));
  }
  return out;
}

std::string idText(const std::optional<Id128>& id) { return id ? id->hex() : "null"; }

// The errno of each conflict code, as SPEC §4's table states it (written out
// here rather than taken from conflictErrno, so that the table is checked).
int specErrno(ConflictCode code) {
  switch (code) {
    case ConflictCode::kSourceNotFound: return ENOENT;
    case ConflictCode::kSourceChanged: return ECANCELED;
    case ConflictCode::kDestExists: return EEXIST;
    case ConflictCode::kDestNotFound: return ENOENT;
    case ConflictCode::kDestChanged: return ECANCELED;
    case ConflictCode::kCasConflict: return ECANCELED;
  }
  return -1;
}

// Checks the whole conflict report of a failed precondition.
::testing::AssertionResult IsConflict(const Status& s, ConflictCode code, const std::string& path,
                                      const std::optional<Id128>& expected, const std::optional<Id128>& found,
                                      int operationIndex) {
  if (s.ok()) return ::testing::AssertionFailure() << "succeeded, expected " << conflictCodeName(code);
  if (!s.isConflict())
    return ::testing::AssertionFailure() << "not a conflict: " << s.toString() << ", expected "
                                         << conflictCodeName(code);
  const ConflictReport& r = *s.conflict();
  auto failure = ::testing::AssertionFailure();
  bool bad = false;
  if (r.code != code) bad = true, failure << " code " << conflictCodeName(r.code) << " != " << conflictCodeName(code);
  if (r.path != path) bad = true, failure << " path " << r.path << " != " << path;
  if (r.expected != expected) bad = true, failure << " expected " << idText(r.expected) << " != " << idText(expected);
  if (r.found != found) bad = true, failure << " found " << idText(r.found) << " != " << idText(found);
  if (r.operationIndex != operationIndex)
    bad = true, failure << " operationIndex " << r.operationIndex << " != " << operationIndex;
  if (s.errnum() != specErrno(code))
    bad = true, failure << " errno " << s.errnum() << " != " << specErrno(code) << " (" << s.toString() << ")";
  if (bad) return failure << "  [report " << r.toJson() << "]";
  return ::testing::AssertionSuccess();
}

// ---- the fixture -------------------------------------------------------------

class CasTest : public StoreFixture {
 protected:
  Status run(const std::vector<TransactOp>& ops) { return cas().transact(Caller::root(), ops).status(); }

  uint64_t inoOf(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    EXPECT_TRUE(st.ok()) << path << ": " << st.status().toString();
    return st.ok() ? st->ino : 0;
  }
  Id128 put(const std::string& bytes, const Caller& caller = Caller::root()) {
    auto id = cas().put(caller, bytes);
    EXPECT_TRUE(id.ok()) << id.status().toString();
    return id.ok() ? *id : Id128::zero();
  }
  Id128 emptyId() { return store_->content().emptyBlobId(); }

  // Every path with its type, attributes and blobId, then the store's counts:
  // equal before and after means an operation left no trace.
  std::string describeTree() { return ::acidfs::testing::describeTree(*store_); }
};

class Transact : public CasTest {};
class Commit : public CasTest {};
class BlobIds : public CasTest {};
class Stat : public CasTest {};

// ---- the conflict vocabulary -----------------------------------------------

TEST(ConflictCodes, EachMapsToTheErrnoOfTheSpecTable) {
  EXPECT_EQ(conflictErrno(ConflictCode::kSourceNotFound), ENOENT);
  EXPECT_EQ(conflictErrno(ConflictCode::kSourceChanged), ECANCELED);
  EXPECT_EQ(conflictErrno(ConflictCode::kDestExists), EEXIST);
  EXPECT_EQ(conflictErrno(ConflictCode::kDestNotFound), ENOENT);
  EXPECT_EQ(conflictErrno(ConflictCode::kDestChanged), ECANCELED);
  EXPECT_EQ(conflictErrno(ConflictCode::kCasConflict), ECANCELED);
  EXPECT_STREQ(conflictCodeName(ConflictCode::kSourceNotFound), "SOURCE_NOT_FOUND");
  EXPECT_STREQ(conflictCodeName(ConflictCode::kSourceChanged), "SOURCE_CHANGED");
  EXPECT_STREQ(conflictCodeName(ConflictCode::kDestExists), "DEST_EXISTS");
  EXPECT_STREQ(conflictCodeName(ConflictCode::kDestNotFound), "DEST_NOT_FOUND");
  EXPECT_STREQ(conflictCodeName(ConflictCode::kDestChanged), "DEST_CHANGED");
  EXPECT_STREQ(conflictCodeName(ConflictCode::kCasConflict), "CAS_CONFLICT");
}

TEST(ConflictCodes, ReportIsTheSpecJsonObject) {
  ConflictReport report{ConflictCode::kDestChanged, "/a/b.txt", bogusId(0x11), std::nullopt, 2};
  EXPECT_EQ(report.toJson(), "{\"code\":\"DEST_CHANGED\",\"path\":\"/a/b.txt\",\"expected\":\"" +
                                 std::string(32, '1') + "\",\"found\":null,\"operationIndex\":2}");
  Status s = Status::Conflict(report);
  EXPECT_TRUE(s.isConflict());
  EXPECT_EQ(s.errnum(), ECANCELED);
}

// ---- SOURCE_NOT_FOUND ----------------------------------------------------------

TEST_F(Transact, MissingSourceFailsWithSourceNotFound) {
  makeFile(kRootIno, "present.txt", "here");
  Id128 wanted = bogusId();
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Delete("/missing.txt", wanted)}), ConflictCode::kSourceNotFound, "/missing.txt",
                         wanted, std::nullopt, 1));
  EXPECT_TRUE(IsConflict(run({Move("/missing.txt", wanted, "/x.txt")}), ConflictCode::kSourceNotFound,
                         "/missing.txt", wanted, std::nullopt, 1));
  EXPECT_TRUE(IsConflict(run({Copy("/missing.txt", wanted, "/x.txt")}), ConflictCode::kSourceNotFound,
                         "/missing.txt", wanted, std::nullopt, 1));
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Transact, MissingSourceWithoutExpectedBlobFailsWithSourceNotFound) {
  std::string before = describeTree();
  Status s = run({Move("/nope.txt", std::nullopt, "/x.txt")});
  ASSERT_TRUE(s.isConflict()) << s.toString();
  EXPECT_EQ(s.conflict()->code, ConflictCode::kSourceNotFound);
  EXPECT_EQ(s.conflict()->path, "/nope.txt");
  EXPECT_EQ(s.conflict()->found, std::nullopt);
  EXPECT_EQ(s.conflict()->operationIndex, 1);
  EXPECT_EQ(s.errnum(), ENOENT);
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Transact, MissingSourceInASubdirectoryReportsTheAbsolutePath) {
  uint64_t d = makeDir(kRootIno, "d");
  makeDir(d, "sub");
  makeFile(kRootIno, "a.txt", "a");
  Id128 a = blobOf("/a.txt");
  Status s = run({Copy("/a.txt", a, "/d/sub/copy.txt", Basis::absent()), Delete("/d/sub/gone.txt", a)});
  EXPECT_TRUE(IsConflict(s, ConflictCode::kSourceNotFound, "/d/sub/gone.txt", a, std::nullopt, 2));
  EXPECT_FALSE(exists("/d/sub/copy.txt"));
}

// ---- SOURCE_CHANGED ------------------------------------------------------------

TEST_F(Transact, SourceWithOtherBlobFailsWithSourceChanged) {
  makeFile(kRootIno, "a.txt", "current");
  makeFile(kRootIno, "b.txt", "other");
  Id128 current = blobOf("/a.txt");
  Id128 stale = blobOf("/b.txt");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Delete("/a.txt", stale)}), ConflictCode::kSourceChanged, "/a.txt", stale, current, 1));
  EXPECT_TRUE(IsConflict(run({Move("/a.txt", stale, "/c.txt")}), ConflictCode::kSourceChanged, "/a.txt", stale,
                         current, 1));
  EXPECT_TRUE(IsConflict(run({Copy("/a.txt", stale, "/c.txt")}), ConflictCode::kSourceChanged, "/a.txt", stale,
                         current, 1));
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Transact, ConflictsAreCounted) {
  makeFile(kRootIno, "a.txt", "a");
  uint64_t before = stats().conflicts;
  EXPECT_FALSE(run({Delete("/a.txt", bogusId())}).ok());
  EXPECT_EQ(stats().conflicts, before + 1);
}

// ---- DEST_EXISTS (basis null) ----------------------------------------------------

TEST_F(Transact, DestBasisNullFailsWithDestExists) {
  makeFile(kRootIno, "source.txt", "source");
  makeFile(kRootIno, "dest.txt", "existing");
  Id128 source = blobOf("/source.txt");
  Id128 dest = blobOf("/dest.txt");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Move("/source.txt", source, "/dest.txt", Basis::absent())}),
                         ConflictCode::kDestExists, "/dest.txt", std::nullopt, dest, 1));
  EXPECT_EQ(describeTree(), before);
  EXPECT_EQ(contentAt("/dest.txt"), "existing");
  EXPECT_EQ(contentAt("/source.txt"), "source");
}

TEST_F(Transact, CopyDestBasisNullFailsWithDestExists) {
  makeFile(kRootIno, "source.txt", "source");
  makeFile(kRootIno, "dest.txt", "existing");
  Id128 source = blobOf("/source.txt");
  Id128 dest = blobOf("/dest.txt");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Copy("/source.txt", source, "/dest.txt", Basis::absent())}),
                         ConflictCode::kDestExists, "/dest.txt", std::nullopt, dest, 1));
  EXPECT_EQ(describeTree(), before);
}

// ---- DEST_NOT_FOUND (basis blobId, dest missing) -----------------------------------

TEST_F(Transact, DestBasisBlobOnMissingDestFailsWithDestNotFound) {
  makeFile(kRootIno, "source.txt", "source");
  Id128 source = blobOf("/source.txt");
  Id128 expected = bogusId(0x42);
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Move("/source.txt", source, "/dest.txt", Basis::of(expected))}),
                         ConflictCode::kDestNotFound, "/dest.txt", expected, std::nullopt, 1));
  EXPECT_TRUE(IsConflict(run({Copy("/source.txt", source, "/dest.txt", Basis::of(expected))}),
                         ConflictCode::kDestNotFound, "/dest.txt", expected, std::nullopt, 1));
  EXPECT_EQ(describeTree(), before);
}

// ---- DEST_CHANGED (basis blobId, dest differs) -----------------------------------

TEST_F(Transact, DestBasisBlobOnOtherContentFailsWithDestChanged) {
  makeFile(kRootIno, "source.txt", "source");
  makeFile(kRootIno, "dest.txt", "actual");
  makeFile(kRootIno, "other.txt", "what the caller thought dest held");
  Id128 source = blobOf("/source.txt");
  Id128 actual = blobOf("/dest.txt");
  Id128 stale = blobOf("/other.txt");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Move("/source.txt", source, "/dest.txt", Basis::of(stale))}),
                         ConflictCode::kDestChanged, "/dest.txt", stale, actual, 1));
  EXPECT_TRUE(IsConflict(run({Copy("/source.txt", source, "/dest.txt", Basis::of(stale))}),
                         ConflictCode::kDestChanged, "/dest.txt", stale, actual, 1));
  EXPECT_EQ(describeTree(), before);
}

// ---- operationIndex ----------------------------------------------------------------

TEST_F(Transact, OperationIndexCountsFromOne) {
  makeFile(kRootIno, "f1.txt", "one");
  makeFile(kRootIno, "f2.txt", "two");
  Id128 b1 = blobOf("/f1.txt");
  Id128 b2 = blobOf("/f2.txt");
  Id128 b3 = bogusId(0x33);
  std::string before = describeTree();
  // ConvexFS: "later operation failure rolls back earlier operations".
  EXPECT_TRUE(IsConflict(run({Delete("/f1.txt", b1), Delete("/f2.txt", b2), Delete("/f3.txt", b3)}),
                         ConflictCode::kSourceNotFound, "/f3.txt", b3, std::nullopt, 3));
  EXPECT_TRUE(IsConflict(run({Delete("/f1.txt", b1), Move("/f2.txt", b2, "/f1.txt", Basis::of(b1))}),
                         ConflictCode::kDestNotFound, "/f1.txt", b1, std::nullopt, 2));
  EXPECT_EQ(describeTree(), before);
  EXPECT_EQ(blobOf("/f1.txt"), b1);
  EXPECT_EQ(blobOf("/f2.txt"), b2);
}

// ---- basis forms: move ---------------------------------------------------------------

TEST_F(Transact, MoveWithBasisAnyOverwritesAnExistingDest) {
  makeFile(kRootIno, "source.txt", "source");
  makeFile(kRootIno, "dest.txt", "dest, soon gone");
  Id128 source = blobOf("/source.txt");
  uint64_t sourceIno = inoOf("/source.txt");
  uint64_t blobsBefore = stats().blobCount;
  ASSERT_TRUE(run({Move("/source.txt", source, "/dest.txt")}).ok());
  EXPECT_FALSE(exists("/source.txt"));
  EXPECT_EQ(blobOf("/dest.txt"), source);
  EXPECT_EQ(inoOf("/dest.txt"), sourceIno) << "a move renames: the inode stays";
  EXPECT_EQ(contentAt("/dest.txt"), "source");
  EXPECT_EQ(stats().blobCount, blobsBefore - 1) << "the overwritten dest's blob lost its only reference";
}

TEST_F(Transact, MoveWithBasisAnyCreatesAMissingDest) {
  makeFile(kRootIno, "source.txt", "source");
  Id128 source = blobOf("/source.txt");
  ASSERT_TRUE(run({Move("/source.txt", source, "/dest.txt")}).ok());
  EXPECT_FALSE(exists("/source.txt"));
  EXPECT_EQ(blobOf("/dest.txt"), source);
}

TEST_F(Transact, MoveWithBasisAbsentCreatesTheDest) {
  makeFile(kRootIno, "source.txt", "source");
  Id128 source = blobOf("/source.txt");
  uint64_t blobsBefore = stats().blobCount;
  ASSERT_TRUE(run({Move("/source.txt", source, "/dest.txt", Basis::absent())}).ok());
  EXPECT_FALSE(exists("/source.txt"));
  EXPECT_EQ(blobOf("/dest.txt"), source);
  EXPECT_EQ(stats().blobCount, blobsBefore) << "a move neither copies nor drops content";
}

TEST_F(Transact, MoveWithMatchingBasisBlobReplacesTheDest) {
  makeFile(kRootIno, "source.txt", "source");
  makeFile(kRootIno, "dest.txt", "expected");
  Id128 source = blobOf("/source.txt");
  Id128 dest = blobOf("/dest.txt");
  ASSERT_TRUE(run({Move("/source.txt", source, "/dest.txt", Basis::of(dest))}).ok());
  EXPECT_FALSE(exists("/source.txt"));
  EXPECT_EQ(blobOf("/dest.txt"), source);
  EXPECT_EQ(contentAt("/dest.txt"), "source");
}

TEST_F(Transact, MoveWithoutSourcePreconditionMovesWhateverIsThere) {
  makeFile(kRootIno, "source.txt", "source");
  Id128 source = blobOf("/source.txt");
  ASSERT_TRUE(run({Move("/source.txt", std::nullopt, "/dest.txt", Basis::absent())}).ok());
  EXPECT_EQ(blobOf("/dest.txt"), source);
}

TEST_F(Transact, MoveOntoItselfChangesNothing) {
  makeFile(kRootIno, "a.txt", "stay");
  Id128 a = blobOf("/a.txt");
  std::string before = describeTree();
  Status s = run({Move("/a.txt", a, "/a.txt")});
  EXPECT_TRUE(s.ok()) << "rename(a, a) is a successful no-op: " << s.toString();
  EXPECT_EQ(describeTree(), before);
  EXPECT_EQ(contentAt("/a.txt"), "stay");
}

TEST_F(Transact, MoveReturnsTheChangedPaths) {
  makeFile(kRootIno, "a.txt", "a");
  auto touched = cas().transact(Caller::root(), {Move("/a.txt", std::nullopt, "/b.txt")});
  ASSERT_TRUE(touched.ok()) << touched.status().toString();
  EXPECT_NE(std::find(touched->begin(), touched->end(), "/a.txt"), touched->end());
  EXPECT_NE(std::find(touched->begin(), touched->end(), "/b.txt"), touched->end());
}

// ---- basis forms: copy ---------------------------------------------------------------

TEST_F(Transact, CopyWithBasisAnyOverwritesAnExistingDest) {
  makeFile(kRootIno, "source.txt", "source");
  makeFile(kRootIno, "dest.txt", "dest");
  Id128 source = blobOf("/source.txt");
  ASSERT_TRUE(run({Copy("/source.txt", source, "/dest.txt")}).ok());
  EXPECT_EQ(blobOf("/source.txt"), source);
  EXPECT_EQ(blobOf("/dest.txt"), source);
  EXPECT_EQ(contentAt("/dest.txt"), "source");
}

TEST_F(Transact, CopyWithBasisAbsentCreatesTheDest) {
  makeFile(kRootIno, "source.txt", "source");
  Id128 source = blobOf("/source.txt");
  ASSERT_TRUE(run({Copy("/source.txt", source, "/dest.txt", Basis::absent())}).ok());
  EXPECT_EQ(blobOf("/source.txt"), source);
  EXPECT_EQ(blobOf("/dest.txt"), source);
  EXPECT_NE(inoOf("/dest.txt"), inoOf("/source.txt")) << "a copy is a new file, not a hard link";
}

TEST_F(Transact, CopyWithMatchingBasisBlobReplacesTheDest) {
  makeFile(kRootIno, "source.txt", "source");
  makeFile(kRootIno, "dest.txt", "expected");
  Id128 source = blobOf("/source.txt");
  Id128 dest = blobOf("/dest.txt");
  ASSERT_TRUE(run({Copy("/source.txt", source, "/dest.txt", Basis::of(dest))}).ok());
  EXPECT_EQ(blobOf("/dest.txt"), source);
  EXPECT_EQ(blobOf("/source.txt"), source);
}

TEST_F(Transact, CopySharesContentAndStaysIndependent) {
  std::string data = randomBytes(300 * 1024, 7);
  makeFile(kRootIno, "source.bin", data);
  Id128 source = blobOf("/source.bin");
  ASSERT_TRUE(run({Copy("/source.bin", source, "/copy.bin", Basis::absent())}).ok());
  EXPECT_EQ(blobOf("/copy.bin"), source);
  EXPECT_EQ(contentAt("/copy.bin"), data);
  // Writing the copy must not reach the original (copy-on-write).
  ASSERT_TRUE(writeFile(ns(), inoOf("/copy.bin"), 10, "CHANGED").ok());
  EXPECT_EQ(blobOf("/source.bin"), source);
  EXPECT_EQ(contentAt("/source.bin"), data);
  EXPECT_NE(blobOf("/copy.bin"), source);
}

TEST_F(Transact, CopyOfAMultiMiBFileAddsNoChunks) {
  std::string data = randomBytes(8 << 20, 11);
  makeFile(kRootIno, "big.bin", data);
  Id128 big = blobOf("/big.bin");
  StoreStats before = stats();
  ASSERT_GE(before.chunkCount, (8u << 20) / store_->content().chunkSize());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(run({Copy("/big.bin", big, "/copy" + std::to_string(i) + ".bin", Basis::absent())}).ok());
  StoreStats after = stats();
  EXPECT_EQ(after.chunkCount, before.chunkCount);
  EXPECT_EQ(after.blobCount, before.blobCount);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(blobOf("/copy" + std::to_string(i) + ".bin"), big);
  EXPECT_EQ(contentAt("/copy4.bin"), data);
}

// ---- delete --------------------------------------------------------------------------

TEST_F(Transact, DeleteWithMatchingBlobRemovesTheFile) {
  makeFile(kRootIno, "file.txt", "bye");
  Id128 b = blobOf("/file.txt");
  uint64_t blobsBefore = stats().blobCount;
  ASSERT_TRUE(run({Delete("/file.txt", b)}).ok());
  EXPECT_FALSE(exists("/file.txt"));
  EXPECT_EQ(stats().blobCount, blobsBefore - 1);
}

TEST_F(Transact, DeleteOfAStaleBlobChangesNothing) {
  makeFile(kRootIno, "file.txt", "v1");
  Id128 v1 = blobOf("/file.txt");
  ASSERT_TRUE(writeFile(ns(), inoOf("/file.txt"), 0, "v2").ok());
  Id128 v2 = blobOf("/file.txt");
  ASSERT_NE(v1, v2);
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Delete("/file.txt", v1)}), ConflictCode::kSourceChanged, "/file.txt", v1, v2, 1));
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Transact, DeleteOfOneOfTwoLinksKeepsTheOther) {
  uint64_t ino = makeFile(kRootIno, "a.txt", "linked");
  ASSERT_TRUE(ns().link(ino, kRootIno, "b.txt").ok());
  Id128 b = blobOf("/a.txt");
  ASSERT_TRUE(run({Delete("/a.txt", b)}).ok());
  EXPECT_FALSE(exists("/a.txt"));
  EXPECT_EQ(blobOf("/b.txt"), b);
  EXPECT_EQ(contentAt("/b.txt"), "linked");
}

// ---- journal semantics: each op sees the ones before it --------------------------

TEST_F(Transact, SwapThroughATempPath) {
  makeFile(kRootIno, "a.txt", "content of a");
  makeFile(kRootIno, "b.txt", "content of b");
  Id128 a = blobOf("/a.txt");
  Id128 b = blobOf("/b.txt");
  uint64_t inoA = inoOf("/a.txt"), inoB = inoOf("/b.txt");
  ASSERT_TRUE(run({Move("/a.txt", a, "/swap.tmp", Basis::absent()), Move("/b.txt", b, "/a.txt", Basis::absent()),
                   Move("/swap.tmp", a, "/b.txt", Basis::absent())})
                  .ok());
  EXPECT_EQ(blobOf("/a.txt"), b);
  EXPECT_EQ(blobOf("/b.txt"), a);
  EXPECT_EQ(contentAt("/a.txt"), "content of b");
  EXPECT_EQ(contentAt("/b.txt"), "content of a");
  EXPECT_EQ(inoOf("/a.txt"), inoB);
  EXPECT_EQ(inoOf("/b.txt"), inoA);
  EXPECT_FALSE(exists("/swap.tmp"));
}

TEST_F(Transact, SwapWithAStaleBlobSwapsNothing) {
  makeFile(kRootIno, "a.txt", "content of a");
  makeFile(kRootIno, "b.txt", "content of b");
  Id128 a = blobOf("/a.txt");
  Id128 b = blobOf("/b.txt");
  std::string before = describeTree();
  // The third op expects /swap.tmp to hold b's blob, but op 1 put a's there.
  EXPECT_TRUE(IsConflict(run({Move("/a.txt", a, "/swap.tmp", Basis::absent()),
                              Move("/b.txt", b, "/a.txt", Basis::absent()),
                              Move("/swap.tmp", b, "/b.txt", Basis::absent())}),
                         ConflictCode::kSourceChanged, "/swap.tmp", b, a, 3));
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Transact, ChainedMovesEndAtTheLastPath) {
  makeFile(kRootIno, "a.txt", "travels");
  Id128 a = blobOf("/a.txt");
  uint64_t ino = inoOf("/a.txt");
  ASSERT_TRUE(
      run({Move("/a.txt", a, "/b.txt", Basis::absent()), Move("/b.txt", a, "/c.txt", Basis::absent())}).ok());
  EXPECT_FALSE(exists("/a.txt"));
  EXPECT_FALSE(exists("/b.txt"));
  EXPECT_EQ(blobOf("/c.txt"), a);
  EXPECT_EQ(inoOf("/c.txt"), ino);
}

TEST_F(Transact, ChainedMovesAcrossDirectories) {
  uint64_t d1 = makeDir(kRootIno, "d1");
  makeDir(kRootIno, "d2");
  makeFile(d1, "f.txt", "deep");
  Id128 f = blobOf("/d1/f.txt");
  ASSERT_TRUE(run({Move("/d1/f.txt", f, "/d2/f.txt", Basis::absent()), Move("/d2/f.txt", f, "/g.txt")}).ok());
  EXPECT_FALSE(exists("/d1/f.txt"));
  EXPECT_FALSE(exists("/d2/f.txt"));
  EXPECT_EQ(contentAt("/g.txt"), "deep");
}

TEST_F(Transact, CircularRenameRotatesThreeFiles) {
  makeFile(kRootIno, "a.txt", "A");
  makeFile(kRootIno, "b.txt", "B");
  makeFile(kRootIno, "c.txt", "C");
  Id128 a = blobOf("/a.txt"), b = blobOf("/b.txt"), c = blobOf("/c.txt");
  // a → b → c → a, through a temp path.
  ASSERT_TRUE(run({Move("/c.txt", c, "/rot.tmp", Basis::absent()), Move("/b.txt", b, "/c.txt", Basis::absent()),
                   Move("/a.txt", a, "/b.txt", Basis::absent()), Move("/rot.tmp", c, "/a.txt", Basis::absent())})
                  .ok());
  EXPECT_EQ(blobOf("/a.txt"), c);
  EXPECT_EQ(blobOf("/b.txt"), a);
  EXPECT_EQ(blobOf("/c.txt"), b);
  EXPECT_FALSE(exists("/rot.tmp"));
}

TEST_F(Transact, CircularRenameWithoutATempPathOverwrites) {
  // ConvexFS "circular rename: A -> B, B -> A": the first move overwrites B,
  // so the second finds the old B gone.
  makeFile(kRootIno, "a.txt", "A");
  makeFile(kRootIno, "b.txt", "B");
  Id128 a = blobOf("/a.txt"), b = blobOf("/b.txt");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(run({Move("/a.txt", a, "/b.txt"), Move("/b.txt", b, "/a.txt")}),
                         ConflictCode::kSourceChanged, "/b.txt", b, a, 2));
  EXPECT_EQ(describeTree(), before);
  uint64_t blobsBefore = stats().blobCount;
  ASSERT_TRUE(run({Move("/a.txt", a, "/b.txt")}).ok());
  EXPECT_FALSE(exists("/a.txt"));
  EXPECT_EQ(blobOf("/b.txt"), a);
  EXPECT_EQ(stats().blobCount, blobsBefore - 1) << "B's content is no longer referenced";
}

TEST_F(Transact, DeleteThenMoveOntoTheFreedPathWithBasisAbsent) {
  makeFile(kRootIno, "target.txt", "old");
  makeFile(kRootIno, "source.txt", "new");
  Id128 oldBlob = blobOf("/target.txt"), newBlob = blobOf("/source.txt");
  ASSERT_TRUE(run({Delete("/target.txt", oldBlob), Move("/source.txt", newBlob, "/target.txt", Basis::absent())}).ok());
  EXPECT_FALSE(exists("/source.txt"));
  EXPECT_EQ(blobOf("/target.txt"), newBlob);
}

TEST_F(Transact, ACopyCanBeTheSourceOfTheNextOp) {
  makeFile(kRootIno, "original.txt", "orig");
  Id128 b = blobOf("/original.txt");
  ASSERT_TRUE(run({Copy("/original.txt", b, "/copy.txt", Basis::absent()),
                   Copy("/copy.txt", b, "/copy2.txt", Basis::absent())})
                  .ok());
  EXPECT_EQ(blobOf("/original.txt"), b);
  EXPECT_EQ(blobOf("/copy.txt"), b);
  EXPECT_EQ(blobOf("/copy2.txt"), b);
}

TEST_F(Transact, CopyThenDeleteTheSource) {
  makeFile(kRootIno, "source.txt", "keep me");
  Id128 b = blobOf("/source.txt");
  ASSERT_TRUE(run({Copy("/source.txt", b, "/backup.txt", Basis::absent()), Delete("/source.txt", b)}).ok());
  EXPECT_FALSE(exists("/source.txt"));
  EXPECT_EQ(contentAt("/backup.txt"), "keep me");
}

TEST_F(Transact, SeveralOpsOnOnePathInSequence) {
  makeFile(kRootIno, "file.txt", "one");
  makeFile(kRootIno, "other.txt", "two");
  Id128 b1 = blobOf("/file.txt"), b2 = blobOf("/other.txt");
  uint64_t blobsBefore = stats().blobCount;
  ASSERT_TRUE(run({Delete("/file.txt", b1), Move("/other.txt", b2, "/file.txt", Basis::absent()),
                   Delete("/file.txt", b2)})
                  .ok());
  EXPECT_FALSE(exists("/file.txt"));
  EXPECT_FALSE(exists("/other.txt"));
  EXPECT_EQ(stats().blobCount, blobsBefore - 2);
}

TEST_F(Transact, AConflictReportShowsTheEffectOfEarlierOps) {
  makeFile(kRootIno, "a.txt", "moved first");
  makeFile(kRootIno, "x.txt", "x");
  Id128 a = blobOf("/a.txt"), x = blobOf("/x.txt");
  std::string before = describeTree();
  // Op 1 creates /b.txt, so op 2's "must not exist" finds a's blob there.
  EXPECT_TRUE(IsConflict(run({Move("/a.txt", a, "/b.txt", Basis::absent()), Copy("/x.txt", x, "/b.txt", Basis::absent())}),
                         ConflictCode::kDestExists, "/b.txt", std::nullopt, a, 2));
  EXPECT_EQ(describeTree(), before);
  EXPECT_TRUE(exists("/a.txt"));
  EXPECT_FALSE(exists("/b.txt"));
}

// ---- rollback: a failed transaction leaves no trace ------------------------------

TEST_F(Transact, FailedTransactionLeavesNoTrace) {
  uint64_t d = makeDir(kRootIno, "d");
  makeFile(kRootIno, "big.bin", randomBytes(2 << 20, 1));
  std::string unique = randomBytes(1 << 20, 2);  // its chunks are referenced only here
  makeFile(kRootIno, "unique.bin", unique);
  makeFile(kRootIno, "a.txt", "a");
  makeFile(d, "dest.txt", "dest");
  Id128 big = blobOf("/big.bin"), uniq = blobOf("/unique.bin"), a = blobOf("/a.txt"), dest = blobOf("/d/dest.txt");
  // A put whose lease is pending must survive too.
  Id128 pending = put(randomBytes(200 * 1024, 3));

  const std::vector<TransactOp> prefix = {
      Copy("/big.bin", big, "/big-copy.bin", Basis::absent()),  // adds references
      Delete("/unique.bin", uniq),                              // drops the last reference of 16 chunks
      Move("/a.txt", a, "/d/a2.txt", Basis::absent()),          // renames across directories
      Copy("/big.bin", big, "/d/dest.txt", Basis::of(dest)),    // replaces a file
  };
  struct Failing {
    const char* what;
    TransactOp op;
    ConflictCode code;
    std::string path;
    std::optional<Id128> expected, found;
  };
  const std::vector<Failing> failures = {
      {"source not found", Delete("/missing.txt", a), ConflictCode::kSourceNotFound, "/missing.txt", a, std::nullopt},
      {"source changed", Delete("/big.bin", a), ConflictCode::kSourceChanged, "/big.bin", a, big},
      {"dest exists", Copy("/big.bin", big, "/d/a2.txt", Basis::absent()), ConflictCode::kDestExists, "/d/a2.txt",
       std::nullopt, a},
      {"dest not found", Copy("/big.bin", big, "/nothing.txt", Basis::of(a)), ConflictCode::kDestNotFound,
       "/nothing.txt", a, std::nullopt},
      {"dest changed", Move("/big-copy.bin", big, "/d/a2.txt", Basis::of(dest)), ConflictCode::kDestChanged,
       "/d/a2.txt", dest, a},
  };
  const std::string before = describeTree();
  const StoreStats statsBefore = stats();
  for (const Failing& f : failures) {
    SCOPED_TRACE(f.what);
    std::vector<TransactOp> ops = prefix;
    ops.push_back(f.op);
    EXPECT_TRUE(IsConflict(run(ops), f.code, f.path, f.expected, f.found, 5));
    EXPECT_EQ(describeTree(), before);
    StoreStats after = stats();
    EXPECT_EQ(after.chunkCount, statsBefore.chunkCount);
    EXPECT_EQ(after.blobCount, statsBefore.blobCount);
    EXPECT_EQ(after.leaseCount, statsBefore.leaseCount);
    EXPECT_EQ(after.inodeCount, statsBefore.inodeCount);
    EXPECT_EQ(after.bytesReferenced, statsBefore.bytesReferenced);
    EXPECT_EQ(blobOf("/big.bin"), big);
    EXPECT_EQ(blobOf("/unique.bin"), uniq);
    EXPECT_EQ(blobOf("/a.txt"), a);
    EXPECT_EQ(blobOf("/d/dest.txt"), dest);
    EXPECT_FALSE(exists("/big-copy.bin"));
    EXPECT_FALSE(exists("/d/a2.txt"));
  }
  // The content whose last reference the failed deletes dropped is intact.
  EXPECT_EQ(contentAt("/unique.bin"), unique);
  // And the pending lease still commits.
  EXPECT_TRUE(cas().commit(Caller::root(), "/pending.bin", pending, Basis::absent()).ok());
  // The same ops without the failing one do apply (the test is not vacuous).
  ASSERT_TRUE(run(prefix).ok());
  EXPECT_FALSE(exists("/unique.bin"));
  EXPECT_EQ(blobOf("/d/a2.txt"), a);
  EXPECT_EQ(blobOf("/d/dest.txt"), big);
  EXPECT_LT(stats().chunkCount, statsBefore.chunkCount);
}

// ---- commit and put ------------------------------------------------------------------

TEST_F(Commit, PutThenCommitWithBasisAbsentCreatesTheFile) {
  std::string bytes = "committed content";
  uint64_t leasesBefore = stats().leaseCount;
  Id128 id = put(bytes);
  EXPECT_EQ(stats().leaseCount, leasesBefore + 1);
  auto st = cas().commit(Caller::root(), "/new.txt", id, Basis::absent());
  ASSERT_TRUE(st.ok()) << st.status().toString();
  EXPECT_EQ(st->blob, id);
  EXPECT_EQ(st->inode.size, bytes.size());
  EXPECT_TRUE(S_ISREG(st->inode.mode));
  EXPECT_EQ(st->inode.mode & 07777, 0644u);
  EXPECT_EQ(blobOf("/new.txt"), id);
  EXPECT_EQ(contentAt("/new.txt"), bytes);
  EXPECT_EQ(stats().leaseCount, leasesBefore) << "the lease is consumed by the commit";
}

TEST_F(Commit, CommitWithBasisAnyOverwrites) {
  makeFile(kRootIno, "f.txt", "old");
  uint64_t ino = inoOf("/f.txt");
  Id128 id = put("new");
  ASSERT_TRUE(cas().commit(Caller::root(), "/f.txt", id, Basis::any()).ok());
  EXPECT_EQ(blobOf("/f.txt"), id);
  EXPECT_EQ(inoOf("/f.txt"), ino) << "a commit changes the content of the file, not which file it is";
  EXPECT_EQ(contentAt("/f.txt"), "new");
}

TEST_F(Commit, CommitWithBasisAnyCreatesAMissingFile) {
  Id128 id = put("fresh");
  ASSERT_TRUE(cas().commit(Caller::root(), "/f.txt", id, Basis::any()).ok());
  EXPECT_EQ(contentAt("/f.txt"), "fresh");
}

TEST_F(Commit, CommitWithMatchingBasisBlobReplaces) {
  makeFile(kRootIno, "f.txt", "current");
  Id128 current = blobOf("/f.txt");
  Id128 id = put("next");
  ASSERT_TRUE(cas().commit(Caller::root(), "/f.txt", id, Basis::of(current)).ok());
  EXPECT_EQ(blobOf("/f.txt"), id);
  EXPECT_EQ(contentAt("/f.txt"), "next");
}

TEST_F(Commit, BasisAbsentOnAnExistingFileFailsWithCasConflict) {
  makeFile(kRootIno, "existing.txt", "existing");
  Id128 existing = blobOf("/existing.txt");
  Id128 id = put("new");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(cas().commit(Caller::root(), "/existing.txt", id, Basis::absent()).status(),
                         ConflictCode::kCasConflict, "/existing.txt", std::nullopt, existing, 1));
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Commit, StaleBasisFailsWithCasConflict) {
  makeFile(kRootIno, "file.txt", "current");
  makeFile(kRootIno, "other.txt", "what the caller last saw");
  Id128 current = blobOf("/file.txt"), stale = blobOf("/other.txt");
  Id128 id = put("new");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(cas().commit(Caller::root(), "/file.txt", id, Basis::of(stale)).status(),
                         ConflictCode::kCasConflict, "/file.txt", stale, current, 1));
  EXPECT_EQ(describeTree(), before);
  EXPECT_EQ(contentAt("/file.txt"), "current");
}

TEST_F(Commit, BasisBlobOnAMissingFileFailsWithCasConflict) {
  Id128 expected = bogusId(0x5e);
  Id128 id = put("new");
  std::string before = describeTree();
  EXPECT_TRUE(IsConflict(cas().commit(Caller::root(), "/nonexistent.txt", id, Basis::of(expected)).status(),
                         ConflictCode::kCasConflict, "/nonexistent.txt", expected, std::nullopt, 1));
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Commit, AFailedCommitKeepsTheLease) {
  makeFile(kRootIno, "file.txt", "current");
  Id128 current = blobOf("/file.txt");
  Id128 id = put("new");
  ASSERT_FALSE(cas().commit(Caller::root(), "/file.txt", id, Basis::absent()).ok());
  auto retried = cas().commit(Caller::root(), "/file.txt", id, Basis::of(current));
  ASSERT_TRUE(retried.ok()) << retried.status().toString();
  EXPECT_EQ(contentAt("/file.txt"), "new");
}

TEST_F(Commit, CommitWithoutALeaseIsENOENT) {
  makeFile(kRootIno, "f.txt", "someone's content");
  Id128 known = blobOf("/f.txt");  // in the store, but never put by this caller
  std::string before = describeTree();
  for (const Id128& id : {bogusId(), Id128::zero(), known}) {
    SCOPED_TRACE(id.hex());
    auto st = cas().commit(Caller::root(), "/g.txt", id, Basis::absent());
    EXPECT_EQ(st.status().errnum(), ENOENT) << st.status().toString();
    EXPECT_FALSE(st.status().isConflict());
    EXPECT_EQ(describeTree(), before);
  }
}

TEST_F(Commit, TheLeaseIsConsumedByTheCommit) {
  Id128 id = put("once");
  ASSERT_TRUE(cas().commit(Caller::root(), "/one.txt", id, Basis::absent()).ok());
  std::string before = describeTree();
  auto again = cas().commit(Caller::root(), "/two.txt", id, Basis::absent());
  EXPECT_EQ(again.status().errnum(), ENOENT) << again.status().toString();
  EXPECT_EQ(describeTree(), before);
}

TEST_F(Commit, EachPutGrantsOneCommit) {
  Id128 first = put("twice");
  Id128 second = put("twice");
  EXPECT_EQ(first, second) << "equal content, equal blobId";
  EXPECT_TRUE(cas().commit(Caller::root(), "/one.txt", first, Basis::absent()).ok());
  EXPECT_TRUE(cas().commit(Caller::root(), "/two.txt", first, Basis::absent()).ok());
  EXPECT_EQ(cas().commit(Caller::root(), "/three.txt", first, Basis::absent()).status().errnum(), ENOENT);
  EXPECT_EQ(contentAt("/two.txt"), "twice");
}

// A commit finds its lease by key (Leases' hints), not by a scan past the
// deletion markers of earlier commits: many rounds on one file, each
// consuming exactly its own lease, and none left at the end.
TEST_F(Commit, ManyRoundsOfPutAndCommitEachConsumeTheirOwnLease) {
  Id128 basis = put("0");
  ASSERT_TRUE(cas().commit(Caller::root(), "/counter", basis, Basis::absent()).ok());
  for (int i = 1; i <= 300; ++i) {
    Id128 next = put(std::to_string(i));
    auto committed = cas().commit(Caller::root(), "/counter", next, Basis::of(basis));
    ASSERT_TRUE(committed.ok()) << i << ": " << committed.status().toString();
    basis = next;
  }
  EXPECT_EQ(contentAt("/counter"), "300");
  EXPECT_EQ(stats().leaseCount, 0u);
  EXPECT_EQ(cas().commit(Caller::root(), "/other", basis, Basis::absent()).status().errnum(), ENOENT);
}

// Leases end by the store's clock (StoreOptions::clock): these tests move it.
class LeaseExpiry : public CasTest {
 protected:
  void SetUp() override {
    options_.clock = clock_;
    CasTest::SetUp();
  }
  int64_t ttlNs() const { return options_.leaseTtlSeconds * 1'000'000'000LL; }
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(Clock::real().nowNs());
};

TEST_F(LeaseExpiry, AnExpiredLeaseCannotBeCommittedAndItsChunksAreFreed) {
  StoreStats baseline = stats();
  Id128 id = put(randomBytes(512 * 1024, 5));
  EXPECT_GT(stats().chunkCount, baseline.chunkCount);
  clock_->advance(ttlNs() + 1);
  auto expired = store_->collectGarbage();
  ASSERT_TRUE(expired.ok()) << expired.status().toString();
  EXPECT_EQ(*expired, 1u);
  EXPECT_EQ(cas().commit(Caller::root(), "/late.txt", id, Basis::absent()).status().errnum(), ENOENT);
  StoreStats after = stats();
  EXPECT_EQ(after.leaseCount, baseline.leaseCount);
  EXPECT_EQ(after.chunkCount, baseline.chunkCount);
  EXPECT_EQ(after.blobCount, baseline.blobCount);
}

TEST_F(LeaseExpiry, ALeaseLivesExactlyItsTtl) {
  Id128 id = put("young");
  clock_->advance(ttlNs());  // expiry is "before now": at exactly the ttl it still holds
  auto expired = store_->collectGarbage();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 0u);
  EXPECT_TRUE(cas().commit(Caller::root(), "/young.txt", id, Basis::absent()).ok());
}

TEST_F(LeaseExpiry, OnlyTheLeasesPastTheirTtlExpire) {
  Id128 old = put("put first");
  clock_->advance(ttlNs() / 2);
  Id128 young = put("put later");
  clock_->advance(ttlNs() / 2 + 1);
  auto expired = store_->collectGarbage();
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(*expired, 1u);
  EXPECT_EQ(cas().commit(Caller::root(), "/old.txt", old, Basis::absent()).status().errnum(), ENOENT);
  EXPECT_TRUE(cas().commit(Caller::root(), "/young.txt", young, Basis::absent()).ok());
}

// ---- blobIds (SPEC §2) ---------------------------------------------------------------

TEST_F(BlobIds, AFileThatChangesAndChangesBackHasItsOldBlobIdAndCasSucceeds) {
  uint64_t ino = makeFile(kRootIno, "f.txt", "version one");
  Id128 v1 = blobOf("/f.txt");
  ASSERT_TRUE(writeFile(ns(), ino, 0, "VERSION TWO").ok());
  Id128 v2 = blobOf("/f.txt");
  ASSERT_NE(v1, v2);
  ASSERT_TRUE(writeFile(ns(), ino, 0, "version one").ok());
  EXPECT_EQ(blobOf("/f.txt"), v1);
  // A compare-and-swap against the old id succeeds: the content is what the caller expected.
  Id128 next = put("version three");
  ASSERT_TRUE(cas().commit(Caller::root(), "/f.txt", next, Basis::of(v1)).ok());
  EXPECT_EQ(contentAt("/f.txt"), "version three");
  makeFile(kRootIno, "g.txt", "version three");
  ASSERT_TRUE(run({Copy("/g.txt", next, "/f2.txt"), Delete("/f.txt", next)}).ok());
}

TEST_F(BlobIds, ABlobIdIs32LowercaseHexDigits) {
  makeFile(kRootIno, "f.txt", "anything");
  std::string hex = blobOf("/f.txt").hex();
  ASSERT_EQ(hex.size(), 32u);
  for (char c : hex) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << hex;
  EXPECT_EQ(Id128::parseHex(hex), blobOf("/f.txt"));
}

TEST_F(BlobIds, TheEmptyFileHasTheDocumentedEmptyBlobId) {
  makeFile(kRootIno, "empty.txt", "");
  Id128 empty = emptyId();
  EXPECT_EQ(blobOf("/empty.txt"), empty);
  EXPECT_EQ(empty, ContentStore::computeEmptyBlobId(xxh3Hash));
  // The derivation content_store.h documents: XXH3-128, seed 0, over
  // "acidfs-blob-v1" ‖ size 0 as u64 LE ‖ page count 0 as u32 LE.
  std::string body = "acidfs-blob-v1" + std::string(12, '\0');
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_withSeed(body.data(), body.size(), 0));
  Id128 documented;
  std::memcpy(documented.bytes.data(), canonical.digest, 16);
  EXPECT_EQ(empty, documented);
  EXPECT_EQ(empty.hex(), "02f9c633070d0b8d6d5712a45690de04") << "fixed for format version 1";
  auto st = cas().stat(Caller::root(), "/empty.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->inode.size, 0u);
}

TEST_F(BlobIds, TheEmptyBlobIdIsTheSameInTwoStores) {
  makeFile(kRootIno, "empty.txt", "");
  TempDir otherDir;
  auto other = Store::open(otherDir.path() + "/store");
  ASSERT_TRUE(other.ok()) << other.status().toString();
  EXPECT_EQ((*other)->content().emptyBlobId(), emptyId());
  ASSERT_TRUE((*other)->ns().mknod(Caller::root(), kRootIno, "e", S_IFREG | 0644, 0).ok());
  auto st = (*other)->cas().stat(Caller::root(), "/e");
  ASSERT_TRUE(st.ok()) << st.status().toString();
  EXPECT_EQ(st->blob, blobOf("/empty.txt"));
}

TEST_F(BlobIds, EveryWayOfMakingAnEmptyFileGivesTheEmptyBlobId) {
  uint64_t truncated = makeFile(kRootIno, "truncated.txt", "soon nothing");
  SetAttrRequest toZero;
  toZero.size = 0;
  ASSERT_TRUE(ns().setattr(truncated, toZero).ok());
  EXPECT_EQ(blobOf("/truncated.txt"), emptyId());
  Id128 putEmpty = put("");
  EXPECT_EQ(putEmpty, emptyId());
  ASSERT_TRUE(cas().commit(Caller::root(), "/committed.txt", putEmpty, Basis::absent()).ok());
  EXPECT_EQ(blobOf("/committed.txt"), emptyId());
  EXPECT_EQ(contentAt("/committed.txt"), "");
}

TEST_F(BlobIds, EqualContentWrittenDifferentlyHasEqualBlobIds) {
  // Several chunks and a partial last one.
  const std::string data = randomBytes(5 * store_->content().chunkSize() + 1234, 9);

  makeFile(kRootIno, "one-write.bin", data);

  uint64_t small = makeFile(kRootIno, "small-writes.bin", "");
  for (size_t off = 0; off < data.size(); off += 4000)
    ASSERT_TRUE(writeFile(ns(), small, off, std::string_view(data).substr(off, 4000)).ok());

  uint64_t backwards = makeFile(kRootIno, "backwards.bin", "");
  for (size_t end = data.size(); end > 0;) {
    size_t begin = end > 10000 ? end - 10000 : 0;
    ASSERT_TRUE(writeFile(ns(), backwards, begin, std::string_view(data).substr(begin, end - begin)).ok());
    end = begin;
  }

  uint64_t overwritten = makeFile(kRootIno, "overwritten.bin", randomBytes(data.size() + 5000, 10));
  ASSERT_TRUE(writeFile(ns(), overwritten, 0, data).ok());
  SetAttrRequest cut;
  cut.size = data.size();
  ASSERT_TRUE(ns().setattr(overwritten, cut).ok());

  Id128 viaPut = put(data);
  ASSERT_TRUE(cas().commit(Caller::root(), "/via-put.bin", viaPut, Basis::absent()).ok());

  Id128 expected = blobOf("/one-write.bin");
  EXPECT_EQ(blobOf("/small-writes.bin"), expected);
  EXPECT_EQ(blobOf("/backwards.bin"), expected);
  EXPECT_EQ(blobOf("/overwritten.bin"), expected);
  EXPECT_EQ(viaPut, expected);
  EXPECT_EQ(blobOf("/via-put.bin"), expected);
  EXPECT_EQ(contentAt("/overwritten.bin"), data);

  // And one different byte is a different blob.
  std::string flipped = data;
  flipped[data.size() / 2] ^= 1;
  makeFile(kRootIno, "flipped.bin", flipped);
  EXPECT_NE(blobOf("/flipped.bin"), expected);
}

TEST_F(BlobIds, HolesAndWrittenZerosHaveEqualBlobIds) {
  const size_t size = 3 * store_->content().chunkSize() + 77;
  std::string zeros(size, '\0');
  makeFile(kRootIno, "zeros.bin", zeros);
  uint64_t sparse = makeFile(kRootIno, "sparse.bin", "");
  SetAttrRequest grow;
  grow.size = size;
  ASSERT_TRUE(ns().setattr(sparse, grow).ok());
  EXPECT_EQ(blobOf("/sparse.bin"), blobOf("/zeros.bin"));

  std::string tail = "tail";
  std::string withHole(size, '\0');
  withHole.replace(size - tail.size(), tail.size(), tail);
  makeFile(kRootIno, "with-hole-written.bin", withHole);
  uint64_t seeked = makeFile(kRootIno, "with-hole-seeked.bin", "");
  ASSERT_TRUE(writeFile(ns(), seeked, size - tail.size(), tail).ok());
  EXPECT_EQ(blobOf("/with-hole-seeked.bin"), blobOf("/with-hole-written.bin"));
  EXPECT_NE(blobOf("/with-hole-seeked.bin"), blobOf("/zeros.bin"));
  EXPECT_NE(blobOf("/zeros.bin"), emptyId()) << "size is part of the content";
}

// ---- stat ----------------------------------------------------------------------------

TEST_F(Stat, AFileHasItsBlobIdSizeAndInode) {
  uint64_t d = makeDir(kRootIno, "d");
  uint64_t ino = makeFile(d, "f.txt", "twelve bytes");
  auto st = cas().stat(Caller::root(), "/d/f.txt");
  ASSERT_TRUE(st.ok()) << st.status().toString();
  EXPECT_EQ(st->ino, ino);
  EXPECT_EQ(st->inode.size, 12u);
  ASSERT_TRUE(st->blob.has_value());
  EXPECT_EQ(*st->blob, put("twelve bytes"));
}

TEST_F(Stat, DirectoriesAndSymlinksHaveNoBlobId) {
  makeDir(kRootIno, "d");
  ASSERT_TRUE(ns().symlink(Caller::root(), kRootIno, "link", "d").ok());
  auto dir = cas().stat(Caller::root(), "/d");
  ASSERT_TRUE(dir.ok()) << dir.status().toString();
  EXPECT_FALSE(dir->blob.has_value());
  EXPECT_TRUE(S_ISDIR(dir->inode.mode));
  auto root = cas().stat(Caller::root(), "/");
  ASSERT_TRUE(root.ok()) << root.status().toString();
  EXPECT_EQ(root->ino, kRootIno);
  EXPECT_FALSE(root->blob.has_value());
  auto link = cas().stat(Caller::root(), "/link");
  if (link.ok()) {
    EXPECT_FALSE(link->blob.has_value()) << "a symlink is not followed into a blob";
  }
}

TEST_F(Stat, AMissingPathIsENOENTNotAConflict) {
  makeDir(kRootIno, "d");
  for (const char* path : {"/missing", "/d/missing", "/missing/deeper"}) {
    auto st = cas().stat(Caller::root(), path);
    EXPECT_EQ(st.status().errnum(), ENOENT) << path << ": " << st.status().toString();
    EXPECT_FALSE(st.status().isConflict()) << path;
  }
}

}  // namespace
}  // namespace acidfs

namespace acidfs {
namespace {

// SPEC §11: commit ops land several PUT blobs on several paths in one
// transaction, each under its own basis, all or nothing.
class CommitOps : public testing::StoreFixture {};

TEST_F(CommitOps, SeveralFilesNewContentsLandTogetherOrNotAtAll) {
  makeFile(kRootIno, "a", "old a");
  const Id128 oldA = blobOf("/a");
  auto blobA = cas().put(Caller::root(), "new a");
  auto blobB = cas().put(Caller::root(), "new b");
  ASSERT_TRUE(blobA.ok() && blobB.ok());
  // Op 2's basis fails: nothing of op 1 either, and the leases survive.
  std::vector<TransactOp> wrong{{TransactOp::Kind::kCommit, "", *blobA, "/a", Basis::of(oldA)},
                                {TransactOp::Kind::kCommit, "", *blobB, "/b", Basis::of(oldA)}};
  auto refused = cas().transact(Caller::root(), wrong);
  ASSERT_TRUE(refused.status().isConflict()) << refused.status().toString();
  EXPECT_EQ(ConflictCode::kCasConflict, refused.status().conflict()->code);
  EXPECT_EQ(2, refused.status().conflict()->operationIndex);
  EXPECT_EQ("old a", contentAt("/a"));
  // Right bases: both land.
  std::vector<TransactOp> right{{TransactOp::Kind::kCommit, "", *blobA, "/a", Basis::of(oldA)},
                                {TransactOp::Kind::kCommit, "", *blobB, "/b", Basis::absent()}};
  ASSERT_TRUE(cas().transact(Caller::root(), right).ok());
  EXPECT_EQ("new a", contentAt("/a"));
  EXPECT_EQ("new b", contentAt("/b"));
  // Each PUT is consumed by one commit: a blob no lease of the caller's holds is refused.
  std::vector<TransactOp> again{{TransactOp::Kind::kCommit, "", *blobA, "/c", Basis::absent()}};
  EXPECT_EQ("ENOENT", testing::code(cas().transact(Caller::root(), again).status()));
  std::vector<TransactOp> notTheirs{{TransactOp::Kind::kCommit, "", *blobB, "/d", Basis::absent()}};
  EXPECT_EQ("ENOENT", testing::code(cas().transact(Caller::of(1000, 1000), notTheirs).status()));
}

// SPEC §11: user.acidfs.version grows at every content commit of a file,
// through every path that commits content, and is never handed out again,
// not after a reopen either (a power cut: tests/power_cut_test.cc).
class ContentVersions : public testing::StoreFixture {
 protected:
  uint64_t versionOf(const std::string& path) {
    auto st = cas().stat(Caller::root(), path);
    EXPECT_TRUE(st.ok()) << path << ": " << st.status().toString();
    return st.ok() ? st->inode.contentVersion : 0;
  }
  uint64_t versionXattr(uint64_t ino) {
    auto value = ns().getxattr(ino, kVersionXattr);
    EXPECT_TRUE(value.ok()) << value.status().toString();
    return value.ok() ? std::stoull(*value) : 0;
  }
};

TEST_F(ContentVersions, EveryContentCommitGrowsTheVersionAndNoNumberComesTwice) {
  const uint64_t f = makeFile(kRootIno, "f", "one");
  std::vector<uint64_t> seen = {versionOf("/f")};
  EXPECT_GT(seen.back(), 0u);
  EXPECT_EQ(seen.back(), versionXattr(f));
  auto grew = [&](const char* how) {
    const uint64_t v = versionOf("/f");
    EXPECT_GT(v, seen.back()) << how;
    EXPECT_EQ(v, versionXattr(f)) << how;
    seen.push_back(v);
  };
  ASSERT_TRUE(testing::writeFile(ns(), f, 0, "two").ok());
  grew("a write");
  ASSERT_TRUE(testing::writeFile(ns(), f, 0, "two").ok());
  grew("a write of the same bytes (a new commit, the same blobId)");
  auto blob = cas().put(Caller::root(), "three");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(cas().commit(Caller::root(), "/f", *blob, Basis::any()).ok());
  grew("a CAS commit");
  SetAttrRequest toZero;
  toZero.size = 0;
  ASSERT_TRUE(ns().setattr(f, toZero).ok());
  grew("a truncate");
  makeFile(kRootIno, "g", "source");
  std::vector<TransactOp> copy{{TransactOp::Kind::kCopy, "/g", std::nullopt, "/f", Basis::any()}};
  ASSERT_TRUE(cas().transact(Caller::root(), copy).ok());
  grew("a copy onto it");
  // Other files take numbers from the same count: never one of these.
  EXPECT_EQ(seen.end(), std::find(seen.begin(), seen.end(), versionOf("/g")));
  reopen();
  ASSERT_TRUE(testing::writeFile(ns(), f, 0, "after a reopen").ok());
  grew("a write after a reopen");
  // Only regular files have one, and nobody sets it.
  EXPECT_EQ("ENODATA", testing::code(ns().getxattr(kRootIno, kVersionXattr).status()));
  EXPECT_EQ("EINVAL", testing::code(ns().setxattr(f, kVersionXattr, "1", 0)));
}

// SPEC §11: a TRANSACT or COMMIT with a txnId is applied once; a repeat
// by the same uid within 24 h applies nothing and gets the first outcome,
// after a reopen too; a conflict is an outcome, a transient error is not.
class TxnIdRequests : public testing::StoreFixture {
 protected:
  TxnIdRequests() {
    options_.clock = clock_;
    options_.gcIntervalSeconds = 0;  // expiry only when the test says
  }
  // A transact with txnId `id` whose success answers "applied <ops>".
  Result<std::vector<std::string>> transactOnce(const std::string& id, const std::vector<TransactOp>& ops,
                                                std::optional<TxnOutcome>& recalled, const Caller& who = Caller::root()) {
    Idempotence idem{id, [n = ops.size()](const PathStat*) { return "applied " + std::to_string(n); }, std::nullopt};
    auto result = cas().transact(who, ops, &idem);
    recalled = idem.recalled;
    return result;
  }
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(1'800'000'000ll * 1'000'000'000);
};

TEST_F(TxnIdRequests, ARepeatAppliesNothingAndGetsTheFirstOutcomeUntilADayHasPassed) {
  makeFile(kRootIno, "a", "a");
  std::optional<TxnOutcome> recalled;
  std::vector<TransactOp> copyAB{{TransactOp::Kind::kCopy, "/a", std::nullopt, "/b", Basis::absent()}};
  ASSERT_TRUE(transactOnce("job-1", copyAB, recalled).ok());
  EXPECT_FALSE(recalled) << "the first request is applied";
  EXPECT_EQ("a", contentAt("/b"));
  // The repeat (its ops need not be the same): nothing applied, the first answer.
  ASSERT_TRUE(ns().unlink(kRootIno, "b").ok());
  std::vector<TransactOp> copyAC{{TransactOp::Kind::kCopy, "/a", std::nullopt, "/c", Basis::absent()}};
  ASSERT_TRUE(transactOnce("job-1", copyAC, recalled).ok());
  ASSERT_TRUE(recalled);
  EXPECT_EQ(0, recalled->errnum);
  EXPECT_EQ("applied 1", recalled->answer);
  EXPECT_FALSE(exists("/b"));
  EXPECT_FALSE(exists("/c"));
  // Another uid's txnIds are its own: not recalled, run (and refused: / is root's).
  auto other = transactOnce("job-1", copyAC, recalled, Caller::of(1000, 1000));
  EXPECT_FALSE(recalled);
  EXPECT_EQ("EACCES", testing::code(other.status()));
  // Across a reopen (a daemon restart): still remembered.
  reopen();
  ASSERT_TRUE(transactOnce("job-1", copyAC, recalled).ok());
  EXPECT_TRUE(recalled);
  EXPECT_FALSE(exists("/c"));
  // A day later it is forgotten (by the sweep, or at the next use): applied again.
  clock_->advance(kTxnIdRetentionNs - 1);
  ASSERT_TRUE(transactOnce("job-1", copyAC, recalled).ok());
  EXPECT_TRUE(recalled) << "forgotten before 24 h";
  clock_->advance(1);
  ASSERT_TRUE(store_->expireTxnIds().ok());
  ASSERT_TRUE(transactOnce("job-1", copyAC, recalled).ok());
  EXPECT_FALSE(recalled);
  EXPECT_EQ("a", contentAt("/c"));
  // Recorded anew: a repeat now is the new first's.
  ASSERT_TRUE(transactOnce("job-1", copyAB, recalled).ok());
  EXPECT_TRUE(recalled);
  EXPECT_FALSE(exists("/b"));
}

TEST_F(TxnIdRequests, AConflictIsTheOutcomeARepeatGetsEvenWhenItWouldNowSucceed) {
  makeFile(kRootIno, "a", "a");
  makeFile(kRootIno, "b", "taken");
  std::optional<TxnOutcome> recalled;
  std::vector<TransactOp> copyAB{{TransactOp::Kind::kCopy, "/a", std::nullopt, "/b", Basis::absent()}};
  Idempotence idem{"move-it", [](const PathStat*) { return std::string("applied"); }, std::nullopt};
  auto refused = cas().transact(Caller::root(), copyAB, &idem);
  ASSERT_TRUE(refused.status().isConflict()) << refused.status().toString();
  auto answered = cas().rememberFailure(Caller::root(), idem, TxnOutcome{EEXIST, "the conflict report"});
  ASSERT_TRUE(answered.ok());
  EXPECT_EQ("the conflict report", answered->answer);
  ASSERT_TRUE(ns().unlink(kRootIno, "b").ok());  // it would go through now
  ASSERT_TRUE(transactOnce("move-it", copyAB, recalled).ok());
  ASSERT_TRUE(recalled);
  EXPECT_EQ(EEXIST, recalled->errnum);
  EXPECT_EQ("the conflict report", recalled->answer);
  EXPECT_FALSE(exists("/b"));
  // A second failure's record does not replace the first outcome.
  auto again = cas().rememberFailure(Caller::root(), idem, TxnOutcome{EACCES, "another"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(EEXIST, again->errnum);
  // A transient failure is no outcome: nothing recorded, a retry applies.
  Idempotence transient{"io-error", nullptr, std::nullopt};
  auto notKept = cas().rememberFailure(Caller::root(), transient, TxnOutcome{EIO, "disk"});
  ASSERT_TRUE(notKept.ok());
  ASSERT_TRUE(transactOnce("io-error", copyAB, recalled).ok());
  EXPECT_FALSE(recalled);
  EXPECT_EQ("a", contentAt("/b"));
}

TEST_F(TxnIdRequests, ACommitWithATxnIdIsAppliedOnceAndBadIdsAreRefused) {
  auto blob = cas().put(Caller::root(), "v1");
  ASSERT_TRUE(blob.ok());
  Idempotence idem{"c-1", [](const PathStat* st) { return "version " + std::to_string(st->inode.contentVersion); },
                   std::nullopt};
  auto first = cas().commit(Caller::root(), "/f", *blob, Basis::absent(), 0644, &idem);
  ASSERT_TRUE(first.ok()) << first.status().toString();
  EXPECT_FALSE(idem.recalled);
  auto blob2 = cas().put(Caller::root(), "v2");
  ASSERT_TRUE(blob2.ok());
  auto repeat = cas().commit(Caller::root(), "/f", *blob2, Basis::any(), 0644, &idem);
  ASSERT_TRUE(repeat.ok());
  ASSERT_TRUE(idem.recalled);
  EXPECT_EQ("version " + std::to_string(first->inode.contentVersion), idem.recalled->answer);
  EXPECT_EQ("v1", contentAt("/f"));
  for (const std::string& bad : {std::string(), std::string(65, 'x'), std::string("tab\there"), std::string("\xff")}) {
    Idempotence wrong{bad, [](const PathStat*) { return std::string(); }, std::nullopt};
    EXPECT_EQ("EINVAL", testing::code(cas().commit(Caller::root(), "/f", *blob2, Basis::any(), 0644, &wrong).status()))
        << "txnId of " << bad.size() << " bytes";
  }
  EXPECT_TRUE(TxnIds::validate(std::string(64, '~')).ok());
}

}  // namespace
}  // namespace acidfs
