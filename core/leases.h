// Leases (SPEC §4, PUT and COMMIT): a blob stored by PUT is held by a lease
// of the caller's until a COMMIT by the same caller consumes it or the lease
// expires. Each lease is one record (format.h: leases) and one reference on
// its blob, so GC never frees a blob somebody is about to commit, and a
// blobId alone grants nothing: a commit must find a lease of its own caller.
// Internal to core/.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/id128.h"
#include "core/status.h"
#include "core/thread_annotations.h"

namespace acidfs {

class Clock;
class ContentStore;
class TransactionRunner;
class Txn;

class Leases {
 public:
  Leases(TransactionRunner& runner, ContentStore& content, const Clock& clock, int64_t ttlNs);

  // Inside the PUT's transaction: a new lease of `uid` on `blob`, expiring
  // ttl from now, holding one reference.
  Status grant(Txn& txn, const Id128& blob, uint32_t uid);
  // Inside the COMMIT's transaction: takes one lease of `uid` on `blob` and
  // its reference. ENOENT when the caller holds none; Status::Retry when
  // every lease seen was consumed by a concurrent commit (ours may have been
  // granted after the transaction's iterator was made).
  Status consume(Txn& txn, const Id128& blob, uint32_t uid);
  // Frees the leases that expired before now, each in its own transaction.
  // Returns how many it freed.
  Result<uint64_t> expire();

 private:
  TransactionRunner& runner_;
  ContentStore& content_;
  const Clock& clock_;
  const int64_t ttlNs_;
  // Makes lease keys unique: starts at the clock's time so numbers never
  // repeat across restarts (they need not be ordered).
  std::atomic<uint64_t> nextLease_;

  // Where to look first: the numbers of the leases granted since start, by
  // blob and uid (keys::leasePrefix), so that a COMMIT reads its lease by
  // key instead of scanning for it. Each PUT and COMMIT pair leaves a
  // deletion marker in the leases column, which a prefix scan steps over
  // one by one until compaction drops it: the scan grew with every update
  // (22% of the daemon's time after 3,000 CAS updates in bench/cas_bench.py).
  // A hint is never trusted: the locked read of its key decides, and with
  // no live hint consume() scans as before. Added once a grant is committed,
  // removed once its lease is consumed, expired or found gone; all of them
  // dropped if they ever pass kMaxHints (leases nobody commits), which
  // costs only speed.
  static constexpr size_t kMaxHints = 1 << 16;
  std::vector<uint64_t> hintsFor(const std::string& prefix) EXCLUDES(hintsMutex_);
  void addHint(const std::string& prefix, uint64_t leaseNo) EXCLUDES(hintsMutex_);
  void dropHint(const std::string& prefix, uint64_t leaseNo) EXCLUDES(hintsMutex_);
  Mutex hintsMutex_;
  std::unordered_multimap<std::string, uint64_t> hints_ GUARDED_BY(hintsMutex_);
};

}  // namespace acidfs
