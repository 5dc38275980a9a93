// File content through the namespace (core/namespace.h) and the chunk store
// (core/content_store.h): round trips at chunk boundaries, work in proportion
// to the write, holes, blobIds that depend on content only, deduplication,
// collision safety under a degenerate hash (SPEC §2), and integrity: a
// corrupted chunk is EIO, never wrong bytes (SPEC §3).
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
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
using testing::TempDir;
using testing::writeFile;

constexpr uint64_t kRoot = kRootIno;

using testing::code;

using testing::randomBytes;

// Where two strings first differ, for readable failures on big contents.
std::string firstDifference(const std::string& actual, const std::string& expected) {
  if (actual == expected) return "equal";
  size_t i = 0;
  while (i < actual.size() && i < expected.size() && actual[i] == expected[i]) ++i;
  return "sizes " + std::to_string(actual.size()) + " vs " + std::to_string(expected.size()) +
         ", first difference at byte " + std::to_string(i);
}
#define EXPECT_SAME_BYTES(actual, expected)                   \
  do {                                                        \
    const std::string& _a = (actual);                         \
    const std::string& _e = (expected);                       \
    EXPECT_TRUE(_a == _e) << firstDifference(_a, _e);         \
  } while (0)

class ContentTest : public StoreFixture {
 protected:
  Id128 blobOfIno(uint64_t ino) {
    auto attr = ns().getattr(ino);
    EXPECT_TRUE(attr.ok()) << attr.status().toString();
    return attr.ok() ? attr->inode.blob : Id128::zero();
  }
  std::string readRange(uint64_t ino, uint64_t offset, size_t length) {
    std::string out;
    Status s = ns().read(ino, offset, length, out);
    return s.ok() ? out : "<" + s.toString() + ">";
  }
  void write(uint64_t ino, uint64_t offset, const std::string& data) {
    auto w = writeFile(ns(), ino, offset, data);
    ASSERT_TRUE(w.ok()) << w.status().toString();
  }
  void truncate(uint64_t ino, uint64_t size) {
    SetAttrRequest r;
    r.size = size;
    auto set = ns().setattr(ino, r);
    ASSERT_TRUE(set.ok()) << set.status().toString();
  }
  // Deletes a file by name and frees it, whether or not the core orphaned it.
  void remove(uint64_t parent, const std::string& name) {
    auto gone = ns().unlink(parent, name);
    ASSERT_TRUE(gone.ok()) << gone.status().toString();
    if (gone->lastLink && ns().getattr(gone->ino).ok()) {
      ASSERT_EQ(code(ns().releaseOrphan(gone->ino)), "OK");
    }
  }
};

// The chunk size is the store's; 4 KiB makes files of several pages (a page
// names 1024 chunks) cheap. All chunks are then inline (≤ inlineMax).
class SmallChunks : public ContentTest {
 protected:
  static constexpr uint64_t C = 4096;
  void SetUp() override {
    options_.chunkSize = C;
    ContentTest::SetUp();
  }
};

// ---- round trips ----------------------------------------------------------------

TEST_F(SmallChunks, TheStoreKeepsItsChunkSize) {
  EXPECT_EQ(store_->content().chunkSize(), C);
  // An existing store keeps its own chunk size whatever the options say.
  options_.chunkSize = 65536;
  reopen();
  EXPECT_EQ(store_->content().chunkSize(), C);
}

TEST_F(SmallChunks, RoundTripsAtChunkAndPageBoundaries) {
  const uint64_t page = uint64_t{kChunksPerPage} * C;
  const std::vector<uint64_t> sizes = {1,         C - 1,    C,        C + 1,           2 * C - 1,
                                       2 * C,     2 * C + 1, page - 1, page,            page + 1,
                                       page + C, 2 * page + 5};
  int n = 0;
  for (uint64_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::string content = randomBytes(size, size);
    uint64_t f = makeFile(kRoot, "f" + std::to_string(n++), content);
    auto attr = ns().getattr(f);
    ASSERT_TRUE(attr.ok());
    EXPECT_EQ(attr->inode.size, size);
    EXPECT_SAME_BYTES(readAll(f), content);
    // Reads that straddle boundaries, start on them, end on them.
    for (uint64_t b : {C, 2 * C, page, 2 * page}) {
      for (uint64_t off : {b - 1, b, b + 1}) {
        if (off >= size) continue;
        for (size_t len : {size_t{1}, size_t{2}, size_t{C}, size_t{C + 3}}) {
          std::string expected = content.substr(off, len);
          EXPECT_SAME_BYTES(readRange(f, off, len), expected);
        }
      }
    }
  }
}

