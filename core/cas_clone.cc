// CasOps::clone and CasOps::setCloneWritable (SPEC §10, `acidfs clone`): a
// point-in-time copy of a tree, published under its name with the basis
// `null`, in the one transaction that read the source (Tree::copyTree).
#include "core/cas_ops.h"
#include "core/transaction.h"
#include "core/tree.h"

namespace acidfs {

namespace {
// Whether path `inner` is `outer` or lies under it (both validated: no
// empty, "." or ".." component, so the comparison is of names).
bool isWithin(std::string_view inner, std::string_view outer) {
  if (outer == "/") return true;
  return inner == outer || (inner.starts_with(outer) && inner[outer.size()] == '/');
}
}  // namespace

Result<CloneResult> CasOps::clone(const Caller& caller, std::string_view source, std::string_view dest, bool readOnly) {
  if (isWithin(dest, source))
    return Status::Error(EINVAL, "cannot clone '" + std::string(source) + "' into itself ('" + std::string(dest) + "')");
  CloneResult result;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    result = CloneResult{};
    ACIDFS_ASSIGN_OR_RETURN(Resolved from, resolve(txn, caller, source, Access::kRead));
    if (!from.entry) return Status::Error(ENOENT, "'" + std::string(source) + "' does not exist");
    ACIDFS_ASSIGN_OR_RETURN(Resolved to, resolve(txn, caller, dest, Access::kWrite));
    if (to.name.empty()) return Status::Error(EEXIST, "the root cannot be cloned over");
    if (!to.parentInode.isDir()) return Status::Error(ENOTDIR, "parent of '" + std::string(dest) + "' is not a directory");
    if (to.entry) {  // the basis is null: DST appears whole or not at all, never over something
      ACIDFS_ASSIGN_OR_RETURN(InodeRecord there, tree_.loadInode(txn, to.entry->ino, Txn::Lock::kShared));
      return conflict(ConflictCode::kDestExists, dest, std::nullopt, caller, &there, 1);
    }
    if (!mayAccess(caller, to.parentInode, W_OK | X_OK)) return denied("creating", dest);
    Tree::CloneCount count;
    ACIDFS_ASSIGN_OR_RETURN(result.stat.ino,
                            tree_.copyTree(txn, caller, from.entry->ino, to.parent, to.name, readOnly, count));
    ACIDFS_ASSIGN_OR_RETURN(result.stat.inode, tree_.loadInode(txn, result.stat.ino, Txn::Lock::kShared));
    result.stat.path.assign(dest);
    if (result.stat.inode.isRegular()) result.stat.blob = result.stat.inode.blob;
    result.entries = count.entries;
    result.bytes = count.bytes;
    return Status::OK();
  }));
  return result;
}

Result<uint64_t> CasOps::setCloneWritable(const Caller& caller, std::string_view path) {
  uint64_t changed = 0;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    changed = 0;
    ACIDFS_ASSIGN_OR_RETURN(Resolved at, resolve(txn, caller, path, Access::kRead));
    if (!at.entry) return Status::Error(ENOENT, "'" + std::string(path) + "' does not exist");
    return tree_.setReadOnly(txn, caller, at.entry->ino, /*readOnly=*/false, changed);
  }));
  return changed;
}

}  // namespace acidfs
