// Tree::copyTree and Tree::setReadOnly (SPEC §10, `acidfs clone`): a copy
// of a tree, made inside one transaction, sharing every file's content.
//
// Consistency: each source directory's inode is locked shared before its
// entries are listed, and each file's before it is copied. Every change to
// a directory's entries takes its inode exclusively, as does every change
// to a file (tree.h), so no writer commits under the source between the
// first lock and our commit: the copy is the tree at one instant, and the
// transaction publishes it whole or not at all.
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/namespace.h"
#include "core/tree.h"
#include "core/virtual_xattrs.h"

namespace acidfs {

struct Tree::CloneWalk {
  const Caller& caller;
  bool readOnly;
  CloneCount& count;
  // Files with more than one name: the copy of each, stored at the end
  // with as many links as the copy gave it.
  struct Linked {
    uint64_t ino;
    InodeRecord inode;
  };
  std::unordered_map<uint64_t, Linked> linked;
};

namespace {

constexpr int kMaxCloneDepth = 4096;

std::string denied(const char* doing, uint64_t ino) {
  return std::string("cloning: ") + doing + " inode " + std::to_string(ino) + ": permission denied";
}

}  // namespace

Result<std::vector<std::pair<std::string, DentryRecord>>> Tree::entriesOf(Txn& txn, uint64_t dir) {
  std::vector<std::pair<std::string, DentryRecord>> entries;
  const std::string prefix = keys::ino(dir);
  auto it = txn.scan(Column::kDentries);
  for (it->seek(prefix); it->valid(); it->next()) {
    std::string key = MetaCursor::copyOut(it->key());
    if (!key.starts_with(prefix)) break;
    auto entry = DentryRecord::decode(MetaCursor::copyOut(it->value()));
    if (!entry) return Status::Error(EIO, "store corrupted: undecodable entry in directory " + std::to_string(dir));
    entries.emplace_back(key.substr(prefix.size()), *entry);
  }
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("listing directory " + std::to_string(dir)));
  return entries;
}

// The copy of `source` as `walk` makes it: its mode, size, content and
// times, owned by the caller (root keeps the owner, as cp -p would), never
// with the reservations fallocate made for the source.
InodeRecord Tree::copiedInode(const InodeRecord& source, const Caller& caller, bool readOnly) const {
  InodeRecord copy = source;
  copy.reserved.clear();
  copy.flags = readOnly ? InodeRecord::kReadOnly : 0;
  copy.ctimeNs = clock_.nowNs();
  if (!caller.isRoot()) {
    copy.uid = caller.uid;
    copy.gid = caller.gid;
    copy.mode &= ~(S_ISUID | S_ISGID);  // as cp drops them for a new owner
  }
  return copy;
}

Status Tree::copyEntries(Txn& txn, uint64_t sourceDir, const InodeRecord& sourceDirInode, uint64_t copyDir,
                         InodeRecord& copyDirInode, CloneWalk& walk, int depth) {
  if (depth > kMaxCloneDepth) return Status::Error(ELOOP, "the tree is deeper than 4096 directories");
  if (!mayAccess(walk.caller, sourceDirInode, R_OK | X_OK))
    return Status::Error(EACCES, denied("listing directory", sourceDir));
  // The directory's inode is locked (by our caller): its entries are stable.
  ACIDFS_ASSIGN_OR_RETURN(auto entries, entriesOf(txn, sourceDir));
  for (const auto& [name, entry] : entries) {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord source, loadInode(txn, entry.ino, Txn::Lock::kShared));
    uint64_t copyIno = 0;
    if (auto it = walk.linked.find(entry.ino); it != walk.linked.end()) {
      copyIno = it->second.ino;  // another name of a file copied already
      it->second.inode.nlink++;
    } else {
      ACIDFS_ASSIGN_OR_RETURN(copyIno, copyInode(txn, entry.ino, source, copyDir, name, walk, depth));
    }
    if (source.isDir()) copyDirInode.nlink++;
    ACIDFS_RETURN_IF_ERROR(txn.put(Column::kDentries, keys::dentry(copyDir, name),
                                   DentryRecord{copyIno, entry.cookie, entry.type}.encode()));
    ACIDFS_RETURN_IF_ERROR(txn.put(Column::kCookies, keys::cookie(copyDir, entry.cookie), name));
    ++walk.count.entries;
  }
  return Status::OK();
}

