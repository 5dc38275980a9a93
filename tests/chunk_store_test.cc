// The chunk store seam (core/chunk_store.h) from the content store's side.
// Without a chunk store (a null ChunkStore*, `-o chunks=db`) every chunk
// lives inline in its ChunkRecord, written in the transaction that names
// it: full chunks, holes, deduplication and verification must all work as
// they do over segment files (content_test.cc tests that store), and a
// damaged inline byte must be EIO, never wrong bytes (SPEC §3). The last
// tests drive SegmentStore through the interface alone, as the core does.
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/chunk_store.h"
#include "core/content_store.h"
#include "core/meta_db.h"
#include "core/segment_store.h"
#include "core/transaction.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::randomBytes;
using testing::TempDir;

constexpr uint32_t kChunk = 64 * 1024;

// A ContentStore and its runner over a MetaDb of their own, with no chunk
// store and no space guard: nothing but the metadata engine holds bytes.
class InlineChunks : public ::testing::Test {
 protected:
  void SetUp() override { open(kChunk); }

  void open(uint32_t inlineMax) {
    runner_.reset();
    content_.reset();
    if (!db_) {
      auto opened = MetaDb::open(dir_.path() + "/db");
      ASSERT_TRUE(opened.ok()) << opened.status().toString();
      db_ = std::move(*opened);
    }
    content_ = std::make_unique<ContentStore>(*db_, nullptr, ContentOptions{kChunk, inlineMax, xxh3Hash});
    ContentStore* content = content_.get();
    runner_ = std::make_unique<TransactionRunner>(
        *db_, nullptr, nullptr, [content](Txn& txn) { return content->applyRefDeltas(txn); }, false);
  }

  // Stores `bytes` as a blob holding one reference, in one transaction.
  Id128 store(const std::string& bytes) {
    Id128 blob;
    Status s = runner_->run([&](Txn& txn) -> Status {
      ACIDFS_ASSIGN_OR_RETURN(blob, content_->blobFromBytes(txn, bytes));
      content_->addRef(txn, blob, 1);
      return Status::OK();
    });
    EXPECT_EQ(code(s), "OK") << s.toString();
    return blob;
  }
  Status drop(const Id128& blob) {
    return runner_->run([&](Txn& txn) -> Status {
      content_->addRef(txn, blob, -1);
      return Status::OK();
    });
  }
  std::string readAll(const Id128& blob, size_t size) { return readRange(blob, 0, size); }
  std::string readRange(const Id128& blob, uint64_t offset, size_t length) {
    std::string out;
    Status s = content_->read(blob, offset, length, out);
    return s.ok() ? out : "<" + s.toString() + ">";
  }

  // Every live chunk record, by id.
  std::map<Id128, ChunkRecord> chunkRecords() {
    std::map<Id128, ChunkRecord> found;
    auto it = db_->scan(Column::kChunks);
    for (it->seekToFirst(); it->valid(); it->next()) {
      auto record = ChunkRecord::decode(it->value());
      EXPECT_TRUE(record.has_value());
      if (record && !record->head.tombstone) found.emplace(Id128::fromBytes(it->key()), *record);
    }
    EXPECT_EQ(code(it->status()), "OK");
    return found;
  }
  // The id of the chunk record holding `bytes` (zero when none does).
  Id128 chunkHolding(const std::string& bytes) {
    for (const auto& [id, record] : chunkRecords())
      if (record.isInline && record.inlineData == bytes) return id;
    return Id128::zero();
  }
  // Rewrites a chunk record behind the content store's back (the metadata
  // engine's own checks pass: only the content's hash can tell).
  void rewrite(const Id128& id, const ChunkRecord& record) {
    ASSERT_EQ(code(db_->put(Column::kChunks, keys::id(id), record.encode(), true)), "OK");
  }

  TempDir dir_;
  std::unique_ptr<MetaDb> db_;  // outlives the two below
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<TransactionRunner> runner_;
};

