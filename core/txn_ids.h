// Idempotent requests (SPEC §11): a TRANSACT or COMMIT may carry a txnId;
// the first request's outcome is recorded, and a repeat by the same uid
// within 24 h applies nothing and gets that outcome back — so a client that
// lost a reply (a killed tool, a daemon restart, a failover) retries safely.
//
// Records live in the `default` column (format.h):
//   "txnid/"  ‖ uid(4) ‖ txnId                 → TxnOutcome ‖ recordedNs(8)
//   "txnidx/" ‖ expiresNs(8) ‖ uid(4) ‖ txnId  → ""   (expiry index, time order)
// A success's record is written in the request's own transaction, so the
// effects and the record land together or not at all; a failure's (a
// conflict, a refusal) in a transaction of its own, after it, only if no
// record is there by then. Transient failures (EIO, ENOSPC, EBUSY, ...)
// are not recorded: nothing was applied, and a retry should try again.
//
// Invariant: every record has exactly one expiry key, with the expiry
// recordedNs + kTxnIdRetentionNs; both are written and deleted together.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace acidfs {

class Clock;
class TransactionRunner;
class Txn;

inline constexpr int64_t kTxnIdRetentionNs = 24ll * 3600 * 1'000'000'000;
inline constexpr size_t kMaxTxnIdBytes = 64;

// What a request answered: an errno (0: success) and the answer's bytes as
// the door sent them (its JSON), replayed as they were.
struct TxnOutcome {
  int errnum = 0;
  std::string answer;
};

class TxnIds {
 public:
  explicit TxnIds(const Clock& clock) : clock_(clock) {}

  // EINVAL unless 1–64 bytes, each printable ASCII (0x20–0x7e).
  static Status validate(std::string_view txnId);
  // Whether a failure with this errno is recorded (not a transient one).
  static bool isRecorded(int errnum);

  // Inside the request's transaction: the outcome recorded for `uid`'s
  // `txnId` within the retention, or nullopt. Locks the record's key
  // exclusively, present or absent: a concurrent repeat waits for this
  // transaction and then finds its record.
  Result<std::optional<TxnOutcome>> recall(Txn& txn, uint32_t uid, std::string_view txnId);
  // Inside the same transaction, after recall(): records `outcome`,
  // replacing an expired record.
  Status remember(Txn& txn, uint32_t uid, std::string_view txnId, const TxnOutcome& outcome);

  // Deletes the records that expired by `nowNs`, up to `max` of them in one
  // transaction; sets `expired` to how many.
  Status expire(TransactionRunner& runner, int64_t nowNs, size_t max, size_t& expired);

 private:
  const Clock& clock_;
};

}  // namespace acidfs
