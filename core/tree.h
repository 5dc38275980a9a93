// The namespace's records — inodes, directory entries, orphans — read and
// changed inside a caller's transaction. These are the steps Namespace (one
// POSIX call per transaction) and CasOps (a ConvexFS transact of several
// steps in one transaction) are both built from. Internal to core/.
//
// Locking: a step reads every record its decision rests on through
// Txn::read with the lock it names, so two transactions can never both act
// on a state that one of them has changed (transaction.h). A step that loads
// an inode to change it takes it exclusively. Directory inodes are locked
// before their entries; rename locks its two parents in inode order.
// Times come from the store's Clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/caller.h"
#include "core/expiry.h"
#include "core/feed.h"
#include "core/inode_holders.h"
#include "core/namespace.h"
#include "core/records.h"
#include "core/status.h"
#include "core/transaction.h"
#include "core/trash.h"

namespace acidfs {

class Clock;
class ContentStore;
class MetaEngine;
class Reservations;

// ENOENT naming the missing entry.
Status noEntry(uint64_t dir, std::string_view name);

class Tree {
 public:
  // Finds the next free inode number by reading `db`'s inode column.
  Tree(ContentStore& content, Reservations& reservations, MetaEngine& engine, const Clock& clock);

  const Clock& clock() const { return clock_; }
  ContentStore& content() { return content_; }
  Reservations& reservations() { return reservations_; }

  // Who holds inodes (inode_holders.h; the mount's kernel references), or a
  // plain "is it open" check for both questions (tests). Set once, before
  // the store is shared between threads; without either nothing is held.
  void setHolders(InodeHolders* holders) { holders_ = holders; }
  // What an orphan record holds: the session that keeps the inode open (a
  // database store's, core/sessions.h), or nothing (a directory store,
  // whose one process releases every orphan at open). Set once, before the
  // store is shared between threads.
  void setOrphanTag(std::string tag) { orphanTag_ = std::move(tag); }
  void setInUseCheck(std::function<bool(uint64_t ino)> inUse);
  // Where dropped names and contents are kept (trash.h), or null: nowhere.
  // Set once, before the store is shared between threads.
  void setTrash(Trash* trash) { trash_ = trash; }
  Trash* trash() const { return trash_; }
  // Trash::keepName, when there is a trash.
  Status keepName(Txn& txn, uint64_t dir, std::string_view name, uint64_t ino, const InodeRecord& inode,
                  DropCause cause, const Id128& replacedBy = Id128());
  bool inUse(uint64_t ino) const { return holders_ && holders_->holds(ino); }

  Result<InodeRecord> loadInode(Txn& txn, uint64_t ino, Txn::Lock lock);
  // EROFS for an inode of a read-only clone (InodeRecord::kReadOnly): the
  // one check every change meets.
  Status storeInode(Txn& txn, uint64_t ino, const InodeRecord& inode);
  // Stores it whatever its flags: for clone, which makes and unmakes
  // read-only trees (cas_clone.cc), only.
  Status storeEvenReadOnly(Txn& txn, uint64_t ino, const InodeRecord& inode);
  Result<std::optional<DentryRecord>> loadDentry(Txn& txn, uint64_t dir, std::string_view name, Txn::Lock lock);

  // Adds `name` → `ino` to `dir` with the next cookie, or with `cookie`: one
  // this transaction took from an entry of `dir` (a rename, which keeps a
  // listing's place); moves the directory's times. `dirInode` must be locked
  // exclusively; the caller stores it.
  Status addEntry(Txn& txn, uint64_t dir, InodeRecord& dirInode, std::string_view name, uint64_t ino, uint32_t type,
                  std::optional<uint64_t> cookie = std::nullopt);
  Status removeEntry(Txn& txn, uint64_t dir, std::string_view name, const DentryRecord& entry);
  // Valid only while the directory's inode is locked (format.h invariant).
  Result<bool> dirIsEmpty(Txn& txn, uint64_t dir);

