#include "core/caller.h"

#include <unistd.h>

#include <algorithm>

namespace acidfs {

bool Caller::inGroup(uint32_t g) const {
  return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
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

}  // namespace acidfs
