#include "core/content_store.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <type_traits>

#include "core/format.h"
#include "core/log.h"

namespace acidfs {

namespace {
using enum RecordKind;
// Probe chains are one long in practice; this bounds a pathological hash.
constexpr uint32_t kMaxSeeds = 1024;

std::string_view trimTrailingZeros(std::string_view window) {
  size_t n = window.size();
  while (n > 0 && window[n - 1] == 0) --n;
  return window.substr(0, n);
}

Status corrupt(const std::string& what, const Id128& id) {
  return Status::Error(EIO, "store corrupted: " + what + " " + id.hex());
}

// Without a chunk store every chunk lives inline, whatever size.
ContentOptions withChunkStore(ContentOptions options, const ChunkStore* chunks) {
  if (!chunks) options.inlineMax = options.chunkSize;
  return options;
}

template <typename Record>
constexpr RecordKind kKindOf = std::is_same_v<Record, BlobRecord> ? kBlob : std::is_same_v<Record, PageRecord> ? kPage : kChunk;
}  // namespace

Id128 ContentStore::computeEmptyBlobId(const HashFunction& hash) {
  std::string body = BlobRecord::encodeBody(0, {});
  return hash(body.data(), body.size(), 0);
}

ContentStore::ContentStore(MetaReader& db, ChunkStore* chunks, ContentOptions options)
    : db_(db), chunks_(chunks), options_(withChunkStore(std::move(options), chunks)),
      emptyBlobId_(computeEmptyBlobId(options_.hash)) {}

Result<std::optional<std::string>> ContentStore::loadRecord(Txn& txn, RecordKind kind, const Id128& id, bool lock) {
  auto it = txn.content.unwritten[kind].find(id);
  if (it != txn.content.unwritten[kind].end()) return std::optional<std::string>(it->second);  // locked when created
  if (lock) return txn.read(columnOf(kind), keys::id(id), Txn::Lock::kExclusive);
  return txn.peek(columnOf(kind), keys::id(id));
}

void ContentStore::storeRecord(Txn& txn, RecordKind kind, const Id128& id, std::string value) {
  txn.content.unwritten[kind][id] = std::move(value);
}

Status ContentStore::removeRecord(Txn& txn, RecordKind kind, const Id128& id) {
  // Only records that exist in the database need a delete; one created by
  // this transaction was never written (a reused tombstone is never removed:
  // it is collided, so it becomes a tombstone again).
  if (txn.content.unwritten[kind].erase(id) && txn.content.created[kind].count(id)) return Status::OK();
  return txn.del(columnOf(kind), keys::id(id));
}

Status ContentStore::checkRecord(uint32_t chunkSize, const Id128& id, const BlobRecord& record) {
  if (record.head.tombstone) return Status::OK();
  if (record.size > kMaxFileSize) return corrupt("size beyond the largest file in blob", id);
  const uint64_t chunks = (record.size + chunkSize - 1) / chunkSize;
  if (record.pages.size() != (chunks + kChunksPerPage - 1) / kChunksPerPage || record.dataChunks > chunks)
    return corrupt("size " + std::to_string(record.size) + " disagrees with the " + std::to_string(record.pages.size()) +
                       " pages and " + std::to_string(record.dataChunks) + " data chunks listed in blob",
                   id);
  return Status::OK();
}

Status ContentStore::checkRecord(uint32_t, const Id128& id, const PageRecord& record) {
  if (record.chunks.size() > kChunksPerPage)
    return corrupt(std::to_string(record.chunks.size()) + " chunks, more than a page holds, in page", id);
  return Status::OK();
}

Status ContentStore::checkRecord(uint32_t chunkSize, const Id128& id, const ChunkRecord& record) {
  const uint64_t length = record.isInline ? record.inlineData.size() : record.length;
  if (length > chunkSize) return corrupt(std::to_string(length) + " bytes, more than a chunk holds, in chunk", id);
  return Status::OK();
}

template <typename Record>
Result<Record> ContentStore::decodeRecord(const Id128& id, std::string_view value) const {
  std::optional<Record> record = Record::decode(value);
  if (!record) return corrupt(std::string("undecodable ") + recordNoun(kKindOf<Record>), id);
  ACIDFS_RETURN_IF_ERROR(check(id, *record));
  return std::move(*record);
}

template <typename Record>
Result<Record> ContentStore::loadReferenced(Txn& txn, const Id128& id) {
  constexpr RecordKind kind = kKindOf<Record>;
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, loadRecord(txn, kind, id, false));
  if (!value) return corrupt(std::string("missing ") + recordNoun(kind), id);
  return decodeRecord<Record>(id, *value);
}

