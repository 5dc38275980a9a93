// Space reclamation (SPEC §3 "Space"; format.h's reference-count
// invariants): chunks that no file and no pending blob references are freed;
// deleting everything returns the store to its empty size; leases hold put()
// blobs until committed or expired; orphans hold their content until
// released, and orphans left behind by a stop are freed when the store opens.
#include <string.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/content_store.h"
#include "core/format.h"
#include "core/namespace.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::StoreFixture;
using testing::writeFile;

constexpr uint64_t kRoot = kRootIno;
constexpr uint64_t kMiB = 1 << 20;

using testing::code;

using testing::randomBytes;

class Gc : public StoreFixture {
 protected:
  // The store's size once it has settled. diskUsage() counts the files in
  // the store directory, and some space is only given back at the next
  // step of a background process: RocksDB keeps deleted records (inline
  // chunk bytes, tombstones) in its write-ahead log and memtables until a
  // flush and a compaction, and a segment file whose extents were all freed
  // stays (as holes) while it is the active segment. So: sync (everything
  // committed is on disk), collect garbage (expire leases, let the metadata
  // database compact), and reopen (recovery flushes the log and starts a
  // fresh segment; the sweep removes segments nothing names). The baseline
  // is measured the same way, so both carry the same fixed overhead
  // (RocksDB's LOG, OPTIONS and MANIFEST files).
  uint64_t settledUsage() {
    EXPECT_EQ(code(store_->sync()), "OK");
    EXPECT_EQ(code(store_->collectGarbage()), "OK");
    reopen();
    EXPECT_EQ(code(store_->sync()), "OK");
    return store_->diskUsage();
  }

  // Removes a name; frees the inode too if the core kept it as an orphan.
  void remove(uint64_t parent, const std::string& name) {
    auto gone = ns().unlink(parent, name);
    ASSERT_TRUE(gone.ok()) << name << ": " << gone.status().toString();
    if (gone->lastLink && ns().getattr(gone->ino).ok()) {
      ASSERT_EQ(code(ns().releaseOrphan(gone->ino)), "OK");
    }
  }

  // Deletes everything under `dir` (not `dir` itself).
  void removeTree(uint64_t dir) {
    std::vector<DirEntry> entries;
    ASSERT_EQ(code(ns().readdir(dir, 0,
                                [&](const DirEntry& e) {
                                  if (e.name != "." && e.name != "..") entries.push_back(e);
                                  return true;
                                })),
              "OK");
    for (const DirEntry& e : entries) {
      if (e.type == S_IFDIR) {
        removeTree(e.ino);
        ASSERT_EQ(code(ns().rmdir(dir, e.name)), "OK");
      } else {
        remove(dir, e.name);
      }
    }
  }

  // Marks inodes as open, as the FUSE layer does while a descriptor holds
  // one: losing its last name then orphans an inode instead of freeing it.
  void markOpen(uint64_t ino) {
    open_.insert(ino);
    ns().setInUseCheck([this](uint64_t i) { return open_.count(i) > 0; });
  }
  std::set<uint64_t> open_;
};

// Tolerance for "the same size": RocksDB files that come and go with each
// open (a rotated LOG, OPTIONS) — far below what the tests write.
constexpr uint64_t kMargin = 1 * kMiB;

// ---- deleting everything -------------------------------------------------------------

