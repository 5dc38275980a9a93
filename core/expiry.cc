#include "core/expiry.h"

#include <cstdint>
#include <vector>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/format.h"
#include "core/namespace.h"
#include "core/transaction.h"
#include "core/tree.h"

namespace acidfs {

std::string ExpiryRecord::encode() const {
  Encoder e;
  e.i64(expiresNs).raw(blob.view());
  return e.take();
}

std::optional<ExpiryRecord> ExpiryRecord::decode(std::string_view in) {
  Decoder d(in);
  ExpiryRecord r;
  std::string_view blob;
  if (!d.i64(r.expiresNs) || !d.raw(16, blob) || !d.done() || r.expiresNs <= 0) return std::nullopt;
  r.blob = Id128::fromBytes(blob);
  return r;
}

std::string expirykeys::index(int64_t expiresNs, uint64_t ino) {
  std::string k(kIndexPrefix);
  appendBigEndian64(k, static_cast<uint64_t>(expiresNs));
  appendBigEndian64(k, ino);
  return k;
}

Result<uint64_t> Expiries::fire(int64_t nowNs, const Deleted& deleted) {
  // The due keys, read first: each then gets a transaction of its own, so
  // that one file's deletion never waits on another's locks.
  ACIDFS_ASSIGN_OR_RETURN(std::vector<std::string> due, dueKeys(*db_.scan(Column::kDefault), expirykeys::kIndexPrefix,
                                                                 nowNs, SIZE_MAX, "expiries"));
  uint64_t count = 0;
  for (const std::string& key : due) {
    if (key.size() != expirykeys::kIndexPrefix.size() + 16) break;  // not an index key: past the index
    std::optional<std::pair<uint64_t, std::string>> gone;
    uint64_t ino = 0;
    ACIDFS_RETURN_IF_ERROR(fireOne(key, gone, ino));
    if (!gone) continue;
    ++count;
    if (deleted) deleted(gone->first, gone->second, ino);
  }
  return count;
}

Status Expiries::fireOne(const std::string& indexKey, std::optional<std::pair<uint64_t, std::string>>& gone,
                         uint64_t& ino) {
  const std::string_view rest = std::string_view(indexKey).substr(expirykeys::kIndexPrefix.size());
  const int64_t dueNs = static_cast<int64_t>(readBigEndian64(rest.substr(0, 8)));
  ino = readBigEndian64(rest.substr(8, 8));
  std::optional<Unlinked> unlinked;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    gone.reset();
    unlinked.reset();
    // Locked: another host's sweep takes the key once.
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> mark, txn.read(Column::kDefault, indexKey, Txn::Lock::kExclusive));
    if (!mark) return Status::OK();
    ACIDFS_RETURN_IF_ERROR(txn.del(Column::kDefault, indexKey));
    Result<InodeRecord> loaded = tree_.loadInode(txn, ino, Txn::Lock::kExclusive);
    if (loaded.status().errnum() == ENOENT) return Status::OK();  // the file went meanwhile
    ACIDFS_RETURN_IF_ERROR(loaded.status());
    InodeRecord& inode = *loaded;
    if (!(inode.flags & InodeRecord::kExpires) || inode.nlink == 0) return Status::OK();
    ACIDFS_ASSIGN_OR_RETURN(std::optional<ExpiryRecord> expiry, tree_.loadExpiry(txn, ino));
    if (!expiry || expiry->expiresNs != dueNs) return Status::OK();  // a stale key: set again or cleared since
    // The check SPEC §11 names: the content it held when the expiry was set.
    // Changed since: the file stays, and so does nothing of its expiry.
    std::optional<std::pair<std::string, DentryRecord>> name;
    if (inode.blob == expiry->blob && inode.parent != 0) {
      ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, tree_.loadInode(txn, inode.parent, Txn::Lock::kExclusive));
      if (dir.isDir() && dir.nlink > 0) {
        ACIDFS_ASSIGN_OR_RETURN(name, tree_.nameIn(txn, inode.parent, ino));
      }
      if (name) {
        ACIDFS_RETURN_IF_ERROR(tree_.clearExpiry(txn, ino, inode));
        ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, ino, inode));  // before the unlink, which stores it again
        ACIDFS_ASSIGN_OR_RETURN(unlinked, tree_.unlink(txn, inode.parent, name->first, name->second,
                                                       InodeHolders::LastName::kRemoved));
        dir.mtimeNs = dir.ctimeNs = tree_.clock().nowNs();
        ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, inode.parent, dir));
        gone.emplace(inode.parent, name->first);
        return Status::OK();
      }
    }
    ACIDFS_RETURN_IF_ERROR(tree_.clearExpiry(txn, ino, inode));
    return tree_.storeInode(txn, ino, inode);
  }));
  if (unlinked) ns_.releaseIfUnused(*unlinked);
  return Status::OK();
}

}  // namespace acidfs
