#include "core/tree.h"

#include <sys/stat.h>

#include <algorithm>

#include "core/clock.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/reservations.h"

namespace acidfs {

Status noEntry(uint64_t dir, std::string_view name) {
  return Status::Error(ENOENT, "no entry '" + std::string(name) + "' in directory " + std::to_string(dir));
}

namespace {
// One past the largest inode number the store holds (at least the root's).
uint64_t firstFreeIno(MetaReader& db) {
  auto it = db.scan(Column::kInodes);
  it->seekToLast();
  if (it->valid() && it->key().size() == 8) return std::max<uint64_t>(kRootIno + 1, readBigEndian64(it->key()) + 1);
  return kRootIno + 1;
}
}  // namespace

Tree::Tree(ContentStore& content, Reservations& reservations, MetaEngine& engine, const Clock& clock)
    : content_(content), reservations_(reservations), clock_(clock), engine_(engine), inoFloor_(firstFreeIno(engine)) {}

Result<uint64_t> Tree::newIno() {
  MutexLock lock(inoMutex_);
  if (nextIno_ == inoEnd_) {
    ACIDFS_ASSIGN_OR_RETURN(nextIno_, engine_.allocate("ino", kInoBatch, inoFloor_));
    inoEnd_ = nextIno_ + kInoBatch;
  }
  return nextIno_++;
}

namespace {
// setInUseCheck's holders: one answer, "is it open", to every question.
class CheckHolders final : public InodeHolders {
 public:
  explicit CheckHolders(std::function<bool(uint64_t)> inUse) : inUse_(std::move(inUse)) {}
  bool keep(uint64_t ino, const InodeRecord&, LastName) override { return inUse_(ino); }
  void settled(uint64_t, const InodeRecord&, LastName, bool) override {}
  bool holds(uint64_t ino) override { return inUse_(ino); }

 private:
  const std::function<bool(uint64_t)> inUse_;
};
}  // namespace

void Tree::setInUseCheck(std::function<bool(uint64_t ino)> inUse) {
  checkHolders_ = inUse ? std::make_unique<CheckHolders>(std::move(inUse)) : nullptr;
  holders_ = checkHolders_.get();
}

Result<InodeRecord> Tree::loadInode(Txn& txn, uint64_t ino, Txn::Lock lock) {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.read(Column::kInodes, keys::ino(ino), lock));
  if (!value) return Status::Error(ENOENT, "no inode " + std::to_string(ino));
  auto inode = InodeRecord::decode(*value);
  if (!inode) return Status::Error(EIO, "store corrupted: undecodable inode " + std::to_string(ino));
  return std::move(*inode);
}

Status Tree::storeInode(Txn& txn, uint64_t ino, const InodeRecord& inode) {
  if (inode.isReadOnly()) return Status::Error(EROFS, "part of a read-only clone (acidfs clone --writable makes it writable)");
  return txn.put(Column::kInodes, keys::ino(ino), inode.encode());
}

Status Tree::storeEvenReadOnly(Txn& txn, uint64_t ino, const InodeRecord& inode) {
  return txn.put(Column::kInodes, keys::ino(ino), inode.encode());
}

Result<std::optional<DentryRecord>> Tree::loadDentry(Txn& txn, uint64_t dir, std::string_view name, Txn::Lock lock) {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.read(Column::kDentries, keys::dentry(dir, name), lock));
  if (!value) return std::optional<DentryRecord>();
  auto entry = DentryRecord::decode(*value);
  if (!entry) return Status::Error(EIO, "store corrupted: undecodable entry '" + std::string(name) + "'");
  return std::optional<DentryRecord>(*entry);
}

Status Tree::addEntry(Txn& txn, uint64_t dir, InodeRecord& dirInode, std::string_view name, uint64_t ino,
                      uint32_t type, std::optional<uint64_t> cookie) {
  DentryRecord entry{ino, cookie ? *cookie : dirInode.nextCookie++, type & S_IFMT};
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kDentries, keys::dentry(dir, name), entry.encode()));
  ACIDFS_RETURN_IF_ERROR(txn.put(Column::kCookies, keys::cookie(dir, entry.cookie), name));
  dirInode.mtimeNs = dirInode.ctimeNs = clock_.nowNs();
  return Status::OK();
}

