#include "daemon/readahead.h"

#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "core/log.h"

namespace acidfs {

void raiseReadahead(dev_t mountDevice, size_t bytes) {
  const std::string path = "/sys/class/bdi/" + std::to_string(major(mountDevice)) + ":" +
                           std::to_string(minor(mountDevice)) + "/read_ahead_kb";
  const size_t wantedKb = bytes / 1024;
  size_t currentKb = 0;
  {
    std::ifstream in(path);
    if (!(in >> currentKb)) {
      ACIDFS_LOG(kDebug, "readahead stays the kernel's: %s is not readable", path.c_str());
      return;
    }
  }
  if (currentKb >= wantedKb) return;
  std::ofstream out(path);
  out << wantedKb << '\n';
  out.flush();
  if (!out) {
    ACIDFS_LOG(kDebug, "readahead stays %zu KiB: cannot write %s (%s)", currentKb, path.c_str(), strerror(errno));
    return;
  }
  ACIDFS_LOG(kDebug, "readahead raised from %zu to %zu KiB", currentKb, wantedKb);
}

}  // namespace acidfs
