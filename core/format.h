// The on-disk format of a store, format version 1. This comment and
// docs/FORMAT.md are the one place it is written down; change either only
// together with kFormatVersion.
//
// STORE/
//   ACIDFS          text marker: "acidfs store\nformat 1\nchunk_size N\n"
//   LOCK            flock()ed by the one process that has the store open
//   db/             RocksDB (TransactionDB), column families below
//   segments/NNNNNNNN.seg   append-only chunk data, see segment_store.h
//
// Column families, keys and values (integers in keys big-endian so that they
// sort numerically; values are records.h encodings, little-endian; every
// byte of each is in docs/FORMAT.md and pinned by tests/format_golden_test.cc):
//   default  "format_version"                 → the text "1" (decimal kFormatVersion)
//            "flush_mark"                     never present: deleted before each
//                                             flush (MetaDb::flush), a tombstone only
//            "reserved_windows"               → u64: chunk windows fallocate reserved,
//                                             all files together (absent: 0)
//   inodes   ino(8)                           → InodeRecord (u8 version 1 first;
//                                             2 when it lists reserved windows,
//                                             3 with flags, 4 with a content version)
//   dentries dir(8) name                      → DentryRecord {ino, cookie, type}
//   cookies  dir(8) cookie(8)                 → name   (readdir cursor index)
//   xattrs   ino(8) name                      → value
//   chunks   chunkId(16)                      → ChunkRecord (refcount, seed, where the bytes are)
//   pages    pageId(16)                       → PageRecord  (refcount, seed, chunk ids)
//   blobs    blobId(16)                       → BlobRecord  (refcount, seed, size, dataChunks, page ids)
//   leases   blobId(16) uid(4) leaseNo(8)     → i64 expiry (ns since epoch)
//   orphans  ino(8)                           → ""     (nlink 0, still open)
//   trash    'n' dir(8) name 0 ~time(8) nonce(8) → TrashRecord (a name that went; trash.h)
//            'v' ino(8) ~time(8) nonce(8)     → TrashRecord (content a file replaced)
//            'x' expires(8) record key        → ""     (expiry index)
//   feed     seq(8) index(2)                  → FeedRecord (feed.h): the change feed
//   default  "gc_frozen"                      → "1" while GC is frozen
//   default  "version_mark"                   → u64 above every content version handed out
//
// Invariants (each kept inside the one transaction that changes the data):
//   - A directory's inode is written (so exclusively locked) by every
//     transaction that adds, removes or replaces one of its entries; holding
//     that lock therefore fixes the directory's entry set (rmdir's emptiness
//     check and readdir-under-lock rely on it).
//   - dentries[d,name].cookie == c  ⇔  cookies[d,c] == name.
//   - A chunk's refcount = number of (page, slot) pairs naming it;
//     a page's refcount = number of (blob, slot) pairs naming it;
//     a blob's refcount = number of file inodes with that blob + number of leases
//     + number of trash records keeping it.
//     The empty blob and the hole chunk (all-zero id) are implicit: no record,
//     no count.
//   - reserved_windows = the sum of every inode's reserved window counts;
//     a reserved window is a hole of its file's blob, or past its size.
//   - Chunk bytes referenced by a committed ChunkRecord were made durable
//     (fdatasync of their segment) before that transaction committed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/encoding.h"
#include "core/id128.h"

