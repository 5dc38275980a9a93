// One function per FUSE operation: decode, call the core, reply. Errors
// become fuse_reply_err(errno) here and nowhere else (replyError).
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/virtual_xattrs.h"
#include "fuse/ioctl_door.h"
#include "acidfs/ioctl.h"
#include "fuse/fuse_fs.h"

namespace acidfs {
namespace {

FuseFs& fsOf(fuse_req_t req) { return *static_cast<FuseFs*>(fuse_req_userdata(req)); }

// The caller as the kernel tells it. Supplementary groups cost the daemon a
// read of /proc/PID/task/TID/status, so they are fetched only when a
// permission decision needs them (Caller::groupsLoader), during the request.
Caller callerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller caller = Caller::of(ctx->uid, ctx->gid);
  if (ctx->uid == 0) return caller;
  caller.groupsLoader = [req] {
    std::vector<gid_t> groups(64);
    int n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
    if (n > static_cast<int>(groups.size())) {
      groups.resize(static_cast<size_t>(n));
      n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
    }
    groups.resize(static_cast<size_t>(std::clamp(n, 0, static_cast<int>(groups.size()))));
    return std::vector<uint32_t>(groups.begin(), groups.end());
  };
  return caller;
}

// -o debug: one log line per request, with its result and latency.
class RequestTrace {
 public:
  RequestTrace(fuse_req_t req, const char* op, uint64_t ino) : req_(req), op_(op), ino_(ino), start_(Clock::real().nowNs()) {
    current_ = this;
  }
  ~RequestTrace() {
    current_ = nullptr;
    const fuse_ctx* ctx = fuse_req_ctx(req_);
    logLine(LogLevel::kDebug, "%s ino=%llu uid=%u pid=%d -> %s (%lld us)", op_, static_cast<unsigned long long>(ino_),
            ctx ? ctx->uid : 0, ctx ? ctx->pid : 0, errno_ ? errnoName(errno_).c_str() : "ok",
            static_cast<long long>((Clock::real().nowNs() - start_) / 1000));
  }
  static void noteError(int err) {
    if (current_) current_->errno_ = err;
  }

