#include "core/namespace.h"

#include <sys/xattr.h>

#include <algorithm>

#include "core/clock.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/log.h"
#include "core/meta_engine.h"
#include "core/reservations.h"
#include "core/transaction.h"
#include "core/tree.h"
#include "core/virtual_xattrs.h"

namespace acidfs {

namespace {
constexpr uint32_t kLinkMax = 65000;
}  // namespace

Status validateName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return Status::Error(EINVAL, "invalid file name '" + std::string(name) + "'");
  if (name.size() > kNameMax)
    return Status::Error(ENAMETOOLONG, "file name longer than 255 bytes");
  return Status::OK();
}

Namespace::Namespace(TransactionRunner& runner, Tree& tree, ContentStore& content, MetaReader& db)
    : runner_(runner), tree_(tree), content_(content), db_(db) {}

const Clock& Namespace::clock() const { return tree_.clock(); }

void Namespace::setInUseCheck(std::function<bool(uint64_t ino)> inUse) { tree_.setInUseCheck(std::move(inUse)); }
void Namespace::setInodeHolders(InodeHolders* holders) { tree_.setHolders(holders); }

void Namespace::releaseIfUnused(const Unlinked& unlinked) {
  // Orphans whose holder let go during the operation (otherwise the
  // holder releases them).
  if (!unlinked.orphaned || tree_.inUse(unlinked.ino)) return;
  Status s = releaseOrphan(unlinked.ino);
  if (!s.ok()) ACIDFS_LOG(kWarning, "freeing inode %llu failed: %s", static_cast<unsigned long long>(unlinked.ino),
                          s.toString().c_str());
}

// ---- operations ------------------------------------------------------------

Result<std::optional<std::string>> Namespace::get(Column c, std::string_view key, Freshness freshness) {
  return freshness == Freshness::kRecent ? db_.getRecent(c, key) : db_.get(c, key);
}

Result<Attr> Namespace::getattr(uint64_t ino, Freshness freshness) {
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, get(Column::kInodes, keys::ino(ino), freshness));
  if (!value) return Status::Error(ENOENT, "no inode " + std::to_string(ino));
  auto inode = InodeRecord::decode(*value);
  if (!inode) return Status::Error(EIO, "store corrupted: undecodable inode " + std::to_string(ino));
  return Attr{ino, std::move(*inode)};
}

Result<Attr> Namespace::lookup(uint64_t parent, std::string_view name, Freshness freshness) {
  if (name != "." && name != "..") ACIDFS_RETURN_IF_ERROR(validateName(name));
  ACIDFS_ASSIGN_OR_RETURN(Attr dir, getattr(parent, freshness));
  if (!dir.inode.isDir()) return Status::Error(ENOTDIR, "not a directory");
  if (name == ".") return dir;
  if (name == "..") return getattr(parent == kRootIno ? kRootIno : dir.inode.parent, freshness);
  // The entry and its inode are two reads, not one snapshot: a rename that
  // replaces the name can delete the inode in between. rename(2) promises
  // the name never vanishes, so read the entry again and follow it.
  uint64_t previous = 0;
  for (int attempt = 0; attempt < 64; ++attempt) {
    // A cached entry naming a removed inode is answered by the database.
    const Freshness entryFreshness = attempt == 0 ? freshness : Freshness::kLatest;
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value,
                            get(Column::kDentries, keys::dentry(parent, name), entryFreshness));
    if (!value) return noEntry(parent, name);
    auto entry = DentryRecord::decode(*value);
    if (!entry) return Status::Error(EIO, "store corrupted: undecodable entry");
    auto attr = getattr(entry->ino, entryFreshness);
    if (attr.ok() || attr.status().errnum() != ENOENT) return attr;
    if (entry->ino == previous)
      return Status::Error(EIO, "store corrupted: entry '" + std::string(name) + "' names missing inode " + std::to_string(previous));
    previous = entry->ino;
  }
  return Status::Error(EBUSY, "entry '" + std::string(name) + "' keeps changing");
}

