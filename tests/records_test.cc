// The record encodings of core/records.h, field by field, and the encoding
// primitives of core/encoding.h and key helpers of core/format.h they rest
// on. tests/format_golden_test.cc pins one record of each shape to its
// bytes, and tests/records_fuzz_test.cc throws random input at the decoders;
// this file covers what lies between: each field alone, at its extremes,
// lands in its own bytes and only there; every value of each one-byte
// selector is accepted or refused as documented; every length and count
// that disagrees with what follows is refused; and the store answers a
// record it cannot decode with EIO.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "core/format.h"
#include "core/meta_db.h"
#include "core/records.h"
#include "tests/test_util.h"

namespace acidfs {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr size_t kHead = 8 + 4 + 1;  // ContentHead: refcount, seed, flags

Id128 idFilled(uint8_t fill) {
  Id128 id;
  id.bytes.fill(fill);
  return id;
}

// The byte offsets at which `a` and `b` differ, as [first, last+1); {0,0} when equal.
std::pair<size_t, size_t> differingRange(const std::string& a, const std::string& b) {
  EXPECT_EQ(a.size(), b.size());
  size_t first = std::string::npos, last = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (a[i] != b[i]) {
      first = std::min(first, i);
      last = i + 1;
    }
  return first == std::string::npos ? std::pair<size_t, size_t>{0, 0} : std::pair<size_t, size_t>{first, last};
}

bool sameInode(const InodeRecord& a, const InodeRecord& b) {
  return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.nlink == b.nlink && a.size == b.size &&
         a.allocatedBytes == b.allocatedBytes && a.rdev == b.rdev && a.atimeNs == b.atimeNs &&
         a.mtimeNs == b.mtimeNs && a.ctimeNs == b.ctimeNs && a.blob == b.blob && a.parent == b.parent &&
         a.nextCookie == b.nextCookie && a.symlinkTarget == b.symlinkTarget;
}

// ---- the primitives --------------------------------------------------------------------------

TEST(Encoding, FixedWidthValuesAreLittleEndianAndReadBack) {
  const std::string bytes =
      Encoder().u8(0xa1).u32(0x04030201).u64(0x0c0b0a0908070605).i64(-2).bytes("xyz").raw("!").take();
  EXPECT_EQ(bytes, std::string("\xa1\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
                               "\xfe\xff\xff\xff\xff\xff\xff\xff"
                               "\x03\x00\x00\x00xyz!",
                               1 + 4 + 8 + 8 + 4 + 3 + 1));
  Decoder d(bytes);
  uint8_t u8 = 0;
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  int64_t i64 = 0;
  std::string text;
  std::string_view raw;
  ASSERT_TRUE(d.u8(u8) && d.u32(u32) && d.u64(u64) && d.i64(i64) && d.bytes(text) && d.raw(1, raw));
  EXPECT_EQ(u8, 0xa1);
  EXPECT_EQ(u32, 0x04030201u);
  EXPECT_EQ(u64, 0x0c0b0a0908070605u);
  EXPECT_EQ(i64, -2);
  EXPECT_EQ(text, "xyz");
  EXPECT_EQ(raw, "!");
  EXPECT_TRUE(d.done());
}

TEST(Encoding, ExtremeValuesRoundTrip) {
  const std::string bytes = Encoder().u32(kU32Max).u64(kU64Max).i64(kI64Min).i64(kI64Max).u32(0).take();
  Decoder d(bytes);
  uint32_t a = 1, e = 1;
  uint64_t b = 0;
  int64_t c = 0, x = 0;
  ASSERT_TRUE(d.u32(a) && d.u64(b) && d.i64(c) && d.i64(x) && d.u32(e));
  EXPECT_EQ(a, kU32Max);
  EXPECT_EQ(b, kU64Max);
  EXPECT_EQ(c, kI64Min);
  EXPECT_EQ(x, kI64Max);
  EXPECT_EQ(e, 0u);
}

TEST(Encoding, DoneOnlyWhenEverythingWasReadAndNothingFailed) {
  const std::string two = Encoder().u8(1).u8(2).take();
  Decoder d(two);
  uint8_t v;
  EXPECT_FALSE(d.done()) << "bytes left";
  ASSERT_TRUE(d.u8(v));
  EXPECT_TRUE(d.ok());
  EXPECT_FALSE(d.done());
  ASSERT_TRUE(d.u8(v));
  EXPECT_TRUE(d.done());
  uint32_t more;
  EXPECT_FALSE(d.u32(more)) << "nothing left";
  EXPECT_FALSE(d.ok());
  EXPECT_FALSE(d.done()) << "empty, but failed";
}

TEST(Encoding, ALengthPrefixLongerThanWhatFollowsFailsAndReadsNothing) {
  std::string in = Encoder().u32(4).raw("abc").take();
  Decoder d(in);
  std::string out = "untouched";
  EXPECT_FALSE(d.bytes(out));
  EXPECT_EQ(out, "untouched");
  EXPECT_FALSE(d.ok());
  std::string_view raw;
  Decoder short3("abc");
  EXPECT_FALSE(short3.raw(4, raw));
  Decoder exact("abc");
  EXPECT_TRUE(exact.raw(3, raw));
  EXPECT_EQ(raw, "abc");
  EXPECT_TRUE(exact.done());
  Decoder empty("");
  EXPECT_TRUE(empty.raw(0, raw)) << "zero bytes are always there";
  EXPECT_FALSE(empty.bytes(out)) << "but not a length prefix";
  EXPECT_FALSE(empty.ok());
}

TEST(Encoding, CountOfZeroAndCountsOfOneByteElements) {
  uint32_t n = 7;
  EXPECT_TRUE(Decoder(Encoder().u32(0).take()).count(n, 16));
  EXPECT_EQ(n, 0u);
  std::string in = Encoder().u32(5).raw("12345").take();
  EXPECT_TRUE(Decoder(in).count(n, 1));
  EXPECT_FALSE(Decoder(in).count(n, 2)) << "5 elements of 2 bytes need 10";
}

TEST(Encoding, BigEndianKeyPartsReadBackAndSortNumerically) {
  const std::vector<uint64_t> values = {0, 1, 2, 255, 256, 65535, 65536, 1ull << 32, (1ull << 56) - 1, 1ull << 56,
                                        kU64Max - 1, kU64Max};
  for (uint64_t v : values) {
    std::string k;
    appendBigEndian64(k, v);
    ASSERT_EQ(k.size(), 8u);
    EXPECT_EQ(readBigEndian64(k), v);
  }
  for (uint64_t a : values)
    for (uint64_t b : values) {
      EXPECT_EQ(keys::ino(a) < keys::ino(b), a < b) << a << " " << b;
      EXPECT_EQ(keys::cookie(9, a) < keys::cookie(9, b), a < b) << a << " " << b;
      EXPECT_EQ(keys::lease(Id128::zero(), 5, a) < keys::lease(Id128::zero(), 5, b), a < b) << a << " " << b;
    }
}

TEST(Encoding, AllKeysOfADirectoryOrLeaseHolderShareItsPrefixAndNoOtherDoes) {
  const std::string dir = keys::ino(0x100);
  for (const std::string& k : {keys::dentry(0x100, ""), keys::dentry(0x100, "\xff\xff"), keys::cookie(0x100, kU64Max),
                               keys::xattr(0x100, "user.x")})
    EXPECT_EQ(k.substr(0, 8), dir);
  EXPECT_NE(keys::dentry(0x101, "").substr(0, 8), dir);
  // Every entry of directory d sorts between d's key and d+1's.
  EXPECT_LT(keys::dentry(0x100, "\xff\xff\xff"), keys::ino(0x101));
  const Id128 blob = idFilled(0x42);
  const std::string prefix = keys::leasePrefix(blob, 1000);
  EXPECT_EQ(prefix.size(), 20u);
  for (uint64_t n : {uint64_t{0}, uint64_t{1}, kU64Max}) EXPECT_EQ(keys::lease(blob, 1000, n).substr(0, 20), prefix);
  EXPECT_NE(keys::lease(blob, 1001, 0).substr(0, 20), prefix);
  EXPECT_NE(keys::lease(idFilled(0x43), 1000, 0).substr(0, 20), prefix);
}

TEST(Format, RecordKindsMapToTheirColumnsNounsAndNamers) {
  EXPECT_EQ(columnOf(RecordKind::kBlob), Column::kBlobs);
  EXPECT_EQ(columnOf(RecordKind::kPage), Column::kPages);
  EXPECT_EQ(columnOf(RecordKind::kChunk), Column::kChunks);
  EXPECT_STREQ(recordNoun(RecordKind::kBlob), "blob");
  EXPECT_STREQ(recordNoun(RecordKind::kPage), "page");
  EXPECT_STREQ(recordNoun(RecordKind::kChunk), "chunk");
  EXPECT_EQ(namingKind(RecordKind::kChunk), RecordKind::kPage) << "pages name chunks";
  EXPECT_EQ(namingKind(RecordKind::kPage), RecordKind::kBlob) << "blobs name pages";
  PerRecordKind<int> perKind;
  perKind[RecordKind::kBlob] = 1;
  perKind[RecordKind::kPage] = 2;
  perKind[RecordKind::kChunk] = 3;
  EXPECT_EQ(perKind[RecordKind::kBlob] * 100 + perKind[RecordKind::kPage] * 10 + perKind[RecordKind::kChunk], 123);
  EXPECT_EQ(PerRecordKind<int>()[RecordKind::kChunk], 0) << "value-initialised";
}

// ---- InodeRecord -------------------------------------------------------------------------------

// Byte ranges of the inode layout (docs/FORMAT.md): version u8, then
// mode uid gid nlink (u32), size allocatedBytes rdev (u64), atime mtime ctime
// (i64), blob (16), parent nextCookie (u64), symlink target (u32 length + bytes).
struct InodeField {
  const char* name;
  size_t offset, length;
  std::function<void(InodeRecord&)> setExtreme;
};
const std::vector<InodeField>& inodeFields() {
  static const std::vector<InodeField> fields = {
      {"mode", 1, 4, [](InodeRecord& r) { r.mode = kU32Max; }},
      {"uid", 5, 4, [](InodeRecord& r) { r.uid = kU32Max; }},
      {"gid", 9, 4, [](InodeRecord& r) { r.gid = kU32Max; }},
      {"nlink", 13, 4, [](InodeRecord& r) { r.nlink = kU32Max; }},
      {"size", 17, 8, [](InodeRecord& r) { r.size = kU64Max; }},
      {"allocatedBytes", 25, 8, [](InodeRecord& r) { r.allocatedBytes = kU64Max; }},
      {"rdev", 33, 8, [](InodeRecord& r) { r.rdev = kU64Max; }},
      {"atimeNs", 41, 8, [](InodeRecord& r) { r.atimeNs = kI64Min; }},
      {"mtimeNs", 49, 8, [](InodeRecord& r) { r.mtimeNs = -1; }},
      {"ctimeNs", 57, 8, [](InodeRecord& r) { r.ctimeNs = kI64Max; }},
      {"blob", 65, 16, [](InodeRecord& r) { r.blob = idFilled(0xff); }},
      {"parent", 81, 8, [](InodeRecord& r) { r.parent = kU64Max; }},
      {"nextCookie", 89, 8, [](InodeRecord& r) { r.nextCookie = kU64Max; }},
  };
  return fields;
}

TEST(InodeRecordCodec, AnEmptyRecordIs101BytesAndATargetAddsItsLength) {
  EXPECT_EQ(InodeRecord().encode().size(), 101u);
  InodeRecord link;
  link.symlinkTarget = "12345";
  EXPECT_EQ(link.encode().size(), 106u);
  EXPECT_EQ(InodeRecord().encode()[0], 1) << "version 1 first";
}

TEST(InodeRecordCodec, EachFieldAtItsExtremeChangesOnlyItsOwnBytesAndRoundTrips) {
  const std::string base = InodeRecord().encode();
  for (const InodeField& field : inodeFields()) {
    SCOPED_TRACE(field.name);
    InodeRecord r;
    field.setExtreme(r);
    const std::string bytes = r.encode();
    const auto [first, last] = differingRange(base, bytes);
    EXPECT_GE(first, field.offset);
    EXPECT_LE(last, field.offset + field.length);
    EXPECT_LT(first, last) << "the field changed no byte";
    auto decoded = InodeRecord::decode(bytes);
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(sameInode(*decoded, r));
  }
}

TEST(InodeRecordCodec, EveryFieldAtItsExtremeAtOnceRoundTrips) {
  InodeRecord r;
  for (const InodeField& field : inodeFields()) field.setExtreme(r);
  r.symlinkTarget = std::string("\0\xff/..", 5) + std::string(4096, 't');
  auto decoded = InodeRecord::decode(r.encode());
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(sameInode(*decoded, r));
  EXPECT_EQ(decoded->symlinkTarget.size(), 4101u);
}

TEST(InodeRecordCodec, EveryVersionButOneIsRefused) {
  std::string bytes = InodeRecord().encode();
  for (int version = 0; version < 256; ++version) {
    bytes[0] = static_cast<char>(version);
    EXPECT_EQ(InodeRecord::decode(bytes).has_value(), version == 1) << version;
  }
}

TEST(InodeRecordCodec, ATargetLengthThatDisagreesWithTheBytesIsRefused) {
  InodeRecord link;
  link.symlinkTarget = "target";
  std::string bytes = link.encode();
  ASSERT_EQ(bytes.substr(97, 4), std::string("\x06\x00\x00\x00", 4));
  for (uint32_t length : {0u, 5u, 7u, 0x100u, kU32Max}) {
    std::string patched = bytes;
    for (int i = 0; i < 4; ++i) patched[97 + i] = static_cast<char>(length >> (8 * i));
    EXPECT_FALSE(InodeRecord::decode(patched)) << length;
  }
  EXPECT_FALSE(InodeRecord::decode(bytes.substr(0, 100))) << "a length cut short";
}

// ---- DentryRecord ------------------------------------------------------------------------------

TEST(DentryRecordCodec, TwentyBytesEachFieldInItsPlace) {
  const std::string base = DentryRecord().encode();
  ASSERT_EQ(base.size(), 20u);
  struct Case {
    size_t offset, length;
    DentryRecord record;
  };
  for (const Case& c : {Case{0, 8, DentryRecord{kU64Max, 0, 0}}, Case{8, 8, DentryRecord{0, kU64Max, 0}},
                        Case{16, 4, DentryRecord{0, 0, kU32Max}}}) {
    const std::string bytes = c.record.encode();
    const auto [first, last] = differingRange(base, bytes);
    EXPECT_EQ(first, c.offset);
    EXPECT_EQ(last, c.offset + c.length);
    auto decoded = DentryRecord::decode(bytes);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->ino, c.record.ino);
    EXPECT_EQ(decoded->cookie, c.record.cookie);
    EXPECT_EQ(decoded->type, c.record.type);
  }
  for (size_t n : {0, 19, 21, 40}) EXPECT_FALSE(DentryRecord::decode(std::string(n, '\x01'))) << n << " bytes";
}

