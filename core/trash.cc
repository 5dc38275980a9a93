#include "core/trash.h"

#include <atomic>

#include "core/caller.h"
#include "core/clock.h"
#include "core/content_store.h"
#include "core/encoding.h"
#include "core/format.h"
#include "core/meta_engine.h"
#include "core/random_bytes.h"
#include "core/transaction.h"

namespace acidfs {

namespace {
constexpr uint8_t kTrashRecordVersion = 1;
constexpr char kNameKind = 'n', kVersionKind = 'v', kExpiryKind = 'x';

std::string inverted(int64_t ns) {
  std::string out;
  appendBigEndian64(out, ~static_cast<uint64_t>(ns));
  return out;
}
}  // namespace

const char* dropCauseName(DropCause cause) {
  switch (cause) {
    case DropCause::kUnlink: return "unlink";
    case DropCause::kRmdir: return "rmdir";
    case DropCause::kRenamedOver: return "rename";
    case DropCause::kTruncate: return "truncate";
    case DropCause::kWrite: return "write";
  }
  return "unknown";
}

std::string TrashRecord::encode() const {
  Encoder e;
  e.u8(kTrashRecordVersion).u8(static_cast<uint8_t>(cause)).u64(ino).u32(mode).u32(uid).u32(gid).u64(size);
  e.i64(atimeNs).i64(mtimeNs).i64(ctimeNs).i64(droppedNs).i64(expiresNs);
  e.raw(blob.view()).raw(replacedBy.view()).bytes(symlinkTarget);
  return e.take();
}

std::optional<TrashRecord> TrashRecord::decode(std::string_view in) {
  Decoder d(in);
  TrashRecord r;
  uint8_t version = 0, cause = 0;
  std::string_view blob, replacedBy;
  if (!d.u8(version) || version != kTrashRecordVersion || !d.u8(cause) || cause < 1 || cause > 5) return std::nullopt;
  r.cause = static_cast<DropCause>(cause);
  if (!d.u64(r.ino) || !d.u32(r.mode) || !d.u32(r.uid) || !d.u32(r.gid) || !d.u64(r.size)) return std::nullopt;
  if (!d.i64(r.atimeNs) || !d.i64(r.mtimeNs) || !d.i64(r.ctimeNs) || !d.i64(r.droppedNs) || !d.i64(r.expiresNs))
    return std::nullopt;
  if (!d.raw(16, blob) || !d.raw(16, replacedBy) || !d.bytes(r.symlinkTarget) || !d.done()) return std::nullopt;
  r.blob = Id128::fromBytes(blob);
  r.replacedBy = Id128::fromBytes(replacedBy);
  return r;
}

namespace trashkeys {
std::string namesInPrefix(uint64_t dir) {
  std::string k(1, kNameKind);
  appendBigEndian64(k, dir);
  return k;
}
std::string namePrefix(uint64_t dir, std::string_view name) {
  std::string k = namesInPrefix(dir);
  k.append(name);
  k.push_back('\0');  // names hold no NUL: "a" never prefixes "ab"'s records
  return k;
}
std::string versionPrefix(uint64_t ino) {
  std::string k(1, kVersionKind);
  appendBigEndian64(k, ino);
  return k;
}
std::string expiry(int64_t expiresNs, std::string_view recordKey) {
  std::string k(1, kExpiryKind);
  appendBigEndian64(k, static_cast<uint64_t>(expiresNs));
  k.append(recordKey);
  return k;
}
}  // namespace trashkeys

Status Trash::keep(Txn& txn, const std::string& prefix, TrashRecord record) {
  int64_t keepFor = keepNs_;
  if (keepFor == 0) {
    // The trash is off, but while GC is frozen nothing may be reclaimed:
    // kept until the thaw (expire() then reclaims it at once).
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> frozen,
                            txn.read(Column::kDefault, kGcFrozenKey, Txn::Lock::kShared));
    if (!frozen) return Status::OK();
  }
  record.droppedNs = clock_.nowNs();
  record.expiresNs = record.droppedNs + keepFor;
  // The nonce tells apart two drops of one name in one clock tick: this
  // process's count of drops, inverted (the later first, as the time is),
  // then random bytes (another host's drops in the same tick).
  static std::atomic<uint32_t> drops{0};
  const uint32_t later = ~drops.fetch_add(1, std::memory_order_relaxed);
  const char count[4] = {static_cast<char>(later >> 24), static_cast<char>(later >> 16), static_cast<char>(later >> 8),
                         static_cast<char>(later)};
  const std::string key = prefix + inverted(record.droppedNs) + std::string(count, 4) + randomBytes(4);
  if (record.blob != Id128()) content_.addRef(txn, record.blob, +1);
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kTrash, key, record.encode()));
  return txn.put(Column::kTrash, trashkeys::expiry(record.expiresNs, key), "");
}