Result<Attr> Namespace::mknod(const Caller& caller, uint64_t parent, std::string_view name, uint32_t mode,
                              uint64_t rdev) {
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR && type != S_IFBLK)
    return Status::Error(EINVAL, "mknod of an unsupported file type");
  InodeRecord inode;
  inode.mode = type | (mode & 07777);
  inode.rdev = (type == S_IFCHR || type == S_IFBLK) ? rdev : 0;
  uint64_t ino = 0;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(ino, tree_.create(txn, caller, parent, name, inode));
    return Status::OK();
  }));
  return getattr(ino, Freshness::kRecent);  // the cache holds what we committed
}

Result<Attr> Namespace::mkdir(const Caller& caller, uint64_t parent, std::string_view name, uint32_t mode) {
  InodeRecord inode;
  inode.mode = S_IFDIR | (mode & (07777 & ~S_ISUID));
  uint64_t ino = 0;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(ino, tree_.create(txn, caller, parent, name, inode));
    return Status::OK();
  }));
  return getattr(ino, Freshness::kRecent);  // the cache holds what we committed
}

Result<Attr> Namespace::symlink(const Caller& caller, uint64_t parent, std::string_view name, std::string_view target) {
  if (target.empty()) return Status::Error(ENOENT, "empty symlink target");
  if (target.size() > kSymlinkMax) return Status::Error(ENAMETOOLONG, "symlink target longer than 4095 bytes");
  InodeRecord inode;
  inode.mode = S_IFLNK | 0777;
  inode.symlinkTarget.assign(target);
  inode.size = target.size();
  uint64_t ino = 0;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(ino, tree_.create(txn, caller, parent, name, inode));
    return Status::OK();
  }));
  return getattr(ino, Freshness::kRecent);  // the cache holds what we committed
}

Result<Attr> Namespace::link(uint64_t ino, uint64_t newParent, std::string_view newName) {
  ACIDFS_RETURN_IF_ERROR(validateName(newName));
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, tree_.loadInode(txn, newParent, Txn::Lock::kExclusive));
    if (!dir.isDir()) return Status::Error(ENOTDIR, "link target parent is not a directory");
    if (dir.nlink == 0) return Status::Error(ENOENT, "parent directory was removed");
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, tree_.loadInode(txn, ino, Txn::Lock::kExclusive));
    if (inode.isDir()) return Status::Error(EPERM, "hard links to directories are not allowed");
    if (inode.nlink == 0) return Status::Error(ENOENT, "the file was removed");
    if (inode.nlink >= kLinkMax) return Status::Error(EMLINK, "too many links");
    ACIDFS_ASSIGN_OR_RETURN(std::optional<DentryRecord> existing, tree_.loadDentry(txn, newParent, newName, Txn::Lock::kExclusive));
    if (existing) return Status::Error(EEXIST, "'" + std::string(newName) + "' exists");
    ACIDFS_RETURN_IF_ERROR(tree_.addEntry(txn, newParent, dir, newName, ino, inode.mode));
    ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, newParent, dir));
    inode.nlink++;
    inode.ctimeNs = tree_.clock().nowNs();
    inode.parent = newParent;  // the name the feed and expiry find it by: the newest
    inode.name = std::string(newName);
    ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, ino, inode));
    return tree_.noteChange(txn, FeedOp::kLink, newParent, dir, newName, inode);
  }));
  return getattr(ino, Freshness::kRecent);  // the cache holds what we committed
}

Result<Unlinked> Namespace::unlink(uint64_t parent, std::string_view name) {
  ACIDFS_RETURN_IF_ERROR(validateName(name));
  Unlinked result;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, tree_.loadInode(txn, parent, Txn::Lock::kExclusive));
    if (!dir.isDir()) return Status::Error(ENOTDIR, "not a directory");
    ACIDFS_ASSIGN_OR_RETURN(std::optional<DentryRecord> entry, tree_.loadDentry(txn, parent, name, Txn::Lock::kExclusive));
    if (!entry) return noEntry(parent, name);
    ACIDFS_ASSIGN_OR_RETURN(result, tree_.unlink(txn, parent, name, *entry, InodeHolders::LastName::kRemoved));
    dir.mtimeNs = dir.ctimeNs = tree_.clock().nowNs();
    return tree_.storeInode(txn, parent, dir);
  }));
  releaseIfUnused(result);
  return result;
}

