#include "core/records.h"

#include "core/encoding.h"

namespace acidfs {

namespace {
// Version 2 is version 1 followed by the reserved windows; written only
// when there are some, so a file fallocate never touched keeps version 1.
constexpr uint8_t kInodeVersion = 1;
constexpr uint8_t kInodeVersionReserved = 2;
constexpr uint8_t kInodeVersionFlags = 3;  // flags, then reserved windows (maybe none)
// Flags (maybe none), the content version (maybe 0), the inode's name
// (maybe empty), then reserved windows (maybe none): written once an inode
// has a content version or a name — every inode made since.
constexpr uint8_t kInodeVersionContentVersion = 4;

void encodeHead(Encoder& e, const ContentHead& h) {
  e.u64(h.refcount).u32(h.seed).u8(static_cast<uint8_t>((h.collided ? 1 : 0) | (h.tombstone ? 2 : 0)));
}
// Decoders accept exactly what the encoders write: unknown flag bits or an
// inline marker other than 0/1 mean the record is corrupt, not a variant.
bool decodeHead(Decoder& d, ContentHead& h) {
  uint8_t flags = 0;
  if (!d.u64(h.refcount) || !d.u32(h.seed) || !d.u8(flags) || flags > 3) return false;
  h.collided = flags & 1;
  h.tombstone = flags & 2;
  return true;
}
void encodeIds(Encoder& e, const std::vector<Id128>& ids) {
  e.u32(static_cast<uint32_t>(ids.size()));
  for (const Id128& id : ids) e.raw(id.view());
}
bool decodeIds(Decoder& d, std::vector<Id128>& ids) {
  uint32_t n;
  if (!d.count(n, 16)) return false;  // before resize: n comes from disk
  ids.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view raw;
    if (!d.raw(16, raw)) return false;
    ids[i] = Id128::fromBytes(raw);
  }
  return true;
}
}  // namespace

uint64_t InodeRecord::reservedWindowCount() const {
  uint64_t n = 0;
  for (const ReservedWindows& r : reserved) n += r.count;
  return n;
}

std::string InodeRecord::encode() const {
  Encoder e;
  const uint8_t version = contentVersion || !name.empty() ? kInodeVersionContentVersion
                          : flags        ? kInodeVersionFlags
                          : reserved.empty() ? kInodeVersion
                                             : kInodeVersionReserved;
  e.u8(version).u32(mode).u32(uid).u32(gid).u32(nlink).u64(size).u64(allocatedBytes).u64(rdev);
  e.i64(atimeNs).i64(mtimeNs).i64(ctimeNs).raw(blob.view()).u64(parent).u64(nextCookie);
  e.bytes(symlinkTarget);
  if (version >= kInodeVersionFlags) e.u32(flags);
  if (version == kInodeVersionContentVersion) e.u64(contentVersion).bytes(name);
  if (version >= kInodeVersionFlags || !reserved.empty()) {
    e.u32(static_cast<uint32_t>(reserved.size()));
    for (const ReservedWindows& r : reserved) e.u64(r.first).u64(r.count);
  }
  return e.take();
}

std::optional<InodeRecord> InodeRecord::decode(std::string_view in) {
  Decoder d(in);
  InodeRecord r;
  uint8_t version;
  std::string_view blob;
  if (!d.u8(version) || version < kInodeVersion || version > kInodeVersionContentVersion) return std::nullopt;
  d.u32(r.mode), d.u32(r.uid), d.u32(r.gid), d.u32(r.nlink), d.u64(r.size), d.u64(r.allocatedBytes), d.u64(r.rdev);
  d.i64(r.atimeNs), d.i64(r.mtimeNs), d.i64(r.ctimeNs), d.raw(16, blob);
  d.u64(r.parent), d.u64(r.nextCookie), d.bytes(r.symlinkTarget);
  // Exactly what encode() writes: version 3 only with flags, 4 only with a
  // content version or a name; only the flags this acidfs knows.
  if (version >= kInodeVersionFlags) {
    if (!d.u32(r.flags) || (r.flags & ~kKnownFlags) != 0) return std::nullopt;
    if (version == kInodeVersionFlags && r.flags == 0) return std::nullopt;
  }
  if (version == kInodeVersionContentVersion &&
      (!d.u64(r.contentVersion) || !d.bytes(r.name) || (r.contentVersion == 0 && r.name.empty())))
    return std::nullopt;
  if (version != kInodeVersion) {
    // Exactly what encode() writes: at least one range (version 2), sorted,
    // disjoint, not adjacent, none empty or reaching past 2^64.
    uint32_t n = 0;
    if (!d.count(n, 16) || (n == 0 && version == kInodeVersionReserved)) return std::nullopt;
    r.reserved.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      ReservedWindows& w = r.reserved[i];
      if (!d.u64(w.first) || !d.u64(w.count) || w.count == 0 || w.first + w.count < w.first) return std::nullopt;
      if (i > 0 && w.first <= r.reserved[i - 1].first + r.reserved[i - 1].count) return std::nullopt;
    }
  }
  if (!d.done()) return std::nullopt;
  r.blob = Id128::fromBytes(blob);
  return r;
}

std::string DentryRecord::encode() const {
  return Encoder().u64(ino).u64(cookie).u32(type).take();
}

std::optional<DentryRecord> DentryRecord::decode(std::string_view in) {
  Decoder d(in);
  DentryRecord r;
  d.u64(r.ino), d.u64(r.cookie), d.u32(r.type);
  if (!d.done()) return std::nullopt;
  return r;
}

std::string ChunkRecord::encode() const {
  Encoder e;
  encodeHead(e, head);
  e.u8(isInline ? 1 : 0);
  if (isInline)
    e.bytes(inlineData);
  else
    e.u32(segment).u64(offset).u32(length);
  return e.take();
}

std::optional<ChunkRecord> ChunkRecord::decode(std::string_view in) {
  Decoder d(in);
  ChunkRecord r;
  uint8_t isInline = 0;
  if (!decodeHead(d, r.head) || !d.u8(isInline) || isInline > 1) return std::nullopt;
  r.isInline = isInline;
  if (r.isInline)
    d.bytes(r.inlineData);
  else
    d.u32(r.segment), d.u64(r.offset), d.u32(r.length);
  if (!d.done()) return std::nullopt;
  return r;
}

std::string PageRecord::encodeBody(const std::vector<Id128>& chunks) {
  Encoder e;
  encodeIds(e, chunks);
  return e.take();
}

std::string PageRecord::encode() const {
  Encoder e;
  encodeHead(e, head);
  encodeIds(e, chunks);
  return e.take();
}

std::optional<PageRecord> PageRecord::decode(std::string_view in) {
  Decoder d(in);
  PageRecord r;
  if (!decodeHead(d, r.head) || !decodeIds(d, r.chunks) || !d.done()) return std::nullopt;
  return r;
}

std::string BlobRecord::encodeBody(uint64_t size, const std::vector<Id128>& pages) {
  Encoder e;
  e.raw("acidfs-blob-v1").u64(size);
  encodeIds(e, pages);
  return e.take();
}

std::string BlobRecord::encode() const {
  Encoder e;
  encodeHead(e, head);
  e.u64(size).u64(dataChunks);
  encodeIds(e, pages);
  return e.take();
}

std::optional<BlobRecord> BlobRecord::decode(std::string_view in) {
  Decoder d(in);
  BlobRecord r;
  if (!decodeHead(d, r.head) || !d.u64(r.size) || !d.u64(r.dataChunks) || !decodeIds(d, r.pages) || !d.done())
    return std::nullopt;
  return r;
}

}  // namespace acidfs
