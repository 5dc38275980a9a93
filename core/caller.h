// Who is asking, and what POSIX lets them do (SPEC §6). The identity comes
// from the kernel (the FUSE request context), never from a payload.
#pragma once

#include <cstdint>
#include <vector>

#include "core/records.h"

namespace acidfs {

struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups

  static Caller root() { return Caller{}; }
  bool isRoot() const { return uid == 0; }
  bool inGroup(uint32_t g) const;
};

// access(2) semantics for R_OK/W_OK/X_OK (any combination): owner, group or
// other bits; root may read and write anything and search any directory.
bool mayAccess(const Caller& caller, const InodeRecord& inode, int mask);

// The sticky-directory rule: in a directory with S_ISVTX only the owner of
// the entry, the owner of the directory or root may remove or rename it.
bool stickyAllows(const Caller& caller, const InodeRecord& dir, const InodeRecord& victim);

}  // namespace acidfs
