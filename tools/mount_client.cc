#include "tools/mount_client.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "acidfs/ioctl.h"

namespace acidfs::tool {
namespace {

std::string canonical(const std::string& path) {
  char resolved[PATH_MAX];
  if (!realpath(path.c_str(), resolved)) throw ToolError{path + ": " + strerror(errno)};
  return resolved;
}

// The directory that holds `path` and its last component, without following
// a symlink in that last component (mv and rm act on the link itself).
std::pair<std::string, std::string> splitParent(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const size_t slash = trimmed.rfind('/');
  if (slash == std::string::npos) return {".", trimmed};
  return {slash == 0 ? "/" : trimmed.substr(0, slash), trimmed.substr(slash + 1)};
}

dev_t deviceOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw ToolError{path + ": " + strerror(errno)};
  return st.st_dev;
}

}  // namespace

MountClient MountClient::forDirectory(const std::string& dir) {
  std::string root = canonical(dir);
  const dev_t dev = deviceOf(root);
  while (root != "/") {  // climb while the parent is the same filesystem
    std::string parent = std::filesystem::path(root).parent_path().string();
    if (deviceOf(parent) != dev) break;
    root = parent;
  }
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw ToolError{root + ": " + strerror(errno)};
  MountClient client(root, fd);
  // Ask: only an acidfs mount answers (a stat of its root is the cheapest question).
  try {
    client.request(ACIDFS_IOC_STAT, R"({"path":"/"})");
  } catch (const ToolError&) {
    throw ToolError{dir + " is not inside an acidfs mount"};
  }
  return client;
}

MountClient MountClient::forPath(const std::string& path) {
  const std::string dir = splitParent(path).first;
  try {
    return forDirectory(dir);
  } catch (const ToolError& e) {
    if (e.message == dir + " is not inside an acidfs mount") throw ToolError{path + " is not inside an acidfs mount"};
    throw;
  }
}

std::pair<MountClient, std::string> MountClient::forHistoricPath(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path whole = fs::absolute(path).lexically_normal();
  // The nearest ancestor that exists (the root always does).
  fs::path existing = whole.parent_path();
  std::error_code ec;
  while (!fs::is_directory(existing, ec) && existing != existing.root_path()) existing = existing.parent_path();
  MountClient client = forDirectory(existing.string());
  std::string inMount = client.inMountPath((existing / ".").string());  // the directory itself
  const fs::path rest = whole.lexically_relative(existing);
  for (const fs::path& part : rest) {
    if (part.empty() || part == ".") continue;
    if (inMount.back() != '/') inMount += '/';
    inMount += part.string();
  }
  return {std::move(client), inMount};
}

MountClient::~MountClient() {
  if (fd_ >= 0) close(fd_);
}

MountClient::MountClient(MountClient&& other) noexcept : root_(std::move(other.root_)), fd_(std::exchange(other.fd_, -1)) {}

std::string MountClient::inMountPath(const std::string& path) const {
  auto [dir, name] = splitParent(path);
  std::string parent = canonical(dir);
  if (parent != root_ && parent.rfind(root_ + "/", 0) != 0) throw ToolError{path + " is not on the acidfs mount at " + root_};
  std::string relative = parent.substr(root_ == "/" ? 0 : root_.size());
  if (name.empty() || name == "." || name == "..") {
    // The path names a directory itself: resolve it whole.
    std::string whole = canonical(path);
    if (whole == root_) return "/";
    return whole.substr(root_ == "/" ? 0 : root_.size());
  }
  return relative + "/" + name;
}

IoctlResult MountClient::request(unsigned long code, std::string_view payload) const {
  acidfs_ioc_msg msg;
  size_t sent = 0;
  do {
    const size_t part = std::min(payload.size() - sent, static_cast<size_t>(ACIDFS_IOC_DATA_MAX));
    memset(&msg, 0, offsetof(acidfs_ioc_msg, data));
    msg.version = ACIDFS_IOCTL_VERSION;
    msg.length = static_cast<uint32_t>(part);
    msg.flags = sent + part < payload.size() ? ACIDFS_IOC_MORE : 0;
    memcpy(msg.data, payload.data() + sent, part);
    if (ioctl(fd_, code, &msg) != 0) {
      const int err = errno;
      if (err == ENOTTY) throw ToolError{root_ + " is not an acidfs mount"};
      if (err == EPROTO) throw ToolError{"the acidfs daemon at " + root_ + " speaks another ioctl version"};
      throw ToolError{std::string("ioctl on ") + root_ + ": " + strerror(err)};
    }
    sent += part;
    if (msg.result != 0) break;  // a part was refused (too large): the answer says why
  } while (sent < payload.size());
  IoctlResult result;
  result.result = msg.result;
  result.data = nlohmann::ordered_json::parse(std::string_view(msg.data, std::min<size_t>(msg.length, ACIDFS_IOC_DATA_MAX)),
                                      nullptr, false);
  if (result.data.is_discarded()) throw ToolError{"the daemon's answer is not JSON"};
  return result;
}

}  // namespace acidfs::tool