TEST_F(InlineChunks, FullChunksHolesAndATailAreStoredInlineAndReadBackExactly) {
  const std::string a = randomBytes(kChunk, 1), b = randomBytes(kChunk, 2), tail = randomBytes(1000, 3);
  const std::string hole(kChunk, '\0');
  const std::string content = a + hole + b + hole + hole + tail;
  const Id128 blob = store(content);

  EXPECT_TRUE(readAll(blob, content.size()) == content);
  // Ranges across chunk boundaries, inside the hole, and past the end.
  EXPECT_TRUE(readRange(blob, kChunk - 10, 20) == content.substr(kChunk - 10, 20));
  EXPECT_TRUE(readRange(blob, kChunk + 5, 100) == std::string(100, '\0'));
  EXPECT_TRUE(readRange(blob, 3 * kChunk - 1, kChunk + 2) == content.substr(3 * kChunk - 1, kChunk + 2));
  EXPECT_TRUE(readRange(blob, 5 * kChunk + 990, 100) == tail.substr(990));

  // Three chunks, each whole in its record; the holes cost nothing.
  const auto records = chunkRecords();
  ASSERT_EQ(records.size(), 3u);
  for (const auto& [id, record] : records) {
    EXPECT_TRUE(record.isInline) << id.hex();
    EXPECT_EQ(record.length, 0u) << "an inline record names no place";
  }
  EXPECT_FALSE(chunkHolding(a).isZero()) << "a full 64 KiB chunk lives inline";
  EXPECT_FALSE(chunkHolding(b).isZero());
  EXPECT_FALSE(chunkHolding(tail).isZero());

  auto layout = content_->layout(blob);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->chunkHasData, (std::vector<bool>{true, false, true, false, false, true}));
}

TEST_F(InlineChunks, EqualChunksAreStoredOnceAndFreedWithTheirLastBlob) {
  const std::string a = randomBytes(kChunk, 4), b = randomBytes(kChunk, 5);
  const Id128 first = store(a + a + b + a);
  EXPECT_EQ(chunkRecords().size(), 2u) << "a repeated within one blob is stored once";
  const Id128 second = store(b + std::string(kChunk, '\0') + a);
  EXPECT_EQ(chunkRecords().size(), 2u) << "and across blobs";
  EXPECT_TRUE(readAll(first, 4 * kChunk) == a + a + b + a);
  EXPECT_TRUE(readAll(second, 3 * kChunk) == b + std::string(kChunk, '\0') + a);

  ASSERT_EQ(code(drop(first)), "OK");
  EXPECT_EQ(chunkRecords().size(), 2u) << "the second blob still names both";
  EXPECT_TRUE(readAll(second, 3 * kChunk) == b + std::string(kChunk, '\0') + a);
  ASSERT_EQ(code(drop(second)), "OK");
  EXPECT_EQ(chunkRecords().size(), 0u) << "no chunk outlives the last blob naming it";
  // Nothing to release, no sync to wait for: the records were the chunks.
  EXPECT_EQ(code(runner_->syncCommitted()), "OK");
}

TEST_F(InlineChunks, AnInlineMaxBelowTheChunkSizeIsRaisedToIt) {
  open(kChunk / 2);  // a caller's mistake: there is nowhere else to put a chunk
  const std::string big = randomBytes(kChunk, 6);
  const Id128 blob = store(big);
  EXPECT_TRUE(readAll(blob, big.size()) == big);
  const Id128 id = chunkHolding(big);
  ASSERT_FALSE(id.isZero()) << "stored inline, whole";
}

TEST_F(InlineChunks, ACorruptedInlineByteIsEioAndTheOtherChunksStillRead) {
  const std::string victim = randomBytes(kChunk, 7), bystander = randomBytes(kChunk, 8);
  const Id128 blob = store(victim + bystander);
  const Id128 id = chunkHolding(victim);
  ASSERT_FALSE(id.isZero());
  ChunkRecord record = chunkRecords().at(id);
  record.inlineData[1000] ^= 0x40;
  ASSERT_NO_FATAL_FAILURE(rewrite(id, record));

  std::string out;
  EXPECT_EQ(code(content_->read(blob, 0, 2 * kChunk, out)), "EIO");
  EXPECT_EQ(code(content_->read(blob, 5, 1, out)), "EIO") << "the whole chunk is verified, not just the bytes read";
  EXPECT_EQ(code(content_->verifyChunk(id, record)), "EIO");
  EXPECT_TRUE(readRange(blob, kChunk, kChunk) == bystander);
  // Inside a transaction too (a partial write reads the window it patches).
  Status inTxn = runner_->run([&](Txn& txn) -> Status { return content_->readWindow(txn, blob, 0).status(); });
  EXPECT_EQ(code(inTxn), "EIO");

  // Equality is decided by bytes: storing the content again gets a sound
  // copy (a collided slot), not the damaged one.
  const Id128 again = store(victim);
  EXPECT_TRUE(readAll(again, kChunk) == victim);
}

