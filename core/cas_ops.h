// The ConvexFS operations of SPEC §4: path-based stat, transact, commit and
// put, each one serializable transaction whose preconditions are checked
// inside it. Every read a decision rests on — a path component, a source's
// blobId, the absence of a destination — is a locked read (Txn::read), so
// two concurrent transactions can never both pass checks that exclude each
// other (no write skew).
//
// Unlike namespace.h these check permissions (SPEC §6): their callers (ioctl,
// the tool) do not pass through the kernel's checks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/caller.h"
#include "core/namespace.h"
#include "core/status.h"
#include "core/txn_ids.h"

namespace acidfs {

class ContentStore;
class Leases;
class TransactionRunner;
class Tree;
class Txn;

// A destination's expected state.
struct Basis {
  enum class Kind { kAny, kAbsent, kBlob };
  Kind kind = Kind::kAny;
  Id128 blob;  // kBlob only

  static Basis any() { return {}; }
  static Basis absent() { return {Kind::kAbsent, {}}; }
  static Basis of(const Id128& id) { return {Kind::kBlob, id}; }
};

struct TransactOp {
  // kCommit (SPEC §11, multi-file commit): the blob in sourceBlob, which the
  // caller PUT and holds a lease on (consumed), becomes destPath's content
  // under destBasis (CAS_CONFLICT when it fails), as CasOps::commit does; a
  // new file gets mode 0644. It has no sourcePath.
  enum class Kind { kMove, kCopy, kDelete, kCommit };
  Kind kind = Kind::kMove;
  std::string sourcePath;
  std::optional<Id128> sourceBlob;  // precondition: the source holds exactly this; commit: the blob
  std::string destPath;             // move, copy and commit
  Basis destBasis;
};

struct PathStat {
  std::string path;
  uint64_t ino = 0;
  std::optional<Id128> blob;  // regular files only
  InodeRecord inode;
};

// What a clone made.
struct CloneResult {
  PathStat stat;         // of the copy's root
  uint64_t entries = 0;  // names in the copy
  uint64_t bytes = 0;    // file content it shares
};

// A TRANSACT or COMMIT that carries a txnId (SPEC §11, core/txn_ids.h).
struct Idempotence {
  std::string txnId;
  // The answer a success records: made inside the request's transaction,
  // from the committed file (commit) or null (transact).
  std::function<std::string(const PathStat*)> answerOnSuccess;
  // Set when the request is a repeat: the first one's outcome. Nothing
  // was applied.
  std::optional<TxnOutcome> recalled;
};

struct CasCounters {
  std::atomic<uint64_t> transacts{0};
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> puts{0};
};

class CasOps {
 public:
  CasOps(TransactionRunner& runner, Namespace& ns, Tree& tree, ContentStore& content, Leases& leases, TxnIds& txnIds);

  // stat with blobId. Needs search permission on the path and read
  // permission on a regular file (a blobId tells about content).
  Result<PathStat> stat(const Caller& caller, std::string_view path);

  // Applies `ops` in order, each seeing those before it, all or nothing. A
  // failed precondition is a conflict Status carrying the report (its
  // operationIndex counts from 1); other failures carry their errno.
  // Returns the paths whose entries changed, for cache invalidation.
  //
  // With `idem`: a repeat of a txnId applies nothing and sets idem->recalled
  // (the result is then OK and empty); a first success records its answer
  // in the same transaction.
  Result<std::vector<std::string>> transact(const Caller& caller, const std::vector<TransactOp>& ops,
                                            Idempotence* idem = nullptr);

  // Makes `path` hold `blob` if `basis` holds (else CAS_CONFLICT), creating
  // the file (mode 0644 & ~umask given) if absent. The blob must be one the
  // caller put and still holds a lease on (a blobId alone grants nothing);
  // that lease is consumed. ENOENT if there is no such lease.
  // `idem` as for transact (a recalled result is an empty PathStat).
  // `expiresNs` (not 0): sets the file's user.acidfs.expires_at in the same
  // transaction (expiry.h), so that a lock taken by a commit can never be
  // left without its expiry; the caller must be one who could unlink(2) it.
  Result<PathStat> commit(const Caller& caller, std::string_view path, const Id128& blob, const Basis& basis,
                          uint32_t createMode = 0644, Idempotence* idem = nullptr, int64_t expiresNs = 0);
  // After a transact or commit with `idem` failed with `outcome`: records it
  // for the txnId unless the failure is transient (TxnIds::isRecorded) or a
  // record is there already. Returns the outcome to answer with: the one
  // recorded first (a concurrent request's, maybe), else `outcome`.
  Result<TxnOutcome> rememberFailure(const Caller& caller, const Idempotence& idem, TxnOutcome outcome);