template <typename Record>
Result<Record> ContentStore::loadLive(const Id128& id) {
  constexpr RecordKind kind = kKindOf<Record>;
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, db_.get(columnOf(kind), keys::id(id)));
  if (!value) return Status::Error(ESTALE, std::string(recordNoun(kind)) + " " + id.hex() + " is gone");
  ACIDFS_ASSIGN_OR_RETURN(Record record, decodeRecord<Record>(id, *value));
  if (record.head.tombstone) return Status::Error(ESTALE, std::string(recordNoun(kind)) + " " + id.hex() + " is gone");
  return record;
}

Result<std::vector<ChunkRecord>> ContentStore::loadLiveChunks(const std::vector<Id128>& ids) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const Id128& id : ids) keys.push_back(keys::id(id));
  ACIDFS_ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> values, db_.getMany(Column::kChunks, keys));
  std::vector<ChunkRecord> records;
  records.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!values[i]) return Status::Error(ESTALE, "chunk " + ids[i].hex() + " is gone");
    ACIDFS_ASSIGN_OR_RETURN(ChunkRecord record, decodeRecord<ChunkRecord>(ids[i], *values[i]));
    if (record.head.tombstone) return Status::Error(ESTALE, "chunk " + ids[i].hex() + " is gone");
    records.push_back(std::move(record));
  }
  return records;
}

Status ContentStore::checkPlace(const BlobRecord& blob, uint64_t p, const PageRecord& page) const {
  const uint64_t want = std::min<uint64_t>(kChunksPerPage, chunksOf(blob.size) - p * kChunksPerPage);
  if (page.chunks.size() != want)
    return corrupt(std::to_string(page.chunks.size()) + " chunks where its blob's size needs " + std::to_string(want) + " in page",
                   blob.pages[p]);
  return Status::OK();
}

// Finds the record whose content `same(id, record)` accepts along the probe
// chain of `hashInput`, or creates one with `make(id)` at the first free
// slot (an empty key or a tombstone). Records probed past are marked collided.
template <typename Record, typename Same, typename Make>
Result<Id128> ContentStore::intern(Txn& txn, RecordKind kind, std::string_view hashInput, Same same, Make make) {
  struct Slot {
    uint32_t seed;
    Id128 id;
    bool tombstone;
  };
  std::optional<Slot> freeSlot;
  for (uint32_t seed = 0; seed < kMaxSeeds; ++seed) {
    Id128 id = options_.hash(hashInput.data(), hashInput.size(), seed);
    // Ids with a meaning of their own — the hole chunk (zero) and the empty
    // blob — have no record, but are taken: probe past them.
    if ((kind == kChunk && id.isZero()) || (kind == kBlob && id == emptyBlobId_)) continue;
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, loadRecord(txn, kind, id, true));
    if (!value) {
      if (!freeSlot) freeSlot = Slot{seed, id, false};
      break;  // the chain ends here: the content is not in the store
    }
    ACIDFS_ASSIGN_OR_RETURN(Record record, decodeRecord<Record>(id, *value));
    if (record.head.tombstone) {
      if (!freeSlot) freeSlot = Slot{seed, id, true};
      continue;
    }
    ACIDFS_ASSIGN_OR_RETURN(bool equal, same(id, record));
    if (equal) return id;
    if (!record.head.collided) {
      record.head.collided = true;
      storeRecord(txn, kind, id, record.encode());
    }
  }
  if (!freeSlot) return Status::Error(EIO, "hash probe chain exhausted");
  ACIDFS_ASSIGN_OR_RETURN(Record created, make(freeSlot->id));
  created.head = ContentHead{};
  created.head.seed = freeSlot->seed;
  // Reusing a tombstone keeps the slot collided: a probe chain runs through it.
  created.head.collided = freeSlot->tombstone;
  storeRecord(txn, kind, freeSlot->id, created.encode());
  txn.content.created[kind].insert(freeSlot->id);
  return freeSlot->id;
}

