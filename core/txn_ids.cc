#include "core/txn_ids.h"

#include <cerrno>
#include <vector>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/format.h"
#include "core/transaction.h"

namespace acidfs {

namespace {

constexpr std::string_view kRecordPrefix = "txnid/";
constexpr std::string_view kExpiryPrefix = "txnidx/";

std::string idPart(uint32_t uid, std::string_view txnId) {
  std::string k;
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>(uid >> (8 * i)));
  k.append(txnId);
  return k;
}

std::string recordKey(uint32_t uid, std::string_view txnId) { return std::string(kRecordPrefix) + idPart(uid, txnId); }

std::string expiryKey(int64_t expiresNs, std::string_view idPartBytes) {
  std::string k(kExpiryPrefix);
  appendBigEndian64(k, static_cast<uint64_t>(expiresNs));
  k.append(idPartBytes);
  return k;
}

struct StoredOutcome {
  TxnOutcome outcome;
  int64_t recordedNs = 0;
};

std::string encodeRecord(const TxnOutcome& outcome, int64_t recordedNs) {
  Encoder e;
  e.u32(static_cast<uint32_t>(outcome.errnum)).bytes(outcome.answer).i64(recordedNs);
  return e.take();
}

std::optional<StoredOutcome> decodeRecord(std::string_view in) {
  Decoder d(in);
  StoredOutcome s;
  uint32_t errnum = 0;
  if (!d.u32(errnum) || !d.bytes(s.outcome.answer) || !d.i64(s.recordedNs) || !d.done()) return std::nullopt;
  s.outcome.errnum = static_cast<int>(errnum);
  return s;
}

}  // namespace

Status TxnIds::validate(std::string_view txnId) {
  if (txnId.empty() || txnId.size() > kMaxTxnIdBytes)
    return Status::Error(EINVAL, "txnId must be 1 to " + std::to_string(kMaxTxnIdBytes) + " bytes");
  for (char c : txnId)
    if (c < 0x20 || c > 0x7e) return Status::Error(EINVAL, "txnId must be printable ASCII");
  return Status::OK();
}

bool TxnIds::isRecorded(int errnum) {
  switch (errnum) {
    case EIO: case ENOSPC: case EBUSY: case EAGAIN: case EINTR: case ETIMEDOUT: case ENOMEM: case EDEADLK:
      return false;
    default:
      return true;
  }
}

Result<std::optional<TxnOutcome>> TxnIds::recall(Txn& txn, uint32_t uid, std::string_view txnId) {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value,
                          txn.read(Column::kDefault, recordKey(uid, txnId), Txn::Lock::kExclusive));
  if (!value) return std::optional<TxnOutcome>();
  std::optional<StoredOutcome> stored = decodeRecord(*value);
  if (!stored) return Status::Error(EIO, "store corrupted: undecodable txnId record");
  if (stored->recordedNs + kTxnIdRetentionNs <= clock_.nowNs()) return std::optional<TxnOutcome>();  // expired
  return std::optional<TxnOutcome>(std::move(stored->outcome));
}

Status TxnIds::remember(Txn& txn, uint32_t uid, std::string_view txnId, const TxnOutcome& outcome) {
  const std::string key = recordKey(uid, txnId);
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> old, txn.read(Column::kDefault, key, Txn::Lock::kExclusive));
  const std::string id = idPart(uid, txnId);
  if (old) {  // an expired record the sweep has not reached: replaced with its expiry key
    std::optional<StoredOutcome> stored = decodeRecord(*old);
    if (!stored) return Status::Error(EIO, "store corrupted: undecodable txnId record");
    ACIDFS_RETURN_IF_ERROR(txn.del(Column::kDefault, expiryKey(stored->recordedNs + kTxnIdRetentionNs, id)));
  }
  const int64_t now = clock_.nowNs();
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kDefault, key, encodeRecord(outcome, now)));
  return txn.put(Column::kDefault, expiryKey(now + kTxnIdRetentionNs, id), "");
}

Status TxnIds::expire(TransactionRunner& runner, int64_t nowNs, size_t max, size_t& expired) {
  expired = 0;
  return runner.run([&](Txn& txn) -> Status {
    expired = 0;
    ACIDFS_ASSIGN_OR_RETURN(std::vector<std::string> due,
                            dueKeys(*txn.scan(Column::kDefault), kExpiryPrefix, nowNs, max, "txnIds"));
    for (const std::string& key : due) {
      // Locked: a repeat that replaces the record (remember) takes it once.
      ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> mark, txn.read(Column::kDefault, key, Txn::Lock::kExclusive));
      if (!mark) continue;
      const std::string record = std::string(kRecordPrefix) + key.substr(kExpiryPrefix.size() + 8);
      ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.read(Column::kDefault, record, Txn::Lock::kExclusive));
      if (value) ACIDFS_RETURN_IF_ERROR(txn.del(Column::kDefault, record));
      ACIDFS_RETURN_IF_ERROR(txn.del(Column::kDefault, key));
      ++expired;
    }
    return Status::OK();
  });
}

}  // namespace acidfs
