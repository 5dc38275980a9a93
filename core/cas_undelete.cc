// CasOps::undelete (SPEC §10): a version from the trash back at a path, in
// one transaction, with the destination's basis `null` unless forced.
#include <map>

#include "core/cas_ops.h"
#include "core/clock.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/transaction.h"
#include "core/trash.h"
#include "core/tree.h"

namespace acidfs {

// The newest record of each name a removed directory held (keyed by its old
// inode number): what was in it when it went. Unlocked: records are only
// ever added or expired, and each one restored is read again locked.
static Result<std::map<std::string, std::string>> namesIn(Txn& txn, uint64_t oldDir) {
  std::map<std::string, std::string> newest;  // name → record key
  const std::string prefix = trashkeys::namesInPrefix(oldDir);
  auto it = txn.scan(Column::kTrash);
  for (it->seek(prefix); it->valid(); it->next()) {
    std::string key = MetaCursor::copyOut(it->key());
    if (!key.starts_with(prefix)) break;
    const size_t end = key.find('\0', prefix.size());
    if (end == std::string::npos) continue;  // malformed (fsck reports it)
    // Within a name, records sort newest first: the first seen wins.
    newest.try_emplace(key.substr(prefix.size(), end - prefix.size()), std::move(key));
  }
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("listing a removed directory"));
  return newest;
}

Status CasOps::restore(Txn& txn, const Caller& caller, const std::string& key, uint64_t parent, std::string_view name,
                       int depth) {
  if (depth > 4096) return Status::Error(ELOOP, "the removed tree is deeper than 4096 directories");
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.read(Column::kTrash, key, Txn::Lock::kShared));
  if (!value) return Status::Error(ENOENT, "that version is no longer in the trash");
  auto record = TrashRecord::decode(*value);
  if (!record) return Status::Error(EIO, "store corrupted: undecodable trash record");
  if (!record->wasReadableBy(caller))
    return Status::Error(EACCES, "restoring '" + std::string(name) + "': its version was not readable to you");
  InodeRecord fresh;
  fresh.mode = record->mode;
  if (S_ISLNK(record->mode)) {
    fresh.symlinkTarget = record->symlinkTarget;
    fresh.size = record->symlinkTarget.size();
  }
  ACIDFS_ASSIGN_OR_RETURN(uint64_t ino, tree_.create(txn, caller, parent, name, fresh));
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, tree_.loadInode(txn, ino, Txn::Lock::kExclusive));
  if (caller.isRoot()) {  // others keep the new file as their own (chown is root's)
    inode.uid = record->uid;
    inode.gid = record->gid;
  }
  inode.mode = record->mode;
  if (S_ISREG(record->mode)) {
    // The trash keeps its own reference; the file takes one more.
    ACIDFS_RETURN_IF_ERROR(tree_.setBlob(txn, ino, inode, record->blob, record->size, std::nullopt, record->mtimeNs));
  }
  inode.atimeNs = record->atimeNs;
  inode.mtimeNs = record->mtimeNs;
  ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, ino, inode));
  if (!S_ISDIR(record->mode)) return Status::OK();
  // tree_.create loads and stores the directory as each child goes in.
  ACIDFS_ASSIGN_OR_RETURN(auto children, namesIn(txn, record->ino));
  for (const auto& [childName, childKey] : children)
    ACIDFS_RETURN_IF_ERROR(restore(txn, caller, childKey, ino, childName, depth + 1));
  if (children.empty()) return Status::OK();
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord filled, tree_.loadInode(txn, ino, Txn::Lock::kExclusive));
  filled.mtimeNs = record->mtimeNs;  // its children moved it
  return tree_.storeInode(txn, ino, filled);
}

Result<PathStat> CasOps::undelete(const Caller& caller, const std::string& key, std::string_view dest, bool force) {
  PathStat result;
  std::optional<Unlinked> replaced;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    replaced.reset();
    ACIDFS_ASSIGN_OR_RETURN(Resolved dst, resolve(txn, caller, dest, Access::kWrite));
    if (dst.name.empty()) return Status::Error(EEXIST, "the root cannot be restored over");
    if (!dst.parentInode.isDir()) return Status::Error(ENOTDIR, "parent of '" + std::string(dest) + "' is not a directory");
    if (!mayAccess(caller, dst.parentInode, W_OK | X_OK)) return denied("creating", dest);
    if (dst.entry) {
      ACIDFS_ASSIGN_OR_RETURN(InodeRecord there, tree_.loadInode(txn, dst.entry->ino, Txn::Lock::kExclusive));
      if (!force) return conflict(ConflictCode::kDestExists, dest, std::nullopt, caller, &there, 1);
      if (there.isDir()) return Status::Error(EISDIR, "'" + std::string(dest) + "' is a directory: --force replaces files only");
      if (!stickyAllows(caller, dst.parentInode, there))
        return Status::Error(EPERM, "sticky directory: cannot replace '" + std::string(dest) + "'");
      ACIDFS_ASSIGN_OR_RETURN(Unlinked gone, tree_.unlink(txn, dst.parent, dst.name, *dst.entry,
                                                          InodeHolders::LastName::kReplaced));
      replaced = gone;
    }
    // tree_.create stores the parent (its entries and times) itself.
    ACIDFS_RETURN_IF_ERROR(restore(txn, caller, key, dst.parent, dst.name, 0));
    ACIDFS_ASSIGN_OR_RETURN(std::optional<DentryRecord> made, tree_.loadDentry(txn, dst.parent, dst.name, Txn::Lock::kShared));
    if (!made) return Status::Error(EIO, "the restored entry is missing");
    result.path.assign(dest);
    result.ino = made->ino;
    ACIDFS_ASSIGN_OR_RETURN(result.inode, tree_.loadInode(txn, made->ino, Txn::Lock::kShared));
    if (result.inode.isRegular()) result.blob = result.inode.blob;
    return Status::OK();
  }));
  if (replaced) ns_.releaseIfUnused(*replaced);
  return result;
}

}  // namespace acidfs
