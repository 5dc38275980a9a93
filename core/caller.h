// Who is asking, and what POSIX lets them do (SPEC §6). The identity comes
// from the kernel (the FUSE request context), never from a payload.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/records.h"
#include "core/status.h"

namespace acidfs {

struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // Supplementary groups. When `groupsLoader` is set they are fetched by
  // the first inGroup() that needs them (the FUSE frontend pays a /proc read
  // for them), so a Caller lives no longer than the request it describes.
  mutable std::vector<uint32_t> groups;
  std::function<std::vector<uint32_t>()> groupsLoader;
  mutable bool groupsLoaded = false;  // the loader has run

  static Caller root() { return Caller{}; }
  static Caller of(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {}) {
    Caller c;
    c.uid = uid;
    c.gid = gid;
    c.groups = std::move(groups);
    return c;
  }
  bool isRoot() const { return uid == 0; }
  bool inGroup(uint32_t g) const;
};

// access(2) semantics for R_OK/W_OK/X_OK (any combination): owner, group or
// other bits; root may read and write anything and search any directory.
bool mayAccess(const Caller& caller, const InodeRecord& inode, int mask);

// The sticky-directory rule: in a directory with S_ISVTX only the owner of
// the entry, the owner of the directory or root may remove or rename it.
bool stickyAllows(const Caller& caller, const InodeRecord& dir, const InodeRecord& victim);

// What a conflict report about `inode` (nullptr: nothing there) may show
// `caller` as `found`: a regular file's blobId, null for anything else, and
// withheld when the caller may not read the file — a blobId tells about
// content. Every door builds its reports' `found` with this.
void reportFound(ConflictReport& report, const Caller& caller, const InodeRecord* inode);

// What write(2) does to the set-ID bits of a regular file whose content
// `caller` replaces: set-user-ID goes, and set-group-ID where group execute
// is set, unless the caller is privileged (CAP_FSETID; here: root). The
// doors that replace content without a write() call this.
void dropSetIdOnWrite(const Caller& caller, InodeRecord& inode);

// What open(2) checks on an existing file, for the paths the kernel's own
// check cannot cover (a create that found the name taken behind its back):
// read permission for O_RDONLY/O_RDWR, write for O_WRONLY/O_RDWR/O_TRUNC;
// EISDIR for a directory opened for writing. EACCES otherwise.
Status mayOpen(const Caller& caller, const InodeRecord& inode, int openFlags);

}  // namespace acidfs