TEST_F(SmallChunks, ReadPastTheEndIsShortOrEmpty) {
  uint64_t f = makeFile(kRoot, "f", "0123456789");
  EXPECT_EQ(readRange(f, 5, 100), "56789");
  EXPECT_EQ(readRange(f, 10, 100), "");
  EXPECT_EQ(readRange(f, 1000000, 100), "");
  EXPECT_EQ(readRange(f, 0, 0), "");
}

TEST_F(SmallChunks, UnalignedWritesAndTruncatesMatchAModel) {
  std::mt19937_64 rng(42);
  uint64_t f = makeFile(kRoot, "f", "");
  std::string model;
  for (int step = 0; step < 150; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const int kind = static_cast<int>(rng() % 10);
    if (kind < 7) {
      // A write somewhere near a boundary, sometimes past the end (a hole).
      uint64_t boundary = (rng() % 12) * C;
      if (rng() % 8 == 0) boundary = (kChunksPerPage + rng() % 4) * C;  // on the next page
      uint64_t offset = boundary - std::min<uint64_t>(boundary, rng() % 64) + rng() % 64;
      size_t length = 1 + rng() % (rng() % 3 == 0 ? 3 * C : 100);
      std::string data = randomBytes(length, rng());
      if (rng() % 5 == 0) std::fill(data.begin(), data.end(), '\0');  // explicit zeros
      write(f, offset, data);
      if (model.size() < offset + length) model.resize(offset + length, '\0');
      model.replace(offset, length, data);
    } else {
      uint64_t size = rng() % (model.size() + 2 * C + 1);
      truncate(f, size);
      model.resize(size, '\0');
    }
    ASSERT_EQ(ns().getattr(f)->inode.size, model.size());
    std::string actual = readAll(f);
    ASSERT_TRUE(actual == model) << firstDifference(actual, model);
  }
  // However it was reached, the content has the blobId of one plain write.
  uint64_t g = makeFile(kRoot, "g", model);
  EXPECT_EQ(blobOfIno(f).hex(), blobOfIno(g).hex());
  reopen();
  EXPECT_SAME_BYTES(readAll(f), model);
}

TEST_F(ContentTest, ReadOfANonRegularFileFails) {
  uint64_t d = makeDir(kRoot, "d");
  auto link = ns().symlink(Caller::root(), kRoot, "s", "d");
  ASSERT_TRUE(link.ok());
  std::string out;
  EXPECT_EQ(code(ns().read(d, 0, 10, out)), "EISDIR");
  EXPECT_EQ(code(writeFile(ns(), d, 0, "x")), "EISDIR");
  EXPECT_EQ(code(ns().read(link->ino, 0, 10, out)), "EINVAL");
  EXPECT_EQ(code(writeFile(ns(), link->ino, 0, "x")), "EINVAL");
}

// ---- work in proportion to the write -----------------------------------------------

TEST_F(SmallChunks, SmallWriteInTheMiddleOfALargeFileCreatesOnlyTheChunkItCovers) {
  const uint64_t chunks = 3000;  // three pages
  const std::string content = randomBytes(chunks * C, 7);
  uint64_t f = makeFile(kRoot, "big", content);
  // A copy keeps the old chunks referenced, so that the count shows what
  // the write created rather than what it freed.
  uint64_t copy = makeFile(kRoot, "copy", "");
  ASSERT_TRUE(ns().shareContent(f, copy).ok());
  const StoreStats before = stats();
  EXPECT_EQ(before.chunkCount, chunks);

  const uint64_t offset = 1500 * C + 100;
  write(f, offset, "a small write");
  const StoreStats after = stats();
  EXPECT_EQ(after.chunkCount, before.chunkCount + 1);
  EXPECT_EQ(after.blobCount, before.blobCount + 1);

  std::string expected = content;
  expected.replace(offset, 13, "a small write");
  EXPECT_SAME_BYTES(readAll(f), expected);
  EXPECT_SAME_BYTES(readAll(copy), content);
}

