// A real acidfs mount for integration tests: MountTest starts the acidfsd
// binary (ACIDFS_DAEMON_PATH) on a store in a fresh temporary directory,
// exactly as a user would, and always takes it down again in TearDown —
// unmounting cleanly, or lazily when the mount is busy or its daemon is dead,
// and waiting for the daemon to exit — also when the test failed.
//
// Where /dev/fuse is missing or cannot be opened the tests are skipped, loudly
// (a message on stderr and in the GoogleTest skip reason), never silently
// passed.
//
// Background mode forks: the daemon that serves the mount is the grandchild of
// the test, found by its command line in /proc (the store path is unique to
// the test). Everything the daemon logs goes to daemon.log in the temporary
// directory, printed when a test fails.
//
// Besides the fixture: small RAII and I/O helpers (Fd, writeFile, readFile,
// errnoAfter), a runner for commands with a time limit that captures their
// output, and runInChild() for C++ code that must run in another process
// (another pid for locks, another uid for permissions).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "acidfs/ioctl.h"

#ifndef ACIDFS_DAEMON_PATH
#error "ACIDFS_DAEMON_PATH must name the acidfsd binary (tests/CMakeLists.txt defines it)"
#endif

namespace acidfs::mounttest {

using Clock = std::chrono::steady_clock;

// ---- small helpers -------------------------------------------------------------

// An owned file descriptor: closed when it goes out of scope, so that a failed
// assertion never leaves the mount busy.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes now and returns close()'s result (0, or -1 with errno).
  int close() {
    int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The outcome of a system call as a name: "OK" when it did not return -1,
// else the symbolic errno ("EEXIST"), so that a mismatch reads at a glance:
//   EXPECT_EQ("EEXIST", errnoAfter(open(p, O_CREAT | O_EXCL, 0644)));
inline std::string errnoName(int e) {
  const char* name = strerrorname_np(e);
  return name ? name : "errno " + std::to_string(e);
}
inline std::string errnoAfter(long rc) {
  if (rc != -1) return "OK";
  return errnoName(errno);
}

// Writes `content` to `path` (created 0644 and truncated unless `flags` say
// otherwise) and closes it. "OK", or the errno name of the step that failed.
inline std::string writeFile(const std::string& path, std::string_view content,
                             int flags = O_WRONLY | O_CREAT | O_TRUNC, mode_t mode = 0644) {
  Fd fd(open(path.c_str(), flags | O_CLOEXEC, mode));
  if (!fd.ok()) return "open: " + errnoName(errno);
  for (size_t done = 0; done < content.size();) {
    ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) return "write: " + errnoName(errno);
    done += static_cast<size_t>(n);
  }
  if (fd.close() != 0) return "close: " + errnoName(errno);
  return "OK";
}

// The whole content of a file, or nullopt (errno set).
inline std::optional<std::string> readFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return std::nullopt;
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// The content of a file, or a "<open failed: ENOENT>"-style marker that no
// test content equals (for EXPECT_EQ on small files).
// The code block after `<!-- recipe: NAME -->` in the README ("" when
// there is none): how the README's recipes are tested verbatim.
inline std::string readmeRecipe(const std::string& name) {
  std::ifstream in(std::string(ACIDFS_SOURCE_DIR) + "/README.md");
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str(), marker = "<!-- recipe: " + name + " -->";
  size_t at = text.find(marker);
  if (at == std::string::npos) return "";
  at = text.find("```sh\n", at);
  const size_t end = at == std::string::npos ? at : text.find("```\n", at + 6);
  return at == std::string::npos || end == std::string::npos ? "" : text.substr(at + 6, end - at - 6);
}

inline std::string readOr(const std::string& path) {
  auto content = readFile(path);
  return content ? *content : "<read failed: " + errnoName(errno) + ">";
}

// Byte-for-byte equality without dumping megabytes into the log.
inline ::testing::AssertionResult sameBytes(const std::string& expected, const std::optional<std::string>& actual) {
  if (!actual) return ::testing::AssertionFailure() << "could not read: " << errnoName(errno);
  if (expected == *actual) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < expected.size() && i < actual->size() && expected[i] == (*actual)[i]) ++i;
  return ::testing::AssertionFailure() << "expected " << expected.size() << " bytes, got " << actual->size()
                                       << "; first difference at offset " << i;
}

