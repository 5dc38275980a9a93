// acidfsd's -o options: ours (sync, commit_interval=SECS, debug) are taken
// out; the rest (allow_other, ro, fsname=...) go to libfuse.
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
  std::vector<std::string> fuseOptions;  // passed through, without default_permissions (always on)
};

// Parses the comma-separated lists given with -o (each may hold several).
Result<MountOptions> parseMountOptions(const std::vector<std::string>& lists);

}  // namespace acidfs