TEST_F(SmallChunks, WriteAcrossAChunkBoundaryCreatesTwoChunks) {
  const std::string content = randomBytes(100 * C, 8);
  uint64_t f = makeFile(kRoot, "big", content);
  uint64_t copy = makeFile(kRoot, "copy", "");
  ASSERT_TRUE(ns().shareContent(f, copy).ok());
  const uint64_t before = stats().chunkCount;
  write(f, 50 * C - 2, "four");
  EXPECT_EQ(stats().chunkCount, before + 2);
}

TEST_F(SmallChunks, RewritingAChunkOfAnUnsharedFileKeepsTheChunkCount) {
  const std::string content = randomBytes(64 * C, 9);
  uint64_t f = makeFile(kRoot, "f", content);
  const uint64_t before = stats().chunkCount;
  write(f, 10 * C + 5, "x");  // one chunk replaced: the old one is freed
  EXPECT_EQ(stats().chunkCount, before);
}

TEST_F(SmallChunks, WriteIntoAHoleCreatesOneChunk) {
  uint64_t f = makeFile(kRoot, "f", "");
  write(f, 0, "head");
  write(f, 500 * C, "tail");
  const uint64_t before = stats().chunkCount;
  EXPECT_EQ(before, 2u);
  write(f, 250 * C + 17, "middle");
  EXPECT_EQ(stats().chunkCount, before + 1);
  EXPECT_EQ(readRange(f, 250 * C + 17, 6), "middle");
  EXPECT_EQ(readRange(f, 250 * C, 17), std::string(17, '\0'));
}

// ---- holes ---------------------------------------------------------------------------

TEST_F(ContentTest, SparseFileCostsNoSpaceForItsHoleAndReadsZeros) {
  uint64_t f = makeFile(kRoot, "sparse", "");
  ASSERT_EQ(code(store_->sync()), "OK");
  const uint64_t usageBefore = store_->diskUsage();
  const uint64_t chunksBefore = stats().chunkCount;

  const uint64_t offset = 100ull << 20;
  write(f, offset, "the end");
  ASSERT_EQ(code(store_->sync()), "OK");
  EXPECT_EQ(ns().getattr(f)->inode.size, offset + 7);
  EXPECT_EQ(stats().chunkCount, chunksBefore + 1);
  const uint64_t usageAfter = store_->diskUsage();
  // 100 MiB of hole: at most metadata (two manifest pages) may be added.
  EXPECT_LT(usageAfter, usageBefore + (1u << 20))
      << "before " << usageBefore << " after " << usageAfter;

  EXPECT_EQ(readRange(f, 50ull << 20, 1 << 20), std::string(1 << 20, '\0'));
  EXPECT_EQ(readRange(f, offset - 3, 10), std::string(3, '\0') + "the end");
  std::string all = readAll(f);
  ASSERT_EQ(all.size(), offset + 7);
  EXPECT_EQ(all.find_first_not_of('\0'), offset);
  EXPECT_EQ(all.substr(offset), "the end");
}

TEST_F(ContentTest, ExtendingByTruncateCostsNoSpace) {
  uint64_t f = makeFile(kRoot, "f", "x");
  ASSERT_EQ(code(store_->sync()), "OK");
  const uint64_t usageBefore = store_->diskUsage();
  truncate(f, 1ull << 30);
  ASSERT_EQ(code(store_->sync()), "OK");
  EXPECT_LT(store_->diskUsage(), usageBefore + (1u << 20));
  EXPECT_EQ(readRange(f, 0, 4), std::string("x\0\0\0", 4));
  EXPECT_EQ(readRange(f, (1ull << 30) - 2, 10), std::string(2, '\0'));
}

// ---- blobIds depend on content only ---------------------------------------------------

TEST_F(ContentTest, EmptyFileHasTheFixedEmptyBlobId) {
  uint64_t f = makeFile(kRoot, "empty", "");
  // content_store.h: H("acidfs-blob-v1" ‖ size 0 ‖ 0 pages, seed 0). A
  // format constant: it must never change within format version 1.
  EXPECT_EQ(blobOfIno(f).hex(), "02f9c633070d0b8d6d5712a45690de04");
  EXPECT_EQ(store_->content().emptyBlobId(), blobOfIno(f));
  EXPECT_EQ(ContentStore::computeEmptyBlobId(xxh3Hash), blobOfIno(f));
  EXPECT_EQ(ns().getattr(f)->inode.size, 0u);
  uint64_t g = makeFile(kRoot, "emptied", "some bytes");
  truncate(g, 0);
  EXPECT_EQ(blobOfIno(g), blobOfIno(f));
}