Status Namespace::rmdir(uint64_t parent, std::string_view name) {
  if (name == ".") return Status::Error(EINVAL, "cannot remove '.'");
  if (name == "..") return Status::Error(ENOTEMPTY, "cannot remove '..'");
  ACIDFS_RETURN_IF_ERROR(validateName(name));
  Unlinked removed;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, tree_.loadInode(txn, parent, Txn::Lock::kExclusive));
    if (!dir.isDir()) return Status::Error(ENOTDIR, "not a directory");
    ACIDFS_ASSIGN_OR_RETURN(std::optional<DentryRecord> entry, tree_.loadDentry(txn, parent, name, Txn::Lock::kExclusive));
    if (!entry) return noEntry(parent, name);
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord victim, tree_.loadInode(txn, entry->ino, Txn::Lock::kExclusive));
    if (!victim.isDir()) return Status::Error(ENOTDIR, "'" + std::string(name) + "' is not a directory");
    if (entry->ino == kRootIno) return Status::Error(EBUSY, "cannot remove the root");
    ACIDFS_ASSIGN_OR_RETURN(bool empty, tree_.dirIsEmpty(txn, entry->ino));
    if (!empty) return Status::Error(ENOTEMPTY, "directory '" + std::string(name) + "' is not empty");
    ACIDFS_RETURN_IF_ERROR(tree_.keepName(txn, parent, name, entry->ino, victim, DropCause::kRmdir));
    ACIDFS_RETURN_IF_ERROR(tree_.removeEntry(txn, parent, name, *entry));
    dir.nlink--;
    dir.mtimeNs = dir.ctimeNs = tree_.clock().nowNs();
    ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, parent, dir));
    victim.nlink = 0;
    victim.ctimeNs = tree_.clock().nowNs();
    ACIDFS_ASSIGN_OR_RETURN(removed, tree_.dropLastLink(txn, entry->ino, victim, InodeHolders::LastName::kRemoved));
    return Status::OK();
  }));
  releaseIfUnused(removed);
  return Status::OK();
}

Result<std::optional<Unlinked>> Namespace::rename(const Caller& caller, uint64_t parent, std::string_view name,
                                                  uint64_t newParent, std::string_view newName, unsigned flags) {
  std::optional<Unlinked> replaced;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(replaced, tree_.rename(txn, caller, parent, name, newParent, newName, flags));
    return Status::OK();
  }));
  if (replaced) releaseIfUnused(*replaced);
  return replaced;
}

Result<Attr> Namespace::modifyInode(uint64_t ino, const std::function<Status(Txn&, InodeRecord&)>& change) {
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, tree_.loadInode(txn, ino, Txn::Lock::kExclusive));
    return change(txn, inode);
  }));
  return getattr(ino, Freshness::kRecent);  // the cache holds what we committed
}

