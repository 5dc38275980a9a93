// Uncontended compare-and-swap through the ioctl door, from a compiled
// client: what the daemon sustains when the client costs next to nothing.
// bench/cas_bench.py runs it beside its Python client (which alone spends
// about 250 µs of CPU per update on the 2-core VM: issue 12).
//
//   cas_door_bench FILE UPDATES
//
// FILE is in an acidfs mount and holds a decimal counter. Each update is what
// a careful script does: STAT for the blobId, read the value, PUT value+1,
// COMMIT with the read blobId as basis. Prints one JSON line: updates, the
// seconds they took, updates/s, and the counter's final value (checked).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "acidfs/ioctl.h"
#include "tools/mount_client.h"

namespace {

std::string readWhole(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw acidfs::tool::ToolError{"open " + path};
  char buf[64];
  const ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 0) throw acidfs::tool::ToolError{"read " + path};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: cas_door_bench FILE UPDATES\n");
    return 2;
  }
  const std::string file = argv[1];
  const long updates = atol(argv[2]);
  try {
    acidfs::tool::MountClient mount = acidfs::tool::MountClient::forPath(file);
    const std::string path = mount.inMountPath(file);
    const long first = atol(readWhole(file).c_str());
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < updates; ++i) {
      auto st = mount.request(ACIDFS_IOC_STAT, nlohmann::json{{"path", path}}.dump());
      if (st.result != 0) throw acidfs::tool::ToolError{"STAT: " + st.data.dump()};
      const long value = atol(readWhole(file).c_str());
      auto put = mount.request(ACIDFS_IOC_PUT, std::to_string(value + 1));
      if (put.result != 0) throw acidfs::tool::ToolError{"PUT: " + put.data.dump()};
      auto commit = mount.request(
          ACIDFS_IOC_COMMIT,
          nlohmann::json{{"path", path}, {"blobId", put.data["blobId"]}, {"basis", st.data["blobId"]}}.dump());
      if (commit.result != 0) throw acidfs::tool::ToolError{"COMMIT (nobody else writes the file): " + commit.data.dump()};
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long last = atol(readWhole(file).c_str());
    if (last != first + updates) throw acidfs::tool::ToolError{"lost updates: counter " + std::to_string(last)};
    printf("{\"updates\": %ld, \"seconds\": %.6f, \"rate\": %.1f, \"counter\": %ld}\n", updates, seconds,
           updates / seconds, last);
    return 0;
  } catch (const acidfs::tool::ToolError& e) {
    fprintf(stderr, "cas_door_bench: %s\n", e.message.c_str());
    return 1;
  }
}
