// See store_handover.h: why acidfsd waits for the store's lock, and when not.
#include "daemon/store_handover.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/log.h"

namespace acidfs {
namespace {

// mountinfo writes a space, tab, newline and backslash in a field as \ooo.
std::string unescapeMountField(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() &&
        field.substr(i + 1, 3).find_first_not_of("01234567") == std::string::npos) {
      out.push_back(static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8)));
      i += 3;
      continue;
    }
    out.push_back(field[i]);
  }
  return out;
}

bool sameDirectory(const std::string& a, const std::string& b) {
  if (a == b) return true;
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

std::string mountedOnRecord(const std::string& mountpoint) { return "mounted on " + mountpoint; }

bool storeIsMounted(const std::string& path) {
  // The mount point its holder recorded, once it has mounted the store.
  const std::string use = readLockHolder(path).use;
  const std::string prefix = mountedOnRecord("");
  const std::string recordedPoint = use.starts_with(prefix) ? use.substr(prefix.size()) : "";
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    // ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS
    const size_t separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream head(line.substr(0, separator)), fields(line.substr(separator + 3));
    std::string id, parent, device, root, point, type, source;
    if (!(head >> id >> parent >> device >> root >> point) || !(fields >> type >> source)) continue;
    if (type != "fuse.acidfsd") continue;
    if (sameDirectory(unescapeMountField(source), path)) return true;
    if (!recordedPoint.empty() && unescapeMountField(point) == recordedPoint) return true;
  }
  return false;
}

Result<std::unique_ptr<Store>> openStoreAfterPreviousDaemon(const std::string& path, const StoreOptions& options,
                                                            std::chrono::milliseconds bound,
                                                            std::chrono::milliseconds quiet) {
  using SteadyClock = std::chrono::steady_clock;
  const auto begun = SteadyClock::now();
  bool said = false;
  std::string holder;
  for (;;) {
    const auto attempt = SteadyClock::now();
    auto store = Store::open(path, options);
    if (store.ok() && !holder.empty())
      ACIDFS_LOG(kInfo, "%s closed store %s within %lld ms", holder.c_str(), path.c_str(),
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(attempt - begun).count()));
    if (store.ok() || store.status().errnum() != EBUSY) return store;
    holder = "pid " + readLockHolder(path).pid;
    // Mounted: its daemon is serving, and may go on for days. Refused now.
    if (storeIsMounted(path)) return store;
    const auto waited = SteadyClock::now() - begun;
    if (waited >= bound) return store;
    if (!said && waited >= quiet) {
      fprintf(stderr, "acidfsd: waiting for %s to close store %s (up to %lld s)\n", holder.c_str(),
              path.c_str(), static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(bound).count()));
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace acidfs