TEST_F(SmallChunks, EqualContentHasEqualBlobIdHoweverItWasWritten) {
  // A, a gap of zeros spanning whole chunks and parts of others, B, and a
  // zero tail: every way below must end with exactly these bytes.
  const std::string a = randomBytes(10000, 1);
  const std::string b = randomBytes(9000, 2);
  const uint64_t gap = 3 * C + 123, tail = 500;
  const uint64_t bOffset = a.size() + gap;
  const std::string content = a + std::string(gap, '\0') + b + std::string(tail, '\0');

  std::map<std::string, Id128> ids;
  // 1. One write.
  uint64_t f1 = makeFile(kRoot, "one-write", content);
  ids["one write"] = blobOfIno(f1);

  // 2. Many small writes, in a shuffled order, zeros written explicitly.
  uint64_t f2 = makeFile(kRoot, "small-writes", "");
  std::vector<uint64_t> offsets;
  for (uint64_t o = 0; o < content.size(); o += 333) offsets.push_back(o);
  std::shuffle(offsets.begin(), offsets.end(), std::mt19937_64(3));
  for (uint64_t o : offsets) write(f2, o, content.substr(o, 333));
  ids["small writes"] = blobOfIno(f2);

  // 3. Only the data written: the zeros are holes, the tail a truncate.
  uint64_t f3 = makeFile(kRoot, "holes", "");
  write(f3, bOffset, b);
  write(f3, 0, a);
  truncate(f3, content.size());
  ids["holes"] = blobOfIno(f3);

  // 4. Junk where the zeros go, cut off by a truncate, then extended again.
  uint64_t f4 = makeFile(kRoot, "truncated", a + randomBytes(gap + b.size() + tail, 4));
  truncate(f4, a.size());
  truncate(f4, content.size());
  write(f4, bOffset, b);
  ids["truncate then extend"] = blobOfIno(f4);

  // 5. Content written back to front, one chunk at a time.
  uint64_t f5 = makeFile(kRoot, "backwards", "");
  for (uint64_t i = (content.size() + C - 1) / C; i-- > 0;) write(f5, i * C, content.substr(i * C, C));
  ids["backwards"] = blobOfIno(f5);

  // 6. Other content first, then overwritten with this.
  uint64_t f6 = makeFile(kRoot, "overwritten", randomBytes(5 * content.size(), 5));
  truncate(f6, content.size());
  write(f6, 0, content);
  ids["overwritten"] = blobOfIno(f6);

  for (const auto& [how, id] : ids) EXPECT_EQ(id.hex(), ids["one write"].hex()) << how;
  for (uint64_t f : {f1, f2, f3, f4, f5, f6}) EXPECT_SAME_BYTES(readAll(f), content);

  // One more zero byte is different content (the size is part of it).
  uint64_t longer = makeFile(kRoot, "longer", content + std::string(1, '\0'));
  EXPECT_NE(blobOfIno(longer), ids["one write"]);
}

TEST_F(ContentTest, ContentChangedAndChangedBackHasItsOldBlobIdAgain) {
  const std::string original = randomBytes(200000, 11);
  uint64_t f = makeFile(kRoot, "f", original);
  const Id128 first = blobOfIno(f);
  write(f, 70000, "changed");
  const Id128 changed = blobOfIno(f);
  EXPECT_NE(changed, first);
  write(f, 70000, original.substr(70000, 7));
  EXPECT_EQ(blobOfIno(f), first);
  EXPECT_SAME_BYTES(readAll(f), original);
}

