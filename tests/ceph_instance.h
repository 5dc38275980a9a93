// A Ceph cluster of a test's own (issue 14: chunks on RADOS): one monitor
// and one OSD that tests/scripts/ceph-single-node.sh starts in a fresh
// temporary directory, on 127.0.0.1 ports of their own (clusters started at
// once never meet), stopped and removed with the object.
//
// Failures are reported, never skipped: scripts/install-deps.sh installs
// Ceph, so a missing program is a broken machine.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#ifndef ACIDFS_CEPH_SCRIPT
#error "tests/CMakeLists.txt defines ACIDFS_CEPH_SCRIPT for the RADOS tests"
#endif

namespace acidfs::testing {

class CephInstance {
 public:
  // Starts the cluster; ok() says whether its pool took a write, and why()
  // what went wrong (with the script's output: the daemons' log tails).
  // A memstore OSD loses its objects when it stops; `bluestore` keeps them
  // in a file in the directory, for tests that restart it.
  explicit CephInstance(bool bluestore = false) {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/acidfs-ceph-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      why_ = std::string("mkdtemp failed: ") + strerror(errno);
      return;
    }
    dir_ = tmpl;
    // --owner: should this process crash, running no destructor, the
    // script's watcher stops the cluster.
    if (!run("start '" + dir_ + "' --owner " + std::to_string(getpid()) + (bluestore ? " --bluestore" : ""))) return;
    std::ifstream poolFile(dir_ + "/pool");
    started_ = static_cast<bool>(std::getline(poolFile, pool_));
    if (!started_) why_ = "the script wrote no pool name to " + dir_ + "/pool";
  }
  ~CephInstance() {
    if (dir_.empty()) return;
    run("stop '" + dir_ + "'");
    // The script refuses a directory without its ceph.conf (start failed early).
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  CephInstance(const CephInstance&) = delete;
  CephInstance& operator=(const CephInstance&) = delete;

  bool ok() const { return started_; }
  const std::string& why() const { return why_; }

  // What a librados client reads (rados_conf_read_file), and the pool to use.
  std::string confPath() const { return dir_ + "/ceph.conf"; }
  const std::string& pool() const { return pool_; }
  // Where the daemons keep their data, logs (log/) and PIDs (*.pid).
  const std::string& dir() const { return dir_; }

  // Kills the OSD with SIGKILL, as a crash would; starts it again and
  // returns once the pool takes a write (a bluestore cluster's OSD comes
  // back with its objects). False, with why(), when the script failed.
  bool killOsd() { return run("kill-osd '" + dir_ + "'"); }
  bool startOsd() { return run("start-osd '" + dir_ + "'"); }

 private:
  // Runs the script with `arguments`; on failure, its output goes to why().
  bool run(const std::string& arguments) {
    const std::string command = std::string("bash '") + ACIDFS_CEPH_SCRIPT + "' " + arguments + " 2>&1";
    FILE* p = popen(command.c_str(), "r");
    if (!p) {
      why_ = "cannot run " + command;
      return false;
    }
    std::string output;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, p)) > 0;) output.append(buffer, n);
    if (pclose(p) == 0) return true;
    why_ = command + " failed:\n" + output;
    return false;
  }

  std::string dir_;   // the cluster's directory (ceph-single-node.sh's DIR)
  std::string pool_;  // the pool the script made
  std::string why_;
  bool started_ = false;
};

// One cluster for a whole test binary. A static, so that the process's end
// stops its daemons and removes its directory (leaked test servers once
// kept running and filled the disk).
inline CephInstance& sharedCeph() {
  static CephInstance instance;
  return instance;
}

}  // namespace acidfs::testing