// ---- the content head (chunks, pages, blobs) ---------------------------------------------------

// The same head in each of the three content records.
struct HeadCase {
  const char* name;
  std::function<std::string(const ContentHead&)> encodeWith;
  std::function<std::optional<ContentHead>(std::string_view)> decodeHead;
};
std::vector<HeadCase> headCases() {
  return {
      {"chunk",
       [](const ContentHead& h) {
         ChunkRecord r;
         r.head = h;
         r.segment = 3, r.offset = 4096, r.length = 10;
         return r.encode();
       },
       [](std::string_view in) -> std::optional<ContentHead> {
         auto r = ChunkRecord::decode(in);
         return r ? std::optional(r->head) : std::nullopt;
       }},
      {"page",
       [](const ContentHead& h) {
         PageRecord r;
         r.head = h;
         r.chunks = {idFilled(1)};
         return r.encode();
       },
       [](std::string_view in) -> std::optional<ContentHead> {
         auto r = PageRecord::decode(in);
         return r ? std::optional(r->head) : std::nullopt;
       }},
      {"blob",
       [](const ContentHead& h) {
         BlobRecord r;
         r.head = h;
         r.size = 5;
         r.pages = {idFilled(2)};
         return r.encode();
       },
       [](std::string_view in) -> std::optional<ContentHead> {
         auto r = BlobRecord::decode(in);
         return r ? std::optional(r->head) : std::nullopt;
       }},
  };
}