Result<Attr> Namespace::setattr(uint64_t ino, const SetAttrRequest& request) {
  return modifyInode(ino, [&](Txn& txn, InodeRecord& inode) -> Status {
    const int64_t now = tree_.clock().nowNs();
    if (request.mode) inode.mode = (inode.mode & S_IFMT) | (*request.mode & 07777);
    if (request.uid) inode.uid = *request.uid;
    if (request.gid) inode.gid = *request.gid;
    // Linux clears set-user-ID, and set-group-ID where group execute is set,
    // when a regular file changes owner or group — unless the same request
    // sets the mode explicitly (the kernel sends the cleared mode along).
    if ((request.uid || request.gid) && !request.mode && inode.isRegular()) {
      inode.mode &= ~S_ISUID;
      if (inode.mode & S_IXGRP) inode.mode &= ~S_ISGID;
    }
    if (request.atimeNow) inode.atimeNs = now;
    if (request.atimeNs) inode.atimeNs = *request.atimeNs;
    if (request.mtimeNow) inode.mtimeNs = now;
    if (request.mtimeNs) inode.mtimeNs = *request.mtimeNs;
    inode.ctimeNs = request.ctimeNs ? *request.ctimeNs : now;
    if (request.size) {
      if (inode.isDir()) return Status::Error(EISDIR, "cannot truncate a directory");
      if (!inode.isRegular()) return Status::Error(EINVAL, "cannot truncate a special file");
      if (*request.size != inode.size) {
        ACIDFS_ASSIGN_OR_RETURN(Id128 blob, content_.buildBlob(txn, inode.blob, *request.size, {}));
        int64_t keepMtime = inode.mtimeNs;
        ACIDFS_RETURN_IF_ERROR(tree_.setBlob(txn, ino, inode, blob, *request.size, DropCause::kTruncate));
        if (request.mtimeNs) inode.mtimeNs = keepMtime;
      } else if (!request.mtimeNs) {
        inode.mtimeNs = now;  // truncate to the same size still updates mtime
      }
    }
    ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, ino, inode));
    // A truncate is a write (setBlob said so); anything else is attributes.
    const bool attributes = request.mode || request.uid || request.gid || request.atimeNs || request.mtimeNs ||
                            request.atimeNow || request.mtimeNow;
    return attributes ? tree_.noteOfInode(txn, FeedOp::kAttr, ino, inode) : Status::OK();
  });
}

Status Namespace::setAccessTimes(const std::vector<std::pair<uint64_t, AccessTime>>& times, bool yield) {
  auto body = [&](Txn& txn) -> Status {
    for (const auto& [ino, time] : times) {
      auto inode = tree_.loadInode(txn, ino, Txn::Lock::kExclusive);
      if (!inode.ok() && inode.status().errnum() == ENOENT) continue;
      if (!inode.ok()) return inode.status();
      if (inode->atimeNs != time.stored) continue;  // set since the read: that wins
      if (inode->isReadOnly()) continue;             // a read-only clone keeps its times, as a ro mount does
      inode->atimeNs = time.atimeNs;
      ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, ino, *inode));
    }
    return Status::OK();
  };
  return yield ? runner_.runOnce(body) : runner_.run(body);
}

Result<std::string> Namespace::readlink(uint64_t ino) {
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, getattr(ino, Freshness::kRecent));
  if (!attr.inode.isSymlink()) return Status::Error(EINVAL, "not a symbolic link");
  return attr.inode.symlinkTarget;
}

Status Namespace::readdir(uint64_t dir, uint64_t afterCookie, const std::function<bool(const DirEntry&)>& emit) {
  // A listing may be coherence_ms behind other hosts, as stat (SPEC §9).
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, getattr(dir, Freshness::kRecent));
  if (!attr.inode.isDir()) return Status::Error(ENOTDIR, "not a directory");
  const std::string prefix = keys::ino(dir);
  auto it = db_.scan(Column::kCookies);
  // Renames and creates write this column while we list it: keys and values
  // are copied out (MetaCursor::copyOut) before they are read.
  for (it->seek(keys::cookie(dir, afterCookie + 1)); it->valid(); it->next()) {
    const std::string key = MetaCursor::copyOut(it->key());
    if (!key.starts_with(prefix)) break;
    if (key.size() != 16) continue;  // malformed (fsck reports it): no cookie to read
    DirEntry entry;
    entry.cookie = readBigEndian64(std::string_view(key).substr(8, 8));
    entry.name = MetaCursor::copyOut(it->value());
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value,
                            db_.getRecent(Column::kDentries, keys::dentry(dir, entry.name)));
    if (!value) continue;  // removed since the cookie was read
    auto dentry = DentryRecord::decode(*value);
    if (!dentry || dentry->cookie != entry.cookie) continue;  // replaced meanwhile; listed at its new cookie
    entry.ino = dentry->ino;
    entry.type = dentry->type;
    if (!emit(entry)) break;
  }
  return it->status().withContext("listing a directory");
}

// ---- extended attributes ------------------------------------------------------