Status ContentStore::readPlace(const Id128& id, const ChunkRecord& record, char* out) const {
  if (!chunks_)
    return Status::Error(EIO, "store corrupted: chunk " + id.hex() + " names a place, but this store keeps every chunk inline");
  return chunks_->read(id, Extent{record.segment, record.offset, record.length}, out);
}

Result<std::string> ContentStore::chunkBytes(const Id128& id, const ChunkRecord& record) const {
  if (record.isInline) return record.inlineData;
  std::string bytes(record.length, '\0');
  ACIDFS_RETURN_IF_ERROR(readPlace(id, record, bytes.data()));
  return bytes;
}

Status ContentStore::verifyChunk(const Id128& id, const ChunkRecord& record) {
  ACIDFS_RETURN_IF_ERROR(check(id, record));
  ACIDFS_ASSIGN_OR_RETURN(std::string bytes, chunkBytes(id, record));
  return verify(id, record, bytes);
}

Status ContentStore::verify(const Id128& id, const ChunkRecord& record, std::string_view bytes) {
  if (options_.hash(bytes.data(), bytes.size(), record.head.seed) != id)
    return Status::Error(EIO, "chunk " + id.hex() + " does not match its hash (corrupted on disk)");
  return Status::OK();
}

Result<Id128> ContentStore::internChunk(Txn& txn, std::string_view window) {
  std::string_view stored = trimTrailingZeros(window);
  if (stored.empty()) return Id128::zero();  // a hole
  auto same = [&](const Id128& id, const ChunkRecord& existing) -> Result<bool> {
    if (existing.isInline) return existing.inlineData == stored;
    if (existing.length != stored.size()) return false;
    ACIDFS_ASSIGN_OR_RETURN(std::string bytes, chunkBytes(id, existing));
    return bytes == stored;  // never trust the hash alone (SPEC §2)
  };
  auto make = [&](const Id128& id) -> Result<ChunkRecord> {
    ChunkRecord record;
    // Always taken without a chunk store: inlineMax is chunkSize then, and
    // no window is longer.
    if (stored.size() <= options_.inlineMax) {
      record.isInline = true;
      record.inlineData.assign(stored);
      return record;
    }
    ACIDFS_RETURN_IF_ERROR(txn.mayAppend(stored.size()));
    ACIDFS_ASSIGN_OR_RETURN(Extent place, chunks_->put(id, stored));
    txn.chunksPut.push_back(StoredChunk{id, place});
    record.segment = place.segment;
    record.offset = place.offset;
    record.length = place.length;
    return record;
  };
  return intern<ChunkRecord>(txn, kChunk, stored, same, make);
}

Status ContentStore::prefetchChunkRecords(Txn& txn, const std::map<uint64_t, std::string_view>& patch) {
  if (!txn.prefetches()) return Status::OK();  // reads are local: hashing twice would only cost
  constexpr size_t kBatch = 512;  // keys per round trip
  std::vector<std::string> keys;
  for (const auto& [index, window] : patch) {
    const std::string_view stored = trimTrailingZeros(window);
    if (stored.empty()) continue;  // a hole: no record
    const Id128 id = options_.hash(stored.data(), stored.size(), 0);  // intern()'s first probe
    if (id.isZero() || txn.content.unwritten[kChunk].count(id)) continue;
    keys.push_back(keys::id(id));
    if (keys.size() == kBatch) {
      ACIDFS_RETURN_IF_ERROR(txn.prefetch(columnOf(kChunk), keys, Txn::Lock::kExclusive));
      keys.clear();
    }
  }
  return keys.empty() ? Status::OK() : txn.prefetch(columnOf(kChunk), keys, Txn::Lock::kExclusive);
}