TEST_F(InlineChunks, AChunkRecordNamingAPlaceIsEioWithoutAChunkStore) {
  const std::string data = randomBytes(kChunk, 9);
  const Id128 blob = store(data);
  const Id128 id = chunkHolding(data);
  ASSERT_FALSE(id.isZero());
  ChunkRecord record = chunkRecords().at(id);
  record.isInline = false;
  record.inlineData.clear();
  record.segment = 1;
  record.length = kChunk;
  ASSERT_NO_FATAL_FAILURE(rewrite(id, record));
  std::string out;
  EXPECT_EQ(code(content_->read(blob, 0, kChunk, out)), "EIO");
  EXPECT_EQ(code(content_->read(blob, 100, 10, out)), "EIO");
  EXPECT_EQ(code(content_->verifyChunk(id, record)), "EIO");
}

// ---- SegmentStore through the interface -------------------------------------------

class SegmentsAsChunkStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SegmentStore::open(dir_.path() + "/segments", {});
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    segments_ = std::move(*opened);
  }
  ChunkStore& chunks() { return *segments_; }

  TempDir dir_;
  std::unique_ptr<SegmentStore> segments_;
};

TEST_F(SegmentsAsChunkStore, PutPlacesAreDistinctAndReadBackAfterMakeDurable) {
  const std::string a = randomBytes(5000, 10), b = randomBytes(70000, 11);
  const Id128 ida = xxh3Hash(a.data(), a.size(), 0), idb = xxh3Hash(b.data(), b.size(), 0);
  auto pa = chunks().put(ida, a);
  auto pa2 = chunks().put(ida, a);  // the same chunk again: a place of its own
  auto pb = chunks().put(idb, b);
  ASSERT_TRUE(pa.ok() && pa2.ok() && pb.ok());
  EXPECT_EQ(pa->length, a.size());
  EXPECT_FALSE(pa->segment == pa2->segment && pa->offset == pa2->offset);
  ASSERT_EQ(code(chunks().makeDurable({{ida, *pa}, {ida, *pa2}, {idb, *pb}})), "OK");
  std::string out(b.size(), '\0');
  ASSERT_EQ(code(chunks().read(idb, *pb, out.data())), "OK");
  EXPECT_TRUE(out == b);
  out.assign(a.size(), '\0');
  ASSERT_EQ(code(chunks().read(ida, *pa2, out.data())), "OK");
  EXPECT_TRUE(out == a);
  EXPECT_EQ(chunks().liveBytes(), 8192u + 8192u + 73728u);
}

TEST_F(SegmentsAsChunkStore, AReleasedPlaceIsFreedAfterReadersHoldingTheReleaseLock) {
  const std::string a = randomBytes(8192, 12), b = randomBytes(8192, 13);
  const Id128 ida = xxh3Hash(a.data(), a.size(), 0), idb = xxh3Hash(b.data(), b.size(), 0);
  auto pa = chunks().put(ida, a);
  auto pb = chunks().put(idb, b);
  ASSERT_TRUE(pa.ok() && pb.ok());
  std::string out(a.size(), '\0');
  {
    std::shared_lock<std::shared_mutex> reading(chunks().releaseLock());
    chunks().release({{ida, *pa}});
    ASSERT_EQ(code(chunks().read(ida, *pa, out.data())), "OK");
    EXPECT_TRUE(out == a) << "not freed while a reader holds the lock";
  }
  chunks().drainReleases();
  EXPECT_EQ(chunks().liveBytes(), 8192u) << "only b is left";
  out.assign(b.size(), '\0');
  ASSERT_EQ(code(chunks().read(idb, *pb, out.data())), "OK");
  EXPECT_TRUE(out == b);
}

}  // namespace
}  // namespace acidfs