TEST_F(Gc, DeletingEverythingReturnsTheStoreToItsEmptySize) {
  const uint64_t baseline = settledUsage();
  const StoreStats empty = stats();

  // Large files whose chunks live in segment files, small ones inline, some
  // content shared, directories, symlinks, hard links, xattrs, overwrites.
  uint64_t big = makeDir(kRoot, "big");
  for (int i = 0; i < 40; ++i) makeFile(big, "f" + std::to_string(i), randomBytes(kMiB + i * 1000, i));
  uint64_t small = makeDir(kRoot, "small");
  for (int i = 0; i < 300; ++i) {
    uint64_t sub = i % 10 == 0 ? makeDir(small, "d" + std::to_string(i)) : small;
    uint64_t f = makeFile(sub, "s" + std::to_string(i), randomBytes(1000 + (i * 37) % 15000, 1000 + i));
    if (i % 7 == 0) {
      ASSERT_EQ(code(ns().setxattr(f, "user.tag", std::string(200, 'x'), 0)), "OK");
    }
    if (i % 11 == 0) {
      ASSERT_EQ(code(ns().link(f, kRoot, "link" + std::to_string(i))), "OK");
    }
  }
  makeFile(kRoot, "copy-a", randomBytes(3 * kMiB, 77));
  makeFile(kRoot, "copy-b", randomBytes(3 * kMiB, 77));
  uint64_t overwritten = makeFile(kRoot, "overwritten", randomBytes(2 * kMiB, 78));
  ASSERT_TRUE(writeFile(ns(), overwritten, 0, randomBytes(2 * kMiB, 79)).ok());
  ASSERT_TRUE(ns().symlink(Caller::root(), kRoot, "sym", "big/f1").ok());

  const uint64_t full = settledUsage();
  EXPECT_GE(full, baseline + 40 * kMiB) << "the files should have taken space";
  EXPECT_GT(stats().chunkCount, 0u);

  removeTree(kRoot);
  const uint64_t after = settledUsage();
  RecordProperty("baseline", std::to_string(baseline));
  RecordProperty("full", std::to_string(full));
  RecordProperty("after", std::to_string(after));
  const StoreStats end = stats();
  EXPECT_EQ(end.chunkCount, 0u);
  EXPECT_EQ(end.blobCount, 0u);
  EXPECT_EQ(end.leaseCount, 0u);
  EXPECT_EQ(end.inodeCount, empty.inodeCount);
  EXPECT_EQ(end.bytesReferenced, 0u);
  EXPECT_LE(after, baseline + kMargin) << "empty store " << baseline << " bytes, full " << full
                                        << ", after deleting everything " << after;
}

// Small files live inline in RocksDB records: their space comes back only
// if deleted records are really dropped from the database's files.
TEST_F(Gc, DeletingManySmallFilesReturnsTheStoreToItsEmptySize) {
  const uint64_t baseline = settledUsage();
  for (int i = 0; i < 2000; ++i) makeFile(kRoot, "s" + std::to_string(i), randomBytes(4000 + i % 3000, i));
  const uint64_t full = settledUsage();
  EXPECT_GE(full, baseline + 8 * kMiB);
  removeTree(kRoot);
  const uint64_t after = settledUsage();
  RecordProperty("baseline", std::to_string(baseline));
  RecordProperty("full", std::to_string(full));
  RecordProperty("after", std::to_string(after));
  EXPECT_EQ(stats().chunkCount, 0u);
  EXPECT_EQ(stats().blobCount, 0u);
  EXPECT_LE(after, baseline + kMargin) << "empty store " << baseline << " bytes, full " << full
                                        << ", after deleting everything " << after;
}

