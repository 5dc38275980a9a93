// acidfsd's -o options: ours (sync, commit_interval=SECS, debug,
// attr_timeout=SECS, entry_timeout=SECS, max_write=BYTES, readdirplus=yes|no)
// are taken out; the rest (allow_other, ro, fsname=...) go to libfuse.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace acidfs {

struct MountOptions {
  bool sync = false;
  int commitIntervalSeconds = 5;
  bool debug = false;
  bool allowOther = false;
  // Kernel caching and transfer size (each measured in bench/README.md).
  double attrTimeout = 60.0;
  double entryTimeout = 60.0;
  size_t maxWrite = 1 << 20;
  bool readdirplus = true;
  bool atime = true;  // relatime; "noatime" turns access-time updates off
  std::vector<std::string> fuseOptions;  // passed through, without default_permissions (always on)
};

// Parses the comma-separated lists given with -o (each may hold several).
Result<MountOptions> parseMountOptions(const std::vector<std::string>& lists);

}  // namespace acidfs
