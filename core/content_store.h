// The content-addressed store: file contents as chunks, chunks grouped into
// pages, pages into blobs, each kept once under its id and reference-counted
// (format.h states the invariants).
//
// Chunking: a file of size S is the sequence of chunkSize windows
// [i·C, (i+1)·C), zero-padded past S. A window's stored bytes are the window
// with trailing zero bytes removed; an all-zero window is a hole: id 0, no
// record, no space. Equal content therefore always gives equal chunk ids,
// however it was written (one write, many, or with holes).
//
// Ids: chunk id = H(stored bytes, seed); page id = H(u32 LE count ‖ the chunk
// ids of the page, seed); blobId = H("acidfs-blob-v1" ‖ size as u64 LE ‖ u32 LE page
// count ‖ page ids, seed), with H = XXH3-128 and seed 0 — unless different
// content already holds that id, in which case the seed is the first free one
// (seed 1, 2, …) in the probe chain. Equality is always decided by comparing
// bytes, never by the hash alone (SPEC §2). The empty blob (size 0) is
// H("acidfs-blob-v1" ‖ 0 ‖ 0, seed 0) = 02f9c633070d0b8d6d5712a45690de04.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/id128.h"
#include "core/meta_engine.h"
#include "core/records.h"
#include "core/chunk_store.h"
#include "core/status.h"
#include "core/transaction.h"

namespace acidfs {

struct ContentOptions {
  uint32_t chunkSize = 64 * 1024;
  // Chunks whose stored bytes are at most this long live inline in their
  // metadata record: small files then cost no segment write and no
  // fdatasync. The rest go to the chunk store. Without a chunk store every
  // chunk is inline: inlineMax is chunkSize then, whatever it says here.
  uint32_t inlineMax = 32 * 1024;
  HashFunction hash = xxh3Hash;
};

// Which chunks of a blob hold data (for SEEK_DATA/SEEK_HOLE and st_blocks).
struct BlobLayout {
  uint64_t size = 0;
  std::vector<bool> chunkHasData;
};

class ContentStore {
 public:
  // `chunks` holds the chunks longer than options.inlineMax; null means
  // there is no chunk store: every chunk lives inline in its ChunkRecord,
  // written in the same transaction as the records naming it, so the
  // constructor sets inlineMax to chunkSize and put() is never called. A
  // chunk record that names a place all the same is then corrupt (EIO).
  ContentStore(MetaReader& db, ChunkStore* chunks, ContentOptions options);

  const Id128& emptyBlobId() const { return emptyBlobId_; }
  uint32_t chunkSize() const { return options_.chunkSize; }
  static Id128 computeEmptyBlobId(const HashFunction& hash);

  // ---- inside a transaction ------------------------------------------------
  // The blob that is `base` resized to `newSize` with `patch` written over it
  // (chunk index → window bytes; shorter than a chunk means zero-padded).
  // Work is in proportion to the patch plus one page per touched page, not
  // to the file. Takes no reference: call addRef for each holder.
  Result<Id128> buildBlob(Txn& txn, const Id128& base, uint64_t newSize,
                          const std::map<uint64_t, std::string_view>& patch);
  Result<Id128> blobFromBytes(Txn& txn, std::string_view bytes);
  // Adds `delta` references to a blob (applied at commit; the empty blob has none).
  void addRef(Txn& txn, const Id128& blob, int64_t delta);
  // Size of a blob that exists (is referenced), else ENOENT.
  Result<uint64_t> blobSize(Txn& txn, const Id128& blob);
  // The space a blob's content takes, holes excluded: its size rounded up to
  // 4 KiB when it has no holes, else its data chunks (what st_blocks shows).
  Result<uint64_t> allocatedBytes(Txn& txn, const Id128& blob);
  // The windows in [first, end) that hold data (not holes), in order;
  // windows past the blob's size hold none.
  Result<std::vector<uint64_t>> dataWindows(Txn& txn, const Id128& blob, uint64_t first, uint64_t end);
  // Reads window `index` of a blob (stored bytes, no padding), verified.
  Result<std::string> readWindow(Txn& txn, const Id128& blob, uint64_t index);
  // Applies the transaction's reference deltas; frees what drops to zero.
  Status applyRefDeltas(Txn& txn);