// Deterministic pseudo-random bytes.
inline std::string randomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    memcpy(&out[i], &v, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<char>(rng());
  return out;
}

// Bytes the files under `dir` occupy on disk (st_blocks), as du counts them.
inline uint64_t diskBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

inline void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// ---- processes -----------------------------------------------------------------

struct CommandResult {
  int exitStatus = -1;  // exit code; 128+N when killed by signal N
  bool timedOut = false;
  std::string out, err;
  bool ok() const { return !timedOut && exitStatus == 0; }
};

inline std::ostream& operator<<(std::ostream& os, const CommandResult& r) {
  os << (r.timedOut ? "timed out" : "exit " + std::to_string(r.exitStatus));
  auto tail = [](const std::string& s) { return s.size() > 4000 ? "..." + s.substr(s.size() - 4000) : s; };
  if (!r.out.empty()) os << "\n--- stdout ---\n" << tail(r.out);
  if (!r.err.empty()) os << "\n--- stderr ---\n" << tail(r.err);
  return os;
}

inline int statusToExit(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` (our child, leader of its own process group) at most
// `timeoutSeconds`; past that, kills its group and reports the timeout.
inline int waitChild(pid_t pid, double timeoutSeconds, bool* timedOut) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeoutSeconds);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return statusToExit(status);
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() > deadline) {
      if (timedOut) *timedOut = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return statusToExit(status);
    }
    sleepMs(5);
  }
}

// Runs argv (PATH searched) in `cwd` with a time limit; captures stdout and
// stderr. The child leads its own process group, so a timeout kills all of it.
inline CommandResult runArgv(const std::vector<std::string>& argv, const std::string& cwd = "/",
                             double timeoutSeconds = 120) {
  CommandResult result;
  int outPipe[2], errPipe[2];
  if (pipe2(outPipe, O_CLOEXEC) != 0) return result;
  if (pipe2(errPipe, O_CLOEXEC) != 0) {
    ::close(outPipe[0]);
    ::close(outPipe[1]);
    return result;
  }
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(outPipe[1], STDOUT_FILENO);
    dup2(errPipe[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (chdir(cwd.c_str()) != 0) {
      dprintf(STDERR_FILENO, "chdir %s: %s\n", cwd.c_str(), strerror(errno));
      _exit(126);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  ::close(outPipe[1]);
  ::close(errPipe[1]);
  if (pid < 0) {
    ::close(outPipe[0]);
    ::close(errPipe[0]);
    return result;
  }
  // Read both pipes until both are closed (or the time is up), then reap.
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeoutSeconds);
  pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int openPipes = 2;
  while (openPipes > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    int n = poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --openPipes;
      }
    }
  }
  double left = std::chrono::duration<double>(deadline - Clock::now()).count();
  result.exitStatus = waitChild(pid, std::max(left, 0.5), &result.timedOut);
  if (openPipes > 0) {
    // The command is gone but something it started still holds the pipes.
    for (auto& f : fds)
      if (f.fd >= 0) ::close(f.fd);
    if (!result.timedOut) result.timedOut = left <= 0;
  }
  return result;
}

// `/bin/sh -c command` in `cwd`.
inline CommandResult runShell(const std::string& command, const std::string& cwd, double timeoutSeconds = 120) {
  return runArgv({"/bin/sh", "-c", command}, cwd, timeoutSeconds);
}

// Runs `body` in a forked child and returns what it returned (its exit code:
// keep it in 0..125), 128+N when signal N killed it, -1 on a timeout. The
// child never returns into GoogleTest: it _exits.
inline int runInChild(const std::function<int()>& body, double timeoutSeconds = 60) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    setpgid(0, 0);
    int code = 125;
    try {
      code = body();
    } catch (...) {
    }
    _exit(code);
  }
  bool timedOut = false;
  int code = waitChild(pid, timeoutSeconds, &timedOut);
  return timedOut ? -1 : code;
}

// Files of /proc/PID/ are read with readFile, "" once the process is gone:
// not through an ifstream, whose filebuf throws when read(2) fails, as
// reading a process that exits meanwhile does (ESRCH; seen once in CI).

// Whether a process exists and has not exited (a zombie counts as exited).
inline bool processAlive(pid_t pid) {
  if (pid <= 0) return false;
  const std::string line = readFile("/proc/" + std::to_string(pid) + "/stat").value_or("");
  if (line.empty()) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  const char state = line[close + 2];
  return state != 'Z' && state != 'X';
}

// Pids of the processes whose argv[0] ends in "acidfsd" and that name `store`
// as an argument.
inline std::vector<pid_t> daemonsServing(const std::string& store) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (!proc) return found;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    long pid = strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const std::string cmdline = readFile(std::string("/proc/") + entry->d_name + "/cmdline").value_or("");
    std::vector<std::string> args;
    std::stringstream split(cmdline);
    for (std::string arg; std::getline(split, arg, '\0');) args.push_back(arg);
    if (args.empty()) continue;
    const std::string& exe = args[0];
    if (exe.size() < 7 || exe.compare(exe.size() - 7, 7, "acidfsd") != 0) continue;
    for (size_t i = 1; i < args.size(); ++i)
      if (args[i] == store) found.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return found;
}

// Whether `dir` is a mount point now (per /proc/self/mountinfo).
inline bool isMountPoint(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == dir) return true;
  }
  return false;
}

// One request over the ioctl door (include/acidfs/ioctl.h), sent in parts
// of ACIDFS_IOC_DATA_MAX.
struct IoctlAnswer {
  int ioctlRc = 0;  // -1: the request never reached acidfs (errno in result)
  int result = 0;   // the daemon's errno, 0 for success
  std::string data;
};
inline IoctlAnswer ioctlRequest(int fd, unsigned long cmd, const std::string& payload) {
  acidfs_ioc_msg msg;
  size_t sent = 0;
  do {
    const size_t n = std::min<size_t>(ACIDFS_IOC_DATA_MAX, payload.size() - sent);
    memset(&msg, 0, offsetof(acidfs_ioc_msg, data));
    msg.version = ACIDFS_IOCTL_VERSION;
    msg.length = static_cast<uint32_t>(n);
    msg.flags = sent + n < payload.size() ? ACIDFS_IOC_MORE : 0;
    memcpy(msg.data, payload.data() + sent, n);
    if (ioctl(fd, cmd, &msg) != 0) return IoctlAnswer{-1, errno, ""};
    sent += n;
    if (msg.flags && msg.result != 0) return IoctlAnswer{0, msg.result, std::string(msg.data, msg.length)};
  } while (sent < payload.size());
  return IoctlAnswer{0, msg.result, std::string(msg.data, msg.length)};
}

inline bool waitUntil(const std::function<bool()>& condition, double timeoutSeconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeoutSeconds);
  for (;;) {
    if (condition()) return true;
    if (Clock::now() > deadline) return false;
    sleepMs(20);
  }
}

// ---- the fixture ---------------------------------------------------------------

// Why mount tests cannot run here (/dev/fuse missing or closed to us), said
// loudly on stderr; nullopt when they can. A fixture's SetUp skips with it.
inline std::optional<std::string> fuseMissing() {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return std::nullopt;
  }
  const std::string why =
      std::string("/dev/fuse is missing or cannot be opened (") + strerror(errno) + "): acidfs mount tests NOT RUN";
  fprintf(stderr, "\n*** SKIPPED: %s ***\n\n", why.c_str());
  return why;
}

class MountTest : public ::testing::Test {
 protected:
  // -o options for acidfsd ("" for none); derived fixtures set it in their
  // constructor, or a test changes it before restart().
  std::string mountOptions_;

  void SetUp() override {
    if (auto why = fuseMissing()) GTEST_SKIP() << *why;
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/acidfs-mount-XXXXXX";
    char* made = mkdtemp(tmpl.data());
    ASSERT_NE(nullptr, made) << "mkdtemp " << tmpl << ": " << strerror(errno);
    char resolved[PATH_MAX];
    ASSERT_NE(nullptr, realpath(made, resolved));
    root_ = resolved;
    // Other users (permission tests) must be able to reach the mount point.
    chmod(root_.c_str(), 0755);
    store_ = root_ + "/store";
    mnt_ = root_ + "/mnt";
    scratch_ = root_ + "/scratch";
    log_ = root_ + "/daemon.log";
    ASSERT_EQ(0, mkdir(mnt_.c_str(), 0755)) << strerror(errno);
    ASSERT_EQ(0, mkdir(scratch_.c_str(), 0755)) << strerror(errno);
    ASSERT_TRUE(start());
  }

  void TearDown() override {
    if (root_.empty()) return;
    if (pid_ > 0 && !processAlive(pid_)) {
      ADD_FAILURE() << "acidfsd (pid " << pid_ << ") died during the test without being told to";
    }
    if (isMountPoint(mnt_) || pid_ > 0) {
      EXPECT_TRUE(unmount());
    }
    if (HasFailure()) fprintf(stderr, "--- acidfsd log (%s) ---\n%s\n", log_.c_str(), daemonLog(8000).c_str());
    if (isMountPoint(mnt_)) {
      ADD_FAILURE() << mnt_ << " is still mounted; leaving " << root_ << " in place";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  const std::string& mountpoint() const { return mnt_; }
  const std::string& storeDir() const { return store_; }
  // A native directory beside the mount, for sources and copies.
  const std::string& scratchDir() const { return scratch_; }
  // MOUNTPOINT/rel
  std::string path(const std::string& rel) const { return mnt_ + "/" + rel; }
  pid_t daemonPid() const { return pid_; }
  bool daemonAlive() const { return processAlive(pid_); }

  // Starts acidfsd in background mode on the store; success means it exited
  // 0 (the mount answers), its serving process was found, and the mount
  // point is mounted.
  ::testing::AssertionResult start() {
    if (pid_ > 0 && processAlive(pid_)) return ::testing::AssertionFailure() << "acidfsd is already running";
    std::vector<std::string> argv = {ACIDFS_DAEMON_PATH, store_, mnt_};
    if (!mountOptions_.empty()) argv.insert(argv.end(), {"-o", mountOptions_});
    std::string shown;
    for (const auto& a : argv) shown += a + " ";
    fflush(nullptr);
    pid_t child = fork();
    if (child < 0) return ::testing::AssertionFailure() << "fork: " << strerror(errno);
    if (child == 0) {
      setpgid(0, 0);
      int log = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (log >= 0) dup2(log, STDOUT_FILENO), dup2(log, STDERR_FILENO);
      if (devnull >= 0) dup2(devnull, STDIN_FILENO);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      dprintf(STDERR_FILENO, "exec %s: %s\n", args[0], strerror(errno));
      _exit(127);
    }
    bool timedOut = false;
    int code = waitChild(child, 120, &timedOut);
    if (timedOut || code != 0)
      return ::testing::AssertionFailure() << shown << (timedOut ? "did not return in 120 s" : "exited ")
                                           << (timedOut ? "" : std::to_string(code)) << "\n--- log ---\n"
                                           << daemonLog(4000);
    std::vector<pid_t> pids;
    waitUntil([&] { return (pids = daemonsServing(store_)).size() == 1; }, 10);
    if (pids.size() != 1)
      return ::testing::AssertionFailure() << "found " << pids.size() << " acidfsd processes serving " << store_;
    pid_ = pids[0];
    if (!isMountPoint(mnt_))
      return ::testing::AssertionFailure() << shown << "exited 0 but " << mnt_ << " is not mounted";
    return ::testing::AssertionSuccess();
  }

  // Unmounts cleanly (fusermount3 -u; umount -l if the mount stays busy) and
  // waits for the daemon to exit.
  ::testing::AssertionResult unmount() {
    std::string trouble;
    if (isMountPoint(mnt_) && processAlive(pid_)) {
      for (int attempt = 0; attempt < 10 && isMountPoint(mnt_); ++attempt) {
        CommandResult r = runArgv({"fusermount3", "-u", mnt_}, "/", 60);
        if (!r.ok() && attempt == 9) trouble += "fusermount3 -u: " + r.err;
        if (isMountPoint(mnt_)) sleepMs(200);
      }
    }
    if (isMountPoint(mnt_)) {
      trouble += " (lazy unmount needed)";
      clearDeadMount();
    }
    if (pid_ > 0 && !waitUntil([&] { return !processAlive(pid_); }, trouble.empty() ? 120 : 10)) {
      kill(pid_, SIGKILL);
      waitUntil([&] { return !processAlive(pid_); }, 30);
      trouble += " acidfsd did not exit after the unmount; killed it";
    }
    pid_ = 0;
    if (isMountPoint(mnt_)) trouble += " still mounted";
    if (!trouble.empty()) return ::testing::AssertionFailure() << "unmount " << mnt_ << ":" << trouble;
    return ::testing::AssertionSuccess();
  }

  // Unmounts as a script does — umount(8), or umount2(2) itself — and waits
  // for nothing more: the daemon may still be closing the store when this
  // returns. The fixture forgets that daemon (start() may follow at once);
  // its pid is returned, 0 when the unmount failed (`error` says why).
  pid_t unmountWithoutWaiting(bool withUmountCommand, std::string* error) {
    if (withUmountCommand) {
      CommandResult r = runArgv({"umount", mnt_}, "/", 60);
      if (!r.ok()) {
        if (error) *error = "umount " + mnt_ + ": " + r.err;
        return 0;
      }
    } else if (umount2(mnt_.c_str(), 0) != 0) {
      if (error) *error = "umount2 " + mnt_ + ": " + strerror(errno);
      return 0;
    }
    const pid_t old = pid_;
    pid_ = 0;
    return old;
  }

  // Unmounts (or clears a dead mount) and starts acidfsd again on the same store.
  ::testing::AssertionResult restart() {
    if (processAlive(pid_)) {
      auto down = unmount();
      if (!down) return down;
    } else if (isMountPoint(mnt_)) {
      clearDeadMount();
    }
    pid_ = 0;
    return start();
  }

  // kill -9 of the daemon, then clears the dead mount (fusermount3 -u -z,
  // umount -l). Descriptors still open on the mount stay dead (ENOTCONN).
  ::testing::AssertionResult killDaemon9() {
    if (!processAlive(pid_)) return ::testing::AssertionFailure() << "acidfsd is not running";
    kill(pid_, SIGKILL);
    if (!waitUntil([&] { return !processAlive(pid_); }, 30))
      return ::testing::AssertionFailure() << "acidfsd survived kill -9";
    pid_ = 0;
    clearDeadMount();
    if (isMountPoint(mnt_)) return ::testing::AssertionFailure() << "the dead mount at " << mnt_ << " stays";
    return ::testing::AssertionSuccess();
  }

  // stat(2) of a path, or a failure naming the errno.
  struct stat statOf(const std::string& p) {
    struct stat st;
    memset(&st, 0, sizeof st);
    EXPECT_EQ(0, stat(p.c_str(), &st)) << p << ": " << strerror(errno);
    return st;
  }
  struct stat lstatOf(const std::string& p) {
    struct stat st;
    memset(&st, 0, sizeof st);
    EXPECT_EQ(0, lstat(p.c_str(), &st)) << p << ": " << strerror(errno);
    return st;
  }
  std::vector<std::string> listDir(const std::string& p) {
    std::vector<std::string> names;
    DIR* dir = opendir(p.c_str());
    EXPECT_NE(nullptr, dir) << p << ": " << strerror(errno);
    if (!dir) return names;
    errno = 0;
    while (dirent* e = readdir(dir)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    EXPECT_EQ(0, errno) << "readdir " << p << ": " << strerror(errno);
    closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  // `/bin/sh -c command` with the mount (or `cwd`) as working directory.
  CommandResult sh(const std::string& command, double timeoutSeconds = 120, const std::string& cwd = "") {
    return runShell(command, cwd.empty() ? mnt_ : cwd, timeoutSeconds);
  }

  // `workers` concurrent processes `sh -c script worker N` (N = 1..workers)
  // in the mount; fails, with their output, if any of them exits non-zero.
  CommandResult shConcurrently(int workers, const std::string& script, double timeoutSeconds = 300) {
    return sh("for w in $(seq " + std::to_string(workers) + "); do (sh -c '" + script +
                  "' worker $w || touch failed.$w) & done; wait; ! ls failed.* 2>/dev/null",
              timeoutSeconds);
  }

  // The last `maxBytes` of the daemon's log.
  std::string daemonLog(size_t maxBytes = 1 << 20) const {
    std::ifstream in(log_);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > maxBytes ? "..." + text.substr(text.size() - maxBytes) : text;
  }

 private:
  void clearDeadMount() {
    if (!isMountPoint(mnt_)) return;
    runArgv({"fusermount3", "-u", "-z", mnt_}, "/", 30);
    if (isMountPoint(mnt_)) runArgv({"umount", "-l", mnt_}, "/", 30);
  }

  std::string root_, store_, mnt_, scratch_, log_;
  pid_t pid_ = 0;
};

}  // namespace acidfs::mounttest
