#include "core/cas_ops.h"

#include <unistd.h>

#include "core/clock.h"
#include "core/content_store.h"
#include "core/format.h"
#include "core/leases.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/transaction.h"
#include "core/tree.h"

namespace acidfs {

namespace {
constexpr size_t kPathMax = 4096;

std::optional<Id128> blobOrNull(const InodeRecord& inode) {
  if (!inode.isRegular()) return std::nullopt;
  return inode.blob;
}
}  // namespace

Status CasOps::denied(std::string_view what, std::string_view path) {
  return Status::Error(EACCES, std::string(what) + " '" + std::string(path) + "': permission denied");
}

Status CasOps::conflict(ConflictCode code, std::string_view path, std::optional<Id128> expected, const Caller& caller,
                        const InodeRecord* found, int index) {
  ConflictReport report{code, std::string(path), expected, std::nullopt, index};
  reportFound(report, caller, found);
  return Status::Conflict(std::move(report));
}

Status validatePath(std::string_view path) {
  if (path.empty() || path[0] != '/')
    return Status::Error(EINVAL, "path '" + std::string(path) + "' is not absolute within the mount");
  if (path.size() > kPathMax) return Status::Error(ENAMETOOLONG, "path longer than 4096 bytes");
  if (path == "/") return Status::OK();
  for (std::string_view part : pathComponents(path)) {
    if (part.empty() || part == "." || part == "..")
      return Status::Error(EINVAL, "path '" + std::string(path) + "' has an empty, '.' or '..' component");
    if (part.find('\0') != std::string_view::npos) return Status::Error(EINVAL, "path contains a NUL byte");
    if (part.size() > kNameMax) return Status::Error(ENAMETOOLONG, "a component of '" + std::string(path) + "' is longer than 255 bytes");
  }
  return Status::OK();
}

CasOps::CasOps(TransactionRunner& runner, Namespace& ns, Tree& tree, ContentStore& content, Leases& leases,
               TxnIds& txnIds)
    : runner_(runner), ns_(ns), tree_(tree), content_(content), leases_(leases), txnIds_(txnIds) {}

Result<CasOps::Resolved> CasOps::resolve(Txn& txn, const Caller& caller, std::string_view path, Access access) {
  ACIDFS_RETURN_IF_ERROR(validatePath(path));
  std::vector<std::string_view> parts = pathComponents(path);
  // Components are locked shared; for a change, the last directory and the
  // last entry exclusive at once: taking them shared and upgrading later
  // would deadlock two writers of the same directory.
  auto lockFor = [&](size_t depth) {  // depth = number of components above this inode
    return access == Access::kWrite && depth + 1 == parts.size() ? Txn::Lock::kExclusive : Txn::Lock::kShared;
  };
  Resolved r;
  ACIDFS_ASSIGN_OR_RETURN(r.parentInode, tree_.loadInode(txn, kRootIno, lockFor(0)));
  if (parts.empty()) {  // "/" itself
    r.entry = DentryRecord{kRootIno, 0, S_IFDIR};
    return r;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!r.parentInode.isDir()) return Status::Error(ENOTDIR, "a component of '" + std::string(path) + "' is not a directory");
    if (!mayAccess(caller, r.parentInode, X_OK)) return denied("searching", path);
    ACIDFS_ASSIGN_OR_RETURN(std::optional<DentryRecord> entry, tree_.loadDentry(txn, r.parent, parts[i], lockFor(i)));
    if (i + 1 == parts.size()) {
      r.name.assign(parts[i]);
      r.entry = entry;
      return r;
    }
    if (!entry) return Status::Error(ENOENT, "directory of '" + std::string(path) + "' does not exist");
    r.parent = entry->ino;
    ACIDFS_ASSIGN_OR_RETURN(r.parentInode, tree_.loadInode(txn, entry->ino, lockFor(i + 1)));
  }
  return r;
}

Result<PathStat> CasOps::stat(const Caller& caller, std::string_view path) {
  PathStat result;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(Resolved r, resolve(txn, caller, path, Access::kRead));
    if (!r.entry) return Status::Error(ENOENT, "'" + std::string(path) + "' does not exist");
    ACIDFS_ASSIGN_OR_RETURN(result.inode, tree_.loadInode(txn, r.entry->ino, Txn::Lock::kShared));
    // A blobId tells about content: reading it needs read permission.
    if (result.inode.isRegular() && !mayAccess(caller, result.inode, R_OK)) return denied("reading", path);
    result.path.assign(path);
    result.ino = r.entry->ino;
    result.blob = blobOrNull(result.inode);
    return Status::OK();
  }));
  return result;
}

