// The POSIX namespace on inodes: what the FUSE frontend calls, one
// transaction per operation. Errnos are those Linux filesystems return.
//
// These calls do not check permissions: the kernel does, because acidfsd
// always mounts with default_permissions. The path-based operations of
// cas_ops.h (reached through ioctl, not through the kernel's checks) do.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/caller.h"
#include "core/records.h"
#include "core/status.h"

namespace acidfs {

class Clock;
enum class Column;  // format.h
class InodeHolders;
class ContentStore;
class MetaReader;
class TransactionRunner;
class Tree;
class Txn;

struct Attr {
  uint64_t ino = 0;
  InodeRecord inode;
};

struct SetAttrRequest {
  std::optional<uint32_t> mode;  // permission bits (07777)
  std::optional<uint32_t> uid, gid;
  std::optional<uint64_t> size;
  std::optional<int64_t> atimeNs, mtimeNs, ctimeNs;  // explicit times
  bool atimeNow = false, mtimeNow = false;
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint32_t type = 0;  // S_IFMT bits
  uint64_t cookie = 0;  // resume a listing after this entry with this value
};

// What an unlink or a replacing rename did to the inode it removed a name of.
struct Unlinked {
  uint64_t ino = 0;
  bool lastLink = false;  // nlink reached 0
  bool orphaned = false;  // ... and the inode was in use, so it lives on as an orphan
};

inline constexpr unsigned kRenameNoReplace = 1;  // RENAME_NOREPLACE
inline constexpr unsigned kRenameExchange = 2;   // RENAME_EXCHANGE
inline constexpr size_t kNameMax = 255;
inline constexpr size_t kSymlinkMax = 4095;
inline constexpr size_t kXattrValueMax = 64 * 1024;

// How current a read outside a transaction must be. kLatest: the store's
// state now (what open(), blobIds and the ioctl door decide on). kRecent:
// on a database store, what another host committed may show up to
// coherence_ms late (SPEC §9: stat, lookup, readdir, reads of an open
// file); never older than this process's own commits
// (MetaReader::getRecent). A directory store answers both alike.
enum class Freshness { kLatest, kRecent };

class Namespace {
 public:
  Namespace(TransactionRunner& runner, Tree& tree, ContentStore& content, MetaReader& db);

  Result<Attr> lookup(uint64_t parent, std::string_view name, Freshness freshness = Freshness::kLatest);
  Result<Attr> getattr(uint64_t ino, Freshness freshness = Freshness::kLatest);

  // Creates a regular file, FIFO, socket or device node (`mode` carries the
  // type bits; the caller applied the umask). The owner is the caller; the
  // group is the caller's or, in a setgid directory, the directory's.
  // EEXIST, ENOENT (parent gone), ENOTDIR, ENAMETOOLONG.
  Result<Attr> mknod(const Caller& caller, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev);
  Result<Attr> mkdir(const Caller& caller, uint64_t parent, std::string_view name, uint32_t mode);
  Result<Attr> symlink(const Caller& caller, uint64_t parent, std::string_view name, std::string_view target);
  // EPERM for directories, EMLINK past 65000 links.
  Result<Attr> link(uint64_t ino, uint64_t newParent, std::string_view newName);
  // EISDIR for a directory.
  Result<Unlinked> unlink(uint64_t parent, std::string_view name);
  // ENOTDIR, ENOTEMPTY; EBUSY for the root.
  Status rmdir(uint64_t parent, std::string_view name);
  // rename(2)/renameat2(2) with 0, kRenameNoReplace or kRenameExchange.
  // EINVAL moving a directory into its own subtree; EISDIR/ENOTDIR on type
  // mismatch; ENOTEMPTY onto a non-empty directory; EEXIST with NoReplace;
  // ENOENT with Exchange when the target is missing. Returns what a replaced
  // target lost. `caller` matters only to a user.acidfs.dest_basis on the
  // source, which compares with a target the kernel's checks know nothing of.
  Result<std::optional<Unlinked>> rename(const Caller& caller, uint64_t parent, std::string_view name,
                                         uint64_t newParent, std::string_view newName, unsigned flags);
  Result<Attr> setattr(uint64_t ino, const SetAttrRequest& request);
  Result<std::string> readlink(uint64_t ino);
  // Access times moved by reads (AccessTimes), in one transaction: each
  // inode gets `atimeNs` if its stored atime is still `stored` (an explicit
  // utimensat since the read wins). Removed inodes are skipped. `yield`:
  // a lock conflict ends it at once with Status::Retry, nothing written
  // (TransactionRunner::runOnce), instead of running it again.
  struct AccessTime {
    int64_t atimeNs = 0;
    int64_t stored = 0;
  };
  Status setAccessTimes(const std::vector<std::pair<uint64_t, AccessTime>>& times, bool yield = false);

