// What fallocate promises in a deduplicating store (SPEC §7, DESIGN §4.8).
//
// A file's bytes live in content-addressed chunk windows, written anew at
// each change, so "allocated blocks" do not exist to hand out. What a
// program wants from fallocate is that writing into the range later does not
// fail for lack of space. So fallocate reserves, for each chunk window of
// the range that is a hole, a chunk's worth of the store's free space:
//
//   - the file's inode lists its reserved windows (InodeRecord::reserved);
//     st_blocks counts them; statfs's free space leaves them out;
//   - the store's total (format.h: default/reserved_windows) counts every
//     reserved window of every file; SpaceGuard keeps that much free from
//     every other append, so a later write into a reserved window finds its
//     space (its chunk bytes are "covered", Txn::reservedCredit);
//   - a window stops being reserved when it holds data (the write used the
//     reservation), when a truncation cuts it off, or when the file is
//     deleted. Windows that already hold data are not reserved: overwriting
//     them writes new chunks and may need new space, as on any
//     copy-on-write filesystem (btrfs does the same).
//
// ENOSPC when the free space above SpaceGuard's growth floor, less what is
// reserved already, does not hold the new windows. Internal to core/.
#pragma once

#include <atomic>
#include <memory>
#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace acidfs {

class ContentStore;
class MetaReader;
class SpaceGuard;
class Txn;

class Reservations {
 public:
  // Reads the store's total. `space` null: reservations are never refused.
  static Result<std::unique_ptr<Reservations>> open(MetaReader& db, ContentStore& content, SpaceGuard* space);

  // Bytes reserved store-wide, as of the last commit (for statfs and
  // SpaceGuard; updated after each commit that changes it).
  uint64_t totalBytes() const { return totalWindows_.load() * chunkSize_; }

  // Reserves the holes among the windows that [offset, offset + length)
  // touches, those not reserved already. ENOSPC (nothing reserved) when
  // they do not fit. `inode` is locked exclusively; the caller stores it.
  Status reserve(Txn& txn, InodeRecord& inode, uint64_t offset, uint64_t length);
  // `inode`'s content changed (its blob and size are set; `oldSize` was
  // the size before): windows that hold data now, and, when it shrank,
  // windows past its new size, are no longer reserved.
  Status contentChanged(Txn& txn, InodeRecord& inode, uint64_t oldSize);
  // `inode` is being deleted: all its windows are given back.
  Status release(Txn& txn, const InodeRecord& inode);
  // The chunk bytes a commit of `windows` to `inode` writes into its
  // reserved windows (at most a chunk each), for Txn::useReservation.
  uint64_t coveredBytes(const InodeRecord& inode, const std::map<uint64_t, std::string_view>& windows) const;

 private:
  Reservations(ContentStore& content, SpaceGuard* space, uint64_t totalWindows);
  // The recorded total, locked until `txn` ends (every change to it is
  // serialised, so a reservation is checked against the true total).
  Result<uint64_t> lockTotal(Txn& txn);
  // Stores `total` + `delta` in `txn`; the in-memory total follows once it commits.
  Status adjustTotal(Txn& txn, uint64_t total, int64_t delta);

  ContentStore& content_;
  SpaceGuard* const space_;
  const uint64_t chunkSize_;
  std::atomic<uint64_t> totalWindows_;
};

}  // namespace acidfs