 private:
  static thread_local RequestTrace* current_;
  fuse_req_t req_;
  const char* op_;
  uint64_t ino_;
  int64_t start_;
  int errno_ = 0;
};
thread_local RequestTrace* RequestTrace::current_ = nullptr;

void replyErrno(fuse_req_t req, int err) {
  RequestTrace::noteError(err);
  fuse_reply_err(req, err);
}

void replyError(fuse_req_t req, const Status& s, const char* op) {
  RequestTrace::noteError(s.errnum() ? s.errnum() : EIO);
  if (isStoreFailure(s)) ACIDFS_LOG(kError, "%s: %s", op, s.toString().c_str());
  fuse_reply_err(req, s.errnum() ? s.errnum() : EIO);
}

void fillStat(const FuseFs& fs, uint64_t ino, const InodeRecord& inode, struct stat& st) {
  memset(&st, 0, sizeof st);
  st.st_ino = ino;
  st.st_mode = inode.mode;
  st.st_nlink = inode.nlink;
  st.st_uid = inode.uid;
  st.st_gid = inode.gid;
  st.st_rdev = static_cast<dev_t>(inode.rdev);
  st.st_size = static_cast<off_t>(inode.size);
  st.st_blksize = static_cast<blksize_t>(fs.options.maxWrite);
  // Regular files count their data and the windows fallocate reserved,
  // not their holes; others their size.
  const uint64_t used =
      inode.isRegular() ? inode.allocatedBytes + inode.reservedWindowCount() * fs.store.chunkSize() : inode.size;
  st.st_blocks = static_cast<blkcnt_t>((used + 511) / 512);
  const int64_t atimeNs = fs.accessTimes.effectiveAtime(ino, inode);  // a read's, until persisted
  st.st_atim = {static_cast<time_t>(atimeNs / 1000000000), static_cast<long>(atimeNs % 1000000000)};
  st.st_mtim = {static_cast<time_t>(inode.mtimeNs / 1000000000), static_cast<long>(inode.mtimeNs % 1000000000)};
  st.st_ctim = {static_cast<time_t>(inode.ctimeNs / 1000000000), static_cast<long>(inode.ctimeNs % 1000000000)};
}

// Attributes as readers must see them: pending writes folded in.
fuse_entry_param entryOf(FuseFs& fs, const Attr& attr) {
  fuse_entry_param e;
  memset(&e, 0, sizeof e);
  InodeRecord inode = attr.inode;
  fs.drafts.overlay(attr.ino, inode);
  e.ino = attr.ino;
  e.attr_timeout = fs.options.attrTimeout;
  e.entry_timeout = fs.options.entryTimeout;
  fillStat(fs, attr.ino, inode, e.attr);
  return e;
}

void replyEntry(fuse_req_t req, const Result<Attr>& attr, const char* op) {
  FuseFs& fs = fsOf(req);
  if (!attr.ok()) return replyError(req, attr.status(), op);
  fuse_entry_param e = entryOf(fs, *attr);
  fs.inodes.lookedUp(attr->ino);
  if (fuse_reply_entry(req, &e) != 0) fs.inodes.forget(attr->ino, 1);  // the kernel did not take it
}

void replyAttr(fuse_req_t req, const Result<Attr>& attr, const char* op) {
  FuseFs& fs = fsOf(req);
  if (!attr.ok()) return replyError(req, attr.status(), op);
  fuse_entry_param e = entryOf(fs, *attr);
  fuse_reply_attr(req, &e.attr, fs.options.attrTimeout);
}

void replyStatus(fuse_req_t req, const Status& s, const char* op) {
  if (!s.ok()) return replyError(req, s, op);
  fuse_reply_err(req, 0);
}

// ---- lifecycle ---------------------------------------------------------------

void opInit(void* userdata, fuse_conn_info* conn) {
  FuseFs& fs = *static_cast<FuseFs*>(userdata);
  conn->max_write = static_cast<unsigned>(fs.options.maxWrite);
  conn->max_readahead = static_cast<unsigned>(fs.options.maxWrite);
  conn->time_gran = 1;  // nanosecond timestamps
  auto want = [conn](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  if (fs.options.readdirplus) {
    want(FUSE_CAP_READDIRPLUS);
    want(FUSE_CAP_READDIRPLUS_AUTO);
  } else {
    conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  }
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_CACHE_SYMLINKS);
  want(FUSE_CAP_IOCTL_DIR);
  want(FUSE_CAP_EXPORT_SUPPORT);  // file handles outlive the kernel's caches (lookupByHandle)
  // Writes must reach us at once to be committed on time (SPEC §3).
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // Cached pages stay valid when a getattr shows a new mtime: every write
  // came through this kernel, which keeps its pages current itself. Without
  // this, the first stat after a write throws the file's pages away.
  conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
  // The kernel applies the umask; it keeps locks among local processes.
  conn->want &= ~(FUSE_CAP_DONT_MASK | FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
}

void opDestroy(void* userdata) {
  FuseFs& fs = *static_cast<FuseFs*>(userdata);
  Status s = fs.commitAll();
  if (!s.ok()) ACIDFS_LOG(kError, "committing at unmount failed: %s", s.toString().c_str());
}

// ---- names -------------------------------------------------------------------

// File handles (name_to_handle_at, open_by_handle_at, NFS export; the
// kernel's FUSE_EXPORT_SUPPORT): for a handle whose inode it has forgotten,
// the kernel asks for "." of the inode number, and for ".." of a directory
// to reconnect it. Inode numbers are never reused, so generation 0 is
// enough for a handle to name one inode only. A file without links is gone
// for a handle (ESTALE), as on local filesystems.
void lookupByHandle(fuse_req_t req, uint64_t ino, bool parentOf) {
  FuseFs& fs = fsOf(req);
  auto attr = fs.store.ns().getattr(ino);
  if (attr.ok() && parentOf) {
    if (!attr->inode.isDir()) return replyErrno(req, ENOTDIR);
    attr = fs.store.ns().getattr(attr->inode.parent ? attr->inode.parent : ino);
  }
  if (attr.ok() && attr->inode.nlink == 0) return replyErrno(req, ESTALE);
  if (!attr.ok()) return replyError(req, attr.status().errnum() == ENOENT ? Status::Error(ESTALE, "no such inode") : attr.status(), "lookup");
  fs.inodes.lookedUp(attr->ino);
  // Counted now, so it stays; deleted meanwhile, it is gone for the handle.
  if (!fs.store.ns().getattr(attr->ino).ok()) {
    fs.inodes.forget(attr->ino, 1);
    return replyErrno(req, ESTALE);
  }
  fuse_entry_param e = entryOf(fs, *attr);
  if (fuse_reply_entry(req, &e) != 0) fs.inodes.forget(attr->ino, 1);
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
    return lookupByHandle(req, parent, name[1] == '.');
  FuseFs& fs = fsOf(req);
  auto attr = fs.store.ns().lookup(parent, name, Freshness::kRecent);
  // The kernel's reference keeps an unlinked inode alive (InodeTable::isKnown)
  // only once it is counted: if a rename or unlink deleted the inode between
  // our read and the count, look again.
  for (int attempt = 1; attr.ok(); ++attempt) {
    fs.inodes.lookedUp(attr->ino);
    if (attempt == 8 || fs.store.ns().getattr(attr->ino).ok()) break;
    fs.inodes.forget(attr->ino, 1);
    attr = fs.store.ns().lookup(parent, name);
  }
  if (attr.ok()) {
    fuse_entry_param e = entryOf(fs, *attr);
    if (fuse_reply_entry(req, &e) != 0) fs.inodes.forget(attr->ino, 1);  // the kernel did not take it
    return;
  }
  if (attr.status().errnum() == ENOENT) {
    // A negative entry: the kernel may remember the absence as long as a name.
    fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.entry_timeout = fs.options.entryTimeout;
    fuse_reply_entry(req, &e);
    return;
  }
  replyEntry(req, attr, "lookup");
}

// Forgetting frees orphans, which may fail like any transaction; it must
// not throw into libfuse either (see Traced), and it always replies none.
void forgetOne(FuseFs& fs, fuse_ino_t ino, uint64_t nlookup) {
  try {
    if (fs.inodes.forget(ino, nlookup)) fs.releaseIfOrphan(ino);
  } catch (const std::exception& e) {
    ACIDFS_LOG(kError, "forget %llu: %s", static_cast<unsigned long long>(ino), e.what());
  }
}

void opForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  forgetOne(fsOf(req), ino, nlookup);
  fuse_reply_none(req);
}

void opForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) forgetOne(fsOf(req), forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void opGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  FuseFs& fs = fsOf(req);
  auto attr = fs.store.ns().getattr(ino, Freshness::kRecent);
  if (!attr.ok() && attr.status().errnum() == ENOENT) {
    // Deleted by an unlink while the kernel still knew it (fstat of an
    // O_PATH descriptor): its last attributes, as a local filesystem has.
    if (auto deleted = fs.inodes.deletedAttributes(ino)) attr = Attr{ino, std::move(*deleted)};
  }
  replyAttr(req, attr, "getattr");
}

void opSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* st, int toSet, fuse_file_info*) {
  FuseFs& fs = fsOf(req);
  SetAttrRequest r;
  if (toSet & FUSE_SET_ATTR_MODE) r.mode = st->st_mode & 07777;
  if (toSet & FUSE_SET_ATTR_UID) r.uid = st->st_uid;
  if (toSet & FUSE_SET_ATTR_GID) r.gid = st->st_gid;
  if (toSet & FUSE_SET_ATTR_SIZE) r.size = static_cast<uint64_t>(st->st_size);
  if (toSet & FUSE_SET_ATTR_ATIME_NOW) r.atimeNow = true;
  else if (toSet & FUSE_SET_ATTR_ATIME) r.atimeNs = st->st_atim.tv_sec * 1000000000LL + st->st_atim.tv_nsec;
  if (toSet & FUSE_SET_ATTR_MTIME_NOW) r.mtimeNow = true;
  else if (toSet & FUSE_SET_ATTR_MTIME) r.mtimeNs = st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
  if (toSet & FUSE_SET_ATTR_CTIME) r.ctimeNs = st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
  Result<Attr> attr = Status::Error(EIO, "setattr did not run");
  auto apply = [&] {
    attr = fs.store.ns().setattr(ino, r);
    return attr.status();
  };
  // Pending writes go first: a truncate or an explicit mtime applies after them.
  Status s = (r.size || fs.drafts.hasDraft(ino)) ? fs.drafts.changeContent(ino, apply) : apply();
  if (!s.ok()) return replyError(req, s, "setattr");
  replyAttr(req, attr, "setattr");
}

void opReadlink(fuse_req_t req, fuse_ino_t ino) {
  auto target = fsOf(req).store.ns().readlink(ino);
  if (!target.ok()) return replyError(req, target.status(), "readlink");
  fuse_reply_readlink(req, target->c_str());
}

void opMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  replyEntry(req, fsOf(req).store.ns().mknod(callerOf(req), parent, name, mode, rdev), "mknod");
}

void opMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  replyEntry(req, fsOf(req).store.ns().mkdir(callerOf(req), parent, name, mode), "mkdir");
}

void opSymlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  replyEntry(req, fsOf(req).store.ns().symlink(callerOf(req), parent, name, target), "symlink");
}

void opLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newParent, const char* newName) {
  replyEntry(req, fsOf(req).store.ns().link(ino, newParent, newName), "link");
}

void opUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  replyStatus(req, fsOf(req).store.ns().unlink(parent, name).status(), "unlink");
}

void opRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  replyStatus(req, fsOf(req).store.ns().rmdir(parent, name), "rmdir");
}

void opRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newParent, const char* newName,
              unsigned int flags) {
  FuseFs& fs = fsOf(req);
  // A user.acidfs.dest_basis compares the destination's content as a read
  // would return it: commit the destination's pending writes first.
  if (fs.drafts.draftCount() > 0) {
    auto dest = fs.store.ns().lookup(newParent, newName);
    if (dest.ok() && fs.drafts.hasDraft(dest->ino)) {
      Status committed = fs.drafts.commit(dest->ino);
      if (!committed.ok()) return replyError(req, committed, "rename");
    }
  }
  auto renamed = fs.store.ns().rename(callerOf(req), parent, name, newParent, newName, flags);
  if (renamed.status().isConflict())
    ACIDFS_LOG(kDebug, "rename refused by user.acidfs.dest_basis: %s", renamed.status().conflict()->toJson().c_str());
  replyStatus(req, renamed.status(), "rename");
}

// ---- files -------------------------------------------------------------------

// O_TRUNC arrives with the open (FUSE_CAP_ATOMIC_O_TRUNC).
Status truncateOnOpen(FuseFs& fs, uint64_t ino, int flags) {
  // The kernel has checked write permission, even for O_RDONLY|O_TRUNC,
  // which truncates on Linux filesystems too.
  if (!(flags & O_TRUNC)) return Status::OK();
  SetAttrRequest r;
  r.size = 0;
  return fs.drafts.changeContent(ino, [&] { return fs.store.ns().setattr(ino, r).status(); });
}

