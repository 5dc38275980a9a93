// Keeps the store's filesystem from filling to its last byte (SPEC §3: a
// full disk loses nothing).
//
// Why refuse while space is left: RocksDB cannot be trusted with a write
// that fails for lack of space (MetaDb::writesStopped), and a store whose
// disk is full to the byte could not even commit the unlink that frees it.
// So acidfs answers ENOSPC itself, before RocksDB would, in two steps:
//
//   free space >= growth floor   everything commits;
//   hard floor <= free < growth  only transactions that remove something
//                                and add no chunk bytes (unlink, rmdir,
//                                truncate, ...): the way out of a full disk;
//   free < hard floor            nothing commits: the rest is RocksDB's, to
//                                flush its memtables and resume.
//
// The hard floor is a base (1/64 of the filesystem, between 256 KiB and
// 64 MiB) plus the bytes in RocksDB's memtables, which a flush writes out
// (MetaDb::unflushedBytes);
// the growth floor is 1/32 of the filesystem more (512 KiB to 256 MiB).
// Free space is what an unprivileged writer may use (statvfs f_bavail).
//
// Before refusing, the guard asks the store to make room (`makeRoom`, at
// most one at a time): space that commits freed is held until they are
// durable (TransactionRunner), so it syncs the log; and RocksDB's log holds
// every record uncompressed, with transaction markers, until a flush writes
// them to compressed tables and the log goes — on a small filesystem most of
// the metadata's space — so it flushes. The hard floor keeps the room that
// flush needs.
//
// Chunk bytes are checked before they are appended (mayAppend), not only at
// commit: a large append could otherwise take the space a concurrent
// commit's log record needs.
//
// Space that fallocate reserved (core/reservations.h) is kept free too:
// every growing transaction — its appends and its commit — must leave the
// growth floor plus every reservation. A transaction that writes into
// windows reserved for it (`covered` bytes) is held to less: it must leave
// the hard floor plus the other reservations, so the metadata that other
// commits added since the reservation (their log records) comes out of the
// growth margin, not out of the reserved space. So a write into a reserved
// range is not refused for space that other writes took.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

class SpaceGuard {
 public:
  struct Floors {
    uint64_t hard = 0;
    uint64_t growth = 0;
  };
  // `path` is on the filesystem that holds the store; `unflushedBytes`
  // reports what RocksDB would write to flush its memtables; `makeRoom` is
  // described above; `reservedBytes` reports the store's reservations.
  SpaceGuard(std::string path, std::function<uint64_t()> unflushedBytes, std::function<Status()> makeRoom,
             std::function<uint64_t()> reservedBytes = nullptr);

  // May a transaction append `bytes` of chunk data, `covered` of them into
  // windows reserved for it? ENOSPC when the append would leave less than
  // the floors above.
  Status mayAppend(uint64_t bytes, uint64_t covered = 0);
  // May fallocate reserve `bytes` more, beside `reserved` reserved already?
  // ENOSPC when free space above the growth floor does not hold them all.
  Status mayReserve(uint64_t bytes, uint64_t reserved);
  // May a transaction commit? `removes`: it deletes something and appended
  // no chunk bytes (see above). ENOSPC with the free space in the message.
  // `usesReservation`: it writes into windows reserved for it.
  Status mayCommit(bool removes, bool usesReservation = false);

  // Free bytes now (a fresh statvfs), and the floors for them.
  uint64_t freeBytes();
  Floors floors();

 private:
  // Free space as last measured, minus what was appended since. Measured
  // again when that is older than kMaxAge or near a floor, so a check far
  // from the floors costs no system call.
  uint64_t estimatedFree(uint64_t need, uint64_t floor);
  void measure();
  // Below a floor: makes room, and measures again. Returns the free bytes.
  uint64_t makeRoom() EXCLUDES(makeRoomMutex_);

  static constexpr int64_t kMaxAgeNs = 20'000'000;  // 20 ms

  const std::string path_;
  const std::function<uint64_t()> unflushedBytes_;
  const std::function<Status()> makeRoom_;
  const std::function<uint64_t()> reservedBytes_;
  Mutex makeRoomMutex_;  // one at a time; the others wait for it and measure again
  // Racy by design: a check reads them without a lock; the margins between
  // the floors and zero absorb the error of a few concurrent checks.
  std::atomic<uint64_t> measuredFree_{0};
  std::atomic<uint64_t> appendedSince_{0};
  std::atomic<uint64_t> hardFloor_{0};
  std::atomic<uint64_t> growthMargin_{0};
  std::atomic<int64_t> measuredAtNs_{0};
};

}  // namespace acidfs