Result<std::string> Namespace::getxattr(uint64_t ino, std::string_view name) {
  // A blobId or version is the database's current one (SPEC §9); for the others the
  // inode only has to exist, and the attribute is read from the store.
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, getattr(ino, isCommittedContentXattr(name) ? Freshness::kLatest : Freshness::kRecent));
  if (name == kBlobIdXattr) {
    if (!attr.inode.isRegular()) return Status::Error(ENODATA, "only regular files have a blobId");
    return attr.inode.blob.hex();
  }
  if (name == kVersionXattr) {
    if (!attr.inode.isRegular()) return Status::Error(ENODATA, "only regular files have a content version");
    return std::to_string(attr.inode.contentVersion);
  }
  if (name == kExpiresAtXattr) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, db_.get(Column::kXattrs, keys::xattr(ino, name)));
    std::optional<ExpiryRecord> expiry = value ? ExpiryRecord::decode(*value) : std::nullopt;
    if (!expiry) return Status::Error(ENODATA, "no expiry set");
    return std::to_string(expiry->expiresNs / 1'000'000'000);
  }
  if (isVirtualXattr(name) && name != kDestBasisXattr) return Status::Error(ENODATA, "no attribute " + std::string(name));
  ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, db_.get(Column::kXattrs, keys::xattr(ino, name)));
  if (!value) return Status::Error(ENODATA, "no attribute " + std::string(name));
  return std::move(*value);
}

Status Namespace::setxattr(uint64_t ino, std::string_view name, std::string_view value, int flags) {
  if (name.empty()) return Status::Error(EINVAL, "empty attribute name");
  if (name.size() > XATTR_NAME_MAX) return Status::Error(ERANGE, "attribute name too long");
  if (value.size() > kXattrValueMax) return Status::Error(E2BIG, "attribute value too large");
  std::string basis;
  if (isVirtualXattr(name)) {
    if (name != kDestBasisXattr) return Status::Error(EINVAL, std::string(name) + " cannot be set");
    ACIDFS_ASSIGN_OR_RETURN(basis, parseDestBasis(value));
    value = basis;
  }
  return modifyInode(ino, [&](Txn& txn, InodeRecord& inode) -> Status {
    if (name == kDestBasisXattr && !inode.isRegular())
      return Status::Error(EINVAL, "user.acidfs.dest_basis applies to regular files");
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> old, txn.read(Column::kXattrs, keys::xattr(ino, name), Txn::Lock::kExclusive));
    if ((flags & XATTR_CREATE) && old) return Status::Error(EEXIST, "attribute exists");
    if ((flags & XATTR_REPLACE) && !old) return Status::Error(ENODATA, "no attribute " + std::string(name));
    ACIDFS_RETURN_IF_ERROR(txn.put(Column::kXattrs, keys::xattr(ino, name), value));
    inode.ctimeNs = tree_.clock().nowNs();
    return tree_.storeInode(txn, ino, inode);
  }).status();
}

Result<std::vector<std::string>> Namespace::listxattr(uint64_t ino) {
  ACIDFS_RETURN_IF_ERROR(getattr(ino, Freshness::kRecent).status());
  std::vector<std::string> names;
  const std::string prefix = keys::ino(ino);
  auto it = db_.scan(Column::kXattrs);
  for (it->seek(prefix); it->valid(); it->next()) {
    const std::string key = MetaCursor::copyOut(it->key());
    if (!key.starts_with(prefix)) break;
    std::string_view name = std::string_view(key).substr(8);
    if (!isVirtualXattr(name)) names.emplace_back(name);  // never listed (SPEC §4.2)
  }
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("listing attributes"));
  return names;
}