  // Creates `name` in `parent` for `inode` (its type and mode; owner, times,
  // links and, for files, the empty blob are filled in). EEXIST, ENOENT
  // (parent removed), ENOTDIR, EINVAL/ENAMETOOLONG for a bad name.
  Result<uint64_t> create(Txn& txn, const Caller& caller, uint64_t parent, std::string_view name, InodeRecord inode);
  // Removes the non-directory `entry` named `name` from `parent` (whose
  // inode the caller locked and stores). EISDIR for a directory.
  // `how`: as dropLastLink's, should the name go.
  Result<Unlinked> unlink(Txn& txn, uint64_t parent, std::string_view name, const DentryRecord& entry,
                          InodeHolders::LastName how);
  // An inode lost its last name: deleted now, or kept as an orphan while held
  // (InodeHolders::keep, told `how` the name went).
  Result<Unlinked> dropLastLink(Txn& txn, uint64_t ino, const InodeRecord& inode, InodeHolders::LastName how);
  // rename(2)/renameat2(2): see Namespace::rename. Stores every inode it changes.
  Result<std::optional<Unlinked>> rename(Txn& txn, const Caller& caller, uint64_t parent, std::string_view name,
                                         uint64_t newParent, std::string_view newName, unsigned flags);
  // Points a file at `blob` (moving one reference), sets size, ctime and
  // mtime (`mtimeNs`, or now when 0), gives back reserved windows that now
  // hold data or lie past a shrunk size, and stores the inode. The content
  // it replaces goes to the trash as dropped by `cause`; nullopt: it is not
  // dropped (fallocate only adds holes).
  Status setBlob(Txn& txn, uint64_t ino, InodeRecord& inode, const Id128& blob, uint64_t size,
                 std::optional<DropCause> cause, int64_t mtimeNs = 0);
  // Deletes the inode's records, drops its blob's reference and gives back
  // its reserved windows.
  Status deleteInode(Txn& txn, uint64_t ino, const InodeRecord& inode);

  // ---- the change feed (tree_feed.cc, SPEC §11) ---------------------------------
  // Whether changes are recorded (feed.h). Set once, before the store is
  // shared between threads.
  // `committed` runs after each commit that wrote feed records (Feed::committed).
  void setFeed(bool on, std::function<void()> committed = nullptr) {
    feedOn_ = on;
    feedCommitted_ = std::move(committed);
  }
  bool feedOn() const { return feedOn_; }
  // Records, in `txn`, that `op` happened to `name` in directory `dir`
  // (`dirInode`, as the transaction holds it) naming `inode`; `to` is the
  // other path of a rename or an exchange. Nothing when the feed is off.
  Status noteChange(Txn& txn, FeedOp op, uint64_t dir, const InodeRecord& dirInode, std::string_view name,
                    const InodeRecord& inode, const std::string& to = std::string());
  // `op` (a write: new content; attributes) of `ino`, found by its parent
  // and name (InodeRecord::parent, name).
  Status noteOfInode(Txn& txn, FeedOp op, uint64_t ino, const InodeRecord& inode);
  // The absolute path of entry `name` of directory `dir` ("/a/b").
  Result<std::string> pathIn(Txn& txn, uint64_t dir, std::string_view name);

  // ---- expiry (tree_expiry.cc, SPEC §11) ----------------------------------------
  // Sets the expiry of regular file `ino` (expiry.h) to `expiresNs`, for the
  // content it holds now, or clears it when 0. The caller locked `inode`
  // exclusively and stores it.
  Status setExpiry(Txn& txn, uint64_t ino, InodeRecord& inode, int64_t expiresNs);
  // Clears the expiry if there is one: a move, a copy onto the file.
  Status clearExpiry(Txn& txn, uint64_t ino, InodeRecord& inode) { return setExpiry(txn, ino, inode, 0); }
  Result<std::optional<ExpiryRecord>> loadExpiry(Txn& txn, uint64_t ino);
  // Whether `caller` may give `inode` an expiry: the deletion takes its
  // name, so only one who could unlink(2) it — write and search permission
  // on its directory, within the sticky bit's rule (EACCES, EPERM). EINVAL
  // when no directory is known for it. `what` begins each message.
  Status mayExpire(Txn& txn, const Caller& caller, const InodeRecord& inode, std::string_view what);
  // The entry of `dir` that names `ino`, if any (a search of its entries).
  Result<std::optional<std::pair<std::string, DentryRecord>>> nameIn(Txn& txn, uint64_t dir, uint64_t ino);