TEST(ContentHeadCodec, RefcountSeedAndFlagsRoundTripAtTheirExtremesInEveryRecord) {
  for (const HeadCase& c : headCases()) {
    SCOPED_TRACE(c.name);
    for (const ContentHead& h : {ContentHead{0, 0, false, false}, ContentHead{kU64Max, kU32Max, true, true},
                                 ContentHead{1, 0, true, false}, ContentHead{0, 1, false, true}}) {
      const std::string bytes = c.encodeWith(h);
      Decoder d(bytes);
      uint64_t refcount;
      uint32_t seed;
      uint8_t flags;
      ASSERT_TRUE(d.u64(refcount) && d.u32(seed) && d.u8(flags)) << "the head comes first";
      EXPECT_EQ(refcount, h.refcount);
      EXPECT_EQ(seed, h.seed);
      EXPECT_EQ(flags, (h.collided ? 1 : 0) | (h.tombstone ? 2 : 0)) << "collided is bit 0, tombstone bit 1";
      auto decoded = c.decodeHead(bytes);
      ASSERT_TRUE(decoded);
      EXPECT_EQ(decoded->refcount, h.refcount);
      EXPECT_EQ(decoded->seed, h.seed);
      EXPECT_EQ(decoded->collided, h.collided);
      EXPECT_EQ(decoded->tombstone, h.tombstone);
    }
  }
}

