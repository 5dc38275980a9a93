// Several acidfsd over one shared store, each on a mount point of its own,
// as on several hosts (SPEC §9): what the mount tests of database stores
// (mount_shared_test, mount_shared_rados_test, mount_failover_test) start,
// kill and stop. The store itself (a PostgreSQL server, a Ceph cluster) is
// the test's.
//
// The daemons share this host's network: a mount made inside another
// network namespace (ip netns exec) is invisible here, and the database's
// Unix socket is reachable from all of them alike.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "tests/mount_fixture.h"

namespace acidfs::mounttest {

class SharedStoreMounts {
 public:
  // `hosts` empty mount points (mnt0, mnt1, ...) in a fresh directory
  // /tmp/acidfs-TAG-XXXXXX, where the daemons' logs go too.
  SharedStoreMounts(int hosts, const std::string& tag) : pids_(static_cast<size_t>(hosts), 0) {
    std::string tmpl = "/tmp/acidfs-" + tag + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << errnoName(errno);
      return;
    }
    root_ = tmpl;
    chmod(root_.c_str(), 0755);
    for (int h = 0; h < hosts; ++h)
      if (mkdir(mnt(h).c_str(), 0755) != 0) ADD_FAILURE() << "mkdir " << mnt(h) << ": " << errnoName(errno);
  }
  ~SharedStoreMounts() {
    for (int h = 0; h < hosts(); ++h) stop(h);
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }
  SharedStoreMounts(const SharedStoreMounts&) = delete;
  SharedStoreMounts& operator=(const SharedStoreMounts&) = delete;

  int hosts() const { return static_cast<int>(pids_.size()); }
  // The directory of the mount points and logs (a test may keep files there).
  const std::string& root() const { return root_; }
  pid_t pid(int h) const { return pids_[static_cast<size_t>(h)]; }
  std::string mnt(int h) const { return root_ + "/mnt" + std::to_string(h); }
  std::string path(int h, const std::string& rel) const { return mnt(h) + "/" + rel; }
  // The last 6,000 bytes of mount h's daemon's log.
  std::string logOf(int h) const {
    std::ifstream in(logPath(h));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 6000 ? "..." + text.substr(text.size() - 6000) : text;
  }

  // Mounts `store` on mount h with -o `options`, returning once it serves.
  ::testing::AssertionResult start(int h, const std::string& store, const std::string& options) {
    CommandResult r = runArgv({"/bin/sh", "-c",
                               std::string("exec '") + ACIDFS_DAEMON_PATH + "' '" + store + "' '" + mnt(h) + "' -o " +
                                   options + " >>'" + logPath(h) + "' 2>&1"},
                              "/", 120);
    if (!r.ok()) return ::testing::AssertionFailure() << "acidfsd " << h << ": " << r << "\n" << logOf(h);
    std::vector<pid_t> pids;
    waitUntil([&] { return (pids = daemonsServing(mnt(h))).size() == 1; }, 10);
    if (pids.size() != 1) return ::testing::AssertionFailure() << "no acidfsd found for " << mnt(h);
    pids_[static_cast<size_t>(h)] = pids[0];
    killed_.erase(h);
    return ::testing::AssertionSuccess();
  }
  // Unmounts h and waits for its daemon to exit (SIGKILL after a minute).
  void stop(int h) {
    pid_t& pid = pids_[static_cast<size_t>(h)];
    if (isMountPoint(mnt(h))) runArgv({"fusermount3", "-u", "-z", mnt(h)}, "/", 60);
    if (pid > 0 && !waitUntil([&] { return !processAlive(pid); }, 60)) kill(pid, SIGKILL);
    pid = 0;
  }
  // Stops every mount; a failure for each daemon that died unasked.
  void stopAll() {
    for (int h = 0; h < hosts(); ++h) {
      if (pid(h) > 0 && !processAlive(pid(h)) && !killed_.count(h))
        ADD_FAILURE() << "acidfsd of mount " << h << " died during the test";
      stop(h);
    }
  }
  // kill -9 of h's daemon; its mount point is cleared for a later start().
  void killDaemon(int h) {
    killed_.insert(h);
    kill(pid(h), SIGKILL);
    waitUntil([&] { return !processAlive(pid(h)); }, 30);
    runArgv({"fusermount3", "-u", "-z", mnt(h)}, "/", 30);
  }
  void printLogs() const {
    for (int h = 0; h < hosts(); ++h) fprintf(stderr, "--- acidfsd %d ---\n%s\n", h, logOf(h).c_str());
  }

 private:
  std::string logPath(int h) const { return root_ + "/daemon" + std::to_string(h) + ".log"; }

  std::string root_;
  std::vector<pid_t> pids_;  // by mount; 0: not started, or stopped
  std::set<int> killed_;     // by killDaemon: their deaths are no failure
};

}  // namespace acidfs::mounttest
