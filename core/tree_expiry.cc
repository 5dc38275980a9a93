// Tree's part of expiry (SPEC §11, core/expiry.h): the record, its index
// key and the inode's kExpires flag, set and cleared together.
#include <unistd.h>

#include "core/expiry.h"
#include "core/format.h"
#include "core/tree.h"
#include "core/virtual_xattrs.h"

namespace acidfs {

Status Tree::setExpiry(Txn& txn, uint64_t ino, InodeRecord& inode, int64_t expiresNs) {
  const std::string key = keys::xattr(ino, kExpiresAtXattr);
  if (expiresNs == 0) {
    if (!(inode.flags & InodeRecord::kExpires)) return Status::OK();
    inode.flags &= ~InodeRecord::kExpires;
    return txn.del(Column::kXattrs, key);  // its index key is dropped when due (expiry.h)
  }
  if (!inode.isRegular()) return Status::Error(EINVAL, "only regular files expire");
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kXattrs, key, ExpiryRecord{expiresNs, inode.blob}.encode()));
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kDefault, expirykeys::index(expiresNs, ino), ""));
  inode.flags |= InodeRecord::kExpires;
  return Status::OK();
}

Result<std::optional<ExpiryRecord>> Tree::loadExpiry(Txn& txn, uint64_t ino) {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value,
                          txn.read(Column::kXattrs, keys::xattr(ino, kExpiresAtXattr), Txn::Lock::kExclusive));
  if (!value) return std::optional<ExpiryRecord>();
  std::optional<ExpiryRecord> record = ExpiryRecord::decode(*value);
  if (!record) return Status::Error(EIO, "store corrupted: undecodable expiry of inode " + std::to_string(ino));
  return record;
}

Status Tree::mayExpire(Txn& txn, const Caller& caller, const InodeRecord& inode, std::string_view what) {
  if (inode.parent == 0) return Status::Error(EINVAL, std::string(what) + ": the file predates expiry; move it once");
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, loadInode(txn, inode.parent, Txn::Lock::kShared));
  if (!mayAccess(caller, dir, W_OK | X_OK))
    return Status::Error(EACCES, std::string(what) + ": its directory is not writable");
  if (!stickyAllows(caller, dir, inode)) return Status::Error(EPERM, std::string(what) + ": sticky directory");
  return Status::OK();
}

Result<std::optional<std::pair<std::string, DentryRecord>>> Tree::nameIn(Txn& txn, uint64_t dir, uint64_t ino) {
  ACIDFS_ASSIGN_OR_RETURN(auto entries, entriesOf(txn, dir));
  for (auto& entry : entries)
    if (entry.second.ino == ino) return std::optional<std::pair<std::string, DentryRecord>>(std::move(entry));
  return std::optional<std::pair<std::string, DentryRecord>>();
}

}  // namespace acidfs