void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FuseFs& fs = fsOf(req);
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
    // A file of a read-only clone: refused at open, as on a ro mount, not
    // at the write or the close (every change is refused anyway: Tree::storeInode).
    auto attr = fs.store.ns().getattr(ino, Freshness::kRecent);
    if (attr.ok() && attr->inode.isReadOnly()) return replyErrno(req, EROFS);
  }
  Status s = truncateOnOpen(fs, ino, fi->flags);
  if (!s.ok()) return replyError(req, s, "open");
  // Unlinked meanwhile and deleted (InodeTable::claimForDeletion): the
  // unlink came first.
  if (!fs.inodes.opened(ino)) return replyErrno(req, ENOENT);
  fi->fh = fs.addOpenFile(ino, fi->flags);
  // Every content change passes through this kernel (see fuse_fs.h), which
  // keeps its pages current, but for direct writes (InodeTable::wroteDirectly).
  fi->keep_cache = !fs.options.sharedStore && !fs.inodes.pagesMayBeStale(ino);
  // A shared store (SPEC §9, close-to-open): another host may have changed
  // the file since the kernel cached its size; the attributes are refetched
  // at its next read or stat, which the store's latest state, read now,
  // answers (Freshness::kRecent after a kLatest read). (Attributes only: a
  // notification that invalidates pages may wait on them, which this open
  // must not.)
  if (fs.options.sharedStore) {
    (void)fs.store.ns().getattr(ino, Freshness::kLatest);  // an error shows at the next call
    fs.invalidateInode(ino, /*data=*/false);
  }
  if (fuse_reply_open(req, fi) != 0) {
    fs.removeOpenFile(fi->fh);
    fs.inodes.closed(ino);
  }
}

void opCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  FuseFs& fs = fsOf(req);
  const Caller caller = callerOf(req);
  auto attr = fs.store.ns().mknod(caller, parent, name, S_IFREG | (mode & 07777), 0);
  int openFlags = O_WRONLY;  // a new file was not read: its close leaves atime at the creation time
  if (!attr.ok() && attr.status().errnum() == EEXIST && !(fi->flags & O_EXCL)) {
    // Created since the kernel looked (through the ioctl door, behind its
    // back): open what is there, but only as open(2) would on an existing
    // file — the kernel checked the directory, not this file.
    attr = fs.store.ns().lookup(parent, name);
    if (attr.ok() && !attr->inode.isRegular()) {
      // A directory, symlink or node: open(2) would follow or open it, which
      // only the kernel can do. It forgets the name and the caller retries.
      fs.invalidateEntry(parent, name);
      return replyError(req, Status::Error(attr->inode.isDir() ? EISDIR : EEXIST, "created meanwhile"), "create");
    }
    if (attr.ok()) {
      Status s = mayOpen(caller, attr->inode, fi->flags);
      if (s.ok()) s = truncateOnOpen(fs, attr->ino, fi->flags);
      if (!s.ok()) return replyError(req, s, "create");
      attr = fs.store.ns().getattr(attr->ino);
      openFlags = fi->flags;
    }
  }
  if (!attr.ok()) return replyError(req, attr.status(), "create");
  fuse_entry_param e = entryOf(fs, *attr);
  fs.inodes.lookedUp(attr->ino);
  if (!fs.inodes.opened(attr->ino)) {  // unlinked by another process before we could answer
    fs.inodes.forget(attr->ino, 1);
    return replyErrno(req, ENOENT);
  }
  fi->fh = fs.addOpenFile(attr->ino, openFlags);
  fi->keep_cache = !fs.options.sharedStore && !fs.inodes.pagesMayBeStale(attr->ino);
  if (fuse_reply_create(req, &e, fi) != 0) {
    fs.removeOpenFile(fi->fh);
    fs.inodes.closed(attr->ino);
    fs.inodes.forget(attr->ino, 1);
  }
}

void opRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  FuseFs& fs = fsOf(req);
  // One buffer a worker thread, kept between requests: a fresh one each time
  // cost the page faults of a new mapping (reads are up to max_read, 1 MiB;
  // libfuse runs at most 16 workers).
  thread_local std::string data;
  Status s = fs.drafts.read(ino, static_cast<uint64_t>(off), size, data);
  if (!s.ok()) return replyError(req, s, "read");
  // Pages not in the kernel's cache: relatime here too, for a read after a
  // write on the same descriptor (a transaction only on the first read after
  // a change).
  fs.noteAccess(ino);
  fuse_reply_buf(req, data.data(), data.size());
}

void opWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  FuseFs& fs = fsOf(req);
  Status s = fs.drafts.write(ino, static_cast<uint64_t>(off), std::string_view(buf, size));
  if (s.ok() && fs.options.syncWrites) s = fs.drafts.commit(ino);  // the store syncs each commit
  if (!s.ok()) return replyError(req, s, "write");
  if (OpenFile* f = fs.openFile(fi->fh)) f->wrote = true;
  if (fi->flags & O_DIRECT) fs.wroteDirectly(ino);  // fi->flags: the descriptor's flags now (fcntl too)
  fuse_reply_write(req, size);
}

// close(): a descriptor that wrote commits (SPEC §3), so close reports errors.
void opFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FuseFs& fs = fsOf(req);
  OpenFile* f = fs.openFile(fi->fh);
  Status s = (f && f->wrote) ? fs.drafts.commit(ino) : Status::OK();
  // Writes the commit lost may still be in the kernel's cache: drop them
  // before close returns (close holds no page locks; see pagesToDrop_).
  if (FileDrafts::dropsDraft(s)) fs.invalidateInode(ino, /*data=*/true);
  // relatime at the close of a readable descriptor, as well as at a read
  // that reaches us: with keep_cache the kernel serves cached pages without
  // asking (FUSE inodes are S_NOATIME in the kernel). Here and not at open,
  // because the invalidation that follows would cost the reads a GETATTR.
  if (f && f->readable) fs.noteAccess(ino);
  replyStatus(req, s, "flush");
}

void opRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FuseFs& fs = fsOf(req);
  OpenFile* f = fs.openFile(fi->fh);
  // Writes through a shared mapping can arrive after the last flush.
  Status s = (f && f->wrote) ? fs.drafts.commit(ino) : Status::OK();
  if (!s.ok()) ACIDFS_LOG(kError, "commit at release failed: %s", s.toString().c_str());
  fs.removeOpenFile(fi->fh);
  if (fs.inodes.closed(ino)) fs.releaseIfOrphan(ino);
  fuse_reply_err(req, 0);
}

void opFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  FuseFs& fs = fsOf(req);
  Status s = fs.drafts.commit(ino);
  if (s.ok()) s = fs.store.sync();
  replyStatus(req, s, "fsync");
}

// ---- directories -------------------------------------------------------------

void opOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto attr = fsOf(req).store.ns().getattr(ino);
  if (!attr.ok()) return replyError(req, attr.status(), "opendir");
  if (!attr->inode.isDir()) return replyError(req, Status::Error(ENOTDIR, "not a directory"), "opendir");
  FuseFs& fs = fsOf(req);
  fi->fh = fs.addOpenFile(ino, O_RDONLY);  // a handle of its own: ioctl requests in parts
  fi->cache_readdir = 0;
  fs.inodes.opened(ino);  // a removed directory stays listable while open (never claimed for deletion)
  if (fuse_reply_open(req, fi) != 0) {
    fs.removeOpenFile(fi->fh);
    fs.inodes.closed(ino);
  }
}

// Offsets are readdir cookies: 1 = ".", 2 = "..", then each entry's own.
void readdirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus) {
  FuseFs& fs = fsOf(req);
  auto dir = fs.store.ns().getattr(ino);
  if (!dir.ok()) return replyError(req, dir.status(), "readdir");
  std::vector<char> buf(size);
  size_t used = 0;
  auto addDot = [&](const char* name, uint64_t dotIno, uint64_t cookie) {
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = dotIno;
    st.st_mode = S_IFDIR;
    size_t need;
    if (plus) {
      fuse_entry_param e;
      memset(&e, 0, sizeof e);  // no lookup reference for . and ..: the kernel skips them
      e.attr = st;
      need = fuse_add_direntry_plus(req, buf.data() + used, size - used, name, &e, static_cast<off_t>(cookie));
    } else {
      need = fuse_add_direntry(req, buf.data() + used, size - used, name, &st, static_cast<off_t>(cookie));
    }
    if (need > size - used) return false;
    used += need;
    return true;
  };
  uint64_t after = off < 0 ? 0 : static_cast<uint64_t>(off);
  if (after < 1 && !addDot(".", ino, 1)) return (void)fuse_reply_buf(req, buf.data(), used);
  if (after < 2 && !addDot("..", dir->inode.parent ? dir->inode.parent : ino, 2))
    return (void)fuse_reply_buf(req, buf.data(), used);
  Status s = fs.store.ns().readdir(ino, std::max<uint64_t>(after, 2), [&](const DirEntry& entry) {
    size_t need;
    if (plus) {
      // The entry was read before its inode: a rename onto the name may have
      // replaced (and deleted) that inode since. The name never vanished,
      // so look it up again, as lookup does; skip it only when it is gone.
      auto attr = fs.store.ns().getattr(entry.ino, Freshness::kRecent);
      if (!attr.ok() && attr.status().errnum() == ENOENT) attr = fs.store.ns().lookup(ino, entry.name);
      if (!attr.ok()) return true;
      fuse_entry_param e = entryOf(fs, *attr);
      need = fuse_add_direntry_plus(req, buf.data() + used, size - used, entry.name.c_str(), &e,
                                    static_cast<off_t>(entry.cookie));
      if (need > size - used) return false;
      fs.inodes.lookedUp(attr->ino);
    } else {
      struct stat st;
      memset(&st, 0, sizeof st);
      st.st_ino = entry.ino;
      st.st_mode = entry.type;
      need = fuse_add_direntry(req, buf.data() + used, size - used, entry.name.c_str(), &st,
                               static_cast<off_t>(entry.cookie));
      if (need > size - used) return false;
    }
    used += need;
    return true;
  });
  if (!s.ok() && used == 0) return replyError(req, s, "readdir");
  fuse_reply_buf(req, buf.data(), used);
}

void opReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  readdirCommon(req, ino, size, off, false);
}

void opReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  readdirCommon(req, ino, size, off, true);
}

void opReleasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FuseFs& fs = fsOf(req);
  fs.removeOpenFile(fi->fh);
  if (fs.inodes.closed(ino)) fs.releaseIfOrphan(ino);
  fuse_reply_err(req, 0);
}

void opFsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  replyStatus(req, fsOf(req).store.sync(), "fsyncdir");
}

// ---- the ioctl door (include/acidfs/ioctl.h, fuse/ioctl_door.h) ---------------