TEST_F(ContentTest, EqualContentHasEqualBlobIdInAnotherStore) {
  const std::string content = randomBytes(300000, 12);
  uint64_t f = makeFile(kRoot, "f", content);
  TempDir other;
  auto second = Store::open(other.path() + "/store", options_);
  ASSERT_TRUE(second.ok()) << second.status().toString();
  Namespace& ns2 = (*second)->ns();
  auto g = ns2.mknod(Caller::root(), kRoot, "g", S_IFREG | 0644, 0);
  ASSERT_TRUE(g.ok());
  // Written differently there, too.
  ASSERT_TRUE(writeFile(ns2, g->ino, 100000, content.substr(100000)).ok());
  ASSERT_TRUE(writeFile(ns2, g->ino, 0, content.substr(0, 100000)).ok());
  EXPECT_EQ(ns2.getattr(g->ino)->inode.blob.hex(), blobOfIno(f).hex());
}

// ---- deduplication, shared content ----------------------------------------------------

TEST_F(ContentTest, TwoFilesWithTheSameMebibyteTakeTheSpaceOnce) {
  const std::string content = randomBytes(1 << 20, 21);
  ASSERT_EQ(code(store_->sync()), "OK");
  const uint64_t usage0 = store_->diskUsage();
  uint64_t f = makeFile(kRoot, "f", content);
  ASSERT_EQ(code(store_->sync()), "OK");
  const uint64_t usage1 = store_->diskUsage();
  const StoreStats one = stats();
  EXPECT_GE(usage1, usage0 + (1u << 20)) << "the first copy must take its space";

  uint64_t g = makeFile(kRoot, "g", content);
  ASSERT_EQ(code(store_->sync()), "OK");
  const uint64_t usage2 = store_->diskUsage();
  const StoreStats two = stats();
  EXPECT_EQ(two.chunkCount, one.chunkCount);
  EXPECT_EQ(two.blobCount, one.blobCount);
  EXPECT_LT(usage2, usage1 + (256u << 10)) << "usage " << usage0 << " → " << usage1 << " → " << usage2;
  EXPECT_EQ(blobOfIno(f), blobOfIno(g));
  EXPECT_SAME_BYTES(readAll(g), content);
}

TEST_F(ContentTest, RepeatedChunksWithinAFileAreStoredOnce) {
  const uint32_t C = store_->content().chunkSize();
  const std::string block = randomBytes(C, 22);
  std::string content;
  for (int i = 0; i < 16; ++i) content += block;
  uint64_t f = makeFile(kRoot, "f", content);
  EXPECT_EQ(stats().chunkCount, 1u);
  EXPECT_SAME_BYTES(readAll(f), content);
}

TEST_F(ContentTest, ShareContentGivesTheSameBlobAndCostsNoNewChunks) {
  const std::string content = randomBytes(3 << 20, 23);
  uint64_t src = makeFile(kRoot, "src", content);
  uint64_t dst = makeFile(kRoot, "dst", "old content of the destination");
  const StoreStats before = stats();
  auto shared = ns().shareContent(src, dst);
  ASSERT_TRUE(shared.ok()) << shared.status().toString();
  EXPECT_EQ(shared->inode.blob, blobOfIno(src));
  EXPECT_EQ(shared->inode.size, content.size());
  const StoreStats after = stats();
  // The destination's old (inline) chunk was freed; nothing was added.
  EXPECT_EQ(after.chunkCount, before.chunkCount - 1);
  EXPECT_EQ(after.blobCount, before.blobCount - 1);
  EXPECT_SAME_BYTES(readAll(dst), content);

  // Copy on write: changing one leaves the other alone.
  write(dst, 10, "changed");
  EXPECT_SAME_BYTES(readAll(src), content);
  EXPECT_NE(blobOfIno(dst), blobOfIno(src));
}

TEST_F(ContentTest, ShareContentOfADirectoryIsRefused) {
  uint64_t d = makeDir(kRoot, "d");
  uint64_t f = makeFile(kRoot, "f", "x");
  EXPECT_EQ(code(ns().shareContent(d, f)), "EISDIR");
  EXPECT_EQ(code(ns().shareContent(f, d)), "EISDIR");
  EXPECT_EQ(readAll(f), "x");
}

// ---- commitWindows --------------------------------------------------------------------

TEST_F(SmallChunks, CommitWindowsReplacesWholeWindows) {
  const std::string x(3 * C, 'x');
  uint64_t f = makeFile(kRoot, "f", x);
  const Id128 base = blobOfIno(f);
  std::map<uint64_t, std::string_view> windows{{1, "abc"}};
  auto committed = ns().commitWindows(f, 3 * C, windows, base);
  ASSERT_TRUE(committed.ok()) << committed.status().toString();
  const std::string expected = std::string(C, 'x') + "abc" + std::string(C - 3, '\0') + std::string(C, 'x');
  EXPECT_SAME_BYTES(readAll(f), expected);
  uint64_t g = makeFile(kRoot, "g", expected);
  EXPECT_EQ(blobOfIno(f), blobOfIno(g));
}