  // ---- outside transactions ------------------------------------------------
  // Reads [offset, offset+length) of a blob, clipped to its size, every chunk
  // verified against its id (mismatch: EIO). ESTALE when the blob or a
  // record under it is no longer in the store (it was replaced and collected
  // meanwhile); EIO when one is corrupt (undecodable, or fails check()).
  Status read(const Id128& blob, uint64_t offset, size_t length, std::string& out);
  // Which chunks hold data; errors as read().
  Result<BlobLayout> layout(const Id128& blob);
  // Reads a chunk's bytes and checks them against its id (fsck): EIO when
  // they no longer match, or the record fails check().
  Status verifyChunk(const Id128& id, const ChunkRecord& record);
  // What a record alone can be checked for, before anything is sized or
  // indexed from it (every load, and fsck): a blob is at most kMaxFileSize,
  // lists one page per kChunksPerPage chunks of its size and counts no more
  // data chunks than it has; a page lists at most kChunksPerPage chunks; a
  // chunk holds at most chunkSize bytes. Tombstones hold nothing and pass.
  // EIO naming the record when it fails.
  Status check(const Id128& id, const BlobRecord& record) const { return checkRecord(options_.chunkSize, id, record); }
  Status check(const Id128& id, const PageRecord& record) const { return checkRecord(options_.chunkSize, id, record); }
  Status check(const Id128& id, const ChunkRecord& record) const { return checkRecord(options_.chunkSize, id, record); }
  // The same rules for a store of `chunkSize` that is not open (offline fsck).
  static Status checkRecord(uint32_t chunkSize, const Id128& id, const BlobRecord& record);
  static Status checkRecord(uint32_t chunkSize, const Id128& id, const PageRecord& record);
  static Status checkRecord(uint32_t chunkSize, const Id128& id, const ChunkRecord& record);
  // Every place named by a decodable chunk record, for SegmentStore's sweep
  // on open. An undecodable one is logged and skipped, and so are the records
  // after a damaged table block (the scan stops there), so that the store
  // still opens, serving every file whose records it can read (fsck names
  // the others); no record says where their bytes are, so `complete` is
  // false and nothing may be swept.
  struct LiveExtents {
    std::vector<Extent> extents;
    bool complete = true;
  };
  static Result<LiveExtents> liveExtents(MetaReader& db);

 private:
  Result<Id128> internChunk(Txn& txn, std::string_view window);
  // Locks and reads, in batches, the records that internChunk() of each
  // window of `patch` probes first (Txn::prefetch): a database store's
  // write then costs a round trip per 512 chunks, not per chunk.
  Status prefetchChunkRecords(Txn& txn, const std::map<uint64_t, std::string_view>& patch);
  Result<Id128> internPage(Txn& txn, const std::vector<Id128>& chunks);
  Result<Id128> internBlob(Txn& txn, uint64_t size, const std::vector<Id128>& pages, uint64_t dataChunks);
  template <typename Record, typename Same, typename Make>
  Result<Id128> intern(Txn& txn, RecordKind kind, std::string_view hashInput, Same same, Make make);
  // A record as this transaction sees it: its own unwritten version first.
  Result<std::optional<std::string>> loadRecord(Txn& txn, RecordKind kind, const Id128& id, bool lock);
  void storeRecord(Txn& txn, RecordKind kind, const Id128& id, std::string value);
  Status removeRecord(Txn& txn, RecordKind kind, const Id128& id);
  // A record decoded and check()ed: EIO naming it when either fails.
  template <typename Record>
  Result<Record> decodeRecord(const Id128& id, std::string_view value) const;
  // A record that something this transaction read refers to: EIO when it
  // is missing or corrupt.
  template <typename Record>
  Result<Record> loadReferenced(Txn& txn, const Id128& id);
  // Outside transactions, for readers: ESTALE when the record is missing or
  // a tombstone (collected since it was found), EIO when it is corrupt.
  template <typename Record>
  Result<Record> loadLive(const Id128& id);
  // loadLive of each chunk, asked of the engine at once (MetaReader::getMany).
  Result<std::vector<ChunkRecord>> loadLiveChunks(const std::vector<Id128>& ids);
  // Of page `pageIndex` of a blob (its chunk records by slot, null where
  // not loaded), the chunks in the chunk store whose stored bytes the read of
  // [offset, offset + length) wants whole: read together
  // (ChunkStore::readMany) straight into `out`, the read's buffer. The
  // chunk store's answer by slot; nullopt for the rest. Not verified.
  std::vector<std::optional<Status>> readPlacesWhole(uint64_t pageIndex, const PageRecord& page,
                                                     const std::vector<std::optional<ChunkRecord>>& records,
                                                     uint64_t offset, size_t length, char* out) const;
  // EIO unless `page`, page `p` of a check()ed blob, lists the number of
  // chunks its place in the blob needs: then every slot read is in it.
  Status checkPlace(const BlobRecord& blob, uint64_t p, const PageRecord& page) const;
  // The bytes of chunk `id`'s record that passed check() (so its length is
  // at most chunkSize, whatever the disk said): inline, or read from its
  // place (readPlace: EIO without a chunk store).
  Result<std::string> chunkBytes(const Id128& id, const ChunkRecord& record) const;
  Status readPlace(const Id128& id, const ChunkRecord& record, char* out) const;
  Status verify(const Id128& id, const ChunkRecord& record, std::string_view bytes);
  uint64_t chunksOf(uint64_t size) const { return (size + options_.chunkSize - 1) / options_.chunkSize; }

  MetaReader& db_;
  ChunkStore* const chunks_;  // null: every chunk is inline
  const ContentOptions options_;
  const Id128 emptyBlobId_;
};

}  // namespace acidfs