  // ---- clones (tree_clone.cc, SPEC §10) ---------------------------------------
  struct CloneCount {
    uint64_t entries = 0;  // names made
    uint64_t bytes = 0;    // file content shared
  };
  // Adds `name` to `parent`: a copy of the tree at `sourceIno` (a directory
  // and everything under it, or one node) as it is in this transaction,
  // sharing every file's content; names, modes, times, symlinks, extended
  // attributes and hard links within the tree are kept; the copies are the
  // caller's (root's keep their owners). `readOnly`: every inode of the copy
  // refuses change (InodeRecord::kReadOnly). EACCES where the caller could
  // not list a directory or read a file of it. The caller checked that
  // `parent` is not under `sourceIno` and that it may create `name`.
  Result<uint64_t> copyTree(Txn& txn, const Caller& caller, uint64_t sourceIno, uint64_t parent, std::string_view name,
                            bool readOnly, CloneCount& count);
  // Sets or clears kReadOnly on `ino` and everything under it, counting the
  // inodes it changed. EPERM for an inode neither root's nor the caller's.
  Status setReadOnly(Txn& txn, const Caller& caller, uint64_t ino, bool readOnly, uint64_t& changed, int depth = 0);

 private:
  class Rename;  // tree_rename.cc
  struct CloneWalk;  // tree_clone.cc
  // Every entry of `dir` (name, record), in key order; stable only while
  // the directory's inode is locked (format.h invariant).
  Result<std::vector<std::pair<std::string, DentryRecord>>> entriesOf(Txn& txn, uint64_t dir);
  InodeRecord copiedInode(const InodeRecord& source, const Caller& caller, bool readOnly) const;
  Result<uint64_t> copyInode(Txn& txn, uint64_t sourceIno, const InodeRecord& source, uint64_t copyParent,
                             std::string_view copyName, CloneWalk& walk, int depth);
  Status copyEntries(Txn& txn, uint64_t sourceDir, const InodeRecord& sourceDirInode, uint64_t copyDir,
                     InodeRecord& copyDirInode, CloneWalk& walk, int depth);

  ContentStore& content_;
  Reservations& reservations_;
  const Clock& clock_;
  // A new inode number: from the batch this process holds, refilled from
  // the engine's "ino" counter (shared by every process of a database store).
  Result<uint64_t> newIno() EXCLUDES(inoMutex_);
  static constexpr uint64_t kInoBatch = 1024;
  MetaEngine& engine_;
  const uint64_t inoFloor_;  // one past the largest inode number in use at open
  Mutex inoMutex_;
  // Numbers handed to this process and not used yet: [nextIno_, inoEnd_).
  uint64_t nextIno_ GUARDED_BY(inoMutex_) = 0;
  uint64_t inoEnd_ GUARDED_BY(inoMutex_) = 0;
  // Directory paths for the feed (pathIn): a cache of walks up the parents,
  // all of it forgotten when a directory is renamed or removed. A walk
  // stores its result only if no such change committed since it began
  // (the generation), so the cache never keeps a path older than the tree.
  Result<std::string> dirPath(Txn& txn, uint64_t dir) EXCLUDES(dirPathsMutex_);
  void forgetDirPaths() EXCLUDES(dirPathsMutex_);
  Mutex dirPathsMutex_;
  std::unordered_map<uint64_t, std::string> dirPaths_ GUARDED_BY(dirPathsMutex_);
  uint64_t dirPathsGeneration_ GUARDED_BY(dirPathsMutex_) = 0;
  bool feedOn_ = false;  // constant once the store is shared
  std::function<void()> feedCommitted_;  // constant once the store is shared

  InodeHolders* holders_ = nullptr;  // constant once the store is shared
  Trash* trash_ = nullptr;           // constant once the store is shared
  std::string orphanTag_;            // constant once the store is shared
  std::unique_ptr<InodeHolders> checkHolders_;  // setInUseCheck's
};

}  // namespace acidfs
