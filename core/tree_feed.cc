// Tree's part of the change feed (SPEC §11, core/feed.h): each step that
// changes a name or a file's content records it, with the paths as they
// are in the transaction, and who may see it.
#include "core/clock.h"
#include "core/feed.h"
#include "core/format.h"
#include "core/tree.h"

namespace acidfs {

Result<std::string> Tree::dirPath(Txn& txn, uint64_t dir) {
  if (dir == kRootIno) return std::string();
  uint64_t generation = 0;
  {
    MutexLock lock(dirPathsMutex_);
    if (auto it = dirPaths_.find(dir); it != dirPaths_.end()) return it->second;
    generation = dirPathsGeneration_;
  }
  // A walk up: each directory's parent and its name there.
  std::vector<std::string> names;
  uint64_t at = dir;
  std::string base;
  for (int depth = 0; at != kRootIno; ++depth) {
    if (depth > 4096) return Status::Error(ELOOP, "directory " + std::to_string(dir) + " is deeper than 4096");
    {
      MutexLock lock(dirPathsMutex_);
      if (auto it = dirPaths_.find(at); it != dirPaths_.end()) {
        base = it->second;
        break;
      }
    }
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.peek(Column::kInodes, keys::ino(at)));
    std::optional<InodeRecord> inode = value ? InodeRecord::decode(*value) : std::nullopt;
    if (!inode || !inode->isDir()) return Status::Error(EIO, "store corrupted: no directory " + std::to_string(at));
    std::string name = inode->name;
    if (name.empty()) {  // a directory made before names were kept: its entry in its parent
      ACIDFS_ASSIGN_OR_RETURN(auto entry, nameIn(txn, inode->parent, at));
      if (!entry) return Status::Error(EIO, "store corrupted: directory " + std::to_string(at) + " has no name");
      name = entry->first;
    }
    names.push_back(std::move(name));
    at = inode->parent;
  }
  std::string path = base;
  for (auto it = names.rbegin(); it != names.rend(); ++it) path += "/" + *it;
  MutexLock lock(dirPathsMutex_);
  if (dirPathsGeneration_ == generation) {
    if (dirPaths_.size() > 100'000) dirPaths_.clear();  // a bound, not a policy: walks are cheap
    dirPaths_.emplace(dir, path);
  }
  return path;
}

void Tree::forgetDirPaths() {
  MutexLock lock(dirPathsMutex_);
  ++dirPathsGeneration_;
  dirPaths_.clear();
}

Result<std::string> Tree::pathIn(Txn& txn, uint64_t dir, std::string_view name) {
  ACIDFS_ASSIGN_OR_RETURN(std::string path, dirPath(txn, dir));
  return path + "/" + std::string(name);
}

Status Tree::noteChange(Txn& txn, FeedOp op, uint64_t dir, const InodeRecord& dirInode, std::string_view name,
                        const InodeRecord& inode, const std::string& to) {
  if (!feedOn_) return Status::OK();
  FeedRecord r;
  r.op = op;
  r.timeNs = clock_.nowNs();
  r.uid = inode.uid;
  ACIDFS_ASSIGN_OR_RETURN(r.path, pathIn(txn, dir, name));
  r.to = to;
  if (inode.isRegular() && (op == FeedOp::kCreate || op == FeedOp::kWrite)) r.blob = inode.blob;
  r.dirMode = dirInode.mode;
  r.dirUid = dirInode.uid;
  r.dirGid = dirInode.gid;
  r.mode = inode.mode;
  r.fileGid = inode.gid;
  txn.appendFeed(r.encode());
  if (feedCommitted_ && !txn.feedWritten) txn.afterCommit.push_back(feedCommitted_);
  txn.feedWritten = true;
  // A directory removed: a cached path of it is wrong once this commits
  // (renames: Rename::finish, which sees both sides).
  if (op == FeedOp::kRmdir) txn.afterCommit.push_back([this] { forgetDirPaths(); });
  return Status::OK();
}

Status Tree::noteOfInode(Txn& txn, FeedOp op, uint64_t ino, const InodeRecord& inode) {
  if (!feedOn_ || inode.nlink == 0 || inode.parent == 0) return Status::OK();  // an orphan, or a file made before parents were kept
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.peek(Column::kInodes, keys::ino(inode.parent)));
  std::optional<InodeRecord> dir = value ? InodeRecord::decode(*value) : std::nullopt;
  if (!dir) return Status::OK();  // the directory it was made in is gone (the file lives on through a link)
  std::string name = inode.name;
  if (name.empty()) {
    ACIDFS_ASSIGN_OR_RETURN(auto entry, nameIn(txn, inode.parent, ino));
    if (!entry) return Status::OK();
    name = entry->first;
  }
  return noteChange(txn, op, inode.parent, *dir, name, inode);
}

}  // namespace acidfs
