// The decoders of bytes read from disk (core/records.h, and the Decoder of
// core/encoding.h that they and the lease expiries use) against hostile
// input: random bytes, every truncation of a valid record, flipped bits,
// overwritten bytes, counts set to 0xFFFFFFFF. A decoder may refuse
// (nullopt) but never throws nor reads out of bounds (the sanitizer build
// checks that), and whatever it accepts encodes back to exactly its input.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/encoding.h"
#include "core/records.h"

namespace acidfs {
namespace {

constexpr uint64_t kSeed = 20240611;
constexpr int kRandomInputsPerType = 20000;  // five record types: 100k in all
constexpr int kOverwritesPerSample = 2000;

Id128 idOf(uint8_t fill) {
  Id128 id;
  id.bytes.fill(fill);
  return id;
}

// Valid encodings of each record type, in their different shapes.
template <typename Record>
std::vector<std::string> samples();

template <>
std::vector<std::string> samples<InodeRecord>() {
  InodeRecord file;
  file.mode = S_IFREG | 0644;
  file.nlink = 1;
  file.size = 200000;
  file.blob = idOf(0xab);
  InodeRecord link;
  link.mode = S_IFLNK | 0777;
  link.symlinkTarget = "../somewhere/else";
  return {file.encode(), link.encode(), InodeRecord().encode()};
}

template <>
std::vector<std::string> samples<DentryRecord>() {
  return {DentryRecord{42, 7, S_IFREG}.encode(), DentryRecord().encode()};
}

template <>
std::vector<std::string> samples<ChunkRecord>() {
  ChunkRecord inlined;
  inlined.head.refcount = 3;
  inlined.isInline = true;
  inlined.inlineData = "some inline bytes";
  ChunkRecord extent;
  extent.head = ContentHead{1, 2, true, false};
  extent.segment = 5, extent.offset = 4096, extent.length = 65536;
  ChunkRecord tombstone;
  tombstone.head.collided = tombstone.head.tombstone = true;
  tombstone.isInline = true;
  return {inlined.encode(), extent.encode(), tombstone.encode()};
}

template <>
std::vector<std::string> samples<PageRecord>() {
  PageRecord page;
  page.head.refcount = 2;
  page.chunks = {idOf(1), Id128::zero(), idOf(3)};
  return {page.encode(), PageRecord().encode()};
}

template <>
std::vector<std::string> samples<BlobRecord>() {
  BlobRecord blob;
  blob.head.refcount = 1;
  blob.size = 3 * 1024 * 65536;
  blob.dataChunks = 3000;
  blob.pages = {idOf(7), idOf(8), idOf(9)};
  return {blob.encode(), BlobRecord().encode()};
}

std::string hexOf(std::string_view bytes) {
  std::string out;
  char two[3];
  for (size_t i = 0; i < bytes.size() && i < 48; ++i) {
    snprintf(two, sizeof two, "%02x", static_cast<uint8_t>(bytes[i]));
    out += two;
  }
  return bytes.size() > 48 ? out + "… (" + std::to_string(bytes.size()) + " bytes)" : out;
}

// Decodes inputs and keeps the first few problems, so that one broken case
// reports itself once rather than a hundred thousand times.
template <typename Record>
class Fuzzer {
 public:
  // Returns the record it accepted, if any.
  std::optional<Record> decode(std::string_view in) {
    ++inputs_;
    try {
      std::optional<Record> r = Record::decode(in);
      if (r && r->encode() != in) problem(in, "accepted, but encodes back to different bytes");
      return r;
    } catch (const std::exception& e) {
      problem(in, std::string("threw ") + e.what());
    } catch (...) {
      problem(in, "threw something");
    }
    return std::nullopt;
  }
  void expectRefused(std::string_view in) {
    if (decode(in)) problem(in, "accepted");
  }
  void check() {
    EXPECT_EQ(0, failures_) << failures_ << " of " << inputs_ << " inputs failed (seed " << kSeed << "):" << report_;
  }

