// The on-disk format, byte for byte (docs/FORMAT.md, core/format.h): each
// record type and each key kind, with field values chosen so that every
// field is nonzero where it can be and different from its neighbours, encodes
// to exactly the bytes written here, and those bytes decode back to the same
// fields. The hex was derived from the layout in docs/FORMAT.md, not copied
// from the encoder's output.
//
// A failure here means the format changed. If that was meant, it is a new
// format version: bump kFormatVersion, update docs/FORMAT.md, then these
// bytes — never the bytes alone.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "core/content_store.h"
#include "core/encoding.h"
#include "core/feed.h"
#include "core/format.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "core/trash.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

std::string hexOf(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string bytesOf(std::string_view hex) {
  EXPECT_EQ(hex.size() % 2, 0u) << hex;
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// 16 bytes counting up from `first`: a reversed or shifted id shows.
Id128 idCountingFrom(uint8_t first) {
  Id128 id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<uint8_t>(first + i);
  return id;
}

// ---- the records, as FORMAT.md gives them --------------------------------------

// inodes: a regular file, every field set (rdev and the symlink target too,
// though a regular file has neither: the layout does not depend on the type).
InodeRecord goldenInode() {
  InodeRecord r;
  r.mode = S_IFREG | 0644;
  r.uid = 1000;
  r.gid = 100;
  r.nlink = 2;
  r.size = 200000;
  r.allocatedBytes = 204800;
  r.rdev = 0x0801;
  r.atimeNs = 1700000000123456789;
  r.mtimeNs = 1700000000987654321;
  r.ctimeNs = -1000000000;  // before the epoch: two's complement
  r.blob = idCountingFrom(0x10);
  r.parent = 7;
  r.nextCookie = 9;
  r.symlinkTarget = "a/b";
  return r;
}
const char kGoldenInode[] =
    "01"                                // version 1
    "a4810000"                          // mode 0100644
    "e8030000"                          // uid 1000
    "64000000"                          // gid 100
    "02000000"                          // nlink 2
    "400d030000000000"                  // size 200000
    "0020030000000000"                  // allocatedBytes 204800
    "0108000000000000"                  // rdev 0x0801
    "15cd853dfe9c9717"                  // atime 1700000000123456789 ns
    "b1680871fe9c9717"                  // mtime 1700000000987654321 ns
    "003665c4ffffffff"                  // ctime -1000000000 ns
    "101112131415161718191a1b1c1d1e1f"  // blob id, as is
    "0700000000000000"                  // parent 7
    "0900000000000000"                  // nextCookie 9
    "03000000"                          // symlink target: length 3
    "612f62";                           //   "a/b"

DentryRecord goldenDentry() { return DentryRecord{0x123456789a, 0x10003, S_IFDIR}; }
const char kGoldenDentry[] =
    "9a78563412000000"  // ino 0x123456789a
    "0300010000000000"  // cookie 0x10003
    "00400000";         // type S_IFDIR

ChunkRecord goldenInlineChunk() {
  ChunkRecord r;
  r.head = ContentHead{3, 1, /*collided=*/true, /*tombstone=*/false};
  r.isInline = true;
  r.inlineData = "hi!";
  return r;
}
const char kGoldenInlineChunk[] =
    "0300000000000000"  // refcount 3
    "01000000"          // seed 1
    "01"                // flags: collided
    "01"                // inline
    "03000000"          // length 3
    "686921";           // "hi!"

ChunkRecord goldenSegmentChunk() {
  ChunkRecord r;
  r.head = ContentHead{0x0102, 0, false, false};
  r.isInline = false;
  r.segment = 7;
  r.offset = 0x12345000;
  r.length = 40000;
  return r;
}
const char kGoldenSegmentChunk[] =
    "0201000000000000"  // refcount 0x0102
    "00000000"          // seed 0
    "00"                // flags: none
    "00"                // in a segment
    "07000000"          // segment 7 (segments/00000007.seg)
    "0050341200000000"  // offset 0x12345000
    "409c0000";         // length 40000

// What a freed chunk that a probe chain passes through is left as.
ChunkRecord goldenTombstoneChunk() {
  ChunkRecord r;
  r.head = ContentHead{0, 2, true, true};
  r.isInline = true;
  return r;
}
const char kGoldenTombstoneChunk[] =
    "0000000000000000"  // refcount 0
    "02000000"          // seed 2
    "03"                // flags: collided | tombstone
    "01"                // inline
    "00000000";         // no bytes

PageRecord goldenPage() {
  PageRecord r;
  r.head = ContentHead{2, 0, false, false};
  r.chunks = {Id128::zero(), idCountingFrom(0xa0)};  // a hole, then a chunk
  return r;
}
const char kGoldenPage[] =
    "0200000000000000"                  // refcount 2
    "00000000"                          // seed 0
    "00"                                // flags: none
    "02000000"                          // 2 chunk ids
    "00000000000000000000000000000000"  //   a hole
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";

BlobRecord goldenBlob() {
  BlobRecord r;
  r.head = ContentHead{1, 2, true, false};
  r.size = 70000;  // two 64 KiB chunks, one page
  r.dataChunks = 1;
  r.pages = {idCountingFrom(0xc0)};
  return r;
}
const char kGoldenBlob[] =
    "0100000000000000"  // refcount 1
    "02000000"          // seed 2
    "01"                // flags: collided
    "7011010000000000"  // size 70000
    "0100000000000000"  // dataChunks 1
    "01000000"          // 1 page id
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf";

// ---- each record: encodes to its bytes, and its bytes decode to it ---------------

TEST(FormatGolden, InodeRecordBytes) {
  EXPECT_EQ(hexOf(goldenInode().encode()), kGoldenInode);
  auto r = InodeRecord::decode(bytesOf(kGoldenInode));
  ASSERT_TRUE(r);
  const InodeRecord want = goldenInode();
  EXPECT_EQ(r->mode, want.mode);
  EXPECT_EQ(r->uid, want.uid);
  EXPECT_EQ(r->gid, want.gid);
  EXPECT_EQ(r->nlink, want.nlink);
  EXPECT_EQ(r->size, want.size);
  EXPECT_EQ(r->allocatedBytes, want.allocatedBytes);
  EXPECT_EQ(r->rdev, want.rdev);
  EXPECT_EQ(r->atimeNs, want.atimeNs);
  EXPECT_EQ(r->mtimeNs, want.mtimeNs);
  EXPECT_EQ(r->ctimeNs, want.ctimeNs);
  EXPECT_EQ(r->blob, want.blob);
  EXPECT_EQ(r->parent, want.parent);
  EXPECT_EQ(r->nextCookie, want.nextCookie);
  EXPECT_EQ(r->symlinkTarget, want.symlinkTarget);
}

// Version 2: the same fields, then the windows fallocate reserved.
TEST(FormatGolden, InodeRecordWithReservedWindowsBytes) {
  InodeRecord want = goldenInode();
  want.reserved = {{0, 2}, {5, 1}};
  const std::string golden = std::string("02") + (kGoldenInode + 2) +
                             "02000000"                            // 2 ranges
                             "0000000000000000" "0200000000000000"  // windows 0..1
                             "0500000000000000" "0100000000000000";  // window 5
  EXPECT_EQ(hexOf(want.encode()), golden);
  auto r = InodeRecord::decode(bytesOf(golden.c_str()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reserved, want.reserved);
  EXPECT_EQ(r->symlinkTarget, want.symlinkTarget);
  EXPECT_EQ(r->blob, want.blob);
}

// Version 3: the same fields, the flags (1: part of a read-only clone),
// then the reserved windows, their count 0 when there are none.
TEST(FormatGolden, InodeRecordOfAReadOnlyCloneBytes) {
  InodeRecord want = goldenInode();
  want.flags = InodeRecord::kReadOnly;
  const std::string golden = std::string("03") + (kGoldenInode + 2) +
                             "01000000"   // flags: read-only
                             "00000000";  // no reserved windows
  EXPECT_EQ(hexOf(want.encode()), golden);
  auto r = InodeRecord::decode(bytesOf(golden.c_str()));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->isReadOnly());
  EXPECT_TRUE(r->reserved.empty());
  EXPECT_EQ(r->symlinkTarget, want.symlinkTarget);
  std::string unknownFlag = bytesOf(golden.c_str());
  unknownFlag[unknownFlag.size() - 8] = 4;
  EXPECT_FALSE(InodeRecord::decode(unknownFlag)) << "a flag this acidfs does not know";
  // Writable again: version 1, the bytes of a store that never had a clone.
  want.flags = 0;
  EXPECT_EQ(hexOf(want.encode()), kGoldenInode);
}

// Version 4: the same fields, the flags (maybe none), the content version
// (user.acidfs.version), the inode's name, then the reserved windows, their
// count 0 when there are none.
TEST(FormatGolden, InodeRecordWithAContentVersionBytes) {
  InodeRecord want = goldenInode();
  want.contentVersion = 0x0102030405;
  want.name = "lock";
  const std::string golden = std::string("04") + (kGoldenInode + 2) +
                             "00000000"          // flags: none
                             "0504030201000000"  // content version
                             "04000000" "6c6f636b"  // name "lock"
                             "00000000";         // no reserved windows
  EXPECT_EQ(hexOf(want.encode()), golden);
  auto r = InodeRecord::decode(bytesOf(golden.c_str()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->contentVersion, want.contentVersion);
  EXPECT_FALSE(r->isReadOnly());
  EXPECT_TRUE(r->reserved.empty());
  EXPECT_EQ(r->name, "lock");
  // Without either: written as version 1, so a version 4 without either is refused.
  InodeRecord neither = goldenInode();
  std::string bare = std::string("04") + (kGoldenInode + 2) + "00000000" "0000000000000000" "00000000" "00000000";
  EXPECT_FALSE(InodeRecord::decode(bytesOf(bare.c_str()))) << "version 4 without a content version or a name";
  EXPECT_EQ(hexOf(neither.encode()), kGoldenInode);
}

TEST(FormatGolden, DentryRecordBytes) {
  EXPECT_EQ(hexOf(goldenDentry().encode()), kGoldenDentry);
  auto r = DentryRecord::decode(bytesOf(kGoldenDentry));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ino, 0x123456789au);
  EXPECT_EQ(r->cookie, 0x10003u);
  EXPECT_EQ(r->type, static_cast<uint32_t>(S_IFDIR));
}

void expectHead(const ContentHead& got, const ContentHead& want) {
  EXPECT_EQ(got.refcount, want.refcount);
  EXPECT_EQ(got.seed, want.seed);
  EXPECT_EQ(got.collided, want.collided);
  EXPECT_EQ(got.tombstone, want.tombstone);
}

void expectChunk(const char* hex, const ChunkRecord& want) {
  EXPECT_EQ(hexOf(want.encode()), hex);
  auto r = ChunkRecord::decode(bytesOf(hex));
  ASSERT_TRUE(r);
  expectHead(r->head, want.head);
  EXPECT_EQ(r->isInline, want.isInline);
  EXPECT_EQ(r->inlineData, want.inlineData);
  EXPECT_EQ(r->segment, want.segment);
  EXPECT_EQ(r->offset, want.offset);
  EXPECT_EQ(r->length, want.length);
}

TEST(FormatGolden, ChunkRecordInlineBytes) { expectChunk(kGoldenInlineChunk, goldenInlineChunk()); }
TEST(FormatGolden, ChunkRecordSegmentBytes) { expectChunk(kGoldenSegmentChunk, goldenSegmentChunk()); }
TEST(FormatGolden, ChunkRecordTombstoneBytes) { expectChunk(kGoldenTombstoneChunk, goldenTombstoneChunk()); }

TEST(FormatGolden, PageRecordBytes) {
  EXPECT_EQ(hexOf(goldenPage().encode()), kGoldenPage);
  auto r = PageRecord::decode(bytesOf(kGoldenPage));
  ASSERT_TRUE(r);
  expectHead(r->head, goldenPage().head);
  EXPECT_EQ(r->chunks, goldenPage().chunks);
}

TEST(FormatGolden, BlobRecordBytes) {
  EXPECT_EQ(hexOf(goldenBlob().encode()), kGoldenBlob);
  auto r = BlobRecord::decode(bytesOf(kGoldenBlob));
  ASSERT_TRUE(r);
  expectHead(r->head, goldenBlob().head);
  EXPECT_EQ(r->size, 70000u);
  EXPECT_EQ(r->dataChunks, 1u);
  EXPECT_EQ(r->pages, goldenBlob().pages);
}

// leases: the value is the expiry, an i64 of ns since the epoch.
TEST(FormatGolden, LeaseExpiryBytes) {
  const char kGoldenExpiry[] = "0058712e0c9d9717";  // 1700000060000000000 ns
  EXPECT_EQ(hexOf(Encoder().i64(1700000060000000000).str()), kGoldenExpiry);
  const std::string bytes = bytesOf(kGoldenExpiry);
  Decoder d(bytes);
  int64_t expiry = 0;
  ASSERT_TRUE(d.i64(expiry));
  EXPECT_TRUE(d.done());
  EXPECT_EQ(expiry, 1700000060000000000);
}

// docs/FORMAT.md "trash": the record and the keys' fixed parts.
TEST(FormatGolden, TrashRecordAndKeyBytes) {
  const std::string kGoldenTrash =
      std::string("01") + "03" + "2a00000000000000" + "a4810000" + "e8030000" + "64000000" + "0500000000000000" +
      "0100000000000000" + "0200000000000000" + "0300000000000000" + "0400000000000000" + "0500000000000000" +
      "101112131415161718191a1b1c1d1e1f" + "202122232425262728292a2b2c2d2e2f" + "00000000";
  TrashRecord r;
  r.cause = DropCause::kRenamedOver;
  r.ino = 42;
  r.mode = S_IFREG | 0644;
  r.uid = 1000;
  r.gid = 100;
  r.size = 5;
  r.atimeNs = 1;
  r.mtimeNs = 2;
  r.ctimeNs = 3;
  r.droppedNs = 4;
  r.expiresNs = 5;
  r.blob = Id128::fromBytes(bytesOf("101112131415161718191a1b1c1d1e1f"));
  r.replacedBy = Id128::fromBytes(bytesOf("202122232425262728292a2b2c2d2e2f"));
  EXPECT_EQ(hexOf(r.encode()), kGoldenTrash);
  auto back = TrashRecord::decode(bytesOf(kGoldenTrash));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->encode(), r.encode());
  EXPECT_EQ(hexOf(trashkeys::namePrefix(1, "docs")), "6e" "0000000000000001" "646f6373" "00");
  EXPECT_EQ(hexOf(trashkeys::versionPrefix(42)), "76" "000000000000002a");
  EXPECT_EQ(hexOf(trashkeys::expiry(5, "k")), "78" "0000000000000005" "6b");
}

// docs/FORMAT.md "feed": a record and its key.
TEST(FormatGolden, FeedRecordAndKeyBytes) {
  const std::string kGoldenFeed = std::string("01") + "04" + "00002a36fe9c9717" + "e8030000" + "04000000" + "2f642f66" +
                                  "00000000" + "01" + "101112131415161718191a1b1c1d1e1f" + "ed410000" + "e8030000" +
                                  "64000000" + "a4810000" + "64000000";
  FeedRecord r;
  r.op = FeedOp::kWrite;
  r.timeNs = 1700000000000000000;
  r.uid = 1000;
  r.path = "/d/f";
  r.blob = Id128::fromBytes(bytesOf("101112131415161718191a1b1c1d1e1f"));
  r.dirMode = S_IFDIR | 0755;
  r.dirUid = 1000;
  r.dirGid = 100;
  r.mode = S_IFREG | 0644;
  r.fileGid = 100;
  EXPECT_EQ(hexOf(r.encode()), kGoldenFeed);
  auto back = FeedRecord::decode(bytesOf(kGoldenFeed));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->encode(), r.encode());
  EXPECT_EQ(hexOf(keys::feed(0x0102, 3)), "0000000000000102" "00000003");
  EXPECT_EQ(keys::feedSeq(keys::feed(0x0102, 3)), 0x0102u);
  EXPECT_EQ(keys::feedIndex(keys::feed(0x0102, 3)), 3u);
}

