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

#include <signal.h>
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
    if (!prepareDirectory()) return;
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

  // A hot standby of this server (failover tests): pg_basebackup -R of it
  // into a fresh directory, started, streaming from it. ok() as above.
  std::unique_ptr<PostgresInstance> startStandby() const {
    std::unique_ptr<PostgresInstance> standby(new PostgresInstance(Uninitialized{}));
    if (!standby->prepareDirectory()) return standby;
    if (!standby->run(bin_ + "/pg_basebackup -h '" + dir_ + "' -U postgres -D '" + standby->dataDir() +
                          "' -R -X stream --no-sync",
                      "pg_basebackup"))
      return standby;
    standby->started_ = standby->start();
    return standby;
  }

  // Makes every standby streaming from this server synchronous
  // (synchronous_standby_names = '*', set here only: a promoted standby
  // does not wait for standbys it does not have) and waits until
  // `standbys` of them are.
  bool makeStandbysSynchronous(int standbys) {
    if (!psql("ALTER SYSTEM SET synchronous_standby_names = '*'", "ALTER SYSTEM") ||
        !psql("SELECT pg_reload_conf()", "pg_reload_conf"))
      return false;
    for (int i = 0; i < 1500; ++i) {  // 30 s: a loaded CI machine
      std::string count;
      if (!psql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'", "pg_stat_replication", &count))
        return false;
      if (std::atoi(count.c_str()) >= standbys) return true;
      usleep(20000);
    }
    why_ = "no synchronous standby after 30 s";
    return false;
  }

  // Promotes a standby to primary, waiting until it takes writes.
  bool promote() { return run(bin_ + "/pg_ctl -D '" + dataDir() + "' -w promote", "pg_ctl promote"); }

  // The server dies at once, as with its host: the postmaster is stopped
  // (so that it cannot react), every process of it killed with SIGKILL,
  // then the postmaster. Nothing is flushed, nothing is said to clients.
  bool crash() {
    std::ifstream pidFile(dataDir() + "/postmaster.pid");
    pid_t postmaster = 0;
    if (!(pidFile >> postmaster) || postmaster <= 0) {
      why_ = "no postmaster.pid in " + dataDir();
      return false;
    }
    kill(postmaster, SIGSTOP);
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::ifstream stat(entry.path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      // pid (comm) state ppid ...: comm may hold spaces, so from the last ')'.
      const size_t close = line.rfind(')');
      if (close == std::string::npos) continue;
      char state = 0;
      long ppid = 0;
      if (sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == postmaster)
        kill(static_cast<pid_t>(std::atol(entry.path().filename().c_str())), SIGKILL);
    }
    kill(postmaster, SIGKILL);
    for (int i = 0; i < 500 && kill(postmaster, 0) == 0; ++i) usleep(10000);
    started_ = false;
    return kill(postmaster, 0) != 0;
  }

 private:
  struct Uninitialized {};
  explicit PostgresInstance(Uninitialized) {}

  // A fresh directory (the server's, as root), and bin_.
  bool prepareDirectory() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/acidfs-pg-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      why_ = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    if (geteuid() == 0) {
      runAs_ = "runuser -u postgres -- ";
      if (system(("chown postgres '" + dir_ + "'").c_str()) != 0) {
        why_ = "cannot give " + dir_ + " to the postgres user";
        return false;
      }
    }
    chmod(dir_.c_str(), 0755);
    bin_ = binDir();
    if (bin_.empty()) {
      why_ = "pg_config --bindir found no PostgreSQL (scripts/install-deps.sh installs it)";
      return false;
    }
    return true;
  }

 public:
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

  // Runs `statement` with psql on the postgres database; its output (the
  // first row's values, unaligned) in `*out`.
  bool psql(const std::string& statement, const char* what, std::string* out = nullptr) {
    if (!run(bin_ + "/psql -h '" + dir_ + "' -U postgres -d postgres -XAtq -c \"" + statement + "\"", what)) return false;
    if (out) {
      std::ifstream in(dir_ + "/command.out");
      std::getline(in, *out);
    }
    return true;
  }

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