Result<Id128> ContentStore::internPage(Txn& txn, const std::vector<Id128>& chunks) {
  std::string body = PageRecord::encodeBody(chunks);
  auto same = [&](const Id128&, const PageRecord& existing) -> Result<bool> { return existing.chunks == chunks; };
  auto make = [&](const Id128&) -> Result<PageRecord> {
    for (const Id128& c : chunks)
      if (!c.isZero()) txn.content.refDeltas[kChunk][c] += 1;
    PageRecord record;
    record.chunks = chunks;
    return record;
  };
  return intern<PageRecord>(txn, kPage, body, same, make);
}

Result<Id128> ContentStore::internBlob(Txn& txn, uint64_t size, const std::vector<Id128>& pages,
                                       uint64_t dataChunks) {
  if (size == 0) return emptyBlobId_;
  std::string body = BlobRecord::encodeBody(size, pages);
  auto same = [&](const Id128&, const BlobRecord& existing) -> Result<bool> {
    return existing.size == size && existing.pages == pages;
  };
  auto make = [&](const Id128&) -> Result<BlobRecord> {
    for (const Id128& p : pages) txn.content.refDeltas[kPage][p] += 1;
    BlobRecord record;
    record.size = size;
    record.dataChunks = dataChunks;
    record.pages = pages;
    return record;
  };
  return intern<BlobRecord>(txn, kBlob, body, same, make);
}

Result<uint64_t> ContentStore::blobSize(Txn& txn, const Id128& blob) {
  if (blob == emptyBlobId_) return uint64_t{0};
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, loadRecord(txn, kBlob, blob, false));
  if (!value) return Status::Error(ENOENT, "no blob " + blob.hex() + " in the store");
  ACIDFS_ASSIGN_OR_RETURN(BlobRecord record, decodeRecord<BlobRecord>(blob, *value));
  if (record.head.tombstone) return Status::Error(ENOENT, "no blob " + blob.hex() + " in the store");
  return record.size;
}

Result<uint64_t> ContentStore::allocatedBytes(Txn& txn, const Id128& blob) {
  if (blob == emptyBlobId_) return uint64_t{0};
  ACIDFS_ASSIGN_OR_RETURN(BlobRecord record, loadReferenced<BlobRecord>(txn, blob));
  const uint64_t roundedSize = (record.size + 4095) / 4096 * 4096;
  if (record.dataChunks >= chunksOf(record.size)) return roundedSize;
  return std::min(roundedSize, record.dataChunks * options_.chunkSize);
}

Result<std::vector<uint64_t>> ContentStore::dataWindows(Txn& txn, const Id128& blob, uint64_t first, uint64_t end) {
  std::vector<uint64_t> found;
  if (blob == emptyBlobId_ || first >= end) return found;
  ACIDFS_ASSIGN_OR_RETURN(BlobRecord record, loadReferenced<BlobRecord>(txn, blob));
  end = std::min(end, chunksOf(record.size));
  for (uint64_t p = first / kChunksPerPage; p * kChunksPerPage < end && p < record.pages.size(); ++p) {
    ACIDFS_ASSIGN_OR_RETURN(PageRecord page, loadReferenced<PageRecord>(txn, record.pages[p]));
    ACIDFS_RETURN_IF_ERROR(checkPlace(record, p, page));
    for (uint64_t slot = 0; slot < page.chunks.size(); ++slot) {
      const uint64_t index = p * kChunksPerPage + slot;
      if (index >= first && index < end && !page.chunks[slot].isZero()) found.push_back(index);
    }
  }
  return found;
}

Result<std::string> ContentStore::readWindow(Txn& txn, const Id128& blob, uint64_t index) {
  if (blob == emptyBlobId_) return std::string();
  ACIDFS_ASSIGN_OR_RETURN(BlobRecord record, loadReferenced<BlobRecord>(txn, blob));
  uint64_t pageIndex = index / kChunksPerPage;
  if (pageIndex >= record.pages.size()) return std::string();
  ACIDFS_ASSIGN_OR_RETURN(PageRecord page, loadReferenced<PageRecord>(txn, record.pages[pageIndex]));
  ACIDFS_RETURN_IF_ERROR(checkPlace(record, pageIndex, page));
  uint64_t slot = index % kChunksPerPage;
  if (slot >= page.chunks.size() || page.chunks[slot].isZero()) return std::string();
  const Id128& chunkId = page.chunks[slot];
  ACIDFS_ASSIGN_OR_RETURN(ChunkRecord chunk, loadReferenced<ChunkRecord>(txn, chunkId));
  ACIDFS_ASSIGN_OR_RETURN(std::string bytes, chunkBytes(chunkId, chunk));
  ACIDFS_RETURN_IF_ERROR(verify(chunkId, chunk, bytes));
  return bytes;
}

