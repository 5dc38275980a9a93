// rename(2) and renameat2(2) inside a transaction, in three steps:
//   check    — load and lock every inode the rename touches, and refuse
//              what POSIX refuses (flags, types, cycles, a non-empty
//              target) or the source's user.acidfs.dest_basis (SPEC §4.2);
//   exchange — RENAME_EXCHANGE: the two entries trade inodes;
//   replace  — otherwise: the target (if any) loses a link, the source's
//              entry moves (keeping a readdir cookie where it can: see there);
// and then every loaded inode is stored, once.
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "core/clock.h"
#include "core/format.h"
#include "core/tree.h"
#include "core/virtual_xattrs.h"

namespace acidfs {

class Tree::Rename {
 public:
  Rename(Tree& tree, Txn& txn, uint64_t parent, std::string_view name, uint64_t newParent, std::string_view newName,
         unsigned flags)
      : tree_(tree), txn_(txn), parent_(parent), name_(name), newParent_(newParent), newName_(newName), flags_(flags) {}

  // False when there is nothing to do: both names are links of one file.
  Result<bool> check(const Caller& caller);
  Status exchange(int64_t now);
  Result<std::optional<Unlinked>> replace(int64_t now);
  // Moves the times every rename moves and stores the loaded inodes.
  Status finish(int64_t now);

 private:
  // Every inode this rename touches is loaded once, locked exclusively, and
  // written back together by finish() (the two parents may be one directory).
  Result<InodeRecord*> inode(uint64_t ino);
  // Whether `start` is `dir` or below it: walks up with shared locks, so a
  // concurrent rename that would close a cycle must wait for us (or
  // deadlock and retry), as it writes one of these inodes.
  Result<bool> isInside(uint64_t dir, uint64_t start);
  bool exchanging() const { return flags_ & kRenameExchange; }

  Tree& tree_;
  Txn& txn_;
  const uint64_t parent_;
  const std::string_view name_;
  const uint64_t newParent_;
  const std::string_view newName_;
  const unsigned flags_;

  std::map<uint64_t, InodeRecord> inodes_;
  InodeRecord* from_ = nullptr;    // parent_'s inode
  InodeRecord* to_ = nullptr;      // newParent_'s inode
  InodeRecord* moved_ = nullptr;   // the source's inode
  InodeRecord* target_ = nullptr;  // the destination's inode, if it exists
  DentryRecord src_;
  std::optional<DentryRecord> dst_;
};

Result<InodeRecord*> Tree::Rename::inode(uint64_t ino) {
  auto it = inodes_.find(ino);
  if (it != inodes_.end()) return &it->second;
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord loaded, tree_.loadInode(txn_, ino, Txn::Lock::kExclusive));
  return &inodes_.emplace(ino, std::move(loaded)).first->second;
}

Result<bool> Tree::Rename::isInside(uint64_t dir, uint64_t start) {
  for (uint64_t cursor = start; cursor != kRootIno;) {
    if (cursor == dir) return true;
    auto known = inodes_.find(cursor);
    if (known != inodes_.end()) {
      cursor = known->second.parent;
      continue;
    }
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord up, tree_.loadInode(txn_, cursor, Txn::Lock::kShared));
    cursor = up.parent;
  }
  return dir == kRootIno;
}