// bytesStored (`acidfs status`, SPEC §5 "bytes stored and referenced, dedup
// ratio") is the content the chunk store holds: the stored bytes of every
// live chunk, each once however many files share it. It is measured on the
// running store, as `status` asks a mounted daemon, with no reopen: space
// that RocksDB (write-ahead log, memtable arenas, table files awaiting
// compaction) or a segment file (a sealed one not yet unlinked) gives back
// only later is the disk's business, not the content's. So once every file is
// gone the count is the empty store's — exactly, not "about": 0.
TEST_F(Gc, BytesStoredFallsBackToTheEmptyStoresValueAfterDeletingEverything) {
  const StoreStats empty = stats();
  EXPECT_EQ(empty.bytesStored, 0u) << "a new store holds no content";

  // About 20 MiB of distinct content: segment chunks, inline chunks, holes,
  // and one file's content twice (stored once).
  uint64_t expected = 0;
  uint64_t big = makeDir(kRoot, "big");
  for (int i = 0; i < 16; ++i) {
    makeFile(big, "f" + std::to_string(i), randomBytes(kMiB + i * 1000, 100 + i));
    expected += kMiB + i * 1000;
  }
  uint64_t small = makeDir(kRoot, "small");
  for (int i = 0; i < 1000; ++i) {
    const size_t size = 1000 + (i * 37) % 7000;
    makeFile(small, "s" + std::to_string(i), randomBytes(size, 2000 + i));
    expected += size;
  }
  std::string sparse = randomBytes(3 * kMiB, 90);
  std::fill(sparse.begin() + kMiB, sparse.begin() + 2 * kMiB, '\0');  // whole chunks of zeros: holes, not stored
  makeFile(kRoot, "sparse", sparse);
  expected += 2 * kMiB;
  makeFile(kRoot, "twin-a", randomBytes(2 * kMiB, 91));
  makeFile(kRoot, "twin-b", randomBytes(2 * kMiB, 91));
  expected += 2 * kMiB;

  const StoreStats full = stats();
  EXPECT_EQ(full.bytesStored, expected) << "each distinct chunk's bytes, once";
  EXPECT_EQ(full.bytesReferenced, expected + kMiB + 2 * kMiB) << "every file's size: the hole and the twin too";

  removeTree(kRoot);
  ASSERT_EQ(code(store_->sync()), "OK");
  ASSERT_EQ(code(store_->collectGarbage()), "OK");
  const StoreStats end = stats();
  RecordProperty("full", std::to_string(full.bytesStored));
  RecordProperty("after", std::to_string(end.bytesStored));
  EXPECT_EQ(end.chunkCount, 0u);
  EXPECT_EQ(end.blobCount, 0u);
  EXPECT_EQ(end.bytesReferenced, 0u);
  EXPECT_EQ(end.bytesStored, empty.bytesStored) << "full " << full.bytesStored << " bytes, after deleting everything "
                                                << end.bytesStored;
  reopen();
  EXPECT_EQ(stats().bytesStored, empty.bytesStored);
}

TEST_F(Gc, TheEmptyStoreDoesNotGrowFromOpeningAndClosing) {
  const uint64_t baseline = settledUsage();
  for (int i = 0; i < 5; ++i) reopen();
  EXPECT_LE(settledUsage(), baseline + kMargin);
}

// ---- overwrites and sharing --------------------------------------------------------------

TEST_F(Gc, OverwritingAFileFreesItsOldContent) {
  uint64_t f = makeFile(kRoot, "f", randomBytes(4 * kMiB, 1));
  const StoreStats one = stats();
  const uint64_t usageOne = settledUsage();
  ASSERT_TRUE(writeFile(ns(), f, 0, randomBytes(4 * kMiB, 2)).ok());
  const StoreStats two = stats();
  EXPECT_EQ(two.chunkCount, one.chunkCount);
  EXPECT_EQ(two.blobCount, 1u);
  const uint64_t usageTwo = settledUsage();
  EXPECT_LT(usageTwo, usageOne + kMiB) << "the old 4 MiB should have been freed: " << usageOne << " → " << usageTwo;
  EXPECT_EQ(readAll(f), randomBytes(4 * kMiB, 2));
}

TEST_F(Gc, OverwritingFreesOnlyTheChunksNoOtherFileShares) {
  const uint32_t C = store_->content().chunkSize();
  const std::string x = randomBytes(C, 10), y = randomBytes(C, 11), z = randomBytes(C, 12);
  uint64_t f1 = makeFile(kRoot, "f1", x + y);
  uint64_t f2 = makeFile(kRoot, "f2", y + z);
  EXPECT_EQ(stats().chunkCount, 3u);  // x, y (shared), z
  const std::string p = randomBytes(C, 13), q = randomBytes(C, 14);
  ASSERT_TRUE(writeFile(ns(), f1, 0, p + q).ok());
  EXPECT_EQ(stats().chunkCount, 4u);  // x freed; y kept for f2; p, q new
  EXPECT_EQ(readAll(f1), p + q);
  EXPECT_EQ(readAll(f2), y + z);
  reopen();
  EXPECT_EQ(readAll(f2), y + z);
}

TEST_F(Gc, TruncatingToZeroFreesTheContent) {
  uint64_t f = makeFile(kRoot, "f", randomBytes(2 * kMiB, 3));
  SetAttrRequest r;
  r.size = 0;
  ASSERT_TRUE(ns().setattr(f, r).ok());
  EXPECT_EQ(stats().chunkCount, 0u);
  EXPECT_EQ(stats().blobCount, 0u);
}