TEST(ContentHeadCodec, EveryFlagsByteAbove3IsRefusedInEveryRecord) {
  for (const HeadCase& c : headCases()) {
    SCOPED_TRACE(c.name);
    std::string bytes = c.encodeWith(ContentHead{});
    for (int flags = 0; flags < 256; ++flags) {
      bytes[12] = static_cast<char>(flags);
      auto decoded = c.decodeHead(bytes);
      ASSERT_EQ(decoded.has_value(), flags <= 3) << flags;
      if (decoded) {
        EXPECT_EQ(decoded->collided, (flags & 1) != 0);
        EXPECT_EQ(decoded->tombstone, (flags & 2) != 0);
      }
    }
  }
}

// ---- ChunkRecord -------------------------------------------------------------------------------

TEST(ChunkRecordCodec, ASegmentChunkIs30BytesWithItsExtentAtTheEnd) {
  ChunkRecord r;
  r.segment = kU32Max, r.offset = kU64Max, r.length = kU32Max;
  const std::string bytes = r.encode();
  ASSERT_EQ(bytes.size(), kHead + 1 + 4 + 8 + 4);
  EXPECT_EQ(bytes[kHead], 0) << "not inline";
  const auto [first, last] = differingRange(ChunkRecord().encode(), bytes);
  EXPECT_EQ(first, kHead + 1);
  EXPECT_EQ(last, bytes.size());
  auto decoded = ChunkRecord::decode(bytes);
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(decoded->isInline);
  EXPECT_EQ(decoded->segment, kU32Max);
  EXPECT_EQ(decoded->offset, kU64Max);
  EXPECT_EQ(decoded->length, kU32Max);
}