Result<Id128> ContentStore::buildBlob(Txn& txn, const Id128& base, uint64_t newSize,
                                      const std::map<uint64_t, std::string_view>& patchIn) {
  const uint64_t C = options_.chunkSize;
  if (newSize > kMaxFileSize) return Status::Error(EFBIG, "files are limited to 1 TiB");
  BlobRecord baseRecord;
  if (base != emptyBlobId_) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, loadRecord(txn, kBlob, base, false));
    if (!value) return Status::Error(ENOENT, "no blob " + base.hex() + " in the store");
    ACIDFS_ASSIGN_OR_RETURN(baseRecord, decodeRecord<BlobRecord>(base, *value));
    if (baseRecord.head.tombstone) return Status::Error(ENOENT, "no blob " + base.hex() + " in the store");
  }
  const uint64_t chunkCount = chunksOf(newSize);
  std::map<uint64_t, std::string_view> patch;
  for (const auto& [index, bytes] : patchIn)
    if (index < chunkCount) patch[index] = bytes.substr(0, C);

  // Invariant: stored bytes past the file size are zero. So the window that
  // the new size cuts must lose its tail, whether it comes from the patch or
  // from the base.
  std::deque<std::string> owned;  // keeps cut windows alive for `patch`
  if (newSize % C != 0) {
    const uint64_t last = newSize / C;
    const size_t keep = newSize % C;
    auto it = patch.find(last);
    if (it != patch.end()) {
      if (it->second.size() > keep) it->second = it->second.substr(0, keep);
    } else if (newSize < baseRecord.size) {
      ACIDFS_ASSIGN_OR_RETURN(std::string window, readWindow(txn, base, last));
      if (window.size() > keep) {
        window.resize(keep);
        patch[last] = owned.emplace_back(std::move(window));
      }
    }
  }

  ACIDFS_RETURN_IF_ERROR(prefetchChunkRecords(txn, patch));
  const uint64_t pageCount = (chunkCount + kChunksPerPage - 1) / kChunksPerPage;
  const uint64_t baseChunkCount = chunksOf(baseRecord.size);
  auto countData = [](const std::vector<Id128>& ids) {
    return static_cast<uint64_t>(std::count_if(ids.begin(), ids.end(), [](const Id128& c) { return !c.isZero(); }));
  };
  // Data chunks of the new blob: the base's, adjusted page by page below.
  int64_t dataChunks = static_cast<int64_t>(baseRecord.dataChunks);  // check()ed: at most 2^28
  for (uint64_t p = pageCount; p < baseRecord.pages.size(); ++p) {  // pages a truncation drops
    ACIDFS_ASSIGN_OR_RETURN(PageRecord page, loadReferenced<PageRecord>(txn, baseRecord.pages[p]));
    ACIDFS_RETURN_IF_ERROR(checkPlace(baseRecord, p, page));
    dataChunks -= static_cast<int64_t>(countData(page.chunks));
  }
  std::vector<Id128> pages(pageCount);
  for (uint64_t p = 0; p < pageCount; ++p) {
    const uint64_t first = p * kChunksPerPage;
    const uint64_t inPage = std::min<uint64_t>(kChunksPerPage, chunkCount - first);
    const uint64_t baseInPage = baseChunkCount > first ? std::min<uint64_t>(kChunksPerPage, baseChunkCount - first) : 0;
    auto touched = patch.lower_bound(first);
    bool patched = touched != patch.end() && touched->first < first + inPage;
    if (p < baseRecord.pages.size() && !patched && inPage == baseInPage) {
      pages[p] = baseRecord.pages[p];  // unchanged page: shared, not rewritten
      continue;
    }
    std::vector<Id128> chunks;
    if (p < baseRecord.pages.size()) {
      ACIDFS_ASSIGN_OR_RETURN(PageRecord page, loadReferenced<PageRecord>(txn, baseRecord.pages[p]));
      ACIDFS_RETURN_IF_ERROR(checkPlace(baseRecord, p, page));
      chunks = std::move(page.chunks);
      dataChunks -= static_cast<int64_t>(countData(chunks));
    }
    chunks.resize(inPage);
    for (auto it = touched; it != patch.end() && it->first < first + inPage; ++it) {
      ACIDFS_ASSIGN_OR_RETURN(chunks[it->first - first], internChunk(txn, it->second));
    }
    dataChunks += static_cast<int64_t>(countData(chunks));
    ACIDFS_ASSIGN_OR_RETURN(pages[p], internPage(txn, chunks));
  }
  return internBlob(txn, newSize, pages, static_cast<uint64_t>(std::max<int64_t>(dataChunks, 0)));
}