TEST_F(Gc, TruncatingFreesTheChunksPastTheNewEnd) {
  const uint32_t C = store_->content().chunkSize();
  uint64_t f = makeFile(kRoot, "f", randomBytes(10 * C, 4));
  EXPECT_EQ(stats().chunkCount, 10u);
  SetAttrRequest r;
  r.size = 3 * C;
  ASSERT_TRUE(ns().setattr(f, r).ok());
  EXPECT_EQ(stats().chunkCount, 3u);
}

TEST_F(Gc, RenamingOverAFileFreesTheReplacedContent) {
  makeFile(kRoot, "new", randomBytes(kMiB, 5));
  makeFile(kRoot, "old", randomBytes(kMiB, 6));
  const uint64_t both = stats().chunkCount;
  auto moved = ns().rename(Caller::root(), kRoot, "new", kRoot, "old", 0);
  ASSERT_TRUE(moved.ok()) << moved.status().toString();
  if (moved->has_value() && (*moved)->lastLink && ns().getattr((*moved)->ino).ok()) {
    ASSERT_EQ(code(ns().releaseOrphan((*moved)->ino)), "OK");
  }
  EXPECT_EQ(stats().chunkCount, both / 2);
  EXPECT_EQ(stats().blobCount, 1u);
}

TEST_F(Gc, ChunksSharedByTwoFilesSurviveTheDeletionOfOne) {
  const std::string content = randomBytes(2 * kMiB, 7);
  makeFile(kRoot, "a", content);
  uint64_t b = makeFile(kRoot, "b", content);
  const StoreStats shared = stats();
  remove(kRoot, "a");
  EXPECT_EQ(stats().chunkCount, shared.chunkCount);
  EXPECT_EQ(stats().blobCount, 1u);
  reopen();
  EXPECT_EQ(readAll(b), content);
  remove(kRoot, "b");
  EXPECT_EQ(stats().chunkCount, 0u);
  EXPECT_EQ(stats().blobCount, 0u);
}

TEST_F(Gc, AChunkSharedByDifferentContentsSurvivesTheDeletionOfOne) {
  const uint32_t C = store_->content().chunkSize();
  const std::string a = randomBytes(C, 20), b = randomBytes(C, 21), c = randomBytes(C, 22);
  makeFile(kRoot, "ab", a + b);
  uint64_t bc = makeFile(kRoot, "bc", b + c);
  remove(kRoot, "ab");
  EXPECT_EQ(stats().chunkCount, 2u);
  reopen();
  EXPECT_EQ(readAll(bc), b + c);
}

TEST_F(Gc, ContentSharedByShareContentSurvivesTheSource) {
  const std::string content = randomBytes(3 * kMiB, 8);
  uint64_t src = makeFile(kRoot, "src", content);
  uint64_t dst = makeFile(kRoot, "dst", "");
  ASSERT_TRUE(ns().shareContent(src, dst).ok());
  remove(kRoot, "src");
  EXPECT_EQ(stats().blobCount, 1u);
  EXPECT_EQ(readAll(dst), content);
  remove(kRoot, "dst");
  EXPECT_EQ(stats().chunkCount, 0u);
}

// ---- leases ---------------------------------------------------------------------------------

// Leases that expire as soon as they are made; collected only on demand.
class ShortLeases : public Gc {
 protected:
  void SetUp() override {
    options_.leaseTtlSeconds = 0;
    options_.gcIntervalSeconds = 0;
    Gc::SetUp();
  }
};

// The default lease time (an hour): nothing expires during a test.
class LongLeases : public Gc {
 protected:
  void SetUp() override {
    options_.gcIntervalSeconds = 0;
    Gc::SetUp();
  }
};