// What ids are hashed from: changing it changes every id in every store.
TEST(FormatGolden, IdHashInputs) {
  EXPECT_EQ(hexOf(PageRecord::encodeBody(goldenPage().chunks)),
            "02000000"                          // u32 count
            "00000000000000000000000000000000"  // the chunk ids
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(hexOf(BlobRecord::encodeBody(70000, goldenBlob().pages)),
            "6163696466732d626c6f622d7631"      // "acidfs-blob-v1"
            "7011010000000000"                  // size 70000
            "01000000"                          // u32 count
            "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");  // the page ids
  EXPECT_EQ(ContentStore::computeEmptyBlobId(xxh3Hash).hex(), "02f9c633070d0b8d6d5712a45690de04");
}

// ---- keys ------------------------------------------------------------------------

TEST(FormatGolden, KeyBytes) {
  // inodes, orphans
  EXPECT_EQ(hexOf(keys::ino(0x0102030405060708)), "0102030405060708");
  // dentries: dir, then the name's bytes (no length, no terminator)
  EXPECT_EQ(hexOf(keys::dentry(1, "docs")), "0000000000000001" "646f6373");
  // cookies: dir, cookie
  EXPECT_EQ(hexOf(keys::cookie(1, 3)), "0000000000000001" "0000000000000003");
  // xattrs: ino, then the attribute's full name
  EXPECT_EQ(hexOf(keys::xattr(0x2a, "user.k")), "000000000000002a" "757365722e6b");
  // chunks, pages, blobs: the id's 16 bytes
  EXPECT_EQ(hexOf(keys::id(idCountingFrom(0x10))), "101112131415161718191a1b1c1d1e1f");
  // leases: blob id, uid (4, big-endian), lease number (8, big-endian)
  EXPECT_EQ(hexOf(keys::lease(idCountingFrom(0x10), 1000, 5)),
            "101112131415161718191a1b1c1d1e1f" "000003e8" "0000000000000005");
  EXPECT_EQ(hexOf(keys::leasePrefix(idCountingFrom(0x10), 1000)), "101112131415161718191a1b1c1d1e1f" "000003e8");
}

// The column families' names are how RocksDB finds them on open.
TEST(FormatGolden, ColumnFamilyNames) {
  std::string names;
  for (int i = 0; i < kColumnCount; ++i) names += std::string(columnName(static_cast<Column>(i))) + " ";
  EXPECT_EQ(names, "default inodes dentries cookies xattrs chunks pages blobs leases orphans trash feed ");
  EXPECT_EQ(kFormatVersion, 1u);
}

// ---- refusals --------------------------------------------------------------------

// Every proper prefix of a golden record is refused (decode: nullopt; the
// store turns that into EIO), and so is the record with a byte appended.
TEST(FormatGolden, TruncatedOrExtendedRecordsDoNotDecode) {
  auto refusedAllShortenings = [](const char* hex, auto decode) {
    const std::string bytes = bytesOf(hex);
    ASSERT_TRUE(decode(bytes)) << hex;
    for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode(bytes.substr(0, n))) << hex << " cut to " << n;
    EXPECT_FALSE(decode(bytes + '\0')) << hex << " plus a byte";
  };
  refusedAllShortenings(kGoldenInode, [](const std::string& b) { return InodeRecord::decode(b).has_value(); });
  refusedAllShortenings(kGoldenDentry, [](const std::string& b) { return DentryRecord::decode(b).has_value(); });
  refusedAllShortenings(kGoldenInlineChunk, [](const std::string& b) { return ChunkRecord::decode(b).has_value(); });
  refusedAllShortenings(kGoldenSegmentChunk, [](const std::string& b) { return ChunkRecord::decode(b).has_value(); });
  refusedAllShortenings(kGoldenTombstoneChunk, [](const std::string& b) { return ChunkRecord::decode(b).has_value(); });
  refusedAllShortenings(kGoldenPage, [](const std::string& b) { return PageRecord::decode(b).has_value(); });
  refusedAllShortenings(kGoldenBlob, [](const std::string& b) { return BlobRecord::decode(b).has_value(); });
}