void opIoctl(fuse_req_t req, fuse_ino_t, unsigned cmd, void*, fuse_file_info* fi, unsigned flags, const void* inBuf,
             size_t inSize, size_t outSize) {
  const unsigned code = cmd;
  if (_IOC_TYPE(code) != ACIDFS_IOC_MAGIC || (flags & FUSE_IOCTL_COMPAT)) return replyErrno(req, ENOTTY);
  if (_IOC_SIZE(code) != sizeof(acidfs_ioc_msg) || inSize != sizeof(acidfs_ioc_msg) ||
      outSize != sizeof(acidfs_ioc_msg))
    return replyErrno(req, EINVAL);
  acidfs_ioc_msg msg;
  memcpy(&msg, inBuf, sizeof msg);
  if (msg.version < ACIDFS_IOCTL_OLDEST_VERSION || msg.version > ACIDFS_IOCTL_VERSION) return replyErrno(req, EPROTO);
  if (msg.length > ACIDFS_IOC_DATA_MAX || (msg.flags & ~ACIDFS_IOC_MORE)) return replyErrno(req, EINVAL);
  FuseFs& fs = fsOf(req);
  if (!fs.openFile(fi->fh)) return replyErrno(req, EBADF);

  const Caller caller = callerOf(req);
  IoctlParts::Step step = fs.ioctlParts.add(fi->fh, caller.uid, code, std::string_view(msg.data, msg.length),
                                            (msg.flags & ACIDFS_IOC_MORE) != 0, Clock::real().nowNs());
  IoctlAnswer reply;
  switch (step.kind) {
    case IoctlParts::Step::Kind::kMore:
      msg.length = 0;
      msg.result = 0;
      fuse_reply_ioctl(req, 0, &msg, offsetof(acidfs_ioc_msg, data));
      return;
    case IoctlParts::Step::Kind::kRefused: reply = ioctlFailure(step.refusal); break;
    case IoctlParts::Step::Kind::kRun: reply = runIoctl(fs, caller, code, step.payload.bytes()); break;
  }
  if (reply.data.size() > ACIDFS_IOC_DATA_MAX) {
    reply = IoctlAnswer{EOVERFLOW, "{\"error\":\"answer larger than one ioctl buffer\"}"};
  }
  msg.result = reply.result;
  msg.length = static_cast<uint32_t>(reply.data.size());
  memcpy(msg.data, reply.data.data(), reply.data.size());
  fuse_reply_ioctl(req, 0, &msg, offsetof(acidfs_ioc_msg, data) + reply.data.size());
}

// ---- the filesystem ----------------------------------------------------------

void opStatfs(fuse_req_t req, fuse_ino_t) {
  FuseFs& fs = fsOf(req);
  auto space = fs.store.space();  // reservations and the space guard's floor left out (store.h)
  if (!space.ok()) return replyError(req, space.status(), "statfs");
  struct statvfs st;
  memset(&st, 0, sizeof st);
  st.f_bsize = 4096;
  st.f_frsize = 4096;
  st.f_blocks = static_cast<fsblkcnt_t>(space->total / 4096);
  st.f_bfree = static_cast<fsblkcnt_t>(space->free / 4096);
  st.f_bavail = static_cast<fsblkcnt_t>(space->available / 4096);
  // Inodes are RocksDB records: bounded by space, not by a table.
  st.f_files = 1ull << 40;
  st.f_ffree = st.f_favail = (1ull << 40) - 1;
  st.f_namemax = kNameMax;
  fuse_reply_statfs(req, &st);
}

// ---- extended attributes -------------------------------------------------------

// user.*, trusted.* and security.* are stored; system.* (ACLs) is not supported.
Status checkXattrName(const char* name) {
  if (strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 || strncmp(name, "security.", 9) == 0)
    return Status::OK();
  return Status::Error(EOPNOTSUPP, std::string("attribute namespace of ") + name + " is not supported");
}

void replyXattrValue(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, value.size());
  if (value.size() > size) return replyErrno(req, ERANGE);
  fuse_reply_buf(req, value.data(), value.size());
}

void opSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int flags) {
  Status s = checkXattrName(name);
  if (s.ok() && name == kExpiresAtXattr)  // deletes the file later: the caller's rights are checked
    s = fsOf(req).store.ns().setExpiry(callerOf(req), ino, std::string_view(value, size));
  else if (s.ok())
    s = fsOf(req).store.ns().setxattr(ino, name, std::string_view(value, size), flags);
  replyStatus(req, s, "setxattr");
}

void opGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Status s = checkXattrName(name);
  if (!s.ok()) return replyError(req, s.errnum() == EOPNOTSUPP ? Status::Error(ENODATA, s.message()) : s, "getxattr");
  FuseFs& fs = fsOf(req);
  // The blobId (version) of what a read returns now: pending writes are committed first.
  if (isCommittedContentXattr(name) && fs.drafts.hasDraft(ino)) {
    Status committed = fs.drafts.commit(ino);
    if (!committed.ok()) return replyError(req, committed, "getxattr");
  }
  auto value = [&]() -> Result<std::string> {
    if (!isCommittedContentXattr(name)) return fs.store.ns().getxattr(ino, name);
    DoorRevealLock seen(fs.doorLocks, DoorLocks::kAll);  // by inode, not path: every stripe (fuse/door_locks.h)
    return fs.store.ns().getxattr(ino, name);
  }();
  if (!value.ok()) return replyError(req, value.status(), "getxattr");
  replyXattrValue(req, *value, size);
}

void opListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  auto names = fsOf(req).store.ns().listxattr(ino);
  if (!names.ok()) return replyError(req, names.status(), "listxattr");
  // Like Linux filesystems, list trusted.* only to privileged callers.
  const bool privileged = fuse_req_ctx(req)->uid == 0;
  std::string joined;
  for (const std::string& n : *names)
    if (privileged || n.rfind("trusted.", 0) != 0) joined.append(n).push_back('\0');
  replyXattrValue(req, joined, size);
}

void opRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Status s = checkXattrName(name);
  if (!s.ok()) return replyError(req, Status::Error(ENODATA, s.message()), "removexattr");
  if (name == kExpiresAtXattr) return replyStatus(req, fsOf(req).store.ns().setExpiry(callerOf(req), ino, ""), "removexattr");
  replyStatus(req, fsOf(req).store.ns().removexattr(ino, name), "removexattr");
}

// ---- space and holes -------------------------------------------------------------

// Writes zeros over [offset, offset+length) through the draft; whole zero
// windows become holes when committed.
Status zeroRange(FuseFs& fs, uint64_t ino, uint64_t offset, uint64_t length) {
  static const std::string kZeros(1 << 20, '\0');
  for (uint64_t done = 0; done < length;) {
    uint64_t piece = std::min<uint64_t>(kZeros.size(), length - done);
    ACIDFS_RETURN_IF_ERROR(fs.drafts.write(ino, offset + done, std::string_view(kZeros.data(), piece)));
    done += piece;
  }
  return Status::OK();
}

void opFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, fuse_file_info*) {
  FuseFs& fs = fsOf(req);
  if (offset < 0 || length <= 0) return replyErrno(req, EINVAL);
  const uint64_t off = static_cast<uint64_t>(offset), len = static_cast<uint64_t>(length);
  auto attr = fs.store.ns().getattr(ino);
  if (!attr.ok()) return replyError(req, attr.status(), "fallocate");
  InodeRecord inode = attr->inode;
  fs.drafts.overlay(ino, inode);
  const bool keepSize = mode & FALLOC_FL_KEEP_SIZE;
  Status s;
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    return replyErrno(req, EOPNOTSUPP);
  } else if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    if ((mode & FALLOC_FL_PUNCH_HOLE) && !keepSize) return replyErrno(req, EINVAL);
    uint64_t end = keepSize ? std::min(inode.size, off + len) : off + len;
    if (end > off) s = zeroRange(fs, ino, off, end - off);
  } else {
    // Space for the holes is reserved (core/reservations.h); without
    // KEEP_SIZE the file grows, reading zeros.
    s = fs.drafts.changeContent(ino, [&] { return fs.store.ns().allocate(ino, off, len, keepSize).status(); });
  }
  replyStatus(req, s, "fallocate");
}

void opLseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info*) {
  FuseFs& fs = fsOf(req);
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return replyErrno(req, EINVAL);
  Status s = fs.drafts.commit(ino);
  if (!s.ok()) return replyError(req, s, "lseek");
  if (off < 0) return replyErrno(req, ENXIO);
  auto found = fs.store.ns().seek(ino, static_cast<uint64_t>(off), whence == SEEK_DATA);
  if (!found.ok()) return replyError(req, found.status(), "lseek");
  fuse_reply_lseek(req, static_cast<off_t>(*found));
}

void opCopyFileRange(fuse_req_t req, fuse_ino_t inoIn, off_t offIn, fuse_file_info*, fuse_ino_t inoOut, off_t offOut,
                     fuse_file_info* fiOut, size_t len, int flags) {
  FuseFs& fs = fsOf(req);
  if (flags != 0) return replyErrno(req, EINVAL);
  Status s = fs.drafts.commit(inoIn);
  if (s.ok()) s = fs.drafts.commit(inoOut);
  if (!s.ok()) return replyError(req, s, "copy_file_range");
  auto in = fs.store.ns().getattr(inoIn);
  auto out = fs.store.ns().getattr(inoOut);
  if (!in.ok() || !out.ok()) return replyError(req, in.ok() ? out.status() : in.status(), "copy_file_range");
  const uint64_t inSize = in->inode.size;
  if (static_cast<uint64_t>(offIn) >= inSize) return (void)fuse_reply_write(req, 0);
  if (offIn == 0 && offOut == 0 && len >= inSize && out->inode.size <= inSize && inoIn != inoOut) {
    // The whole file: share its blob, O(1) whatever the size (SPEC §4.1).
    Status shared = fs.drafts.changeContent(inoOut, [&] { return fs.store.ns().shareContent(inoIn, inoOut).status(); });
    if (!shared.ok()) return replyError(req, shared, "copy_file_range");
    if (OpenFile* f = fs.openFile(fiOut->fh)) f->wrote = true;
    return (void)fuse_reply_write(req, inSize);
  }
  const uint64_t count = std::min<uint64_t>(len, inSize - static_cast<uint64_t>(offIn));
  std::string piece;
  for (uint64_t done = 0; done < count;) {
    s = fs.drafts.read(inoIn, static_cast<uint64_t>(offIn) + done, std::min<uint64_t>(1 << 20, count - done), piece);
    if (!s.ok() || piece.empty()) break;
    s = fs.drafts.write(inoOut, static_cast<uint64_t>(offOut) + done, piece);
    if (!s.ok()) break;
    done += piece.size();
    if (done == count) {
      if (OpenFile* f = fs.openFile(fiOut->fh)) f->wrote = true;
      return (void)fuse_reply_write(req, done);
    }
  }
  if (!s.ok()) return replyError(req, s, "copy_file_range");
  fuse_reply_write(req, 0);
}

