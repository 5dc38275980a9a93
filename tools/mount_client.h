// The client side of include/acidfs/ioctl.h, for the acidfs tool: finds the
// acidfs mount a path lies in, names the path as the mount sees it
// ("/a/b.txt"), and sends requests (in parts when they are long).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace acidfs::tool {

// Something the user must hear about on stderr (exit status 2).
struct ToolError {
  std::string message;
};

struct IoctlResult {
  int result = 0;        // 0, or the errno the daemon answered
  nlohmann::ordered_json data;  // the answer, a conflict report ("code"), or {"error": ...}
  bool isConflict() const { return result != 0 && data.is_object() && data.contains("code"); }
};

class MountClient {
 public:
  // The mount that holds `path` (which need not exist; its directory must).
  // ToolError when that is not an acidfs mount.
  static MountClient forPath(const std::string& path);
  // For a path that may be gone with its directories (acidfs log, undelete):
  // the mount that holds its nearest existing ancestor, and the path as the
  // mount names it (the gone part spelled as given, "." and ".." resolved
  // lexically).
  static std::pair<MountClient, std::string> forHistoricPath(const std::string& path);
  // The mount whose root or any directory below is `dir`.
  static MountClient forDirectory(const std::string& dir);
  ~MountClient();
  MountClient(MountClient&& other) noexcept;
  MountClient(const MountClient&) = delete;
  MountClient& operator=(const MountClient&) = delete;

  // `path` as the mount names it: "/" for its root, "/a/b.txt" below.
  // ToolError when the path is on another filesystem.
  std::string inMountPath(const std::string& path) const;
  const std::string& root() const { return root_; }

  IoctlResult request(unsigned long code, std::string_view payload) const;

 private:
  MountClient(std::string root, int fd) : root_(std::move(root)), fd_(fd) {}
  std::string root_;  // canonical path of the mount point
  int fd_ = -1;       // the mount root, opened O_RDONLY | O_DIRECTORY
};

}  // namespace acidfs::tool