Result<Id128> ContentStore::blobFromBytes(Txn& txn, std::string_view bytes) {
  std::map<uint64_t, std::string_view> patch;
  const uint64_t C = options_.chunkSize;
  for (uint64_t i = 0; i * C < bytes.size(); ++i) patch.emplace(i, bytes.substr(i * C, C));
  return buildBlob(txn, emptyBlobId_, bytes.size(), patch);
}

void ContentStore::addRef(Txn& txn, const Id128& blob, int64_t delta) {
  if (blob == emptyBlobId_ || delta == 0) return;
  txn.content.refDeltas[kBlob][blob] += delta;
}

Status ContentStore::applyRefDeltas(Txn& txn) {
  // Blobs before pages before chunks: freeing a blob adds page deltas, freeing
  // a page adds chunk deltas, so each kind is complete when its turn comes.
  for (RecordKind kind : kRecordKinds) {
    for (const Id128& id : txn.content.created[kind]) txn.content.refDeltas[kind].try_emplace(id, 0);
    for (const auto& pending : txn.content.refDeltas[kind]) {
      const Id128& id = pending.first;  // (no structured binding: lambdas below capture these)
      const int64_t delta = pending.second;
      if (delta == 0 && !txn.content.created[kind].count(id)) continue;
      ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, loadRecord(txn, kind, id, true));
      if (!value) return corrupt("reference to a missing record", id);

      auto update = [&](auto record) -> Status {
        if (record.head.tombstone) return corrupt("reference to a freed record", id);
        // No real count comes near this; a corrupt one would overflow the sum.
        if (record.head.refcount > static_cast<uint64_t>(INT64_MAX) / 2) return corrupt("implausible reference count of", id);
        int64_t count = static_cast<int64_t>(record.head.refcount) + delta;
        if (count < 0) return corrupt("reference count below zero for", id);
        record.head.refcount = static_cast<uint64_t>(count);
        if (count > 0) {
          storeRecord(txn, kind, id, record.encode());
          return Status::OK();
        }
        // Freed: release what it names, then drop it (or keep a tombstone
        // where a probe chain passes through).
        using R = decltype(record);
        if constexpr (std::is_same_v<R, BlobRecord>) {
          for (const Id128& p : record.pages) txn.content.refDeltas[kPage][p] -= 1;
          record.pages.clear();
          record.size = 0;
        } else if constexpr (std::is_same_v<R, PageRecord>) {
          for (const Id128& c : record.chunks)
            if (!c.isZero()) txn.content.refDeltas[kChunk][c] -= 1;
          record.chunks.clear();
        } else {
          if (!record.isInline)
            txn.chunksFreed.push_back(StoredChunk{id, Extent{record.segment, record.offset, record.length}});
          record.isInline = true;
          record.inlineData.clear();
        }
        if (!record.head.collided) return removeRecord(txn, kind, id);
        record.head.tombstone = true;
        storeRecord(txn, kind, id, record.encode());
        return Status::OK();
      };
      Status s;
      if (kind == kBlob) {
        auto r = BlobRecord::decode(*value);
        s = r ? update(std::move(*r)) : corrupt("undecodable blob", id);
      } else if (kind == kPage) {
        auto r = PageRecord::decode(*value);
        s = r ? update(std::move(*r)) : corrupt("undecodable page", id);
      } else {
        auto r = ChunkRecord::decode(*value);
        s = r ? update(std::move(*r)) : corrupt("undecodable chunk", id);
      }
      ACIDFS_RETURN_IF_ERROR(s);
    }
  }
  for (RecordKind kind : kRecordKinds) {
    for (const auto& [id, value] : txn.content.unwritten[kind]) ACIDFS_RETURN_IF_ERROR(txn.put(columnOf(kind), keys::id(id), value));
    txn.content.unwritten[kind].clear();
  }
  return Status::OK();
}