namespace {
// What a drop keeps of the inode it dropped from.
TrashRecord recordOf(uint64_t ino, const InodeRecord& inode, DropCause cause, const Id128& replacedBy) {
  TrashRecord r;
  r.cause = cause;
  r.ino = ino;
  r.mode = inode.mode;
  r.uid = inode.uid;
  r.gid = inode.gid;
  r.size = inode.size;
  r.atimeNs = inode.atimeNs;
  r.mtimeNs = inode.mtimeNs;
  r.ctimeNs = inode.ctimeNs;
  if (inode.isRegular()) {
    r.blob = inode.blob;
    r.replacedBy = replacedBy;
  }
  r.symlinkTarget = inode.symlinkTarget;
  return r;
}
}  // namespace

Status Trash::keepName(Txn& txn, uint64_t dir, std::string_view name, uint64_t ino, const InodeRecord& inode,
                       DropCause cause, const Id128& replacedBy) {
  return keep(txn, trashkeys::namePrefix(dir, name), recordOf(ino, inode, cause, replacedBy));
}

Status Trash::keepVersion(Txn& txn, uint64_t ino, const InodeRecord& before, DropCause cause,
                          const Id128& replacedBy) {
  // An empty file's content is nothing to get back.
  if (!before.isRegular() || before.blob == content_.emptyBlobId() || before.blob == replacedBy) return Status::OK();
  return keep(txn, trashkeys::versionPrefix(ino), recordOf(ino, before, cause, replacedBy));
}

Result<std::vector<TrashEntry>> Trash::listPrefix(const std::string& prefix) {
  std::vector<TrashEntry> out;
  auto it = db_.scan(Column::kTrash);
  for (it->seek(prefix); it->valid(); it->next()) {
    std::string key = MetaCursor::copyOut(it->key());
    if (!key.starts_with(prefix)) break;
    auto record = TrashRecord::decode(MetaCursor::copyOut(it->value()));
    if (!record) return Status::Error(EIO, "store corrupted: undecodable trash record");
    out.push_back(TrashEntry{std::move(key), std::move(*record)});
  }
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("listing the trash"));
  return out;
}

Result<std::vector<TrashEntry>> Trash::namesOf(uint64_t dir, std::string_view name) {
  return listPrefix(trashkeys::namePrefix(dir, name));
}

Result<std::vector<TrashEntry>> Trash::versionsOf(uint64_t ino) { return listPrefix(trashkeys::versionPrefix(ino)); }

bool TrashRecord::wasReadableBy(const Caller& caller) const {
  InodeRecord then;
  then.mode = mode;
  then.uid = uid;
  then.gid = gid;
  return mayAccess(caller, then, R_OK);
}

Result<Trash::Held> Trash::count() {
  Held held;
  auto it = db_.scan(Column::kTrash);
  for (it->seekToFirst(); it->valid(); it->next()) {
    if (!it->key().empty() && it->key()[0] == kExpiryKind) break;  // expiry keys sort last
    auto record = TrashRecord::decode(MetaCursor::copyOut(it->value()));
    if (!record) return Status::Error(EIO, "store corrupted: undecodable trash record");
    ++held.versions;
    if (S_ISREG(record->mode)) held.bytes += record->size;
  }
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("counting the trash"));
  return held;
}

Status Trash::expire(TransactionRunner& runner, int64_t nowNs, size_t max, size_t& expired) {
  expired = 0;
  return runner.run([&](Txn& txn) -> Status {
    expired = 0;
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> frozen,
                            txn.read(Column::kDefault, kGcFrozenKey, Txn::Lock::kShared));
    if (frozen) return Status::OK();  // gc --freeze: nothing is reclaimed
    ACIDFS_ASSIGN_OR_RETURN(std::vector<std::string> due,
                            dueKeys(*txn.scan(Column::kTrash), std::string(1, kExpiryKind), nowNs, max, "trash"));
    for (const std::string& expiryKey : due) {
      // Locked: a concurrent expire (another host) or undelete takes it once.
      ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> mark, txn.read(Column::kTrash, expiryKey, Txn::Lock::kExclusive));
      if (!mark) continue;
      const std::string recordKey = expiryKey.substr(9);
      ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.read(Column::kTrash, recordKey, Txn::Lock::kExclusive));
      if (value) {
        auto record = TrashRecord::decode(*value);
        if (!record) return Status::Error(EIO, "store corrupted: undecodable trash record");
        if (record->blob != Id128()) content_.addRef(txn, record->blob, -1);
        ACIDFS_RETURN_IF_ERROR(txn.del(Column::kTrash, recordKey));
      }
      ACIDFS_RETURN_IF_ERROR(txn.del(Column::kTrash, expiryKey));
      ++expired;
    }
    return Status::OK();
  });
}

}  // namespace acidfs