  // Stores `bytes` as a blob held by a lease of the caller's until committed
  // or expired (leases.h).
  Result<Id128> put(const Caller& caller, std::string_view bytes);

  // Brings back the trash version `key` names (History::log) at `dest`, in
  // one transaction (cas_undelete.cc): a file or symlink with its content,
  // mode and times (and owner, for root); a directory with the tree under
  // it as it was when it went (each name's newest version in it). `dest`
  // must be absent (else DEST_EXISTS), unless `force`, which replaces a
  // file (the replaced one goes to the trash). EACCES unless the caller
  // could read the version then and may create `dest`; ENOENT when the
  // version has expired meanwhile.
  Result<PathStat> undelete(const Caller& caller, const std::string& key, std::string_view dest, bool force);

  // `acidfs clone SRC DST` (cas_clone.cc): DST becomes a copy of the tree at
  // SRC as it is at one instant, sharing all content, in one transaction;
  // DST must not exist (else DEST_EXISTS). `readOnly`: the copy refuses
  // every change (EROFS) until setCloneWritable. EINVAL when DST lies
  // under SRC; EACCES where the caller could not list or read SRC's parts
  // or may not create DST.
  Result<CloneResult> clone(const Caller& caller, std::string_view source, std::string_view dest, bool readOnly);
  // `acidfs clone --writable DST`: clears the read-only mark of everything
  // under `path` (each inode its owner's or root's to change, else EPERM).
  // Returns how many inodes changed.
  Result<uint64_t> setCloneWritable(const Caller& caller, std::string_view path);

  const CasCounters& counters() const { return counters_; }

 private:
  // A path resolved inside a transaction: the directory that holds (or
  // would hold) its last component, and the entry if it exists. Every
  // component read is locked shared, so a concurrent rename of any of them
  // serializes with us.
  struct Resolved {
    uint64_t parent = kRootIno;
    InodeRecord parentInode;
    std::string name;  // empty for "/"
    std::optional<DentryRecord> entry;
  };
  enum class Access { kRead, kWrite };
  // EACCES: "`what` 'path': permission denied".
  static Status denied(std::string_view what, std::string_view path);
  // A failed precondition about what is at `path` (`found`: nullptr for
  // nothing), reported as far as the caller may read it; `index` counts ops from 1.
  static Status conflict(ConflictCode code, std::string_view path, std::optional<Id128> expected,
                         const Caller& caller, const InodeRecord* found, int index);
  Result<Resolved> resolve(Txn& txn, const Caller& caller, std::string_view path, Access access);
  Status applyOp(Txn& txn, const Caller& caller, const TransactOp& op, int index, std::vector<std::string>& touched);
  // commit()'s body, and a transact's commit op (operation `index`): sets
  // `ino` to the file committed.
  Status commitIn(Txn& txn, const Caller& caller, std::string_view path, const Id128& blob, const Basis& basis,
                  uint32_t createMode, int index, uint64_t& ino);
  // Creates `name` in `parent` from trash record `key`, a directory's tree under it.
  Status restore(Txn& txn, const Caller& caller, const std::string& key, uint64_t parent, std::string_view name,
                 int depth);

  TransactionRunner& runner_;
  Namespace& ns_;    // whole operations: getattr, releasing orphans
  Tree& tree_;       // the steps inside a transaction (tree.h)
  ContentStore& content_;
  Leases& leases_;
  TxnIds& txnIds_;
  CasCounters counters_;
};

// SPEC §5 path rules: absolute, no empty, "." or ".." components, each
// component ≤ 255 bytes. EINVAL / ENAMETOOLONG naming the problem.
Status validatePath(std::string_view path);

}  // namespace acidfs