TEST_F(SmallChunks, CommitWindowsGrowsAndShrinks) {
  uint64_t f = makeFile(kRoot, "f", std::string(2 * C, 'x'));
  std::map<uint64_t, std::string_view> grow{{5, "1234567"}};
  ASSERT_TRUE(ns().commitWindows(f, 5 * C + 7, grow, std::nullopt).ok());
  EXPECT_SAME_BYTES(readAll(f), std::string(2 * C, 'x') + std::string(3 * C, '\0') + "1234567");
  ASSERT_TRUE(ns().commitWindows(f, C + 1, {}, std::nullopt).ok());
  EXPECT_SAME_BYTES(readAll(f), std::string(C + 1, 'x'));
}

TEST_F(SmallChunks, CommitWindowsOnAStaleBaseIsEcanceledAndChangesNothing) {
  uint64_t f = makeFile(kRoot, "f", std::string(2 * C, 'x'));
  const Id128 stale = blobOfIno(f);
  write(f, 0, "someone else");
  const Id128 current = blobOfIno(f);
  std::map<uint64_t, std::string_view> windows{{0, "mine"}};
  EXPECT_EQ(code(ns().commitWindows(f, 2 * C, windows, stale)), "ECANCELED");
  EXPECT_EQ(blobOfIno(f), current);
  EXPECT_EQ(readRange(f, 0, 12), "someone else");
}

// ---- collision safety with a degenerate hash ------------------------------------------

// Hashes that collide on purpose; the seed is all that separates ids.
Id128 ignoresTheData(const void*, size_t, uint64_t seed) {
  Id128 id;
  for (int i = 0; i < 8; ++i) id.bytes[i] = static_cast<uint8_t>(seed >> (8 * i));
  id.bytes[15] = 0xab;
  return id;
}
Id128 onlyTheFirstByte(const void* data, size_t size, uint64_t seed) {
  Id128 id;
  id.bytes[0] = size ? static_cast<const uint8_t*>(data)[0] : 0;
  for (int i = 0; i < 8; ++i) id.bytes[8 + i] = static_cast<uint8_t>(seed >> (8 * i));
  return id;
}

// Collides every two inputs of equal length, but not the empty blob's
// manifest with a non-empty one (theirs differ in length): the collision
// handling of chunks, pages and blobs, apart from the empty blob.
Id128 onlyTheLength(const void*, size_t size, uint64_t seed) {
  Id128 id;
  for (int i = 0; i < 8; ++i) id.bytes[i] = static_cast<uint8_t>(size >> (8 * i));
  for (int i = 0; i < 8; ++i) id.bytes[8 + i] = static_cast<uint8_t>(seed >> (8 * i));
  return id;
}

struct NamedHash {
  const char* name;
  HashFunction hash;
};

void PrintTo(const NamedHash& h, std::ostream* os) { *os << h.name; }

class DegenerateHash : public ContentTest, public ::testing::WithParamInterface<NamedHash> {
 protected:
  void SetUp() override {
    options_.hash = GetParam().hash;
    ContentTest::SetUp();
  }
  // Contents that differ in every way a store could confuse them: inline and
  // segment chunks, equal prefixes, equal first bytes, zeros, sizes.
  static std::vector<std::string> contents() {
    const std::string big = randomBytes(150000, 31);
    std::string bigTwin = big;
    bigTwin[140000] ^= 1;  // same first chunks, different last one
    std::string zerosThenByte(70000, '\0');
    zerosThenByte.back() = 'z';
    return {"a",
            "b",
            "ab",
            std::string("a\0", 2),
            std::string(100, 'a'),
            randomBytes(5000, 32),
            big,
            bigTwin,
            big.substr(0, 65536),
            zerosThenByte,
            randomBytes(40000, 33)};
  }
};