TEST(ChunkRecordCodec, InlineBytesOfAnyValueAndLengthRoundTrip) {
  for (const std::string& data : {std::string(), std::string("\0", 1), std::string("\0\xff\x80", 3),
                                  ::acidfs::testing::randomBytes(65536, 3)}) {
    ChunkRecord r;
    r.isInline = true;
    r.inlineData = data;
    const std::string bytes = r.encode();
    EXPECT_EQ(bytes.size(), kHead + 1 + 4 + data.size());
    EXPECT_EQ(bytes[kHead], 1) << "inline";
    auto decoded = ChunkRecord::decode(bytes);
    ASSERT_TRUE(decoded) << data.size();
    EXPECT_TRUE(decoded->isInline);
    EXPECT_EQ(decoded->inlineData, data);
  }
}

TEST(ChunkRecordCodec, OnlyTheFieldsOfItsLayoutAreStored) {
  ChunkRecord inlined;
  inlined.isInline = true;
  inlined.inlineData = "abc";
  inlined.segment = 9, inlined.offset = 8192, inlined.length = 3;
  auto a = ChunkRecord::decode(inlined.encode());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->segment, 0u);
  EXPECT_EQ(a->offset, 0u);
  EXPECT_EQ(a->length, 0u) << "an inline chunk's length is its data's";
  ChunkRecord extent;
  extent.inlineData = "ignored";
  extent.segment = 9;
  auto b = ChunkRecord::decode(extent.encode());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->inlineData, "");
  EXPECT_EQ(b->segment, 9u);
}

