// Corrupt metadata (a bad disk, a bug, a hand edit) written straight into
// RocksDB behind the core's back: the file it belongs to reads as EIO with a
// message naming the record, every other file still reads, fsck reports it,
// and nothing throws, crashes or keeps the store closed.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/content_store.h"
#include "core/format.h"
#include "core/fsck.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "core/transaction.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

using testing::code;
using testing::randomBytes;
using testing::writeFile;

constexpr uint64_t C = 4096;  // small chunks: a two-page file is 4 MiB
constexpr uint64_t kPage = uint64_t{kChunksPerPage} * C;
constexpr size_t kHead = 8 + 4 + 1;  // refcount, seed, flags: where every content record starts

const Status kNotRun = Status::Error(ECANCELED, "not run");  // what a Result holds before the call

// Sets the u32 at `at` of an encoded record.
std::string withU32(std::string record, size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) record[at + i] = static_cast<char>(value >> (8 * i));
  return record;
}

class CorruptMetadata : public testing::StoreFixture {
 protected:
  void SetUp() override {
    options_.chunkSize = C;
    options_.inlineMax = 1024;  // chunks live in segment files, which the sweep at open may punch
    StoreFixture::SetUp();
    victim_ = makeFile(kRootIno, "victim", victimContent_);
    bystander_ = makeFile(kRootIno, "bystander", bystanderContent_);
    ASSERT_TRUE(victim_ && bystander_);
    blobId_ = ns().getattr(victim_)->inode.blob;
    blob_ = *BlobRecord::decode(raw(Column::kBlobs, blobId_));
    ASSERT_EQ(2u, blob_.pages.size());
    page0_ = *PageRecord::decode(raw(Column::kPages, blob_.pages[0]));
    ASSERT_EQ(kChunksPerPage, page0_.chunks.size());
  }

  std::string raw(Column column, const Id128& id) {
    auto value = store_->engine().get(column, keys::id(id));
    EXPECT_TRUE(value.ok() && *value);
    return value.ok() && *value ? **value : std::string();
  }
  void overwrite(Column column, const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->runner().run([&](Txn& txn) { return txn.put(column, key, value); }).ok());
  }
  void overwrite(Column column, const Id128& id, const std::string& value) { overwrite(column, keys::id(id), value); }

  // Reading the victim whole, and writing a byte at `offset` (which reads the
  // window it lands in first): EIO naming `record`, never a throw.
  void expectEio(const Id128& record, uint64_t offset) {
    std::string out;
    Status read, written;
    EXPECT_NO_THROW(read = ns().read(victim_, 0, victimContent_.size(), out));
    EXPECT_EQ("EIO", code(read)) << read.toString();
    EXPECT_NE(std::string::npos, read.message().find(record.hex())) << read.toString();
    EXPECT_NO_THROW(written = writeFile(ns(), victim_, offset + 5, "x").status());
    EXPECT_EQ("EIO", code(written)) << written.toString();
  }
  void expectLayoutEio() {
    Result<BlobLayout> layout = kNotRun;
    EXPECT_NO_THROW(layout = store_->content().layout(blobId_));
    EXPECT_EQ("EIO", code(layout)) << layout.status().toString();
  }
  // The rest of the store is untouched: the other file reads, a new one works.
  void expectOthersFine() {
    EXPECT_TRUE(readAll(bystander_) == bystanderContent_) << readAll(bystander_).substr(0, 200);
    const uint64_t fresh = makeFile(kRootIno, "fresh", "written after the corruption");
    EXPECT_EQ("written after the corruption", readAll(fresh));
  }
  // fsck reports a finding containing `text`, and does not throw.
  void expectFinding(const std::string& text) {
    Result<FsckReport> report = kNotRun;
    EXPECT_NO_THROW(report = fsckStore(*store_, /*repair=*/false));
    ASSERT_TRUE(report.ok()) << report.status().toString();
    const auto& f = report->findings;
    EXPECT_TRUE(std::any_of(f.begin(), f.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; }))
        << "no finding mentions '" << text << "'; " << f.size() << " findings" << (f.empty() ? "" : ", first: " + f[0]);
  }

  // 1028 chunks: page 0 is full, page 1 lists 4.
  const std::string victimContent_ = randomBytes(kPage + 3 * C + 100, 1);
  const std::string bystanderContent_ = randomBytes(3 * C + 7, 2);
  uint64_t victim_ = 0, bystander_ = 0;
  Id128 blobId_;
  BlobRecord blob_;
  PageRecord page0_;
};