Status CasOps::applyOp(Txn& txn, const Caller& caller, const TransactOp& op, int index,
                       std::vector<std::string>& touched) {
  if (op.kind == TransactOp::Kind::kCommit) {  // a blob the caller PUT, onto dest under its basis
    uint64_t ino = 0;
    if (!op.sourceBlob) return Status::Error(EINVAL, "op " + std::to_string(index) + ": a commit names its blobId");
    ACIDFS_RETURN_IF_ERROR(commitIn(txn, caller, op.destPath, *op.sourceBlob, op.destBasis, 0644, index, ino));
    touched.push_back(op.destPath);
    return Status::OK();
  }
  // The source: must exist as a regular file, with the expected blobId.
  ACIDFS_ASSIGN_OR_RETURN(Resolved src, resolve(txn, caller, op.sourcePath,
                                                  op.kind == TransactOp::Kind::kCopy ? Access::kRead : Access::kWrite));
  if (!src.entry) return conflict(ConflictCode::kSourceNotFound, op.sourcePath, op.sourceBlob, caller, nullptr, index);
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord source, tree_.loadInode(txn, src.entry->ino, Txn::Lock::kExclusive));
  if (source.isDir()) return Status::Error(EISDIR, "source '" + op.sourcePath + "' is a directory");
  if (!source.isRegular()) return Status::Error(EINVAL, "source '" + op.sourcePath + "' is not a regular file");
  const bool readsSource = op.kind == TransactOp::Kind::kCopy || op.sourceBlob.has_value();
  if (readsSource && !mayAccess(caller, source, R_OK)) return denied("reading", op.sourcePath);
  if (op.kind != TransactOp::Kind::kCopy) {  // unlinks the source name: what rename/unlink need
    if (!mayAccess(caller, src.parentInode, W_OK | X_OK)) return denied("removing", op.sourcePath);
    if (!stickyAllows(caller, src.parentInode, source)) return Status::Error(EPERM, "sticky directory: cannot remove '" + op.sourcePath + "'");
  }
  if (op.sourceBlob && source.blob != *op.sourceBlob)
    return conflict(ConflictCode::kSourceChanged, op.sourcePath, op.sourceBlob, caller, &source, index);
  touched.push_back(op.sourcePath);

  if (op.kind == TransactOp::Kind::kDelete) {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord dir, tree_.loadInode(txn, src.parent, Txn::Lock::kExclusive));
    // A later op of the transact may name the path again: to a concurrent
    // path walk it never went.
    ACIDFS_ASSIGN_OR_RETURN(Unlinked gone, tree_.unlink(txn, src.parent, src.name, *src.entry,
                                                         InodeHolders::LastName::kReplaced));
    dir.mtimeNs = dir.ctimeNs = tree_.clock().nowNs();
    ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, src.parent, dir));
    txn.afterCommit.push_back([this, gone] { ns_.releaseIfUnused(gone); });
    return Status::OK();
  }

  // The destination: its basis, and what creating or replacing it needs.
  ACIDFS_ASSIGN_OR_RETURN(Resolved dst, resolve(txn, caller, op.destPath, Access::kWrite));
  if (dst.name.empty()) return Status::Error(EISDIR, "destination '/' is a directory");
  if (!dst.parentInode.isDir()) return Status::Error(ENOTDIR, "parent of '" + op.destPath + "' is not a directory");
  std::optional<InodeRecord> dest;
  if (dst.entry) {
    ACIDFS_ASSIGN_OR_RETURN(dest, tree_.loadInode(txn, dst.entry->ino, Txn::Lock::kExclusive));
  }
  const bool replaces = dest.has_value() && op.kind == TransactOp::Kind::kMove;
  if (!dest || replaces) {
    if (!mayAccess(caller, dst.parentInode, W_OK | X_OK)) return denied("creating", op.destPath);
  }
  if (dest) {
    if (replaces && !stickyAllows(caller, dst.parentInode, *dest))
      return Status::Error(EPERM, "sticky directory: cannot replace '" + op.destPath + "'");
    if (op.kind == TransactOp::Kind::kCopy && dest->isRegular() && !mayAccess(caller, *dest, W_OK))
      return denied("writing", op.destPath);
    if (op.destBasis.kind == Basis::Kind::kBlob && dest->isRegular() && !mayAccess(caller, *dest, R_OK))
      return denied("reading", op.destPath);
  }
  switch (op.destBasis.kind) {
    case Basis::Kind::kAny: break;
    case Basis::Kind::kAbsent:
      if (dest) return conflict(ConflictCode::kDestExists, op.destPath, std::nullopt, caller, &*dest, index);
      break;
    case Basis::Kind::kBlob:
      if (!dest) return conflict(ConflictCode::kDestNotFound, op.destPath, op.destBasis.blob, caller, nullptr, index);
      if (!dest->isRegular() || dest->blob != op.destBasis.blob)
        return conflict(ConflictCode::kDestChanged, op.destPath, op.destBasis.blob, caller, &*dest, index);
      break;
  }
  if (dest && dest->isDir()) return Status::Error(EISDIR, "destination '" + op.destPath + "' is a directory");
  if (dest && !dest->isRegular()) return Status::Error(EINVAL, "destination '" + op.destPath + "' is not a regular file");
  touched.push_back(op.destPath);

  if (op.kind == TransactOp::Kind::kMove) {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<Unlinked> replaced,
                            tree_.rename(txn, caller, src.parent, src.name, dst.parent, dst.name, 0));
    if (replaced) txn.afterCommit.push_back([this, gone = *replaced] { ns_.releaseIfUnused(gone); });
    return Status::OK();
  }
  // Copy: the destination shares the source's blob — O(1) in its size.
  uint64_t destIno;
  InodeRecord target;
  if (dest) {
    destIno = dst.entry->ino;
    target = std::move(*dest);
    dropSetIdOnWrite(caller, target);
  } else {
    InodeRecord fresh;
    fresh.mode = S_IFREG | (source.mode & 0777);
    ACIDFS_ASSIGN_OR_RETURN(destIno, tree_.create(txn, caller, dst.parent, dst.name, fresh));
    ACIDFS_ASSIGN_OR_RETURN(target, tree_.loadInode(txn, destIno, Txn::Lock::kExclusive));
  }
  ACIDFS_RETURN_IF_ERROR(tree_.clearExpiry(txn, destIno, target));  // a copy clears an expiry (SPEC §11)
  return tree_.setBlob(txn, destIno, target, source.blob, source.size, DropCause::kWrite);
}