TEST_P(DegenerateHash, DifferentContentsAreAllStoredAndReadBackExactly) {
  const auto all = contents();
  std::vector<uint64_t> files;
  for (size_t i = 0; i < all.size(); ++i) files.push_back(makeFile(kRoot, "f" + std::to_string(i), all[i]));
  uint64_t empty = makeFile(kRoot, "empty", "");

  std::map<Id128, size_t> owners;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_SAME_BYTES(readAll(files[i]), all[i]);
    Id128 id = blobOfIno(files[i]);
    EXPECT_NE(id, blobOfIno(empty)) << "content " << i << " has the empty file's blobId";
    auto [it, fresh] = owners.emplace(id, i);
    EXPECT_TRUE(fresh) << "contents " << it->second << " and " << i << " share blobId " << id.hex();
  }
  EXPECT_EQ(readAll(empty), "");

  reopen();  // the probe chains are on disk, not in memory
  for (size_t i = 0; i < all.size(); ++i) EXPECT_SAME_BYTES(readAll(files[i]), all[i]);
}

// The empty blob has no record (format.h), so nothing in the store marks
// its id as taken; a non-empty blob whose manifest hashes to it must still
// not get it.
TEST_P(DegenerateHash, NonEmptyContentNeverGetsTheEmptyFilesBlobId) {
  uint64_t empty = makeFile(kRoot, "empty", "");
  uint64_t f = makeFile(kRoot, "f", "x");
  EXPECT_NE(blobOfIno(f), blobOfIno(empty));
  EXPECT_NE(blobOfIno(f), store_->content().emptyBlobId());
  EXPECT_EQ(readAll(f), "x");
  EXPECT_EQ(ns().getattr(f)->inode.size, 1u);
  EXPECT_EQ(stats().blobCount, 1u);
}

TEST_P(DegenerateHash, EqualContentStillDedups) {
  const auto all = contents();
  std::vector<uint64_t> files;
  for (size_t i = 0; i < all.size(); ++i) files.push_back(makeFile(kRoot, "f" + std::to_string(i), all[i]));
  const StoreStats before = stats();
  for (size_t i = 0; i < all.size(); ++i) {
    uint64_t twin = makeFile(kRoot, "twin" + std::to_string(i), all[i]);
    EXPECT_EQ(blobOfIno(twin), blobOfIno(files[i])) << "content " << i;
    EXPECT_SAME_BYTES(readAll(twin), all[i]);
  }
  const StoreStats after = stats();
  EXPECT_EQ(after.chunkCount, before.chunkCount);
  EXPECT_EQ(after.blobCount, before.blobCount);
}

