#include "core/leases.h"

#include "core/clock.h"
#include "core/content_store.h"
#include "core/encoding.h"
#include "core/format.h"
#include "core/transaction.h"

namespace acidfs {

Leases::Leases(TransactionRunner& runner, ContentStore& content, const Clock& clock, int64_t ttlNs)
    : runner_(runner), content_(content), clock_(clock), ttlNs_(ttlNs), nextLease_(static_cast<uint64_t>(clock.nowNs())) {}

Status Leases::grant(Txn& txn, const Id128& blob, uint32_t uid) {
  Encoder expiry;
  expiry.i64(clock_.nowNs() + ttlNs_);
  const uint64_t leaseNo = nextLease_++;
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kLeases, keys::lease(blob, uid, leaseNo), expiry.str()));
  content_.addRef(txn, blob, +1);
  txn.afterCommit.push_back([this, prefix = keys::leasePrefix(blob, uid), leaseNo] { addHint(prefix, leaseNo); });
  return Status::OK();
}

Status Leases::consume(Txn& txn, const Id128& blob, uint32_t uid) {
  const std::string prefix = keys::leasePrefix(blob, uid);
  for (uint64_t leaseNo : hintsFor(prefix)) {
    const std::string key = keys::lease(blob, uid, leaseNo);
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> lease, txn.read(Column::kLeases, key, Txn::Lock::kExclusive));
    if (!lease) {  // consumed or expired (lease numbers never come back)
      dropHint(prefix, leaseNo);
      continue;
    }
    ACIDFS_RETURN_IF_ERROR(txn.del(Column::kLeases, key));
    content_.addRef(txn, blob, -1);
    txn.afterCommit.push_back([this, prefix, leaseNo] { dropHint(prefix, leaseNo); });
    return Status::OK();
  }
  // No hint (granted before a restart, or hints dropped): scan.
  std::vector<std::string> candidates;
  auto it = txn.scan(Column::kLeases);
  for (it->seek(prefix); it->valid() && it->key().starts_with(prefix); it->next()) candidates.emplace_back(it->key());
  for (const std::string& key : candidates) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> lease, txn.read(Column::kLeases, key, Txn::Lock::kExclusive));
    if (!lease) continue;  // another commit consumed it meanwhile
    ACIDFS_RETURN_IF_ERROR(txn.del(Column::kLeases, key));
    content_.addRef(txn, blob, -1);
    return Status::OK();
  }
  if (!candidates.empty()) return Status::Retry("the leases seen were consumed concurrently");
  return Status::Error(ENOENT, "no pending blob " + blob.hex() + " of yours: put it first (leases expire)");
}

Result<uint64_t> Leases::expire() {
  const int64_t now = clock_.nowNs();
  uint64_t freed = 0;
  std::vector<std::string> keysToCheck;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    keysToCheck.clear();
    auto it = txn.scan(Column::kLeases);
    for (it->seekToFirst(); it->valid(); it->next()) {
      Decoder d(it->value());
      int64_t expiry = 0;
      if (d.i64(expiry) && expiry < now) keysToCheck.emplace_back(it->key());
    }
    return it->status().withContext("listing leases");
  }));
  for (const std::string& key : keysToCheck) {
    bool expiredNow = false;
    ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
      ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> lease, txn.read(Column::kLeases, key, Txn::Lock::kExclusive));
      expiredNow = lease.has_value();
      if (!lease) return Status::OK();  // committed meanwhile
      ACIDFS_RETURN_IF_ERROR(txn.del(Column::kLeases, key));
      content_.addRef(txn, Id128::fromBytes(std::string_view(key).substr(0, 16)), -1);
      return Status::OK();
    }));
    if (expiredNow) freed++;
    if (key.size() == 28) dropHint(key.substr(0, 20), readBigEndian64(std::string_view(key).substr(20)));  // format.h
  }
  return freed;
}

std::vector<uint64_t> Leases::hintsFor(const std::string& prefix) {
  std::vector<uint64_t> found;
  MutexLock lock(hintsMutex_);
  auto [first, last] = hints_.equal_range(prefix);
  for (auto it = first; it != last; ++it) found.push_back(it->second);
  return found;
}

void Leases::addHint(const std::string& prefix, uint64_t leaseNo) {
  MutexLock lock(hintsMutex_);
  if (hints_.size() >= kMaxHints) hints_.clear();
  hints_.emplace(prefix, leaseNo);
}

void Leases::dropHint(const std::string& prefix, uint64_t leaseNo) {
  MutexLock lock(hintsMutex_);
  auto [first, last] = hints_.equal_range(prefix);
  for (auto it = first; it != last; ++it) {
    if (it->second == leaseNo) {
      hints_.erase(it);
      return;
    }
  }
}

}  // namespace acidfs