Result<bool> Tree::Rename::check(const Caller& caller) {
  if ((flags_ & kRenameNoReplace) && (flags_ & kRenameExchange))
    return Status::Error(EINVAL, "RENAME_NOREPLACE and RENAME_EXCHANGE together");
  if (flags_ & ~(kRenameNoReplace | kRenameExchange)) return Status::Error(EINVAL, "unknown rename flags");
  ACIDFS_RETURN_IF_ERROR(validateName(name_));
  ACIDFS_RETURN_IF_ERROR(validateName(newName_));

  // Parents first, in inode order, so two renames between the same two
  // directories lock them in the same order.
  ACIDFS_ASSIGN_OR_RETURN(from_, inode(std::min(parent_, newParent_)));
  ACIDFS_ASSIGN_OR_RETURN(to_, inode(std::max(parent_, newParent_)));
  if (parent_ > newParent_) std::swap(from_, to_);
  if (!from_->isDir() || !to_->isDir()) return Status::Error(ENOTDIR, "rename parent is not a directory");
  if (to_->nlink == 0) return Status::Error(ENOENT, "target directory was removed");

  ACIDFS_ASSIGN_OR_RETURN(std::optional<DentryRecord> src, tree_.loadDentry(txn_, parent_, name_, Txn::Lock::kExclusive));
  if (!src) return noEntry(parent_, name_);
  src_ = *src;
  ACIDFS_ASSIGN_OR_RETURN(dst_, tree_.loadDentry(txn_, newParent_, newName_, Txn::Lock::kExclusive));
  if (exchanging() && !dst_) return noEntry(newParent_, newName_);
  if ((flags_ & kRenameNoReplace) && dst_) return Status::Error(EEXIST, "'" + std::string(newName_) + "' exists");
  if (dst_ && dst_->ino == src_.ino) return false;  // same file: POSIX says do nothing

  ACIDFS_ASSIGN_OR_RETURN(moved_, inode(src_.ino));
  if (dst_) {
    ACIDFS_ASSIGN_OR_RETURN(target_, inode(dst_->ino));
  }
  // user.acidfs.dest_basis on the source (SPEC §4.2): checked here, in the
  // rename's transaction, and consumed when the rename succeeds.
  // Read without a lock of its own: an inode's attributes change only under
  // its exclusive lock (setxattr, removexattr, a rename that consumes this
  // one), which we hold on the source already.
  const std::string basisKey = keys::xattr(src_.ino, kDestBasisXattr);
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> basis, txn_.peek(Column::kXattrs, basisKey));
  if (basis) {
    ACIDFS_RETURN_IF_ERROR(checkDestBasis(caller, *basis, target_, newName_));
    ACIDFS_RETURN_IF_ERROR(txn_.del(Column::kXattrs, basisKey));
  }

  // A directory may not move into its own subtree.
  if (moved_->isDir() && parent_ != newParent_) {
    ACIDFS_ASSIGN_OR_RETURN(bool cycle, isInside(src_.ino, newParent_));
    if (cycle) return Status::Error(EINVAL, "cannot move a directory into itself");
  }
  if (exchanging() && target_->isDir() && parent_ != newParent_) {
    ACIDFS_ASSIGN_OR_RETURN(bool cycle, isInside(dst_->ino, parent_));
    if (cycle) return Status::Error(EINVAL, "cannot move a directory into itself");
  }
  if (!exchanging() && target_) {
    if (moved_->isDir() && !target_->isDir()) return Status::Error(ENOTDIR, "cannot replace a file with a directory");
    if (!moved_->isDir() && target_->isDir()) return Status::Error(EISDIR, "cannot replace a directory with a file");
    if (target_->isDir()) {
      ACIDFS_ASSIGN_OR_RETURN(bool empty, tree_.dirIsEmpty(txn_, dst_->ino));
      if (!empty) return Status::Error(ENOTEMPTY, "target directory is not empty");
    }
  }
  return true;
}

Status Tree::Rename::exchange(int64_t now) {
  DentryRecord a = src_, b = *dst_;
  std::swap(a.ino, b.ino);
  std::swap(a.type, b.type);
  ACIDFS_RETURN_IF_ERROR(txn_.put(Column::kDentries, keys::dentry(parent_, name_), a.encode()));
  ACIDFS_RETURN_IF_ERROR(txn_.put(Column::kDentries, keys::dentry(newParent_, newName_), b.encode()));
  if (parent_ != newParent_) {
    if (moved_->isDir()) from_->nlink--, to_->nlink++;
    if (target_->isDir()) to_->nlink--, from_->nlink++;
  }
  moved_->parent = newParent_;
  moved_->name = std::string(newName_);
  target_->parent = parent_;
  target_->name = std::string(name_);
  target_->ctimeNs = now;
  // A move clears an expiry (SPEC §11): both files moved.
  ACIDFS_RETURN_IF_ERROR(tree_.clearExpiry(txn_, src_.ino, *moved_));
  return tree_.clearExpiry(txn_, dst_->ino, *target_);
}