TEST_P(DegenerateHash, DeletingSomeContentsLeavesTheOthersIntact) {
  const auto all = contents();
  for (size_t i = 0; i < all.size(); ++i) makeFile(kRoot, "f" + std::to_string(i), all[i]);
  // Free every other content: records in the middle of probe chains go.
  for (size_t i = 0; i < all.size(); i += 2) remove(kRoot, "f" + std::to_string(i));
  for (size_t i = 1; i < all.size(); i += 2) {
    auto f = ns().lookup(kRoot, "f" + std::to_string(i));
    ASSERT_TRUE(f.ok());
    EXPECT_SAME_BYTES(readAll(f->ino), all[i]);
  }
  // New and returning contents find their place among what is left.
  std::map<Id128, std::string> byId;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string content = i % 2 == 0 ? all[i] : all[i] + "!";
    uint64_t g = makeFile(kRoot, "g" + std::to_string(i), content);
    EXPECT_SAME_BYTES(readAll(g), content);
    auto [it, fresh] = byId.emplace(blobOfIno(g), content);
    EXPECT_TRUE(fresh) << "blobId " << it->first.hex() << " given to two contents";
  }
  for (size_t i = 1; i < all.size(); i += 2) {
    auto f = ns().lookup(kRoot, "f" + std::to_string(i));
    ASSERT_TRUE(f.ok());
    EXPECT_SAME_BYTES(readAll(f->ino), all[i]);
    EXPECT_FALSE(byId.count(blobOfIno(f->ino)) && byId[blobOfIno(f->ino)] != all[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Hashes, DegenerateHash,
                         ::testing::Values(NamedHash{"IgnoresTheData", ignoresTheData},
                                           NamedHash{"OnlyTheFirstByte", onlyTheFirstByte},
                                           NamedHash{"OnlyTheLength", onlyTheLength}),
                         [](const ::testing::TestParamInfo<NamedHash>& info) { return info.param.name; });

// The all-zero chunk id means "hole" in a page (format.h), so a chunk whose
// hash happens to be zero must get another id, not become a hole. This hash
// is XXH3 except that at seed 0 every input starting with 'z' hashes to zero.
Id128 zeroForZ(const void* data, size_t size, uint64_t seed) {
  if (seed == 0 && size > 0 && static_cast<const char*>(data)[0] == 'z') return Id128::zero();
  return xxh3Hash(data, size, seed);
}

class HoleIdCollision : public ContentTest {
 protected:
  void SetUp() override {
    options_.hash = zeroForZ;
    ContentTest::SetUp();
  }
};

TEST_F(HoleIdCollision, AChunkThatHashesToTheHoleIdIsStillStored) {
  uint64_t f = makeFile(kRoot, "f", "zebra");
  EXPECT_EQ(readAll(f), "zebra");
  EXPECT_EQ(stats().chunkCount, 1u);
  uint64_t g = makeFile(kRoot, "g", "zebra");
  EXPECT_EQ(readAll(g), "zebra");
  EXPECT_EQ(blobOfIno(g), blobOfIno(f));
  EXPECT_EQ(stats().chunkCount, 1u);
}

// ---- integrity -------------------------------------------------------------------------

class Corruption : public ContentTest {
 protected:
  // Flips one byte of `needle`'s stored copy in a segment file (chunk bytes
  // larger than inlineMax live there, see segment_store.h). The needle must
  // occur exactly once across all segments.
  void flipStoredByte(const std::string& needle, size_t index) {
    ASSERT_EQ(code(store_->sync()), "OK");
    ASSERT_EQ(testing::flipSegmentByte(store_->path(), needle, index), 1)
        << "the chunk's bytes should be in exactly one segment extent";
  }
};

TEST_F(Corruption, AFlippedByteInAStoredChunkIsEioAndOtherFilesStayReadable) {
  const uint32_t C = store_->content().chunkSize();
  ASSERT_GT(C, options_.inlineMax) << "the test needs chunks that live in segment files";
  const std::string victim = randomBytes(2 * C, 41);
  const std::string bystander = randomBytes(2 * C, 42);
  const std::string small = "small inline file";
  uint64_t v = makeFile(kRoot, "victim", victim);
  uint64_t b = makeFile(kRoot, "bystander", bystander);
  uint64_t s = makeFile(kRoot, "small", small);
  EXPECT_SAME_BYTES(readAll(v), victim);

  ASSERT_NO_FATAL_FAILURE(flipStoredByte(victim.substr(0, 64), 1000));  // in chunk 0 of the victim

  std::string out;
  EXPECT_EQ(code(ns().read(v, 0, victim.size(), out)), "EIO");
  EXPECT_EQ(code(ns().read(v, 999, 3, out)), "EIO");
  EXPECT_EQ(code(ns().read(v, 5, 1, out)), "EIO") << "the whole chunk is verified, not just the bytes read";
  // The victim's intact chunk and every other file still read.
  EXPECT_SAME_BYTES(readRange(v, C, C), victim.substr(C));
  EXPECT_SAME_BYTES(readAll(b), bystander);
  EXPECT_EQ(readAll(s), small);

  reopen();  // nothing is cached that hides the damage, nor does opening fail
  EXPECT_EQ(code(ns().read(v, 0, 10, out)), "EIO");
  EXPECT_SAME_BYTES(readAll(b), bystander);
}

TEST_F(Corruption, ContentWrittenAgainAfterCorruptionReadsBackCorrectly) {
  const uint32_t C = store_->content().chunkSize();
  const std::string content = randomBytes(C, 43);
  uint64_t v = makeFile(kRoot, "victim", content);
  ASSERT_NO_FATAL_FAILURE(flipStoredByte(content.substr(0, 64), 77));
  std::string out;
  ASSERT_EQ(code(ns().read(v, 0, C, out)), "EIO");
  // Sharing is decided by comparing bytes: the damaged copy does not match,
  // so the new file gets a sound copy instead of the damaged one.
  uint64_t again = makeFile(kRoot, "again", content);
  EXPECT_SAME_BYTES(readAll(again), content);
}

}  // namespace
}  // namespace acidfs