TEST(ChunkRecordCodec, EveryInlineMarkerButZeroAndOneIsRefused) {
  ChunkRecord r;
  std::string bytes = r.encode();
  for (int marker = 0; marker < 256; ++marker) {
    bytes[kHead] = static_cast<char>(marker);
    // Marker 1 reads the extent's 16 bytes as a length (0) and 12 trailing bytes: refused too.
    EXPECT_EQ(ChunkRecord::decode(bytes).has_value(), marker == 0) << marker;
  }
}

TEST(ChunkRecordCodec, AnInlineLengthThatDisagreesWithTheBytesIsRefused) {
  ChunkRecord r;
  r.isInline = true;
  r.inlineData = "12345678";
  const std::string bytes = r.encode();
  for (uint32_t length : {0u, 7u, 9u, 0x10000u, kU32Max}) {
    std::string patched = bytes;
    for (int i = 0; i < 4; ++i) patched[kHead + 1 + i] = static_cast<char>(length >> (8 * i));
    EXPECT_FALSE(ChunkRecord::decode(patched)) << length;
  }
  // A segment chunk read as inline, or inline as segment, is refused.
  std::string asSegment = bytes;
  asSegment[kHead] = 0;
  EXPECT_FALSE(ChunkRecord::decode(asSegment));
}

// ---- PageRecord and BlobRecord ------------------------------------------------------------------

TEST(PageRecordCodec, IdsRoundTripInOrderHolesIncluded) {
  for (size_t n : {0ul, 1ul, 3ul, size_t{kChunksPerPage}}) {
    PageRecord r;
    r.head.refcount = n;
    for (size_t i = 0; i < n; ++i) r.chunks.push_back(i % 3 == 1 ? Id128::zero() : idFilled(static_cast<uint8_t>(i)));
    const std::string bytes = r.encode();
    EXPECT_EQ(bytes.size(), kHead + 4 + 16 * n);
    auto decoded = PageRecord::decode(bytes);
    ASSERT_TRUE(decoded) << n;
    EXPECT_EQ(decoded->chunks, r.chunks);
    // The body hashed for the page's id is the count and the ids, without the head.
    EXPECT_EQ(PageRecord::encodeBody(r.chunks), bytes.substr(kHead));
  }
}

TEST(PageRecordCodec, ACountOtherThanTheIdsThatFollowIsRefused) {
  PageRecord r;
  r.chunks = {idFilled(1), idFilled(2)};
  const std::string bytes = r.encode();
  for (uint32_t count : {0u, 1u, 3u, kU32Max}) {
    std::string patched = bytes;
    for (int i = 0; i < 4; ++i) patched[kHead + i] = static_cast<char>(count >> (8 * i));
    EXPECT_FALSE(PageRecord::decode(patched)) << count;
  }
  EXPECT_FALSE(PageRecord::decode(bytes + std::string(16, '\x07'))) << "a third id not counted";
  EXPECT_FALSE(PageRecord::decode(bytes.substr(0, bytes.size() - 1))) << "the last id cut short";
}