Status Namespace::setExpiry(const Caller& caller, uint64_t ino, std::string_view seconds) {
  // Decimal seconds since the epoch (as `date +%s` prints them); empty clears.
  int64_t expiresNs = 0;
  if (!seconds.empty()) {
    const Status notSeconds = Status::Error(EINVAL, "user.acidfs.expires_at: not seconds since the epoch");
    uint64_t value = 0;
    for (char c : seconds) {
      if (c < '0' || c > '9' || value > kMaxExpirySeconds) return notSeconds;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value == 0 || value > kMaxExpirySeconds) return notSeconds;
    expiresNs = static_cast<int64_t>(value) * 1'000'000'000;
  }
  return modifyInode(ino, [&](Txn& txn, InodeRecord& inode) -> Status {
    if (!inode.isRegular()) return Status::Error(EINVAL, "user.acidfs.expires_at applies to regular files");
    if (!mayAccess(caller, inode, W_OK)) return Status::Error(EACCES, "user.acidfs.expires_at: the file is not writable");
    if (expiresNs) {
      ACIDFS_RETURN_IF_ERROR(tree_.mayExpire(txn, caller, inode, kExpiresAtXattr));
    } else if (!(inode.flags & InodeRecord::kExpires)) {
      return Status::OK();  // nothing to clear
    }
    ACIDFS_RETURN_IF_ERROR(tree_.setExpiry(txn, ino, inode, expiresNs));
    inode.ctimeNs = tree_.clock().nowNs();
    return tree_.storeInode(txn, ino, inode);
  }).status();
}

Status Namespace::removexattr(uint64_t ino, std::string_view name) {
  if (isVirtualXattr(name) && name != kDestBasisXattr) return Status::Error(EINVAL, std::string(name) + " cannot be removed");
  return modifyInode(ino, [&](Txn& txn, InodeRecord& inode) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> old, txn.read(Column::kXattrs, keys::xattr(ino, name), Txn::Lock::kExclusive));
    if (!old) return Status::Error(ENODATA, "no attribute " + std::string(name));
    ACIDFS_RETURN_IF_ERROR(txn.del(Column::kXattrs, keys::xattr(ino, name)));
    inode.ctimeNs = tree_.clock().nowNs();
    return tree_.storeInode(txn, ino, inode);
  }).status();
}

// ---- content ------------------------------------------------------------------

Status Namespace::read(uint64_t ino, uint64_t offset, size_t length, std::string& out) {
  // A blob found in the inode can be replaced and collected before we read
  // its chunks (ESTALE); then the inode has a newer blob: read that.
  for (int attempt = 0; attempt < 16; ++attempt) {
    // An open file: its open() made the cache current (close-to-open). A
    // blob collected meanwhile (ESTALE) is looked up again in the store.
    ACIDFS_ASSIGN_OR_RETURN(Attr attr, getattr(ino, attempt == 0 ? Freshness::kRecent : Freshness::kLatest));
    if (attr.inode.isDir()) return Status::Error(EISDIR, "is a directory");
    if (!attr.inode.isRegular()) return Status::Error(EINVAL, "not a regular file");
    Status s = content_.read(attr.inode.blob, offset, length, out);
    if (s.errnum() != ESTALE) return s;
  }
  return Status::Error(EIO, "content of inode " + std::to_string(ino) + " keeps vanishing");
}

Result<Attr> Namespace::commitWindows(uint64_t ino, uint64_t newSize, const std::map<uint64_t, std::string_view>& windows,
                                      std::optional<Id128> expectedBase, int64_t mtimeNs) {
  return modifyInode(ino, [&](Txn& txn, InodeRecord& inode) -> Status {
    if (!inode.isRegular()) return Status::Error(inode.isDir() ? EISDIR : EINVAL, "not a regular file");
    if (expectedBase && inode.blob != *expectedBase)
      return Status::Error(ECANCELED, "the file's content changed since the windows were read");
    txn.useReservation(tree_.reservations().coveredBytes(inode, windows));
    ACIDFS_ASSIGN_OR_RETURN(Id128 blob, content_.buildBlob(txn, inode.blob, newSize, windows));
    return tree_.setBlob(txn, ino, inode, blob, newSize, DropCause::kWrite, mtimeNs);
  });
}

