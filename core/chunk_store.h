// The chunk store as the core sees it: where the bytes of chunks too large
// to live inline in their metadata record go (ContentOptions::inlineMax).
// ContentStore puts and reads chunks through it, TransactionRunner makes
// them durable before a commit names them and releases what commits free,
// so that what lies under the chunks can change. The segment files of a
// directory store are one implementation (core/segment_store.h); an object
// store (Ceph RADOS: issue 13's successor) is meant to be the next. "No
// chunk store" (a null ChunkStore*) is a third way: every chunk lives inline
// in its ChunkRecord, in the same transaction as the records naming it
// (`-o chunks=db`). DESIGN.md, "The chunk store", says how the core uses
// it; the contract of each call is written next to it here.
//
// A chunk's place is an Extent: the part of the store a ChunkRecord names
// (format.h). SegmentStore fills it with (segment, offset, length); an
// object store names its object by the chunk's id, which every call that
// touches a place is given too, and may keep what it needs besides in
// `segment` and `offset` (a generation, see put). `length` is always the
// number of stored bytes.
//
// Lifetime of a place: put() by a transaction; makeDurable() before that
// transaction commits; named by its committed ChunkRecord until a commit
// frees the record; release()d once that freeing commit is durable — or
// at once, when the transaction that put it does not commit. What a crash
// cuts off between put and release (a put whose commit never happened, a
// release never handed over) is the implementation's to find when the
// store opens (SegmentStore::open sweeps what no chunk record names,
// ContentStore::liveExtents): the core itself calls no sweep.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string_view>
#include <vector>

#include "core/id128.h"
#include "core/status.h"

namespace acidfs {

// Where a chunk's bytes are (see above).
struct Extent {
  uint32_t segment = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};

// A chunk and its place: what is made durable and released.
struct StoredChunk {
  Id128 id;
  Extent place;
};

// All calls are safe from any thread.
class ChunkStore {
 public:
  virtual ~ChunkStore() = default;

  // Stores `bytes`, the stored bytes of chunk `id` (1 to chunkSize of them),
  // and says where. Not durable yet (makeDurable), and named by nothing: a
  // caller whose transaction does not commit releases it. Every put returns
  // a place of its own, even for an id put before: a chunk freed and put
  // again while its old place waits out a grace period must not have the
  // new bytes deleted with the old (an object store names the object by the
  // id and a generation). Errors: EIO, ENOSPC (EDQUOT, EROFS and the like
  // as the filesystem or server says).
  virtual Result<Extent> put(const Id128& id, std::string_view bytes) = 0;
  // Reads the `place.length` bytes of chunk `id` at `place` into `out`.
  // Not verified here: the caller checks them against the id (ContentStore
  // does, for every read). A place that is missing or shorter than its
  // length is EIO. A caller that found the place in a committed record
  // holds releaseLock() shared from that lookup until this returns.
  virtual Status read(const Id128& id, const Extent& place, char* out) const = 0;
  // read() of several places at once, each into its own buffer, with a
  // Status each (in the order given). A store across a network has them in
  // flight together; this default reads one after the other.
  struct Read {
    Id128 id;
    Extent place;
    char* out = nullptr;
  };
  virtual std::vector<Status> readMany(const std::vector<Read>& reads) const {
    std::vector<Status> results;
    results.reserve(reads.size());
    for (const Read& r : reads) results.push_back(read(r.id, r.place, r.out));
    return results;
  }
  // Makes these places, put earlier, durable: once this returns OK, a
  // power cut loses none of their bytes (nor, for files, their names).
  // Called before the commit of the records naming them; a store whose
  // puts are durable on return does nothing. Places released meanwhile are
  // skipped. Errors: EIO (ENOSPC) — the transaction then does not commit.
  virtual Status makeDurable(const std::vector<StoredChunk>& chunks) = 0;
  // Hands over places that no committed record names, nor can after a power
  // cut: put by a transaction that did not commit, or freed by a commit that
  // is durable (TransactionRunner: this trusts its caller on it). The store
  // frees them when it is safe for its readers: SegmentStore once readers
  // holding releaseLock() are done; a store read by other hosts after a
  // grace period that outlasts their reads. Errors are logged, not
  // returned: a failed free only wastes space until the next sweep.
  virtual void release(const std::vector<StoredChunk>& chunks) = 0;
  // Waits until everything released so far is freed, or waiting out its
  // grace period (tests, space accounting: Store::diskUsage).
  virtual void drainReleases() = 0;

  // Held shared by readers across "look up a chunk record, then read its
  // place" (ContentStore::read), exclusive by a store while it frees places:
  // a reader that found a record reads the bytes before they go. A store
  // whose grace period outlasts every read need never take it.
  virtual std::shared_mutex& releaseLock() = 0;

  // Bytes the store's data takes where it lives (SegmentStore: allocated
  // blocks of its files), released places not yet freed included.
  virtual uint64_t bytesOnDisk() const = 0;
  // Bytes of places put and not yet released (SegmentStore: their lengths
  // rounded up to its alignment).
  virtual uint64_t liveBytes() const = 0;
};

}  // namespace acidfs