 private:
  void problem(std::string_view in, const std::string& what) {
    if (++failures_ <= 5) report_ += "\n  " + what + ": " + hexOf(in);
  }
  int inputs_ = 0, failures_ = 0;
  std::string report_;
};

template <typename Record>
class RecordsFuzz : public ::testing::Test {};
using RecordTypes = ::testing::Types<InodeRecord, DentryRecord, ChunkRecord, PageRecord, BlobRecord>;
TYPED_TEST_SUITE(RecordsFuzz, RecordTypes);

TYPED_TEST(RecordsFuzz, SamplesRoundTrip) {
  Fuzzer<TypeParam> fuzzer;
  for (const std::string& s : samples<TypeParam>()) EXPECT_TRUE(fuzzer.decode(s)) << hexOf(s);
  fuzzer.check();
}

TYPED_TEST(RecordsFuzz, RandomBytesAreRefusedOrRoundTrip) {
  printf("seed %llu\n", static_cast<unsigned long long>(kSeed));
  std::mt19937_64 rng(kSeed);
  Fuzzer<TypeParam> fuzzer;
  std::string in;
  for (int i = 0; i < kRandomInputsPerType; ++i) {
    // Half short inputs (near the sizes of real records), half up to 4 KiB.
    const size_t length = rng() % (i % 2 ? 4097 : 129);
    in.resize(length);
    for (char& c : in) c = static_cast<char>(rng());
    fuzzer.decode(in);
  }
  fuzzer.check();
}

TYPED_TEST(RecordsFuzz, EveryTruncationAndExtensionIsRefused) {
  Fuzzer<TypeParam> fuzzer;
  for (const std::string& s : samples<TypeParam>()) {
    for (size_t n = 0; n < s.size(); ++n) fuzzer.expectRefused(std::string_view(s).substr(0, n));
    fuzzer.expectRefused(s + '\0');
  }
  fuzzer.check();
}

TYPED_TEST(RecordsFuzz, FlippedBitsAndOverwrittenBytes) {
  std::mt19937_64 rng(kSeed + 1);
  Fuzzer<TypeParam> fuzzer;
  for (const std::string& s : samples<TypeParam>()) {
    for (size_t bit = 0; bit < s.size() * 8; ++bit) {
      std::string flipped = s;
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      fuzzer.decode(flipped);
    }
    for (int i = 0; i < kOverwritesPerSample && !s.empty(); ++i) {
      std::string overwritten = s;
      for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n)
        overwritten[rng() % s.size()] = static_cast<char>(rng());
      fuzzer.decode(overwritten);
    }
  }
  fuzzer.check();
}

// Every aligned-or-not 4-byte field overwritten with a count that no record
// of that size could hold: a decoder must check the length before it sizes
// anything from the count.
TYPED_TEST(RecordsFuzz, HugeCountsAnywhere) {
  Fuzzer<TypeParam> fuzzer;
  for (const std::string& s : samples<TypeParam>()) {
    for (uint32_t huge : {0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 0x10000000u, 0x00100000u}) {
      for (size_t at = 0; at + 4 <= s.size(); ++at) {
        std::string patched = s;
        for (int i = 0; i < 4; ++i) patched[at + i] = static_cast<char>(huge >> (8 * i));
        fuzzer.decode(patched);
      }
    }
  }
  fuzzer.check();
}

// The count fields themselves (after the 13-byte content head; a blob's after
// its size and data-chunk count too), set to counts the record cannot hold.
TEST(RecordsFuzzCounts, PageAndBlobWithHugeCountsAreRefused) {
  constexpr size_t kHead = 8 + 4 + 1;
  for (uint32_t huge : {0xFFFFFFFFu, 4u}) {  // 4: one more id than the three listed
    std::string page = samples<PageRecord>()[0], blob = samples<BlobRecord>()[0];
    for (int i = 0; i < 4; ++i) {
      page[kHead + i] = static_cast<char>(huge >> (8 * i));
      blob[kHead + 16 + i] = static_cast<char>(huge >> (8 * i));
    }
    Fuzzer<PageRecord> pages;
    pages.expectRefused(page);
    pages.check();
    Fuzzer<BlobRecord> blobs;
    blobs.expectRefused(blob);
    blobs.check();
  }
}

// The Decoder itself (lease expiries are read with it directly): random
// reads of random input stay in bounds, and a failure is final.
TEST(DecoderFuzz, RandomReadsStayInBoundsAndFailuresAreFinal) {
  std::mt19937_64 rng(kSeed + 2);
  for (int i = 0; i < 20000; ++i) {
    std::string in(rng() % 64, '\0');
    for (char& c : in) c = static_cast<char>(rng());
    Decoder d(in);
    bool failed = false;
    for (int op = 0; op < 8; ++op) {
      uint8_t u8;
      uint32_t u32, n;
      uint64_t u64;
      int64_t i64;
      std::string_view raw;
      std::string bytes;
      bool ok = false;
      switch (rng() % 7) {
        case 0: ok = d.u8(u8); break;
        case 1: ok = d.u32(u32); break;
        case 2: ok = d.u64(u64); break;
        case 3: ok = d.i64(i64); break;
        case 4: ok = d.raw(rng() % 32, raw); break;
        case 5: ok = d.bytes(bytes); break;
        case 6: ok = d.count(n, 1 + rng() % 16); break;
      }
      if (failed) {
        ASSERT_FALSE(ok) << "a read succeeded after a failed one";
      }
      failed = failed || !ok;
      ASSERT_EQ(!failed, d.ok());
      ASSERT_LE(d.rest().size(), in.size());
    }
  }
}

TEST(DecoderFuzz, CountRefusesWhatTheInputCannotHold) {
  std::string in = Encoder().u32(3).raw(std::string(47, 'x')).take();
  uint32_t n = 0;
  EXPECT_FALSE(Decoder(in).count(n, 16)) << "3 ids of 16 bytes need 48, not 47";
  in.push_back('x');
  EXPECT_TRUE(Decoder(in).count(n, 16));
  EXPECT_EQ(3u, n);
}

}  // namespace
}  // namespace acidfs
