#include "core/caller.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace acidfs {

bool Caller::inGroup(uint32_t g) const {
  if (g == gid) return true;
  if (groupsLoader && !groupsLoaded) {
    groups = groupsLoader();
    groupsLoaded = true;
  }
  return std::find(groups.begin(), groups.end(), g) != groups.end();
}

bool mayAccess(const Caller& caller, const InodeRecord& inode, int mask) {
  if (caller.isRoot()) {
    // Root needs one execute bit somewhere to execute a non-directory.
    if ((mask & X_OK) && !inode.isDir() && !(inode.mode & 0111)) return false;
    return true;
  }
  uint32_t bits;
  if (caller.uid == inode.uid)
    bits = (inode.mode >> 6) & 7;
  else if (caller.inGroup(inode.gid))
    bits = (inode.mode >> 3) & 7;
  else
    bits = inode.mode & 7;
  int need = ((mask & R_OK) ? 4 : 0) | ((mask & W_OK) ? 2 : 0) | ((mask & X_OK) ? 1 : 0);
  return (static_cast<int>(bits) & need) == need;
}

bool stickyAllows(const Caller& caller, const InodeRecord& dir, const InodeRecord& victim) {
  if (!(dir.mode & S_ISVTX)) return true;
  return caller.isRoot() || caller.uid == dir.uid || caller.uid == victim.uid;
}

void reportFound(ConflictReport& report, const Caller& caller, const InodeRecord* inode) {
  report.found.reset();
  report.foundWithheld = false;
  if (!inode || !inode->isRegular()) return;
  if (mayAccess(caller, *inode, R_OK))
    report.found = inode->blob;
  else
    report.foundWithheld = true;
}

void dropSetIdOnWrite(const Caller& caller, InodeRecord& inode) {
  if (caller.isRoot() || !inode.isRegular()) return;
  inode.mode &= ~S_ISUID;
  if (inode.mode & S_IXGRP) inode.mode &= ~S_ISGID;
}

Status mayOpen(const Caller& caller, const InodeRecord& inode, int openFlags) {
  const int accessMode = openFlags & O_ACCMODE;
  const bool writes = accessMode == O_WRONLY || accessMode == O_RDWR || (openFlags & O_TRUNC);
  if (inode.isDir() && writes) return Status::Error(EISDIR, "is a directory");
  int mask = 0;
  if (accessMode == O_RDONLY || accessMode == O_RDWR) mask |= R_OK;
  if (writes) mask |= W_OK;
  if (!mayAccess(caller, inode, mask)) return Status::Error(EACCES, "permission denied");
  return Status::OK();
}

}  // namespace acidfs