constexpr char k_lookup[] = "lookup";
constexpr char k_getattr[] = "getattr";
constexpr char k_setattr[] = "setattr";
constexpr char k_readlink[] = "readlink";
constexpr char k_mknod[] = "mknod";
constexpr char k_mkdir[] = "mkdir";
constexpr char k_symlink[] = "symlink";
constexpr char k_link[] = "link";
constexpr char k_unlink[] = "unlink";
constexpr char k_rmdir[] = "rmdir";
constexpr char k_rename[] = "rename";
constexpr char k_open[] = "open";
constexpr char k_create[] = "create";
constexpr char k_read[] = "read";
constexpr char k_write[] = "write";
constexpr char k_flush[] = "flush";
constexpr char k_release[] = "release";
constexpr char k_fsync[] = "fsync";
constexpr char k_opendir[] = "opendir";
constexpr char k_readdir[] = "readdir";
constexpr char k_readdirplus[] = "readdirplus";
constexpr char k_releasedir[] = "releasedir";
constexpr char k_fsyncdir[] = "fsyncdir";
constexpr char k_statfs[] = "statfs";
constexpr char k_ioctl[] = "ioctl";
constexpr char k_setxattr[] = "setxattr";
constexpr char k_getxattr[] = "getxattr";
constexpr char k_listxattr[] = "listxattr";
constexpr char k_removexattr[] = "removexattr";
constexpr char k_fallocate[] = "fallocate";
constexpr char k_lseek[] = "lseek";
constexpr char k_copy_file_range[] = "copy_file_range";

// Wraps an operation so that, with -o debug, each request logs one line,
// and so that no exception ever unwinds into libfuse (C code: the daemon
// would abort). Operations reply last, so one that threw has not replied:
// it gets EIO, or ENOMEM when memory ran out, and the daemon keeps serving.
template <auto Op, const char* Name>
struct Traced;
template <typename First, typename... Rest, void (*Op)(fuse_req_t, First, Rest...), const char* Name>
struct Traced<Op, Name> {
  static void call(fuse_req_t req, First first, Rest... rest) {
    try {
      if (!logEnabled(LogLevel::kDebug)) return Op(req, first, rest...);
      uint64_t ino = 0;
      if constexpr (std::is_same_v<First, fuse_ino_t>) ino = first;
      RequestTrace trace(req, Name, ino);
      Op(req, first, rest...);
    } catch (const std::bad_alloc&) {
      ACIDFS_LOG(kError, "%s: out of memory", Name);
      fuse_reply_err(req, ENOMEM);
    } catch (const std::exception& e) {
      ACIDFS_LOG(kError, "%s: %s", Name, e.what());
      fuse_reply_err(req, EIO);
    }
  }
};

fuse_lowlevel_ops makeOperations() {
  fuse_lowlevel_ops ops;
  memset(&ops, 0, sizeof ops);
  ops.init = opInit;
  ops.destroy = opDestroy;
  ops.lookup = Traced<opLookup, k_lookup>::call;
  ops.forget = opForget;
  ops.forget_multi = opForgetMulti;
  ops.getattr = Traced<opGetattr, k_getattr>::call;
  ops.setattr = Traced<opSetattr, k_setattr>::call;
  ops.readlink = Traced<opReadlink, k_readlink>::call;
  ops.mknod = Traced<opMknod, k_mknod>::call;
  ops.mkdir = Traced<opMkdir, k_mkdir>::call;
  ops.symlink = Traced<opSymlink, k_symlink>::call;
  ops.link = Traced<opLink, k_link>::call;
  ops.unlink = Traced<opUnlink, k_unlink>::call;
  ops.rmdir = Traced<opRmdir, k_rmdir>::call;
  ops.rename = Traced<opRename, k_rename>::call;
  ops.open = Traced<opOpen, k_open>::call;
  ops.create = Traced<opCreate, k_create>::call;
  ops.read = Traced<opRead, k_read>::call;
  ops.write = Traced<opWrite, k_write>::call;
  ops.flush = Traced<opFlush, k_flush>::call;
  ops.release = Traced<opRelease, k_release>::call;
  ops.fsync = Traced<opFsync, k_fsync>::call;
  ops.opendir = Traced<opOpendir, k_opendir>::call;
  ops.readdir = Traced<opReaddir, k_readdir>::call;
  ops.readdirplus = Traced<opReaddirplus, k_readdirplus>::call;
  ops.releasedir = Traced<opReleasedir, k_releasedir>::call;
  ops.fsyncdir = Traced<opFsyncdir, k_fsyncdir>::call;
  ops.statfs = Traced<opStatfs, k_statfs>::call;
  ops.ioctl = Traced<opIoctl, k_ioctl>::call;
  ops.setxattr = Traced<opSetxattr, k_setxattr>::call;
  ops.getxattr = Traced<opGetxattr, k_getxattr>::call;
  ops.listxattr = Traced<opListxattr, k_listxattr>::call;
  ops.removexattr = Traced<opRemovexattr, k_removexattr>::call;
  ops.fallocate = Traced<opFallocate, k_fallocate>::call;
  ops.lseek = Traced<opLseek, k_lseek>::call;
  ops.copy_file_range = Traced<opCopyFileRange, k_copy_file_range>::call;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& FuseFs::operations() {
  static const fuse_lowlevel_ops ops = makeOperations();
  return ops;
}

}  // namespace acidfs