std::vector<std::optional<Status>> ContentStore::readPlacesWhole(uint64_t pageIndex,
                                                                 const PageRecord& page,
                                                                 const std::vector<std::optional<ChunkRecord>>& records,
                                                                 uint64_t offset, size_t length, char* out) const {
  std::vector<std::optional<Status>> results(page.chunks.size());
  if (!chunks_) return results;  // a record naming a place is corruption: the caller's readPlace says so
  const uint64_t C = options_.chunkSize;
  std::vector<ChunkStore::Read> reads;
  std::vector<size_t> slots;
  for (size_t slot = 0; slot < page.chunks.size(); ++slot) {
    const std::optional<ChunkRecord>& chunk = records[slot];
    if (!chunk || chunk->isInline) continue;
    const uint64_t start = (pageIndex * kChunksPerPage + slot) * C;
    if (start < offset || start + chunk->length > offset + length) continue;  // not wanted whole
    reads.push_back(ChunkStore::Read{page.chunks[slot], Extent{chunk->segment, chunk->offset, chunk->length},
                                     out + (start - offset)});
    slots.push_back(slot);
  }
  std::vector<Status> answers = chunks_->readMany(reads);
  for (size_t i = 0; i < slots.size(); ++i) results[slots[i]] = std::move(answers[i]);
  return results;
}

