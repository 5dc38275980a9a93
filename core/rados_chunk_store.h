// Chunks as Ceph RADOS objects (SPEC §9, `-o chunks=rados:POOL`): the
// ChunkStore (core/chunk_store.h) of a database store whose bulk data lives
// in an object store that every host reaches.
//
// One object per put, named "<chunk id in hex>.<nonce in hex>": the nonce
// (64 random bits, kept in the chunk record's place as Extent::offset; the
// place's segment is kRadosPlace) makes every put's object its own, so a
// host deleting a freed chunk's object can never delete another host's
// fresh upload of the same content, and an object name never comes back
// with other bytes.
//
// - put() sends the whole object (rados_aio_write_full: librados copies the
//   bytes) and returns at once, so that a commit's chunks are written
//   together, up to kMaxPutsInFlight at a time; makeDurable() waits until
//   RADOS acknowledged each (durable on every replica) and reports the first
//   that failed, so that the transaction naming them does not commit.
// - read() and readMany() read objects (readMany: all in flight at once,
//   rados_aio_read), after any put of theirs still in flight; an object
//   that is gone is ESTALE (its record was freed and the object deleted
//   since the reader found it: ContentStore's readers look again from fresh
//   metadata), a short one EIO. ContentStore verifies every chunk's hash,
//   as for segments.
// - release() deletes after a grace period (`grace`), which outlasts reads
//   in progress on other hosts, so they rarely see ESTALE; what it had not
//   deleted when the store closes is deleted then.
// - sweep() deletes objects that no chunk record names and that are older
//   than `sweepAge` (their puts' transactions never committed: a daemon
//   killed between put and commit). An object younger than that may be a
//   put whose commit is still coming, on any host.
#pragma once

#include <rados/librados.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/chunk_store.h"
#include "core/thread_annotations.h"

namespace acidfs {

// Extent::segment of a chunk stored in RADOS (segment files number theirs
// from 1 up; no directory store names this one).
inline constexpr uint32_t kRadosPlace = 0xFFFFFFFFu;

struct RadosChunkStoreOptions {
  std::string pool;
  std::string confFile;  // empty: librados's own search (CEPH_CONF, /etc/ceph/ceph.conf)
  std::string clientId;  // empty: "admin"
  // The store's own RADOS namespace in the pool ("": the pool's default),
  // so that stores sharing a pool never see, sweep or repair each other's
  // objects. Store chooses it at format and keeps it with its settings.
  std::string nspace;
  std::chrono::milliseconds grace{std::chrono::minutes(5)};
  std::chrono::milliseconds sweepAge{std::chrono::hours(1)};
};

// "rados:POOL[,conf=FILE][,id=NAME]" (SPEC §9) into options; EINVAL naming
// what is wrong.
Result<RadosChunkStoreOptions> parseRadosChunks(const std::string& spec);

class RadosChunkStore final : public ChunkStore {
 public:
  // Connects to the cluster and opens the pool: EIO (with librados's reason)
  // when either fails, ENOENT when the pool does not exist. Connecting and
  // each operation time out after 30 s (EIO), or as the configuration
  // (ceph.conf, CEPH_ARGS) sets rados_osd_op_timeout, rados_mon_op_timeout
  // and client_mount_timeout; objecter_timeout and objecter_tick_interval
  // are kept within a third of the op timeout (an OSD that restarted is
  // found again only through them).
  static Result<std::unique_ptr<RadosChunkStore>> open(const RadosChunkStoreOptions& options);
  ~RadosChunkStore() override;

  Result<Extent> put(const Id128& id, std::string_view bytes) override EXCLUDES(mutex_);
  Status read(const Id128& id, const Extent& place, char* out) const override EXCLUDES(mutex_);
  std::vector<Status> readMany(const std::vector<Read>& reads) const override EXCLUDES(mutex_);
  Status makeDurable(const std::vector<StoredChunk>& chunks) override EXCLUDES(mutex_);
  void release(const std::vector<StoredChunk>& chunks) override EXCLUDES(mutex_);
  // Deletes at once everything released so far, grace or not (tests, and
  // space accounting).
  void drainReleases() override EXCLUDES(mutex_);
  // Never taken exclusively: the grace period, and ESTALE past it, protect readers.
  std::shared_mutex& releaseLock() override { return releaseLock_; }
  uint64_t bytesOnDisk() const override EXCLUDES(mutex_);
  uint64_t liveBytes() const override EXCLUDES(mutex_);