  // Lists entries with cookie > afterCookie in cookie order (the order in
  // which they were created), until `emit` returns false. Memory does not
  // grow with the directory; a cookie stays valid while entries come and go.
  // A listing resumed page by page meets each cookie once: a name that
  // exists throughout is listed once (a rename onto it keeps its cookie),
  // and so is an entry renamed within the directory, under one of its names.
  Status readdir(uint64_t dir, uint64_t afterCookie, const std::function<bool(const DirEntry&)>& emit);

  // Extended attributes. setxattr flags: XATTR_CREATE, XATTR_REPLACE.
  Result<std::string> getxattr(uint64_t ino, std::string_view name);
  Status setxattr(uint64_t ino, std::string_view name, std::string_view value, int flags);
  Result<std::vector<std::string>> listxattr(uint64_t ino);
  Status removexattr(uint64_t ino, std::string_view name);
  // user.acidfs.expires_at (SPEC §11, core/expiry.h): `seconds` since the
  // epoch, decimal, or empty to clear. Only `caller`s who may write the
  // file and unlink(2) its name; EINVAL for a bad value or anything but a
  // regular file.
  Status setExpiry(const Caller& caller, uint64_t ino, std::string_view seconds);

  // Content. read: committed content of a regular file (EISDIR, EINVAL).
  // Writes go through FileDrafts (file_drafts.h), which commits them here.
  Status read(uint64_t ino, uint64_t offset, size_t length, std::string& out);
  // Commits new content built from the file's current blob: the file becomes
  // `newSize` long and each given window (chunk index → full window bytes)
  // replaces the old one. With `expectedBase`, ECANCELED if the file's blob
  // is no longer that (someone else committed meanwhile).
  // `mtimeNs` (when not 0) is the time of the last write the windows hold.
  Result<Attr> commitWindows(uint64_t ino, uint64_t newSize, const std::map<uint64_t, std::string_view>& windows,
                             std::optional<Id128> expectedBase, int64_t mtimeNs = 0);
  // fallocate(2), modes 0 and FALLOC_FL_KEEP_SIZE: reserves space for the
  // holes among the chunk windows [offset, offset + length) touches, so that
  // writing there later is not refused for space (core/reservations.h), and
  // unless `keepSize` grows the file to offset + length. ENOSPC when the
  // space is not there (nothing changes), EFBIG past the largest file.
  Result<Attr> allocate(uint64_t ino, uint64_t offset, uint64_t length, bool keepSize);
  // Points `ino` at the content of `sourceIno` (copy_file_range of a whole
  // file): O(1) whatever the size.
  Result<Attr> shareContent(uint64_t sourceIno, uint64_t destIno);

  // Deletes an orphan (nlink 0) once nothing holds it open any more.
  Status releaseOrphan(uint64_t ino);
  // Tells whether an inode is still in use (open). When an operation leaves
  // an inode with no name, it is deleted in that same transaction unless
  // this says it is in use; then releaseOrphan is the holder's job.
  // Set once, before the store is shared between threads.
  void setInUseCheck(std::function<bool(uint64_t ino)> inUse);
  // The same, with the finer questions of inode_holders.h (acidfsd: the
  // kernel's references). Not owned; null: nothing is held.
  void setInodeHolders(InodeHolders* holders);
  // Deletes `unlinked` now if it lost its last name and nobody uses it.
  void releaseIfUnused(const Unlinked& unlinked);
  // Deletes every orphan left by a crash (called when the store opens).
  Status releaseAllOrphans();
  // Deletes the orphans whose tag (Tree::setOrphanTag: the session that
  // held them) `whose` accepts: those of a daemon whose session lapsed.
  Status releaseOrphans(const std::function<bool(std::string_view tag)>& whose);

  // Where SEEK_DATA (`data`) or SEEK_HOLE finds the next data or hole at or
  // after `offset` in the committed content: ENXIO at or past the end.
  Result<uint64_t> seek(uint64_t ino, uint64_t offset, bool data);

  const Clock& clock() const;
  // The store's content, for FileDrafts (which reads a file's committed
  // chunks to fill a draft's windows).
  ContentStore& content() { return content_; }

 private:
  // db_.get or db_.getRecent.
  Result<std::optional<std::string>> get(Column c, std::string_view key, Freshness freshness);
  // Runs `change` on the inode, locked exclusively, in one transaction.
  Result<Attr> modifyInode(uint64_t ino, const std::function<Status(Txn&, InodeRecord&)>& change);

  TransactionRunner& runner_;
  Tree& tree_;  // the steps inside a transaction (tree.h)
  ContentStore& content_;
  MetaReader& db_;
};

// Name validation shared by every entry point: EINVAL for "", ".", ".." or a
// '/', ENAMETOOLONG past 255 bytes.
Status validateName(std::string_view name);

}  // namespace acidfs