Status ContentStore::read(const Id128& blob, uint64_t offset, size_t length, std::string& out) {
  if (blob == emptyBlobId_) {
    out.clear();
    return Status::OK();
  }
  // Holding this, a chunk record we find keeps its bytes until we are done.
  std::shared_lock<std::shared_mutex> noRelease;
  if (chunks_) noRelease = std::shared_lock<std::shared_mutex>(chunks_->releaseLock());
  ACIDFS_ASSIGN_OR_RETURN(BlobRecord record, loadLive<BlobRecord>(blob));
  length = offset < record.size ? static_cast<size_t>(std::min<uint64_t>(length, record.size - offset)) : 0;
  // `out` keeps what it held (a caller's reused buffer) and is not zeroed
  // first, which was 7% of a cold read's CPU: the loop writes every byte,
  // the zeros included.
  out.resize(length);

  const uint64_t C = options_.chunkSize;
  // Every index below is in range: check() matched the page count to the
  // size, checkPlace each page's chunk count to its place.
  PageRecord page;
  uint64_t loadedPage = UINT64_MAX;
  // The records of the chunks this read needs from the loaded page, by
  // slot, fetched together: from a database, one round trip instead of one
  // per chunk.
  std::vector<std::optional<ChunkRecord>> pageChunks;
  // The chunk store's answers for the chunks of that page read whole into
  // `out` (readPlacesWhole), by slot; nullopt for the others.
  std::vector<std::optional<Status>> placedReads;
  const uint64_t endIndex = length ? (offset + length - 1) / C + 1 : 0;
  for (uint64_t pos = offset; pos < offset + length;) {
    const uint64_t index = pos / C;
    const uint64_t within = pos % C;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(C - within, offset + length - pos));
    const uint64_t pageIndex = index / kChunksPerPage;
    if (pageIndex != loadedPage) {
      ACIDFS_ASSIGN_OR_RETURN(page, loadLive<PageRecord>(record.pages[pageIndex]));
      ACIDFS_RETURN_IF_ERROR(checkPlace(record, pageIndex, page));
      loadedPage = pageIndex;
      const uint64_t lastSlot = std::min<uint64_t>(endIndex - pageIndex * kChunksPerPage, page.chunks.size());
      std::vector<Id128> wanted;
      std::vector<size_t> slots;
      for (uint64_t slot = index % kChunksPerPage; slot < lastSlot; ++slot)
        if (!page.chunks[slot].isZero()) {
          wanted.push_back(page.chunks[slot]);
          slots.push_back(slot);
        }
      ACIDFS_ASSIGN_OR_RETURN(std::vector<ChunkRecord> found, loadLiveChunks(wanted));
      pageChunks.assign(page.chunks.size(), std::nullopt);
      for (size_t i = 0; i < slots.size(); ++i) pageChunks[slots[i]] = std::move(found[i]);
      placedReads = readPlacesWhole(pageIndex, page, pageChunks, offset, length, out.data());
    }
    const Id128& chunkId = page.chunks[index % kChunksPerPage];
    char* dest = out.data() + (pos - offset);
    size_t filled = 0;  // of `take`, from the chunk's stored bytes; the rest is zeros
    if (!chunkId.isZero()) {
      const ChunkRecord& chunk = *pageChunks[index % kChunksPerPage];
      if (const auto& placed = placedReads[index % kChunksPerPage]) {
        // All of its stored bytes were wanted, and are in place: verify them there.
        ACIDFS_RETURN_IF_ERROR(*placed);
        ACIDFS_RETURN_IF_ERROR(verify(chunkId, chunk, std::string_view(dest, chunk.length)));
        filled = chunk.length;
      } else if (chunk.isInline) {
        // Inline bytes are verified where they are, and copied once.
        ACIDFS_RETURN_IF_ERROR(verify(chunkId, chunk, chunk.inlineData));
        if (within < chunk.inlineData.size()) {
          filled = std::min<size_t>(take, chunk.inlineData.size() - within);
          std::memcpy(dest, chunk.inlineData.data() + within, filled);
        }
      } else {
        ACIDFS_ASSIGN_OR_RETURN(std::string bytes, chunkBytes(chunkId, chunk));
        ACIDFS_RETURN_IF_ERROR(verify(chunkId, chunk, bytes));
        if (within < bytes.size()) {
          filled = std::min<size_t>(take, bytes.size() - within);
          std::memcpy(dest, bytes.data() + within, filled);
        }
      }
    }
    std::memset(dest + filled, 0, take - filled);  // a hole, or the zeros the chunk's trimming dropped
    pos += take;
  }
  return Status::OK();
}

Result<BlobLayout> ContentStore::layout(const Id128& blob) {
  BlobLayout result;
  if (blob == emptyBlobId_) return result;
  ACIDFS_ASSIGN_OR_RETURN(BlobRecord record, loadLive<BlobRecord>(blob));
  result.size = record.size;
  for (uint64_t p = 0; p < record.pages.size(); ++p) {
    ACIDFS_ASSIGN_OR_RETURN(PageRecord page, loadLive<PageRecord>(record.pages[p]));
    ACIDFS_RETURN_IF_ERROR(checkPlace(record, p, page));
    for (const Id128& c : page.chunks) result.chunkHasData.push_back(!c.isZero());
  }
  return result;
}

Result<ContentStore::LiveExtents> ContentStore::liveExtents(MetaReader& db) {
  LiveExtents live;
  auto it = db.scan(Column::kChunks);
  for (it->seekToFirst(); it->valid(); it->next()) {
    auto record = ChunkRecord::decode(it->value());
    if (!record) {
      ACIDFS_LOG(kError, "store corrupted: undecodable chunk %s (fsck reports it); segments are not swept",
                 Id128::fromBytes(it->key()).hex().c_str());
      live.complete = false;
      continue;
    }
    if (!record->isInline && !record->head.tombstone)
      live.extents.push_back(Extent{record->segment, record->offset, record->length});
  }
  const Status scanned = it->status();
  if (scanned.errnum() == EUCLEAN) {
    ACIDFS_LOG(kError, "store damaged: chunk records not readable to the end (%s); `acidfs fsck` names the files affected; segments are not swept",
               scanned.message().c_str());
    live.complete = false;
  } else if (!scanned.ok()) {
    return scanned.withContext("scanning chunk records");
  }
  return live;
}

}  // namespace acidfs