Result<std::vector<std::string>> CasOps::transact(const Caller& caller, const std::vector<TransactOp>& ops,
                                                  Idempotence* idem) {
  for (const TransactOp& op : ops) {
    if (op.kind != TransactOp::Kind::kCommit) ACIDFS_RETURN_IF_ERROR(validatePath(op.sourcePath));
    if (op.kind != TransactOp::Kind::kDelete) ACIDFS_RETURN_IF_ERROR(validatePath(op.destPath));
  }
  if (idem) ACIDFS_RETURN_IF_ERROR(TxnIds::validate(idem->txnId));
  std::vector<std::string> touched;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    touched.clear();
    if (idem) {
      ACIDFS_ASSIGN_OR_RETURN(idem->recalled, txnIds_.recall(txn, caller.uid, idem->txnId));
      if (idem->recalled) return Status::OK();  // a repeat: nothing applied
    }
    for (size_t i = 0; i < ops.size(); ++i)
      ACIDFS_RETURN_IF_ERROR(applyOp(txn, caller, ops[i], static_cast<int>(i + 1), touched));
    if (idem) return txnIds_.remember(txn, caller.uid, idem->txnId, TxnOutcome{0, idem->answerOnSuccess(nullptr)});
    return Status::OK();
  }));
  if (idem && idem->recalled) return touched;
  counters_.transacts++;
  return touched;
}

Result<TxnOutcome> CasOps::rememberFailure(const Caller& caller, const Idempotence& idem, TxnOutcome outcome) {
  if (!TxnIds::isRecorded(outcome.errnum) || !TxnIds::validate(idem.txnId).ok()) return outcome;
  TxnOutcome answer;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(std::optional<TxnOutcome> first, txnIds_.recall(txn, caller.uid, idem.txnId));
    answer = first ? std::move(*first) : outcome;
    if (first) return Status::OK();
    return txnIds_.remember(txn, caller.uid, idem.txnId, outcome);
  }));
  return answer;
}

