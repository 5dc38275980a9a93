// The ioctl door of include/acidfs/ioctl.h: one request (its whole payload,
// after any ACIDFS_IOC_MORE parts were joined) decoded from JSON, run on the
// core's CasOps as `caller`, and answered with a result errno and JSON. The
// kernel's caches of every entry and inode it changed are invalidated before
// the answer goes back, so `ls`, `cat` and `stat` right after see the change.
#pragma once

#include <string>
#include <string_view>

#include "core/caller.h"

namespace acidfs {

class FuseFs;

struct IoctlAnswer {
  int result = 0;    // 0, or a positive errno (ACIDFS_IOC_* result field)
  std::string data;  // JSON: the answer, a conflict report, or {"error": ...}
};

IoctlAnswer runIoctl(FuseFs& fs, const Caller& caller, unsigned cmd, std::string_view payload);

// The answer for a failed request: its errno with the conflict report, or
// with {"error": message}.
IoctlAnswer ioctlFailure(const Status& s);

}  // namespace acidfs