Result<std::optional<Unlinked>> Tree::Rename::replace(int64_t now) {
  std::optional<Unlinked> replaced;
  if (target_) {
    ACIDFS_RETURN_IF_ERROR(tree_.keepName(txn_, newParent_, newName_, dst_->ino, *target_, DropCause::kRenamedOver,
                                          moved_->isRegular() ? moved_->blob : Id128()));
    if (target_->isDir()) {  // empty (checked): its ".." link to the parent goes too
      to_->nlink--;
      target_->nlink = 0;
    } else {
      target_->nlink--;
    }
    target_->ctimeNs = now;
    // Its entry and cookie are not deleted: addEntry below writes both keys
    // again (the name, and the cookie the moved entry takes over).
    replaced = Unlinked{dst_->ino, false, false};
    if (target_->nlink == 0) {
      ACIDFS_ASSIGN_OR_RETURN(replaced, tree_.dropLastLink(txn_, dst_->ino, *target_, InodeHolders::LastName::kReplaced));
      inodes_.erase(dst_->ino);  // stored or deleted already: not written back by finish()
      target_ = nullptr;
    }
  }
  // The moved entry's readdir cookie. A listing visits each cookie once, in
  // order, so a name listed once is listed again only under a new cookie:
  // onto an existing name, that name's cookie (it never stops existing);
  // within one directory, the source's (the entry keeps its place, and a
  // rename away and back cannot send it past a listing, xfstests
  // generic/736); into another directory, a new one, as any new name.
  std::optional<uint64_t> cookie;
  if (dst_) {
    cookie = dst_->cookie;
  } else if (parent_ == newParent_) {
    cookie = src_.cookie;
  }
  // The source's cookie record is rewritten by addEntry when the entry keeps
  // it, so only its name goes then (one record fewer to commit).
  if (parent_ == newParent_ && cookie == src_.cookie)
    ACIDFS_RETURN_IF_ERROR(txn_.del(Column::kDentries, keys::dentry(parent_, name_)));
  else
    ACIDFS_RETURN_IF_ERROR(tree_.removeEntry(txn_, parent_, name_, src_));
  ACIDFS_RETURN_IF_ERROR(tree_.addEntry(txn_, newParent_, *to_, newName_, src_.ino, moved_->mode, cookie));
  if (moved_->isDir() && parent_ != newParent_) {
    from_->nlink--;
    to_->nlink++;
  }
  moved_->parent = newParent_;
  moved_->name = std::string(newName_);
  ACIDFS_RETURN_IF_ERROR(tree_.clearExpiry(txn_, src_.ino, *moved_));  // a move clears an expiry (SPEC §11)
  return replaced;
}

Status Tree::Rename::finish(int64_t now) {
  moved_->ctimeNs = now;
  from_->mtimeNs = from_->ctimeNs = now;
  to_->mtimeNs = to_->ctimeNs = now;
  for (const auto& [ino, record] : inodes_) ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn_, ino, record));
  // A directory moved, swapped or replaced: cached paths under it go stale.
  if (moved_->isDir() || (target_ && target_->isDir())) txn_.afterCommit.push_back([tree = &tree_] { tree->forgetDirPaths(); });
  if (!tree_.feedOn()) return Status::OK();
  ACIDFS_ASSIGN_OR_RETURN(const std::string to, tree_.pathIn(txn_, newParent_, newName_));
  return tree_.noteChange(txn_, exchanging() ? FeedOp::kExchange : FeedOp::kRename, parent_, *from_, name_, *moved_, to);
}

Result<std::optional<Unlinked>> Tree::rename(Txn& txn, const Caller& caller, uint64_t parent, std::string_view name,
                                             uint64_t newParent, std::string_view newName, unsigned flags) {
  Rename rename(*this, txn, parent, name, newParent, newName, flags);
  ACIDFS_ASSIGN_OR_RETURN(bool needed, rename.check(caller));
  if (!needed) return std::optional<Unlinked>();
  const int64_t now = clock_.nowNs();
  std::optional<Unlinked> replaced;
  if (flags & kRenameExchange) {
    ACIDFS_RETURN_IF_ERROR(rename.exchange(now));
  } else {
    ACIDFS_ASSIGN_OR_RETURN(replaced, rename.replace(now));
  }
  ACIDFS_RETURN_IF_ERROR(rename.finish(now));
  return replaced;
}

}  // namespace acidfs
