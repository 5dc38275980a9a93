// The values stored in RocksDB, with their encodings (byte layout: docs/FORMAT.md).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/id128.h"

namespace acidfs {

// The root directory's inode number (FUSE_ROOT_ID).
inline constexpr uint64_t kRootIno = 1;

// Chunk windows [first, first + count) that fallocate holds space for
// (core/reservations.h).
struct ReservedWindows {
  uint64_t first = 0;
  uint64_t count = 0;
  bool operator==(const ReservedWindows&) const = default;
};

struct InodeRecord {
  uint32_t mode = 0;  // st_mode: type bits and permission bits
  uint32_t uid = 0, gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;
  uint64_t allocatedBytes = 0;  // regular files: space the content takes (st_blocks), holes excluded
  uint64_t rdev = 0;
  int64_t atimeNs = 0, mtimeNs = 0, ctimeNs = 0;
  Id128 blob;             // regular files: committed content (empty blob id when size 0)
  // Directories: the one directory that names this one. Others: the
  // directory that named it last (made, or moved into; 0 in files made
  // before expiry existed): where an expiry finds its name (expiry.h).
  uint64_t parent = 0;
  uint64_t nextCookie = kFirstCookie;  // directories: next readdir cookie to hand out
  std::string symlinkTarget;           // symlinks
  // Regular files: windows fallocate reserved. Invariants: sorted, disjoint,
  // not adjacent, each count > 0; each window a hole of `blob` or past its
  // size; the store's reserved total counts every one (reservations.h).
  std::vector<ReservedWindows> reserved;
  uint64_t reservedWindowCount() const;
  // kReadOnly: part of a read-only clone (SPEC §10). Tree::storeInode
  // refuses to change such an inode (EROFS): a change to a directory's
  // entries, to a file's content or to any attribute stores its inode, so
  // every door meets that one check. Stored only when not 0 (version 3).
  uint32_t flags = 0;
  static constexpr uint32_t kReadOnly = 1;
  // kExpires: an expiry is set (core/expiry.h: its record is in the xattrs
  // column). Regular files only.
  static constexpr uint32_t kExpires = 2;
  static constexpr uint32_t kKnownFlags = kReadOnly | kExpires;
  // Regular files: user.acidfs.version (SPEC §11), from
  // MetaEngine::nextVersion at every content commit (Tree::setBlob), so it
  // only grows and is never handed out twice. 0: never committed with one
  // (stored only when not 0, version 4).
  uint64_t contentVersion = 0;
  // The name `parent` holds it under (set by create and rename; a hard
  // link's first). Empty in inodes made before names were kept (record
  // versions 1-3) and in the root. With `parent`, the path of any inode
  // without a walk of directories (the change feed, expiry).
  std::string name;
  bool isReadOnly() const { return (flags & kReadOnly) != 0; }

  static constexpr uint64_t kFirstCookie = 3;
  bool isDir() const { return S_ISDIR(mode); }
  bool isRegular() const { return S_ISREG(mode); }
  bool isSymlink() const { return S_ISLNK(mode); }

  std::string encode() const;
  static std::optional<InodeRecord> decode(std::string_view in);
};

struct DentryRecord {
  uint64_t ino = 0;
  uint64_t cookie = 0;
  uint32_t type = 0;  // S_IFMT bits of the inode, for readdir without a lookup

  std::string encode() const;
  static std::optional<DentryRecord> decode(std::string_view in);
};

// Common head of every content-addressed record (chunks, pages, blobs).
// `seed` is the hash seed that produced this record's id: 0 unless a
// different content already held the seed-0 id (a collision). `collided`
// marks a record that some other content probed past; such a record is never
// deleted, only emptied (a tombstone), so that the probe chain stays intact.
struct ContentHead {
  uint64_t refcount = 0;
  uint32_t seed = 0;
  bool collided = false;
  bool tombstone = false;
};

struct ChunkRecord {
  ContentHead head;
  // Where the bytes are: inline (small chunks, kept in the record so that
  // they share RocksDB's write-ahead ordering) or a segment extent.
  bool isInline = false;
  std::string inlineData;
  uint32_t segment = 0;
  uint64_t offset = 0;
  uint32_t length = 0;

  std::string encode() const;
  static std::optional<ChunkRecord> decode(std::string_view in);
};

struct PageRecord {
  ContentHead head;
  std::vector<Id128> chunks;  // chunk ids; zero = hole

  static std::string encodeBody(const std::vector<Id128>& chunks);
  std::string encode() const;
  static std::optional<PageRecord> decode(std::string_view in);
};

struct BlobRecord {
  ContentHead head;
  uint64_t size = 0;
  uint64_t dataChunks = 0;  // chunks that are not holes (derived from the content, not part of its id)
  std::vector<Id128> pages;

  static std::string encodeBody(uint64_t size, const std::vector<Id128>& pages);
  std::string encode() const;
  static std::optional<BlobRecord> decode(std::string_view in);
};

}  // namespace acidfs