TEST(BlobRecordCodec, SizeDataChunksAndPagesEachInTheirPlace) {
  BlobRecord r;
  r.size = kU64Max;
  r.dataChunks = kU64Max - 1;
  r.pages = {idFilled(0xa), Id128::zero(), idFilled(0xc)};
  const std::string bytes = r.encode();
  ASSERT_EQ(bytes.size(), kHead + 8 + 8 + 4 + 16 * 3);
  Decoder d(std::string_view(bytes).substr(kHead));
  uint64_t size, dataChunks;
  uint32_t count;
  ASSERT_TRUE(d.u64(size) && d.u64(dataChunks) && d.u32(count));
  EXPECT_EQ(size, kU64Max);
  EXPECT_EQ(dataChunks, kU64Max - 1);
  EXPECT_EQ(count, 3u);
  auto decoded = BlobRecord::decode(bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size, r.size);
  EXPECT_EQ(decoded->dataChunks, r.dataChunks);
  EXPECT_EQ(decoded->pages, r.pages);
}

TEST(BlobRecordCodec, TheHashedBodyNamesSizeAndPagesButNotTheHeadOrDataChunks) {
  const std::vector<Id128> pages = {idFilled(1), idFilled(2)};
  const std::string body = BlobRecord::encodeBody(4096, pages);
  EXPECT_EQ(body.substr(0, 14), "acidfs-blob-v1");
  EXPECT_EQ(body.size(), 14 + 8 + 4 + 32u);
  EXPECT_NE(BlobRecord::encodeBody(4097, pages), body);
  EXPECT_NE(BlobRecord::encodeBody(4096, {idFilled(2), idFilled(1)}), body) << "the order of pages counts";
  EXPECT_NE(BlobRecord::encodeBody(4096, {idFilled(1)}), body);
}

TEST(BlobRecordCodec, ACountOtherThanThePagesThatFollowIsRefused) {
  BlobRecord r;
  r.size = 10;
  r.pages = {idFilled(1)};
  const std::string bytes = r.encode();
  const size_t at = kHead + 16;
  for (uint32_t count : {0u, 2u, kU32Max}) {
    std::string patched = bytes;
    for (int i = 0; i < 4; ++i) patched[at + i] = static_cast<char>(count >> (8 * i));
    EXPECT_FALSE(BlobRecord::decode(patched)) << count;
  }
  EXPECT_FALSE(BlobRecord::decode(bytes + std::string(16, '\x01')));
  BlobRecord none;
  auto decoded = BlobRecord::decode(none.encode());
  ASSERT_TRUE(decoded) << "no pages: the empty blob's shape";
  EXPECT_TRUE(decoded->pages.empty());
}

// ---- what the store makes of a record it cannot decode -----------------------------------------

class UndecodableRecords : public ::acidfs::testing::StoreFixture {};

TEST_F(UndecodableRecords, AnInodeOfAnotherVersionOrCutShortIsEio) {
  const uint64_t ino = makeFile(kRootIno, "f", "content");
  auto value = store_->engine().get(Column::kInodes, keys::ino(ino));
  ASSERT_TRUE(value.ok() && value->has_value());
  std::string otherVersion = **value;
  otherVersion[0] = 2;
  for (const std::string& bad : {otherVersion, (*value)->substr(0, 100), **value + "x"}) {
    ASSERT_TRUE(store_->engine().put(Column::kInodes, keys::ino(ino), bad, false).ok());
    EXPECT_EQ(::acidfs::testing::code(ns().getattr(ino)), "EIO");
    EXPECT_EQ(::acidfs::testing::code(ns().lookup(kRootIno, "f")), "EIO");
  }
  ASSERT_TRUE(store_->engine().put(Column::kInodes, keys::ino(ino), **value, false).ok());
  EXPECT_EQ(readAll(ino), "content") << "the record, put back, decodes again";
}

TEST_F(UndecodableRecords, ADentryOfTheWrongLengthIsEio) {
  makeFile(kRootIno, "f", "content");
  auto value = store_->engine().get(Column::kDentries, keys::dentry(kRootIno, "f"));
  ASSERT_TRUE(value.ok() && value->has_value());
  ASSERT_TRUE(store_->engine().put(Column::kDentries, keys::dentry(kRootIno, "f"), (*value)->substr(0, 19), false).ok());
  EXPECT_EQ(::acidfs::testing::code(ns().lookup(kRootIno, "f")), "EIO");
}

}  // namespace
}  // namespace acidfs