TEST_F(ShortLeases, PutBlobIsHeldByALeaseAndFreedWhenItExpires) {
  const uint64_t baseline = settledUsage();
  auto put = cas().put(Caller::root(), randomBytes(4 * kMiB, 30));
  ASSERT_TRUE(put.ok()) << put.status().toString();
  const StoreStats held = stats();
  EXPECT_EQ(held.blobCount, 1u);
  EXPECT_EQ(held.leaseCount, 1u);
  EXPECT_EQ(held.chunkCount, 4 * kMiB / store_->content().chunkSize());

  auto collected = store_->collectGarbage();
  ASSERT_TRUE(collected.ok()) << collected.status().toString();
  EXPECT_GE(*collected, 1u);
  const StoreStats freed = stats();
  EXPECT_EQ(freed.blobCount, 0u);
  EXPECT_EQ(freed.leaseCount, 0u);
  EXPECT_EQ(freed.chunkCount, 0u);
  EXPECT_LE(settledUsage(), baseline + kMargin);
}

TEST_F(ShortLeases, CommittingAnExpiredAndCollectedBlobIsEnoent) {
  auto put = cas().put(Caller::root(), randomBytes(kMiB, 31));
  ASSERT_TRUE(put.ok()) << put.status().toString();
  ASSERT_TRUE(store_->collectGarbage().ok());
  auto committed = cas().commit(Caller::root(), "/f", *put, Basis::absent());
  EXPECT_EQ(code(committed), "ENOENT");
  EXPECT_EQ(code(ns().lookup(kRoot, "f")), "ENOENT");
  EXPECT_EQ(stats().blobCount, 0u);
}

TEST_F(ShortLeases, ExpiringALeaseOnContentAFileHoldsFreesOnlyTheLease) {
  const std::string content = randomBytes(2 * kMiB, 32);
  uint64_t f = makeFile(kRoot, "f", content);
  const StoreStats before = stats();
  auto put = cas().put(Caller::root(), content);
  ASSERT_TRUE(put.ok()) << put.status().toString();
  EXPECT_EQ(*put, ns().getattr(f)->inode.blob);
  ASSERT_TRUE(store_->collectGarbage().ok());
  const StoreStats after = stats();
  EXPECT_EQ(after.leaseCount, 0u);
  EXPECT_EQ(after.blobCount, before.blobCount);
  EXPECT_EQ(after.chunkCount, before.chunkCount);
  EXPECT_EQ(readAll(f), content);
}