  // Deletes every object of the pool whose name is ours, that `named(id,
  // place)` says no chunk record names, and that is older than sweepAge.
  // Returns how many it deleted; EIO when the pool cannot be listed.
  Result<uint64_t> sweep(const std::function<bool(const Id128& id, const Extent& place)>& named);

  // An object of the pool, as listObjects() and stat() find it.
  struct Object {
    std::string name;
    // Whether the name is one put() makes ("<chunk id>.<nonce>"): then `id`
    // and `nonce` are what it says, and size and mtime are the object's
    // (RADOS keeps whole seconds); they are left 0 for other objects.
    bool ours = false;
    Id128 id;
    uint64_t nonce = 0;
    uint64_t size = 0;
    time_t mtime = 0;
  };
  // Calls `each` for every object of the pool (ours and any other), leaving
  // out those deleted while the listing runs. EIO when the pool cannot be
  // listed or an object of ours cannot be stat'ed.
  Status listObjects(const std::function<void(const Object&)>& each) const;
  // The object `name`: nullopt when there is none; EIO when RADOS fails.
  Result<std::optional<Object>> stat(const std::string& name) const;
  // Whether an object that no chunk record names is the sweep's: older than
  // sweepAge, so no put's transaction naming it can still be coming.
  bool pastSweepAge(time_t mtime) const;
  std::chrono::milliseconds sweepAge() const { return options_.sweepAge; }
  const std::string& pool() const { return options_.pool; }
  // Deletes the object `name` now (fsck --repair of what a sweep would
  // delete): OK when it is gone, EIO when RADOS fails.
  Status removeNow(const std::string& name) const;

  const std::string& nspace() const { return options_.nspace; }

  // The object that holds the chunk at `place`.
  static std::string objectName(const Id128& id, uint64_t nonce);

 private:
  RadosChunkStore(RadosChunkStoreOptions options, rados_t cluster, rados_ioctx_t io);
  void deleterLoop() EXCLUDES(mutex_);
  void remove(const std::string& name) const;
  // Waits for the put of `nonce` if it is still in flight; its outcome is
  // kept for makeDurable() when it failed. OK when none was in flight.
  Status settlePut(uint64_t nonce) const EXCLUDES(mutex_);

  // A commit's puts in flight at once, at most: 4 MiB of copies at 64 KiB.
  static constexpr size_t kMaxPutsInFlight = 64;

  struct Doomed {
    std::string name;
    uint32_t length;
    std::chrono::steady_clock::time_point due;
  };

  const RadosChunkStoreOptions options_;
  rados_t cluster_;
  rados_ioctx_t io_;
  std::shared_mutex releaseLock_;
  mutable Mutex mutex_;
  // Puts sent and not yet settled, by nonce, oldest first in putOrder_
  // (which may name settled ones: skipped); and those that failed, until
  // makeDurable() or release() hears of them. mutable: a read settles.
  mutable std::unordered_map<uint64_t, rados_completion_t> inFlight_ GUARDED_BY(mutex_);
  mutable std::deque<uint64_t> putOrder_ GUARDED_BY(mutex_);
  mutable std::unordered_map<uint64_t, Status> failedPuts_ GUARDED_BY(mutex_);
  std::condition_variable_any changed_;
  std::deque<Doomed> doomed_ GUARDED_BY(mutex_);  // in release order, so in `due` order
  uint64_t deleting_ GUARDED_BY(mutex_) = 0;       // taken from doomed_, being deleted
  bool forceDue_ GUARDED_BY(mutex_) = false;       // drainReleases(): delete what is queued now
  bool stopping_ GUARDED_BY(mutex_) = false;
  uint64_t liveBytes_ GUARDED_BY(mutex_) = 0;     // put, not released
  uint64_t doomedBytes_ GUARDED_BY(mutex_) = 0;   // released, not deleted yet
  std::thread deleter_;
};

}  // namespace acidfs
