// A PostgreSQL server of a test's own (issue 13: every test of a database
// store starts its own): initdb into a fresh temporary directory, served on
// a Unix socket in that directory and nowhere else (no TCP port, so tests
// running at once never meet), stopped and removed with the object.
//
// PostgreSQL refuses to run as root; as root (CI) its programs run as the
// `postgres` user the Debian package creates, and the directory is theirs.
// Failures are reported, never skipped: scripts/install-deps.sh installs
// the server, so a missing one is a broken machine.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace acidfs::testing {

class PostgresInstance {
 public:
  // Runs initdb and starts the server; ok() says whether both worked, and
  // why() what went wrong (with the programs' output).
  PostgresInstance() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/acidfs-pg-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      why_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    if (geteuid() == 0) {
      runAs_ = "runuser -u postgres -- ";
      if (system(("chown postgres '" + dir_ + "'").c_str()) != 0) {
        why_ = "cannot give " + dir_ + " to the postgres user";
        return;
      }
    }
    chmod(dir_.c_str(), 0755);
    bin_ = binDir();
    if (bin_.empty()) {
      why_ = "pg_config --bindir found no PostgreSQL (scripts/install-deps.sh installs it)";
      return;
    }
    // Unsynced initdb: the tests' crashes are the server's, not initdb's.
    if (!run(bin_ + "/initdb -D '" + dataDir() + "' --no-sync -A trust -U postgres -E UTF8 --no-locale", "initdb"))
      return;
    started_ = start();
  }
  ~PostgresInstance() {
    if (started_) stop("immediate");
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  PostgresInstance(const PostgresInstance&) = delete;
  PostgresInstance& operator=(const PostgresInstance&) = delete;

  bool ok() const { return started_; }
  const std::string& why() const { return why_; }

  // A libpq URI for `database` on this server (the socket directory as host).
  std::string uri(const std::string& database = "postgres") const {
    return "postgresql:///" + database + "?host=" + dir_ + "&user=postgres";
  }
  const std::string& socketDir() const { return dir_; }

  // pg_ctl stop with `mode` ("fast", "immediate": a crash, as far as the
  // data files know) and start again, waiting until it answers.
  bool stop(const char* mode = "fast") {
    started_ = !run(bin_ + "/pg_ctl -D '" + dataDir() + "' -m " + mode + " -w stop", "pg_ctl stop");
    return !started_;
  }
  bool start() {
    // fsync off: the tests' crashes are the server process's (stop -m
    // immediate), which the OS's cache survives; syncing each test's
    // CREATE DATABASE and commits only cost time.
    started_ = run(bin_ + "/pg_ctl -D '" + dataDir() + "' -l '" + dir_ + "/server.log' -w -o \"-k " + dir_ +
                       " -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_wal_size=64MB\" start",
                   "pg_ctl start");
    return started_;
  }

  // Where the server's programs are (Debian: /usr/lib/postgresql/15/bin), or "".
  static std::string binDir() {
    FILE* p = popen("pg_config --bindir 2>/dev/null", "r");
    if (!p) return "";
    char line[512] = {0};
    std::string dir = fgets(line, sizeof line, p) ? line : "";
    pclose(p);
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
    return std::filesystem::exists(dir + "/postgres") ? dir : "";
  }

 private:
  std::string dataDir() const { return dir_ + "/data"; }

  // Runs `command` (as postgres when we are root); on failure, `what` and
  // its output go to why().
  bool run(const std::string& command, const char* what) {
    const std::string out = dir_ + "/command.out";
    if (system((runAs_ + command + " >'" + out + "' 2>&1").c_str()) == 0) return true;
    std::ifstream in(out);
    why_ = std::string(what) + " failed: " + std::string(std::istreambuf_iterator<char>(in), {});
    return false;
  }

  std::string dir_;    // the data directory's parent, and the socket's directory
  std::string runAs_;  // the prefix that runs a command as postgres, or ""
  std::string bin_;    // binDir(), asked once
  std::string why_;
  bool started_ = false;
};

}  // namespace acidfs::testing