TEST_F(LongLeases, CommittingBeforeExpiryKeepsTheBlob) {
  const std::string content = randomBytes(3 * kMiB, 33);
  auto put = cas().put(Caller::root(), content);
  ASSERT_TRUE(put.ok()) << put.status().toString();
  auto committed = cas().commit(Caller::root(), "/f", *put, Basis::absent());
  ASSERT_TRUE(committed.ok()) << committed.status().toString();
  EXPECT_EQ(stats().leaseCount, 0u) << "commit consumes the lease";
  auto collected = store_->collectGarbage();
  ASSERT_TRUE(collected.ok());
  EXPECT_EQ(stats().blobCount, 1u);
  auto f = ns().lookup(kRoot, "f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->inode.blob, *put);
  EXPECT_EQ(readAll(f->ino), content);
  reopen();
  EXPECT_EQ(readAll(f->ino), content);
}

TEST_F(LongLeases, AnUnexpiredLeaseSurvivesCollectionAndReopen) {
  const std::string content = randomBytes(kMiB, 34);
  auto put = cas().put(Caller::root(), content);
  ASSERT_TRUE(put.ok()) << put.status().toString();
  auto collected = store_->collectGarbage();
  ASSERT_TRUE(collected.ok());
  EXPECT_EQ(*collected, 0u);
  reopen();
  EXPECT_EQ(stats().leaseCount, 1u);
  EXPECT_EQ(stats().blobCount, 1u);
  auto committed = cas().commit(Caller::root(), "/f", *put, Basis::absent());
  ASSERT_TRUE(committed.ok()) << committed.status().toString();
  EXPECT_EQ(readAll(ns().lookup(kRoot, "f")->ino), content);
}

// ---- orphans ---------------------------------------------------------------------------------

TEST_F(Gc, AFileNobodyHoldsIsFreedWhenItsLastNameGoes) {
  makeFile(kRoot, "f", randomBytes(2 * kMiB, 40));
  auto gone = ns().unlink(kRoot, "f");
  ASSERT_TRUE(gone.ok()) << gone.status().toString();
  EXPECT_TRUE(gone->lastLink);
  EXPECT_EQ(stats().chunkCount, 0u);
  EXPECT_EQ(stats().blobCount, 0u);
  EXPECT_EQ(code(ns().getattr(gone->ino)), "ENOENT");
}

TEST_F(Gc, AnOrphanKeepsItsContentReadableUntilReleased) {
  const std::string content = randomBytes(2 * kMiB, 41);
  uint64_t f = makeFile(kRoot, "f", content);
  markOpen(f);
  const StoreStats before = stats();
  auto gone = ns().unlink(kRoot, "f");
  ASSERT_TRUE(gone.ok()) << gone.status().toString();
  ASSERT_TRUE(gone->lastLink);
  EXPECT_EQ(stats().chunkCount, before.chunkCount);
  EXPECT_EQ(readAll(f), content);
  // It can still be written while open (and that content is freed too).
  ASSERT_TRUE(writeFile(ns(), f, 0, "changed while orphaned").ok());

  ASSERT_EQ(code(ns().releaseOrphan(f)), "OK");
  EXPECT_EQ(code(ns().getattr(f)), "ENOENT");
  const StoreStats after = stats();
  EXPECT_EQ(after.chunkCount, 0u);
  EXPECT_EQ(after.blobCount, 0u);
  EXPECT_EQ(after.inodeCount, before.inodeCount - 1);
}

TEST_F(Gc, OrphansLeftWhenTheStoreClosedAreFreedOnOpen) {
  const uint64_t baseline = settledUsage();
  std::vector<uint64_t> orphans;
  for (int i = 0; i < 5; ++i) {
    uint64_t f = makeFile(kRoot, "f" + std::to_string(i), randomBytes(kMiB, 50 + i));
    markOpen(f);
    auto gone = ns().unlink(kRoot, "f" + std::to_string(i));
    ASSERT_TRUE(gone.ok() && gone->lastLink);
    orphans.push_back(f);
  }
  EXPECT_GT(stats().chunkCount, 0u);
  // No releaseOrphan: the holder went away with the process.
  reopen();
  for (uint64_t ino : orphans) EXPECT_EQ(code(ns().getattr(ino)), "ENOENT");
  EXPECT_EQ(stats().chunkCount, 0u);
  EXPECT_EQ(stats().blobCount, 0u);
  EXPECT_LE(settledUsage(), baseline + kMargin);
}

TEST_F(Gc, AnOrphanWithAnotherLinkIsNotAnOrphan) {
  const std::string content = randomBytes(kMiB, 60);
  uint64_t f = makeFile(kRoot, "f", content);
  ASSERT_EQ(code(ns().link(f, kRoot, "g")), "OK");
  markOpen(f);
  auto gone = ns().unlink(kRoot, "f");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->lastLink);
  reopen();
  EXPECT_EQ(readAll(ns().lookup(kRoot, "g")->ino), content);
}


// ---- space comes back only once the commit that freed it is durable (SPEC §3) -------------
//
// Until a write-ahead-log sync covers it, a commit can be undone by a power
// cut, and the metadata then names the chunks that commit freed again. So
// their bytes must stay in the segment files (no hole punched, no segment
// file unlinked) until Store::sync() or the periodic sync has covered the
// freeing commit; with Durability::kSync every commit is durable at once.

// Every segment file of the store at `storePath`, by name.
std::set<std::string> segmentFiles(const std::string& storePath) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(storePath + "/segments"))
    if (e.path().extension() == ".seg") names.insert(e.path().filename().string());
  return names;
}