// The one-byte fields that select a layout accept only what an encoder writes.
TEST(FormatGolden, UnknownVersionFlagsAndMarkersDoNotDecode) {
  std::string inode = bytesOf(kGoldenInode);
  inode[0] = 2;  // inode version
  EXPECT_FALSE(InodeRecord::decode(inode));
  inode[0] = 5;  // an inode version this acidfs does not know
  EXPECT_FALSE(InodeRecord::decode(inode));
  std::string chunk = bytesOf(kGoldenInlineChunk);
  chunk[12] = 4;  // flags: an unknown bit
  EXPECT_FALSE(ChunkRecord::decode(chunk));
  chunk = bytesOf(kGoldenInlineChunk);
  chunk[13] = 2;  // inline marker other than 0/1
  EXPECT_FALSE(ChunkRecord::decode(chunk));
  std::string page = bytesOf(kGoldenPage);
  page[13] = 3;  // a count of 3 ids where 2 follow
  EXPECT_FALSE(PageRecord::decode(page));
}

// The checks every load applies after decoding (ContentStore::checkRecord),
// at 64 KiB chunks: the golden records pass, records past the limits are EIO.
TEST(FormatGolden, LoadChecksOnDecodedRecords) {
  const uint32_t chunkSize = 65536;
  const Id128 id = idCountingFrom(0x30);
  EXPECT_TRUE(ContentStore::checkRecord(chunkSize, id, goldenBlob()).ok());
  EXPECT_TRUE(ContentStore::checkRecord(chunkSize, id, goldenPage()).ok());
  EXPECT_TRUE(ContentStore::checkRecord(chunkSize, id, goldenInlineChunk()).ok());
  EXPECT_TRUE(ContentStore::checkRecord(chunkSize, id, goldenSegmentChunk()).ok());

  BlobRecord blob = goldenBlob();
  blob.dataChunks = 3;  // more than size's 2 chunks
  EXPECT_EQ(testing::code(ContentStore::checkRecord(chunkSize, id, blob)), "EIO");
  blob = goldenBlob();
  blob.pages.push_back(idCountingFrom(0xd0));  // 70000 bytes need one page
  EXPECT_EQ(testing::code(ContentStore::checkRecord(chunkSize, id, blob)), "EIO");
  blob = goldenBlob();
  blob.size = kMaxFileSize + 1;
  EXPECT_EQ(testing::code(ContentStore::checkRecord(chunkSize, id, blob)), "EIO");
  PageRecord page;
  page.chunks.resize(kChunksPerPage + 1);
  EXPECT_EQ(testing::code(ContentStore::checkRecord(chunkSize, id, page)), "EIO");
  ChunkRecord chunk = goldenSegmentChunk();
  chunk.length = chunkSize + 1;
  EXPECT_EQ(testing::code(ContentStore::checkRecord(chunkSize, id, chunk)), "EIO");
  blob = BlobRecord{};  // a tombstone holds nothing and passes
  blob.head.tombstone = true;
  blob.dataChunks = 5;
  EXPECT_TRUE(ContentStore::checkRecord(chunkSize, id, blob).ok());
}