// ---- blob records -------------------------------------------------------------

TEST_F(CorruptMetadata, AGarbageBlobRecordIsEio) {
  overwrite(Column::kBlobs, blobId_, "garbage");
  expectEio(blobId_, 0);
  expectLayoutEio();
  expectOthersFine();
  expectFinding("blob " + blobId_.hex() + ": undecodable record");
}

TEST_F(CorruptMetadata, ABlobRecordWithAHugePageCountIsEio) {
  overwrite(Column::kBlobs, blobId_, withU32(raw(Column::kBlobs, blobId_), kHead + 8 + 8, 0xFFFFFFFF));
  expectEio(blobId_, 0);
  expectLayoutEio();
  expectOthersFine();
  expectFinding("blob " + blobId_.hex() + ": undecodable record");
}

TEST_F(CorruptMetadata, ABlobRecordWhoseSizeClaimsMorePagesThanListedIsEio) {
  BlobRecord claims = blob_;
  claims.size += 2 * kPage;  // four pages' worth; two listed
  overwrite(Column::kBlobs, blobId_, claims.encode());
  std::string tail;
  Status s;
  EXPECT_NO_THROW(s = ns().read(victim_, 3 * kPage, C, tail));
  EXPECT_EQ("EIO", code(s)) << s.toString();
  expectEio(blobId_, 0);
  expectLayoutEio();
  expectOthersFine();
  expectFinding("disagrees with the 2 pages");
}

TEST_F(CorruptMetadata, ABlobRecordThatListsTooFewPagesIsEio) {
  BlobRecord shorter = blob_;
  shorter.pages.pop_back();
  overwrite(Column::kBlobs, blobId_, shorter.encode());
  expectEio(blobId_, 0);
  expectOthersFine();
  expectFinding("disagrees with the 1 pages");
}

// ---- page records -------------------------------------------------------------

TEST_F(CorruptMetadata, AGarbagePageRecordIsEio) {
  overwrite(Column::kPages, blob_.pages[1], std::string(40, '\xff'));
  expectEio(blob_.pages[1], kPage);
  expectLayoutEio();
  expectOthersFine();
  expectFinding("page " + blob_.pages[1].hex() + ": undecodable record");
}

TEST_F(CorruptMetadata, APageRecordWithAHugeChunkCountIsEio) {
  overwrite(Column::kPages, blob_.pages[0], withU32(raw(Column::kPages, blob_.pages[0]), kHead, 0xFFFFFFFF));
  expectEio(blob_.pages[0], 0);
  expectLayoutEio();
  expectOthersFine();
  expectFinding("page " + blob_.pages[0].hex() + ": undecodable record");
}

TEST_F(CorruptMetadata, APageRecordListingMoreChunksThanAPageHoldsIsEio) {
  PageRecord page = page0_;
  page.chunks.resize(2 * kChunksPerPage);  // a well-formed record, but no page is this long
  overwrite(Column::kPages, blob_.pages[0], page.encode());
  expectEio(blob_.pages[0], 0);
  expectLayoutEio();
  expectOthersFine();
  expectFinding("2048 chunks, more than a page holds, in page " + blob_.pages[0].hex());
}

TEST_F(CorruptMetadata, APageRecordShorterThanItsPlaceInTheBlobIsEio) {
  PageRecord page = *PageRecord::decode(raw(Column::kPages, blob_.pages[1]));
  ASSERT_EQ(4u, page.chunks.size());
  page.chunks.resize(2);  // the file's last two chunks are not listed
  overwrite(Column::kPages, blob_.pages[1], page.encode());
  expectEio(blob_.pages[1], kPage);
  expectLayoutEio();
  expectOthersFine();
  expectFinding("page " + blob_.pages[1].hex() + ": lists 2 chunks, but its place in a blob needs 4");
}

// ---- chunk records ------------------------------------------------------------

TEST_F(CorruptMetadata, AGarbageChunkRecordIsEioNamingTheChunk) {
  const Id128 chunk = page0_.chunks[0];
  overwrite(Column::kChunks, chunk, "\x01\x02\x03");
  expectEio(chunk, 0);
  expectOthersFine();
  expectFinding("chunk " + chunk.hex() + ": undecodable record");
}

TEST_F(CorruptMetadata, AChunkRecordClaimingHugeLengthIsEioWithoutReadingIt) {
  const Id128 chunk = page0_.chunks[0];
  ChunkRecord record = *ChunkRecord::decode(raw(Column::kChunks, chunk));
  record.isInline = false;
  record.inlineData.clear();
  record.segment = 1, record.offset = 0, record.length = 0xFFFFFFF0;
  overwrite(Column::kChunks, chunk, record.encode());
  expectEio(chunk, 0);
  expectOthersFine();
  expectFinding("more than a chunk holds, in chunk " + chunk.hex());
}