Status Tree::removeEntry(Txn& txn, uint64_t dir, std::string_view name, const DentryRecord& entry) {
  ACIDFS_RETURN_IF_ERROR(txn.del(Column::kDentries, keys::dentry(dir, name)));
  return txn.del(Column::kCookies, keys::cookie(dir, entry.cookie));
}

Result<bool> Tree::dirIsEmpty(Txn& txn, uint64_t dir) {
  const std::string prefix = keys::ino(dir);
  auto it = txn.scan(Column::kDentries);
  it->seek(prefix);
  if (!it->status().ok()) return it->status().withContext("listing a directory");
  return !(it->valid() && it->key().starts_with(prefix));
}

Status Tree::deleteInode(Txn& txn, uint64_t ino, const InodeRecord& inode) {
  if (inode.isRegular()) content_.addRef(txn, inode.blob, -1);
  ACIDFS_RETURN_IF_ERROR(reservations_.release(txn, inode));
  const std::string prefix = keys::ino(ino);
  auto it = txn.scan(Column::kXattrs);
  std::vector<std::string> names;
  for (it->seek(prefix); it->valid() && it->key().starts_with(prefix); it->next()) names.emplace_back(it->key());
  for (const auto& key : names) ACIDFS_RETURN_IF_ERROR(txn.del(Column::kXattrs, key));
  ACIDFS_RETURN_IF_ERROR(txn.del(Column::kOrphans, keys::ino(ino)));
  return txn.del(Column::kInodes, keys::ino(ino));
}

Result<uint64_t> Tree::create(Txn& txn, const Caller& caller, uint64_t parent, std::string_view name,
                              InodeRecord inode) {
  ACIDFS_RETURN_IF_ERROR(validateName(name));
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, loadInode(txn, parent, Txn::Lock::kExclusive));
  if (!dir.isDir()) return Status::Error(ENOTDIR, "parent " + std::to_string(parent) + " is not a directory");
  if (dir.nlink == 0) return Status::Error(ENOENT, "parent directory was removed");
  ACIDFS_ASSIGN_OR_RETURN(std::optional<DentryRecord> existing, loadDentry(txn, parent, name, Txn::Lock::kExclusive));
  if (existing) return Status::Error(EEXIST, "'" + std::string(name) + "' exists");

  ACIDFS_ASSIGN_OR_RETURN(const uint64_t ino, newIno());
  inode.uid = caller.uid;
  inode.gid = caller.gid;
  if (dir.mode & S_ISGID) {  // setgid directory: its group, and setgid for subdirectories
    inode.gid = dir.gid;
    if (inode.isDir()) inode.mode |= S_ISGID;
  }
  if (!inode.isDir() && (inode.mode & S_ISGID) && !caller.isRoot() && !caller.inGroup(inode.gid))
    inode.mode &= ~S_ISGID;
  inode.atimeNs = inode.mtimeNs = inode.ctimeNs = clock_.nowNs();
  inode.parent = parent;
  inode.name = std::string(name);
  if (inode.isDir()) {
    inode.nlink = 2;
    dir.nlink++;
  } else {
    inode.nlink = 1;
  }
  if (inode.isRegular()) {
    inode.blob = content_.emptyBlobId();
    inode.size = 0;
  }
  ACIDFS_RETURN_IF_ERROR(storeInode(txn, ino, inode));
  ACIDFS_RETURN_IF_ERROR(addEntry(txn, parent, dir, name, ino, inode.mode));
  ACIDFS_RETURN_IF_ERROR(storeInode(txn, parent, dir));
  const FeedOp op = inode.isDir() ? FeedOp::kMkdir : inode.isSymlink() ? FeedOp::kSymlink : FeedOp::kCreate;
  ACIDFS_RETURN_IF_ERROR(noteChange(txn, op, parent, dir, name, inode));
  return ino;
}

