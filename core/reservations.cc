#include "core/reservations.h"

#include <algorithm>

#include "core/content_store.h"
#include "core/encoding.h"
#include "core/format.h"
#include "core/log.h"
#include "core/meta_engine.h"
#include "core/space_guard.h"
#include "core/transaction.h"

namespace acidfs {

namespace {

// Window ranges as first → end, for set arithmetic.
using RangeMap = std::map<uint64_t, uint64_t>;

RangeMap toMap(const std::vector<ReservedWindows>& ranges) {
  RangeMap m;
  for (const ReservedWindows& r : ranges) m[r.first] = r.first + r.count;
  return m;
}

// Back to the record's form: sorted, disjoint, adjacent ranges merged.
std::vector<ReservedWindows> fromMap(const RangeMap& m) {
  std::vector<ReservedWindows> out;
  for (const auto& [first, end] : m) {
    if (!out.empty() && out.back().first + out.back().count == first)
      out.back().count += end - first;
    else
      out.push_back(ReservedWindows{first, end - first});
  }
  return out;
}

uint64_t countOf(const RangeMap& m) {
  uint64_t n = 0;
  for (const auto& [first, end] : m) n += end - first;
  return n;
}

void add(RangeMap& m, uint64_t first, uint64_t end) {
  if (first >= end) return;
  auto it = m.upper_bound(first);
  if (it != m.begin() && std::prev(it)->second >= first) {  // overlaps or touches the range before
    --it;
    first = it->first;
    end = std::max(end, it->second);
    it = m.erase(it);
  }
  while (it != m.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = m.erase(it);
  }
  m[first] = end;
}

void subtract(RangeMap& m, uint64_t first, uint64_t end) {
  if (first >= end) return;
  auto it = m.upper_bound(first);
  if (it != m.begin()) --it;
  while (it != m.end() && it->first < end) {
    const uint64_t rFirst = it->first, rEnd = it->second;
    if (rEnd <= first) {
      ++it;
      continue;
    }
    it = m.erase(it);
    if (rFirst < first) m[rFirst] = first;
    if (rEnd > end) it = m.emplace(end, rEnd).first;
  }
}

}  // namespace

Reservations::Reservations(ContentStore& content, SpaceGuard* space, uint64_t totalWindows)
    : content_(content), space_(space), chunkSize_(content.chunkSize()), totalWindows_(totalWindows) {}

Result<std::unique_ptr<Reservations>> Reservations::open(MetaReader& db, ContentStore& content, SpaceGuard* space) {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, db.get(Column::kDefault, kReservedWindowsKey));
  uint64_t total = 0;
  if (value) {
    Decoder d(*value);
    if (!d.u64(total) || !d.done()) return Status::Error(EUCLEAN, "store corrupted: undecodable reserved_windows");
  }
  return std::unique_ptr<Reservations>(new Reservations(content, space, total));
}

Result<uint64_t> Reservations::lockTotal(Txn& txn) {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.read(Column::kDefault, kReservedWindowsKey, Txn::Lock::kExclusive));
  uint64_t total = 0;
  if (value) {
    Decoder d(*value);
    if (!d.u64(total) || !d.done()) return Status::Error(EIO, "store corrupted: undecodable reserved_windows");
  }
  return total;
}

Status Reservations::adjustTotal(Txn& txn, uint64_t total, int64_t delta) {
  if (delta == 0) return Status::OK();
  uint64_t updated = total + static_cast<uint64_t>(delta);
  if (delta < 0 && static_cast<uint64_t>(-delta) > total) {
    ACIDFS_LOG(kError, "store inconsistent: giving back %lld reserved windows of %llu recorded (fsck)",
               static_cast<long long>(-delta), static_cast<unsigned long long>(total));
    updated = 0;
  }
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kDefault, kReservedWindowsKey, Encoder().u64(updated).take()));
  const int64_t applied = static_cast<int64_t>(updated) - static_cast<int64_t>(total);
  txn.afterCommit.push_back([this, applied] { totalWindows_ += static_cast<uint64_t>(applied); });
  return Status::OK();
}

Status Reservations::reserve(Txn& txn, InodeRecord& inode, uint64_t offset, uint64_t length) {
  if (length == 0) return Status::OK();
  if (offset > kMaxFileSize || length > kMaxFileSize - offset)
    return Status::Error(EFBIG, "files are limited to 1 TiB");
  const uint64_t first = offset / chunkSize_;
  const uint64_t end = (offset + length + chunkSize_ - 1) / chunkSize_;
  ACIDFS_ASSIGN_OR_RETURN(std::vector<uint64_t> data, content_.dataWindows(txn, inode.blob, first, end));
  RangeMap m = toMap(inode.reserved);
  const uint64_t before = countOf(m);
  uint64_t cursor = first;
  for (uint64_t d : data) {
    add(m, cursor, d);
    cursor = d + 1;
  }
  add(m, cursor, end);
  const uint64_t added = countOf(m) - before;
  if (added == 0) return Status::OK();
  ACIDFS_ASSIGN_OR_RETURN(uint64_t total, lockTotal(txn));
  if (space_) ACIDFS_RETURN_IF_ERROR(space_->mayReserve(added * chunkSize_, total * chunkSize_));
  inode.reserved = fromMap(m);
  return adjustTotal(txn, total, static_cast<int64_t>(added));
}

Status Reservations::contentChanged(Txn& txn, InodeRecord& inode, uint64_t oldSize) {
  if (inode.reserved.empty()) return Status::OK();
  RangeMap m = toMap(inode.reserved);
  const uint64_t before = countOf(m);
  if (inode.size < oldSize) subtract(m, (inode.size + chunkSize_ - 1) / chunkSize_, UINT64_MAX);
  for (const ReservedWindows& r : inode.reserved) {
    ACIDFS_ASSIGN_OR_RETURN(std::vector<uint64_t> data, content_.dataWindows(txn, inode.blob, r.first, r.first + r.count));
    for (uint64_t d : data) subtract(m, d, d + 1);
  }
  const uint64_t after = countOf(m);
  if (after == before) return Status::OK();
  inode.reserved = fromMap(m);
  ACIDFS_ASSIGN_OR_RETURN(uint64_t total, lockTotal(txn));
  return adjustTotal(txn, total, -static_cast<int64_t>(before - after));
}

Status Reservations::release(Txn& txn, const InodeRecord& inode) {
  const uint64_t count = inode.reservedWindowCount();
  if (count == 0) return Status::OK();
  ACIDFS_ASSIGN_OR_RETURN(uint64_t total, lockTotal(txn));
  return adjustTotal(txn, total, -static_cast<int64_t>(count));
}

uint64_t Reservations::coveredBytes(const InodeRecord& inode, const std::map<uint64_t, std::string_view>& windows) const {
  if (inode.reserved.empty()) return 0;
  uint64_t covered = 0;
  for (const auto& [index, bytes] : windows) {
    auto it = std::upper_bound(inode.reserved.begin(), inode.reserved.end(), index,
                               [](uint64_t i, const ReservedWindows& r) { return i < r.first; });
    if (it != inode.reserved.begin() && index < std::prev(it)->first + std::prev(it)->count) covered += chunkSize_;
  }
  return covered;
}

}  // namespace acidfs