// ---- what a freshly formatted store holds ------------------------------------------

TEST(FormatGolden, FreshStoreMarkerVersionAndRoot) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/store";
  {
    auto store = Store::open(path, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().toString();
    MetaDb& db = (*store)->db();
    // format_version is text, not a u32.
    auto version = db.get(Column::kDefault, "format_version");
    ASSERT_TRUE(version.ok());
    ASSERT_TRUE(version->has_value());
    EXPECT_EQ(hexOf(**version), "31");  // "1"
    auto flushMark = db.get(Column::kDefault, "flush_mark");
    ASSERT_TRUE(flushMark.ok());
    EXPECT_FALSE(flushMark->has_value());
    auto rootValue = db.get(Column::kInodes, keys::ino(kRootIno));
    ASSERT_TRUE(rootValue.ok());
    ASSERT_TRUE(rootValue->has_value());
    EXPECT_EQ((*rootValue)->size(), 101u);  // 97 fixed bytes + the u32 length of an empty target
    auto root = InodeRecord::decode(**rootValue);
    ASSERT_TRUE(root);
    EXPECT_EQ(root->mode, static_cast<uint32_t>(S_IFDIR | 0755));
    EXPECT_EQ(root->nlink, 2u);
    EXPECT_EQ(root->parent, kRootIno);
    EXPECT_EQ(root->nextCookie, kFirstEntryCookie);
    EXPECT_TRUE(root->blob.isZero());
  }
  std::ifstream marker(path + "/ACIDFS", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(marker)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "acidfs store\nformat 1\nchunk_size 65536\n");
}

}  // namespace
}  // namespace acidfs