// How many of `chunks` have their bytes somewhere in the segment files (a
// punched hole reads as zeros and no longer holds them).
int chunksOnDisk(const std::string& storePath, const std::vector<std::string>& chunks) {
  std::string all;
  for (const std::string& name : segmentFiles(storePath)) {
    std::ifstream in(storePath + "/segments/" + name, std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  int found = 0;
  for (const std::string& c : chunks) found += all.find(c) != std::string::npos;
  return found;
}

std::vector<std::string> chunksOf(const std::string& content, uint32_t chunkSize) {
  std::vector<std::string> out;
  for (size_t at = 0; at < content.size(); at += chunkSize) out.push_back(content.substr(at, chunkSize));
  return out;
}

class GcAfterSync : public Gc {
 protected:
  // No periodic sync: the test decides when the log is synced.
  GcAfterSync() { options_.commitIntervalSeconds = 0; }
  std::string storePath() const { return dir_.path() + "/store"; }
  // Waits until the reclaimer has done everything handed to it.
  void drainReclaimer() { (void)store_->diskUsage(); }
};

TEST_F(GcAfterSync, OverwrittenChunksKeepTheirBytesUntilTheOverwriteIsDurable) {
  const uint32_t C = store_->content().chunkSize();
  const std::string old = randomBytes(4 * C, 70);  // chunks larger than inlineMax: in segments
  uint64_t f = makeFile(kRoot, "f", old);
  ASSERT_EQ(code(store_->sync()), "OK");
  const auto chunks = chunksOf(old, C);
  ASSERT_EQ(chunksOnDisk(storePath(), chunks), 4);

  ASSERT_TRUE(writeFile(ns(), f, 0, randomBytes(4 * C, 71)).ok());  // committed, not yet durable
  drainReclaimer();
  EXPECT_EQ(chunksOnDisk(storePath(), chunks), 4) << "old chunks punched before the overwrite was durable";

  ASSERT_EQ(code(store_->sync()), "OK");
  drainReclaimer();
  EXPECT_EQ(chunksOnDisk(storePath(), chunks), 0) << "old chunks not punched once the overwrite was durable";
  EXPECT_EQ(readAll(f), randomBytes(4 * C, 71));
}

TEST_F(GcAfterSync, ASegmentFileFreedWholeStaysUntilTheDeletionIsDurable) {
  const uint32_t C = store_->content().chunkSize();
  const std::string old = randomBytes(4 * C, 72);
  makeFile(kRoot, "f", old);
  reopen();  // seals the segment that holds f (a fresh one is active now)
  const auto before = segmentFiles(storePath());
  const auto chunks = chunksOf(old, C);
  ASSERT_EQ(chunksOnDisk(storePath(), chunks), 4);

  remove(kRoot, "f");  // frees every live byte of f's segment; not yet durable
  drainReclaimer();
  EXPECT_EQ(segmentFiles(storePath()), before) << "a segment unlinked before the deletion was durable";
  EXPECT_EQ(chunksOnDisk(storePath(), chunks), 4);

  ASSERT_EQ(code(store_->sync()), "OK");
  drainReclaimer();
  EXPECT_EQ(segmentFiles(storePath()).size(), before.size() - 1) << "the emptied segment should be gone";
  EXPECT_EQ(chunksOnDisk(storePath(), chunks), 0);
}

TEST_F(GcAfterSync, SpaceFreedBeforeCloseIsReclaimedByTheClose) {
  const uint32_t C = store_->content().chunkSize();
  const std::string old = randomBytes(4 * C, 73);
  uint64_t f = makeFile(kRoot, "f", old);
  ASSERT_EQ(code(store_->sync()), "OK");
  ASSERT_TRUE(writeFile(ns(), f, 0, randomBytes(4 * C, 74)).ok());
  store_.reset();  // the close syncs, then hands the space over
  EXPECT_EQ(chunksOnDisk(storePath(), chunksOf(old, C)), 0);
  open();
  EXPECT_EQ(readAll(f), randomBytes(4 * C, 74));
}

class GcSyncEachCommit : public Gc {
 protected:
  GcSyncEachCommit() {
    options_.durability = Durability::kSync;
    options_.commitIntervalSeconds = 0;
  }
};

TEST_F(GcSyncEachCommit, OverwrittenChunksArePunchedWithoutWaitingForASync) {
  const uint32_t C = store_->content().chunkSize();
  const std::string old = randomBytes(4 * C, 75);
  uint64_t f = makeFile(kRoot, "f", old);
  const std::string storePath = dir_.path() + "/store";
  ASSERT_EQ(chunksOnDisk(storePath, chunksOf(old, C)), 4);
  ASSERT_TRUE(writeFile(ns(), f, 0, randomBytes(4 * C, 76)).ok());
  (void)store_->diskUsage();  // drains the reclaimer
  EXPECT_EQ(chunksOnDisk(storePath, chunksOf(old, C)), 0);
}

}  // namespace
}  // namespace acidfs
