#include "core/space_guard.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>

#include "core/log.h"

namespace acidfs {

namespace {

int64_t monotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1u << 19)) >> 20) + " MiB"; }

}  // namespace

SpaceGuard::SpaceGuard(std::string path, std::function<uint64_t()> unflushedBytes, std::function<Status()> makeRoom,
                       std::function<uint64_t()> reservedBytes)
    : path_(std::move(path)),
      unflushedBytes_(std::move(unflushedBytes)),
      makeRoom_(std::move(makeRoom)),
      reservedBytes_(std::move(reservedBytes)) {
  measure();
}

void SpaceGuard::measure() {
  struct statvfs fs {};
  if (statvfs(path_.c_str(), &fs) != 0) {
    // Cannot tell: do not refuse anything on a guess. RocksDB's own error
    // handling (MetaDb) still stands behind this.
    measuredFree_ = UINT64_MAX / 2;
    appendedSince_ = 0;
    measuredAtNs_ = monotonicNs();
    return;
  }
  const uint64_t total = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize;
  const uint64_t base = std::clamp<uint64_t>(total / 64, 256u << 10, 64u << 20);
  hardFloor_ = base + (unflushedBytes_ ? unflushedBytes_() : 0);
  growthMargin_ = std::clamp<uint64_t>(total / 32, 512u << 10, 256u << 20);
  measuredFree_ = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  appendedSince_ = 0;
  measuredAtNs_ = monotonicNs();
}

uint64_t SpaceGuard::estimatedFree(uint64_t need, uint64_t floor) {
  const uint64_t appended = appendedSince_.load();
  const uint64_t measured = measuredFree_.load();
  const uint64_t estimate = measured > appended ? measured - appended : 0;
  const bool stale = monotonicNs() - measuredAtNs_.load() > kMaxAgeNs;
  if (!stale && estimate >= floor + need + growthMargin_.load()) return estimate;
  measure();
  return measuredFree_.load();
}

uint64_t SpaceGuard::makeRoom() {
  MutexLock lock(makeRoomMutex_);
  if (makeRoom_) {
    Status made = makeRoom_();
    if (!made.ok()) ACIDFS_LOG(kWarning, "making room on the store's filesystem: %s", made.toString().c_str());
  }
  measure();
  return measuredFree_.load();
}

Status SpaceGuard::mayAppend(uint64_t bytes, uint64_t covered) {
  covered = std::min(covered, bytes);
  const uint64_t reserved = reservedBytes_ ? reservedBytes_() : 0;
  const uint64_t othersReserved = reserved - std::min(reserved, covered);
  // The whole append must leave the hard floor and the other reservations;
  // its uncovered part must also leave the growth floor and every reservation.
  auto shortBy = [&](uint64_t free) -> uint64_t {
    const uint64_t needAll = hardFloor_.load() + othersReserved + bytes;
    const uint64_t needUncovered = covered == bytes ? 0 : hardFloor_.load() + growthMargin_.load() + reserved + (bytes - covered);
    const uint64_t need = std::max(needAll, needUncovered);
    return free >= need ? 0 : need - free;
  };
  auto floor = [&] {
    return covered == bytes ? hardFloor_.load() + othersReserved : hardFloor_.load() + growthMargin_.load() + reserved;
  };
  uint64_t free = estimatedFree(bytes, floor());
  if (shortBy(free) > 0) free = makeRoom();
  if (shortBy(free) > 0)
    return Status::Error(ENOSPC, "no space for " + std::to_string(bytes) + " more bytes: " + mib(free) +
                                     " free on the store's filesystem, " + mib(floor()) +
                                     " kept for removals, metadata and fallocate's reservations");
  appendedSince_ += bytes;
  return Status::OK();
}

Status SpaceGuard::mayReserve(uint64_t bytes, uint64_t reserved) {
  auto floor = [&] { return hardFloor_.load() + growthMargin_.load() + reserved; };
  measure();
  uint64_t free = measuredFree_.load();
  if (free < floor() + bytes) free = makeRoom();
  if (free >= floor() + bytes) return Status::OK();
  return Status::Error(ENOSPC, "no space to reserve " + mib(bytes) + ": " + mib(free) +
                                   " free on the store's filesystem, " + mib(reserved) + " reserved already, " +
                                   mib(hardFloor_.load() + growthMargin_.load()) + " kept for removals and metadata");
}

Status SpaceGuard::mayCommit(bool removes, bool usesReservation) {
  const uint64_t reserved = reservedBytes_ ? reservedBytes_() : 0;
  auto floor = [&] {
    if (removes || usesReservation) return hardFloor_.load();
    return hardFloor_.load() + growthMargin_.load() + reserved;
  };
  uint64_t free = estimatedFree(0, floor());
  if (free < floor()) free = makeRoom();
  if (free >= floor()) return Status::OK();
  return Status::Error(ENOSPC, std::string("no space: ") + mib(free) + " free on the store's filesystem, " + mib(floor()) +
                                   (removes || usesReservation ? " kept for the metadata database"
                                                               : " kept for removals, metadata and fallocate's reservations"));
}

uint64_t SpaceGuard::freeBytes() {
  measure();
  return measuredFree_.load();
}

SpaceGuard::Floors SpaceGuard::floors() {
  return Floors{hardFloor_.load(), hardFloor_.load() + growthMargin_.load()};
}

}  // namespace acidfs