Result<Unlinked> Tree::unlink(Txn& txn, uint64_t parent, std::string_view name, const DentryRecord& entry,
                              InodeHolders::LastName how) {
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, loadInode(txn, entry.ino, Txn::Lock::kExclusive));
  if (inode.isDir()) return Status::Error(EISDIR, "'" + std::string(name) + "' is a directory");
  ACIDFS_RETURN_IF_ERROR(keepName(txn, parent, name, entry.ino, inode, DropCause::kUnlink));
  ACIDFS_RETURN_IF_ERROR(removeEntry(txn, parent, name, entry));
  inode.nlink--;
  inode.ctimeNs = clock_.nowNs();
  if (inode.nlink == 0) return dropLastLink(txn, entry.ino, inode, how);
  if (inode.parent == parent && inode.name == name) {
    // Its recorded name went, another stays: one in the same directory, if
    // there is one; else none is known (the feed then reports its writes
    // under no path until a rename or link names it again: DESIGN.md 4.11).
    ACIDFS_ASSIGN_OR_RETURN(auto other, nameIn(txn, parent, entry.ino));
    inode.name = other ? other->first : std::string();
    if (!other) inode.parent = 0;
  }
  ACIDFS_RETURN_IF_ERROR(storeInode(txn, entry.ino, inode));
  return Unlinked{entry.ino, false, false};
}

Result<Unlinked> Tree::dropLastLink(Txn& txn, uint64_t ino, const InodeRecord& inode, InodeHolders::LastName how) {
  if (holders_ && holders_->keep(ino, inode, how)) {  // held: an orphan until its holders let go
    ACIDFS_RETURN_IF_ERROR(txn.put(Column::kOrphans, keys::ino(ino), orphanTag_));
    ACIDFS_RETURN_IF_ERROR(storeInode(txn, ino, inode));
    return Unlinked{ino, true, true};
  }
  if (holders_)
    txn.settle.push_back(
        [holders = holders_, ino, inode, how](bool committed) { holders->settled(ino, inode, how, committed); });
  ACIDFS_RETURN_IF_ERROR(deleteInode(txn, ino, inode));  // nobody holds it: gone in the same transaction
  return Unlinked{ino, true, false};
}

Status Tree::keepName(Txn& txn, uint64_t dir, std::string_view name, uint64_t ino, const InodeRecord& inode,
                      DropCause cause, const Id128& replacedBy) {
  if (feedOn_ && (cause == DropCause::kUnlink || cause == DropCause::kRmdir)) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.peek(Column::kInodes, keys::ino(dir)));
    std::optional<InodeRecord> dirInode = value ? InodeRecord::decode(*value) : std::nullopt;
    if (!dirInode) return Status::Error(EIO, "store corrupted: no directory " + std::to_string(dir));
    ACIDFS_RETURN_IF_ERROR(
        noteChange(txn, cause == DropCause::kRmdir ? FeedOp::kRmdir : FeedOp::kDelete, dir, *dirInode, name, inode));
  }
  if (!trash_) return Status::OK();
  return trash_->keepName(txn, dir, name, ino, inode, cause, replacedBy);
}

Status Tree::setBlob(Txn& txn, uint64_t ino, InodeRecord& inode, const Id128& blob, uint64_t size,
                     std::optional<DropCause> cause, int64_t mtimeNs) {
  if (trash_ && cause) ACIDFS_RETURN_IF_ERROR(trash_->keepVersion(txn, ino, inode, *cause, blob));
  content_.addRef(txn, blob, +1);
  content_.addRef(txn, inode.blob, -1);
  ACIDFS_ASSIGN_OR_RETURN(inode.allocatedBytes, content_.allocatedBytes(txn, blob));
  const uint64_t oldSize = inode.size;
  inode.blob = blob;
  inode.size = size;
  // Every content commit gets a new version, above the file's last one
  // (nextVersion's numbers only grow; max() holds it for a store whose
  // counter was somehow set back).
  ACIDFS_ASSIGN_OR_RETURN(const uint64_t version, engine_.nextVersion());
  inode.contentVersion = std::max(version, inode.contentVersion + 1);
  inode.ctimeNs = clock_.nowNs();
  inode.mtimeNs = mtimeNs ? mtimeNs : inode.ctimeNs;
  ACIDFS_RETURN_IF_ERROR(reservations_.contentChanged(txn, inode, oldSize));
  ACIDFS_RETURN_IF_ERROR(storeInode(txn, ino, inode));
  return noteOfInode(txn, FeedOp::kWrite, ino, inode);
}

}  // namespace acidfs