// ---- reference counts ---------------------------------------------------------

TEST_F(CorruptMetadata, AnImplausibleReferenceCountIsEioNotAnOverflow) {
  const Id128 blob = ns().getattr(bystander_)->inode.blob;
  BlobRecord record = *BlobRecord::decode(raw(Column::kBlobs, blob));
  record.head.refcount = INT64_MAX;  // one more reference would overflow the sum
  overwrite(Column::kBlobs, blob, record.encode());
  Result<Attr> copy = kNotRun;
  const uint64_t ino = ns().mknod(Caller::root(), kRootIno, "copy", S_IFREG | 0644, 0)->ino;
  EXPECT_NO_THROW(copy = writeFile(ns(), ino, 0, bystanderContent_));  // same content: one more reference
  EXPECT_EQ("EIO", code(copy)) << copy.status().toString();
  EXPECT_TRUE(readAll(bystander_) == bystanderContent_);
  expectFinding("blob " + blob.hex() + ": reference count");
}

// ---- the namespace --------------------------------------------------------------

TEST_F(CorruptMetadata, MalformedKeysAreFindingsAndSkipped) {
  overwrite(Column::kDentries, std::string("\x00\x00\x01", 3), DentryRecord{victim_, 99, S_IFREG}.encode());
  overwrite(Column::kCookies, keys::ino(kRootIno) + "abc", "victim");
  std::vector<std::string> names;
  Status listed;
  EXPECT_NO_THROW(listed = ns().readdir(kRootIno, 0, [&](const DirEntry& e) {
    names.push_back(e.name);
    return true;
  }));
  EXPECT_TRUE(listed.ok()) << listed.toString();
  EXPECT_EQ(2, std::count(names.begin(), names.end(), "victim") + std::count(names.begin(), names.end(), "bystander"));
  expectFinding("dentries: a key of 3 bytes, malformed");
  expectFinding("cookies: a key of 11 bytes, malformed");
}

// ---- reopening ------------------------------------------------------------------

TEST_F(CorruptMetadata, AnUndecodableChunkRecordDoesNotKeepTheStoreClosed) {
  const Id128 chunk = page0_.chunks[5];
  overwrite(Column::kChunks, chunk, "garbage");
  store_.reset();
  auto reopened = Store::open(dir_.path() + "/store", options_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  store_ = std::move(*reopened);
  expectEio(chunk, 5 * C);
  expectOthersFine();
  expectFinding("chunk " + chunk.hex() + ": undecodable record");
  // No record says where that chunk's bytes are: the sweep at open must not
  // have punched them out (a repaired record could still name them).
  std::string segments;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path() + "/store/segments")) {
    std::ifstream in(entry.path(), std::ios::binary);
    segments.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_NE(std::string::npos, segments.find(victimContent_.substr(5 * C, C))) << "the corrupt chunk's bytes were swept";
}

TEST_F(CorruptMetadata, ACorruptOrphanDoesNotKeepTheStoreClosed) {
  // An inode unlinked while open (an orphan) whose record then went bad.
  overwrite(Column::kOrphans, keys::ino(victim_), "");
  overwrite(Column::kInodes, keys::ino(victim_), "garbage");
  store_.reset();
  auto reopened = Store::open(dir_.path() + "/store", options_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().toString();
  store_ = std::move(*reopened);
  EXPECT_EQ("EIO", code(ns().getattr(victim_)));
  expectOthersFine();
  expectFinding("inode " + std::to_string(victim_) + ": undecodable record");
}

// The ACIDFS marker is read from disk too: a chunk size out of range, or
// wider than its field, is refused rather than read as its low bits.
TEST_F(CorruptMetadata, AMarkerWithAnAbsurdChunkSizeIsRefused) {
  store_.reset();
  const std::string path = dir_.path() + "/store";
  for (const char* size : {"4294971392" /* 2^32 + 4096 */, "1073741824" /* 1 GiB */}) {
    std::ofstream(path + "/ACIDFS", std::ios::trunc) << "acidfs store\nformat 1\nchunk_size " << size << "\n";
    auto opened = Store::open(path, options_);
    EXPECT_EQ("EPROTO", code(opened)) << size;
  }
}

}  // namespace
}  // namespace acidfs