Status CasOps::commitIn(Txn& txn, const Caller& caller, std::string_view path, const Id128& blob, const Basis& basis,
                        uint32_t createMode, int index, uint64_t& ino) {
  // The caller's own lease on the blob: proof they supplied its content.
  if (blob != content_.emptyBlobId()) ACIDFS_RETURN_IF_ERROR(leases_.consume(txn, blob, caller.uid));
  ACIDFS_ASSIGN_OR_RETURN(Resolved r, resolve(txn, caller, path, Access::kWrite));
  if (r.name.empty()) return Status::Error(EISDIR, "'/' is a directory");
  if (!r.parentInode.isDir()) return Status::Error(ENOTDIR, "parent of '" + std::string(path) + "' is not a directory");
  if (r.entry) {
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, tree_.loadInode(txn, r.entry->ino, Txn::Lock::kExclusive));
    if (inode.isDir()) return Status::Error(EISDIR, "'" + std::string(path) + "' is a directory");
    if (!inode.isRegular()) return Status::Error(EINVAL, "'" + std::string(path) + "' is not a regular file");
    if (!mayAccess(caller, inode, W_OK)) return denied("writing", path);
    if (basis.kind == Basis::Kind::kBlob && !mayAccess(caller, inode, R_OK)) return denied("reading", path);
    if (basis.kind == Basis::Kind::kAbsent || (basis.kind == Basis::Kind::kBlob && inode.blob != basis.blob))
      return conflict(ConflictCode::kCasConflict, path,
                      basis.kind == Basis::Kind::kBlob ? std::optional<Id128>(basis.blob) : std::nullopt, caller,
                      &inode, index);
    ino = r.entry->ino;
    dropSetIdOnWrite(caller, inode);
    ACIDFS_ASSIGN_OR_RETURN(uint64_t size, content_.blobSize(txn, blob));
    return tree_.setBlob(txn, ino, inode, blob, size, DropCause::kWrite);
  }
  if (!mayAccess(caller, r.parentInode, W_OK | X_OK)) return denied("creating", path);
  if (basis.kind == Basis::Kind::kBlob) return conflict(ConflictCode::kCasConflict, path, basis.blob, caller, nullptr, index);
  InodeRecord fresh;
  fresh.mode = S_IFREG | (createMode & 07777);
  ACIDFS_ASSIGN_OR_RETURN(ino, tree_.create(txn, caller, r.parent, r.name, fresh));
  ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, tree_.loadInode(txn, ino, Txn::Lock::kExclusive));
  ACIDFS_ASSIGN_OR_RETURN(uint64_t size, content_.blobSize(txn, blob));
  return tree_.setBlob(txn, ino, inode, blob, size, DropCause::kWrite);
}

Result<PathStat> CasOps::commit(const Caller& caller, std::string_view path, const Id128& blob, const Basis& basis,
                                uint32_t createMode, Idempotence* idem, int64_t expiresNs) {
  ACIDFS_RETURN_IF_ERROR(validatePath(path));
  if (idem) ACIDFS_RETURN_IF_ERROR(TxnIds::validate(idem->txnId));
  uint64_t ino = 0;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    if (idem) {
      ACIDFS_ASSIGN_OR_RETURN(idem->recalled, txnIds_.recall(txn, caller.uid, idem->txnId));
      if (idem->recalled) return Status::OK();  // a repeat: nothing applied
    }
    ACIDFS_RETURN_IF_ERROR(commitIn(txn, caller, path, blob, basis, createMode, 1, ino));
    ACIDFS_ASSIGN_OR_RETURN(InodeRecord inode, tree_.loadInode(txn, ino, Txn::Lock::kExclusive));
    if (expiresNs) {
      ACIDFS_RETURN_IF_ERROR(tree_.mayExpire(txn, caller, inode, "expiring '" + std::string(path) + "'"));
      ACIDFS_RETURN_IF_ERROR(tree_.setExpiry(txn, ino, inode, expiresNs));
      ACIDFS_RETURN_IF_ERROR(tree_.storeInode(txn, ino, inode));
    }
    if (!idem) return Status::OK();
    const PathStat committed{std::string(path), ino, inode.blob, inode};
    return txnIds_.remember(txn, caller.uid, idem->txnId, TxnOutcome{0, idem->answerOnSuccess(&committed)});
  }));
  if (idem && idem->recalled) return PathStat{};
  counters_.commits++;
  ACIDFS_ASSIGN_OR_RETURN(Attr attr, ns_.getattr(ino));
  return PathStat{std::string(path), ino, attr.inode.blob, attr.inode};
}

Result<Id128> CasOps::put(const Caller& caller, std::string_view bytes) {
  Id128 blob;
  ACIDFS_RETURN_IF_ERROR(runner_.run([&](Txn& txn) -> Status {
    ACIDFS_ASSIGN_OR_RETURN(blob, content_.blobFromBytes(txn, bytes));
    if (blob == content_.emptyBlobId()) return Status::OK();  // needs no lease
    return leases_.grant(txn, blob, caller.uid);
  }));
  counters_.puts++;
  return blob;
}

}  // namespace acidfs