namespace acidfs {

inline constexpr uint32_t kFormatVersion = 1;
// Chunk ids per page: a page is at most 16 KiB, so a small write to a huge
// file rewrites one page, never the whole manifest.
inline constexpr uint32_t kChunksPerPage = 1024;
// A chunk size a store may have: a power of two from 4 KiB to 16 MiB.
inline constexpr bool isValidChunkSize(uint64_t size) {
  return size >= 4096 && size <= (16u << 20) && (size & (size - 1)) == 0;
}
// The largest file: 1 TiB keeps a blob record (its page list) under 256 KiB.
// Writes or truncates past it are EFBIG.
inline constexpr uint64_t kMaxFileSize = 1ull << 40;
// default column: chunk windows fallocate reserved, all files together (u64).
inline constexpr char kReservedWindowsKey[] = "reserved_windows";
// default column: u64, the first change feed number kept (feed.h; absent: 1).
inline constexpr char kFeedFloorKey[] = "feed_floor";
// default column: u64, above every content version handed out (MetaDb::nextVersion;
// a database store uses the sequence acidfs.versions instead).
inline constexpr char kVersionMarkKey[] = "version_mark";
// default column: present ("1") while `acidfs gc --freeze` holds: nothing
// is reclaimed, and drops are kept even with the trash off (trash.h).
inline constexpr char kGcFrozenKey[] = "gc_frozen";
// Readdir cookies 1 and 2 belong to "." and ".."; entries start at 3.
inline constexpr uint64_t kFirstEntryCookie = 3;

enum class Column {
  kDefault, kInodes, kDentries, kCookies, kXattrs, kChunks, kPages, kBlobs, kLeases, kOrphans, kTrash, kFeed
};
inline constexpr int kColumnCount = 12;
inline const char* columnName(Column c) {
  static const char* kNames[] = {"default", "inodes", "dentries", "cookies", "xattrs", "chunks",
                                 "pages",   "blobs",  "leases",   "orphans", "trash",  "feed"};
  return kNames[static_cast<int>(c)];
}

// The three kinds of content record, top down: a blob names pages, a page
// names chunks (so freeing one releases references to the next kind).
enum class RecordKind { kBlob, kPage, kChunk };
inline constexpr std::array<RecordKind, 3> kRecordKinds = {RecordKind::kBlob, RecordKind::kPage, RecordKind::kChunk};
inline constexpr Column columnOf(RecordKind kind) {
  constexpr Column kColumns[] = {Column::kBlobs, Column::kPages, Column::kChunks};
  return kColumns[static_cast<size_t>(kind)];
}
inline constexpr const char* recordNoun(RecordKind kind) {
  constexpr const char* kNouns[] = {"blob", "page", "chunk"};
  return kNouns[static_cast<size_t>(kind)];
}
// The kind of the records that name one of `kind`: a page's blobs, a
// chunk's pages (nothing names a blob but inodes and leases).
inline constexpr RecordKind namingKind(RecordKind kind) {
  return kind == RecordKind::kChunk ? RecordKind::kPage : RecordKind::kBlob;
}

// One T per record kind, indexed by the kind only.
template <typename T>
class PerRecordKind {
 public:
  T& operator[](RecordKind kind) { return items_[static_cast<size_t>(kind)]; }
  const T& operator[](RecordKind kind) const { return items_[static_cast<size_t>(kind)]; }

 private:
  std::array<T, kRecordKinds.size()> items_{};
};

namespace keys {
inline std::string ino(uint64_t ino) {
  std::string k;
  appendBigEndian64(k, ino);
  return k;
}
inline std::string dentry(uint64_t dir, std::string_view name) {
  std::string k = ino(dir);
  k.append(name);
  return k;
}
inline std::string cookie(uint64_t dir, uint64_t cookie) {
  std::string k = ino(dir);
  appendBigEndian64(k, cookie);
  return k;
}
inline std::string xattr(uint64_t ino_, std::string_view name) { return dentry(ino_, name); }
inline std::string id(const Id128& id) { return std::string(id.view()); }
inline std::string lease(const Id128& blob, uint32_t uid, uint64_t leaseNo) {
  std::string k(blob.view());
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>(uid >> (8 * i)));
  appendBigEndian64(k, leaseNo);
  return k;
}
inline std::string leasePrefix(const Id128& blob, uint32_t uid) {
  std::string k = lease(blob, uid, 0);
  k.resize(20);
  return k;
}
// The change feed's: the transaction's number, then the record's index
// among that transaction's records. Both big-endian, so keys sort in
// commit order.
inline constexpr size_t kFeedKeySize = 12;
inline std::string feed(uint64_t seq, uint32_t index) {
  std::string k = ino(seq);
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>(index >> (8 * i)));
  return k;
}
inline uint64_t feedSeq(std::string_view key) { return readBigEndian64(key.substr(0, 8)); }  // key: kFeedKeySize bytes
inline uint32_t feedIndex(std::string_view key) {
  uint32_t index = 0;
  for (size_t i = 8; i < kFeedKeySize; ++i) index = (index << 8) | static_cast<uint8_t>(key[i]);
  return index;
}
}  // namespace keys

}  // namespace acidfs