Result<uint64_t> Tree::copyInode(Txn& txn, uint64_t sourceIno, const InodeRecord& source, uint64_t copyParent,
                                 std::string_view copyName, CloneWalk& walk, int depth) {
  if ((S_ISCHR(source.mode) || S_ISBLK(source.mode)) && !walk.caller.isRoot())
    return Status::Error(EPERM, "cloning device node " + std::to_string(sourceIno) + ": only root makes device nodes");
  if (source.isRegular() && !mayAccess(walk.caller, source, R_OK))
    return Status::Error(EACCES, denied("reading file", sourceIno));
  ACIDFS_ASSIGN_OR_RETURN(const uint64_t ino, newIno());
  InodeRecord copy = copiedInode(source, walk.caller, walk.readOnly);
  // Extended attributes come along (the caller may read the file: above).
  {
    const std::string prefix = keys::ino(sourceIno);
    auto it = txn.scan(Column::kXattrs);
    for (it->seek(prefix); it->valid(); it->next()) {
      std::string key = MetaCursor::copyOut(it->key());
      if (!key.starts_with(prefix)) break;
      const std::string_view name = std::string_view(key).substr(prefix.size());
      if (name == kExpiresAtXattr) continue;  // a copy does not expire (SPEC §11): copiedInode drops the flag
      ACIDFS_RETURN_IF_ERROR(txn.put(Column::kXattrs, keys::xattr(ino, name), MetaCursor::copyOut(it->value())));
    }
    ACIDFS_RETURN_IF_ERROR(it->status().withContext("copying extended attributes"));
  }
  if (copy.isRegular()) {
    content_.addRef(txn, copy.blob, +1);  // the copy shares the content
    walk.count.bytes += copy.size;
  }
  copy.parent = copyParent;
  copy.name = std::string(copyName);
  if (copy.isDir()) {
    copy.nlink = 2;  // and one per subdirectory, as they are copied
    ACIDFS_RETURN_IF_ERROR(copyEntries(txn, sourceIno, source, ino, copy, walk, depth + 1));
  } else if (source.nlink > 1) {
    copy.nlink = 1;  // the names in the tree, counted as they are found
    walk.linked.emplace(sourceIno, CloneWalk::Linked{ino, copy});
    return ino;  // stored once every name is counted (copyTree)
  } else {
    copy.nlink = 1;
  }
  ACIDFS_RETURN_IF_ERROR(storeEvenReadOnly(txn, ino, copy));
  return ino;
}

Result<uint64_t> Tree::copyTree(Txn& txn, const Caller& caller, uint64_t sourceIno, uint64_t parent,
                                std::string_view name, bool readOnly, CloneCount& count) {
  ACIDFS_RETURN_IF_ERROR(validateName(name));
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, loadInode(txn, parent, Txn::Lock::kExclusive));
  if (!dir.isDir()) return Status::Error(ENOTDIR, "parent " + std::to_string(parent) + " is not a directory");
  if (dir.nlink == 0) return Status::Error(ENOENT, "parent directory was removed");
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord source, loadInode(txn, sourceIno, Txn::Lock::kShared));
  CloneWalk walk{caller, readOnly, count, {}};
  ACIDFS_ASSIGN_OR_RETURN(const uint64_t ino, copyInode(txn, sourceIno, source, parent, name, walk, 0));
  for (auto& [sourceFile, linked] : walk.linked) ACIDFS_RETURN_IF_ERROR(storeEvenReadOnly(txn, linked.ino, linked.inode));
  ++count.entries;
  if (source.isDir()) dir.nlink++;
  ACIDFS_RETURN_IF_ERROR(addEntry(txn, parent, dir, name, ino, source.mode));
  ACIDFS_RETURN_IF_ERROR(storeInode(txn, parent, dir));
  return ino;
}

Status Tree::setReadOnly(Txn& txn, const Caller& caller, uint64_t ino, bool readOnly, uint64_t& changed, int depth) {
  if (depth > kMaxCloneDepth) return Status::Error(ELOOP, "the tree is deeper than 4096 directories");
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, loadInode(txn, ino, Txn::Lock::kExclusive));
  // As chattr: the owner's (or root's) to change.
  if (!caller.isRoot() && caller.uid != inode.uid)
    return Status::Error(EPERM, "changing inode " + std::to_string(ino) + ": only its owner or root may");
  if (inode.isReadOnly() != readOnly) {
    inode.flags = readOnly ? (inode.flags | InodeRecord::kReadOnly) : (inode.flags & ~InodeRecord::kReadOnly);
    inode.ctimeNs = clock_.nowNs();
    ACIDFS_RETURN_IF_ERROR(storeEvenReadOnly(txn, ino, inode));
    ++changed;
  }
  if (!inode.isDir()) return Status::OK();
  ACIDFS_ASSIGN_OR_RETURN(auto entries, entriesOf(txn, ino));
  for (const auto& [name, entry] : entries)
    ACIDFS_RETURN_IF_ERROR(setReadOnly(txn, caller, entry.ino, readOnly, changed, depth + 1));
  return Status::OK();
}

}  // namespace acidfs