Result<Attr> Namespace::allocate(uint64_t ino, uint64_t offset, uint64_t length, bool keepSize) {
  return modifyInode(ino, [&](Txn& txn, InodeRecord& inode) -> Status {
    if (!inode.isRegular()) return Status::Error(inode.isDir() ? EISDIR : ENODEV, "not a regular file");
    ACIDFS_RETURN_IF_ERROR(tree_.reservations().reserve(txn, inode, offset, length));
    if (!keepSize && offset + length > inode.size) {  // reserve() checked the sum against the largest file
      ACIDFS_ASSIGN_OR_RETURN(Id128 blob, content_.buildBlob(txn, inode.blob, offset + length, {}));
      return tree_.setBlob(txn, ino, inode, blob, offset + length, std::nullopt);
    }
    inode.ctimeNs = tree_.clock().nowNs();
    return tree_.storeInode(txn, ino, inode);
  });
}

Result<Attr> Namespace::shareContent(uint64_t sourceIno, uint64_t destIno) {
  return modifyInode(destIno, [&](Txn& txn, InodeRecord& dest) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord source, tree_.loadInode(txn, sourceIno, Txn::Lock::kShared));
    if (source.isDir() || dest.isDir()) return Status::Error(EISDIR, "is a directory");
    if (!source.isRegular() || !dest.isRegular()) return Status::Error(EINVAL, "not a regular file");
    ACIDFS_RETURN_IF_ERROR(tree_.clearExpiry(txn, destIno, dest));  // a copy clears an expiry (SPEC §11)
    return tree_.setBlob(txn, destIno, dest, source.blob, source.size, DropCause::kWrite);
  });
}

Result<uint64_t> Namespace::seek(uint64_t ino, uint64_t offset, bool data) {
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, getattr(ino, Freshness::kRecent));
  if (attr.inode.isDir()) return Status::Error(EISDIR, "is a directory");
  if (!attr.inode.isRegular()) return Status::Error(EINVAL, "not a regular file");
  const uint64_t size = attr.inode.size;
  if (offset >= size) return Status::Error(ENXIO, "seeking at or past the end");
  ACIDFS_ASSIGN_OR_RETURN(BlobLayout layout, content_.layout(attr.inode.blob));
  const uint64_t C = content_.chunkSize();
  for (uint64_t index = offset / C; index * C < size; ++index) {
    const bool hasData = index < layout.chunkHasData.size() && layout.chunkHasData[index];
    if (hasData == data) return std::max(offset, index * C);
  }
  if (!data) return size;  // the implicit hole at the end
  return Status::Error(ENXIO, "no data after the offset");
}

// ---- orphans ------------------------------------------------------------------

Status Namespace::releaseOrphan(uint64_t ino) {
  return runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<std::string> value, txn.read(Column::kInodes, keys::ino(ino), Txn::Lock::kExclusive));
    if (!value) return Status::OK();  // already gone
    auto inode = InodeRecord::decode(*value);
    if (!inode) return Status::Error(EIO, "store corrupted: undecodable inode");
    if (inode->nlink > 0) return Status::OK();  // linked again: not an orphan
    return tree_.deleteInode(txn, ino, *inode);
  });
}

Status Namespace::releaseAllOrphans() {
  return releaseOrphans([](std::string_view) { return true; });
}

Status Namespace::releaseOrphans(const std::function<bool(std::string_view tag)>& whose) {
  std::vector<uint64_t> orphans;
  auto it = db_.scan(Column::kOrphans);
  for (it->seekToFirst(); it->valid(); it->next())
    if (it->key().size() == 8 && whose(it->value())) orphans.push_back(readBigEndian64(it->key()));
  ACIDFS_RETURN_IF_ERROR(it->status().withContext("listing orphans"));
  for (uint64_t ino : orphans) {
    // A corrupt orphan stays (fsck reports it) rather than keep the store closed.
    Status s = releaseOrphan(ino);
    if (s.errnum() == EIO) ACIDFS_LOG(kError, "keeping orphan inode %llu: %s", static_cast<unsigned long long>(ino), s.toString().c_str());
    else ACIDFS_RETURN_IF_ERROR(s);
  }
  return Status::OK();
}

}  // namespace acidfs
