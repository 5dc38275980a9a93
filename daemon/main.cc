// acidfsd STORE MOUNTPOINT [-f] [-o OPT,...] — the acidfs daemon (SPEC §1).
//
// Without -f it returns once the mount answers (exit 0), or fails with the
// reason on stderr (exit 1); the serving process carries on in the
// background, logging to syslog. With -f it stays in the foreground and tells systemd READY=1
// once mounted. SIGTERM/SIGINT or `fusermount3 -u`: commit what is pending,
// unmount, exit 0.
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "core/log.h"
#include "core/store.h"
#include "core/store_location.h"
#include "daemon/mount_options.h"
#include "daemon/readahead.h"
#include "daemon/store_handover.h"
#include "fuse/fuse_fs.h"

using namespace acidfs;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Tells the waiting parent (or systemd) how start-up went.
class Readiness {
 public:
  explicit Readiness(int fd) : fd_(fd) {}
  void ready() {
    if (fd_ >= 0) {  // background: the caller goes on, so stderr may be gone; log to syslog
      setLogToSyslog(true);
      int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (devnull >= 0) dup2(devnull, STDERR_FILENO), close(devnull);
      (void)!write(fd_, "0", 1);
      close(fd_);
      fd_ = -1;
    }
    sd_notify(0, "READY=1");
  }
  void failed() {
    if (fd_ >= 0) {
      (void)!write(fd_, "1", 1);
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_;
};

// The stop signals are handled by libfuse (fuse_set_signal_handlers): its
// handler marks the session exited, and the thread it interrupts wakes the
// request loop. Delivered to any other thread (RocksDB's, ours), the loop
// would sleep on until the next request came. So they are blocked from the
// start, inherited blocked by every thread made before the loop, and
// unblocked only for the loop's threads (found by tests/packaging: under
// strace, a SIGTERM sometimes left the daemon running).
sigset_t stopSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, sig);
  return set;
}

int serve(const std::string& storePath, const std::string& mountpoint, const MountOptions& mount, Readiness& readiness) {
  const sigset_t stops = stopSignals();
  pthread_sigmask(SIG_BLOCK, &stops, nullptr);
  StoreOptions storeOptions;
  // dirsync: every directory change durable when it returns; the store
  // makes every transaction so (a file's content commit among them).
  storeOptions.durability = (mount.sync || mount.dirsync) ? Durability::kSync : Durability::kDefault;
  storeOptions.commitIntervalSeconds = mount.commitIntervalSeconds;
  storeOptions.trashSeconds = static_cast<int64_t>(mount.trashDays) * 24 * 3600;
  storeOptions.feedSeconds = static_cast<int64_t>(mount.feedDays) * 24 * 3600;
  // ro: no lease expiry sweeps, which would delete expired leases and free
  // the chunks they held. Leases left by an earlier read-write mount expire
  // at the next one. (What a read-only mount still writes: see main().)
  if (mount.readOnly) storeOptions.gcIntervalSeconds = 0;
  storeOptions.chunks = mount.chunks.empty() ? "db" : mount.chunks;
  storeOptions.dbTimeout = std::chrono::seconds(mount.dbTimeoutSeconds);
  storeOptions.coherence = std::chrono::milliseconds(mount.coherenceMs);
  storeOptions.sessionTimeoutSeconds = mount.sessionTimeoutSeconds;
  // The daemon that served the last mount of this store may still be
  // closing it: umount(2) does not wait for that (store_handover.h).
  auto store = openStoreAfterPreviousDaemon(storePath, storeOptions);
  if (!store.ok()) {
    fprintf(stderr, "acidfsd: cannot open store: %s\n", store.status().toString().c_str());
    readiness.failed();
    return kExitFailure;
  }
  FuseOptions fuseOptions;
  fuseOptions.commitIntervalSeconds = mount.commitIntervalSeconds;
  fuseOptions.debug = mount.debug;
  fuseOptions.syncWrites = mount.sync;
  fuseOptions.attrTimeout = mount.attrTimeout;
  fuseOptions.entryTimeout = mount.entryTimeout;
  if (isDatabaseStore(storePath)) {
    // Other hosts change the database too: what stat shows may be at most
    // coherence_ms late (SPEC §9), half of it in the store's cache
    // (StoreOptions::coherence), half in the kernel's.
    const double coherence = mount.coherenceMs / 2000.0;
    fuseOptions.attrTimeout = std::min(fuseOptions.attrTimeout, coherence);
    fuseOptions.entryTimeout = std::min(fuseOptions.entryTimeout, coherence);
    fuseOptions.sharedStore = true;
  }
  fuseOptions.maxWrite = mount.maxWrite;
  fuseOptions.readdirplus = mount.readdirplus;
  // ro: no access time is written (the kernel has no say: FUSE leaves
  // access times to the daemon).
  fuseOptions.atime = mount.atime && !mount.readOnly;
  fuseOptions.strictAtime = mount.strictAtime;
  fuseOptions.readOnly = mount.readOnly;
  int status = kExitFailure;
  {
    FuseFs fs(*store.value(), fuseOptions);
    // Tests only (tests/mount_door_locks_test.cc): hold a door change of one
    // path at the point where the kernel has not been told yet.
    const char* pauseAt = getenv("ACIDFS_TEST_PAUSE_DOOR_AT");
    const char* pauseFifo = getenv("ACIDFS_TEST_PAUSE_DOOR_FIFO");
    if (pauseAt && pauseFifo) fs.doorPauseForTests = FuseFs::DoorPause{pauseAt, pauseFifo};
    // The source column of /proc/mounts (df, findmnt) names the store; the
    // type reads fuse.acidfsd, as the fstab entry that mounts it.
    // fsname is escaped: a store path may hold commas.
    char* joined = nullptr;
    fuse_opt_add_opt(&joined, "default_permissions");
    fuse_opt_add_opt_escaped(&joined, ("fsname=" + shownStore(storePath)).c_str());
    fuse_opt_add_opt(&joined, "subtype=acidfsd");
    for (const std::string& o : mount.fuseOptions) fuse_opt_add_opt(&joined, o.c_str());
    const std::string optionList = joined;
    free(joined);
    std::vector<std::string> argvStrings = {"acidfsd", "-o", optionList};
    std::vector<char*> argv;
    for (auto& s : argvStrings) argv.push_back(s.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
    fuse_session* se = fuse_session_new(&args, &FuseFs::operations(), sizeof(fuse_lowlevel_ops), &fs);
    if (!se) {
      fprintf(stderr, "acidfsd: bad mount options: %s\n", optionList.c_str());
      readiness.failed();
      return kExitUsage;
    }
    fs.setSession(se);
    // A database store: the other daemons' commits reach this kernel's caches.
    store.value()->watchOthers([&fs](const Store::OthersChange& change) { fs.othersChanged(change); });
    // Resolved before mounting: afterwards a lookup of it would ask this
    // daemon, whose loop is not running yet.
    std::error_code ec;
    const std::filesystem::path resolved = std::filesystem::canonical(mountpoint, ec);
    const std::string canonicalPoint = ec ? mountpoint : resolved.string();
    if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, mountpoint.c_str()) != 0) {
      store.value()->watchOthers(nullptr);
      fprintf(stderr, "acidfsd: cannot mount %s\n", mountpoint.c_str());
      fuse_session_destroy(se);
      readiness.failed();
      return kExitFailure;
    }
    ACIDFS_LOG(kInfo, "serving %s on %s", shownStore(storePath).c_str(), mountpoint.c_str());
    // So a second daemon knows this one serves, whatever fsname= says.
    store.value()->recordUse(mountedOnRecord(canonicalPoint));
    // Ready means the mount answers: a stat through it must come back.
    std::thread probe([&] {
      struct stat st;
      if (stat(mountpoint.c_str(), &st) != 0) return readiness.failed();
      raiseReadahead(st.st_dev, fuseOptions.maxWrite);
      readiness.ready();
    });
    fuse_loop_config* loop = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(loop, 16);
    pthread_sigmask(SIG_UNBLOCK, &stops, nullptr);  // the loop's workers are made from here on
    int loopStatus = fuse_session_loop_mt(se, loop);
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    fuse_loop_cfg_destroy(loop);
    sd_notify(0, "STOPPING=1");
    probe.join();
    store.value()->watchOthers(nullptr);  // no more calls into fs, which goes before the store
    Status committed = fs.commitAll();
    if (!committed.ok()) ACIDFS_LOG(kError, "committing pending writes failed: %s", committed.toString().c_str());
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    fuse_opt_free_args(&args);
    // libfuse's signal handler leaves the signal's number as the loop's
    // result; a stop by SIGTERM/SIGINT/SIGHUP is a clean one (SPEC §1: exit 0).
    const bool stoppedCleanly = loopStatus == 0 || loopStatus == SIGTERM || loopStatus == SIGINT || loopStatus == SIGHUP;
    if (!stoppedCleanly) ACIDFS_LOG(kError, "the request loop ended with %d", loopStatus);
    status = (stoppedCleanly && committed.ok()) ? 0 : kExitFailure;
    ACIDFS_LOG(kInfo, "unmounted %s", mountpoint.c_str());
  }
  return status;
}

// glibc gives each thread that allocates under contention an arena of its
// own, up to 8 per CPU. Memory freed in one (a 64 KiB write window, a read
// reply) stays there for that arena's next allocations, so with 16 FUSE
// workers the daemon's RSS reached 210-240 MB while its heap held at most
// 74 MB (heaptrack, the mount bench). Two arenas: 115 MB. Set before any
// thread starts; MALLOC_ARENA_MAX or GLIBC_TUNABLES in the environment win.
void limitMallocArenas() {
  const char* tunables = getenv("GLIBC_TUNABLES");
  if (getenv("MALLOC_ARENA_MAX") || (tunables && strstr(tunables, "arena_max"))) return;
  mallopt(M_ARENA_MAX, 2);
}

}  // namespace

int main(int argc, char** argv) {
  limitMallocArenas();
  CLI::App app{"acidfsd: the acidfs daemon. Mounts STORE (formatted when empty) at MOUNTPOINT.\n"
               "Exit status: 0 mounted (or, with -f, clean shutdown), 1 store or mount failure, 2 usage."};
  app.set_version_flag("--version", std::string("acidfsd ") + ACIDFS_VERSION);
  std::string storePath, mountpoint;
  bool foreground = false;
  std::vector<std::string> optionLists;
  app.add_option("STORE", storePath, "store: a directory, or a database as a postgresql:// URI (SPEC §9)")->required();
  app.add_option("MOUNTPOINT", mountpoint, "where to mount")->required();
  app.add_flag("-f,--foreground", foreground, "stay in the foreground (tells systemd READY=1 once mounted)");
  app.add_option("-o", optionLists,
                 "mount options, comma-separated, later ones overriding earlier ones:\n"
                 "  acidfs: allow_other, sync|async, commit_interval=SECS (default 5), debug, "
                 "attr_timeout=SECS and entry_timeout=SECS (default 60), max_write=BYTES (default 1048576), "
                 "readdirplus=yes|no (default yes), trash_days=N (default 1; 0 = off), feed_days=N (default 1; 0 = off)\n"
                 "  a database store: chunks=db (default), coherence_ms=MS (default 1000), db_timeout=SECS "
                 "(default 30), session_timeout=SECS (default 30)\n"
                 "  kernel: ro|rw, noexec|exec, nosuid|suid and nodev|dev (default nosuid,nodev), "
                 "noatime|atime|relatime|norelatime (default relatime), strictatime, nodiratime, dirsync\n"
                 "  generic, changing nothing: noacl, lazytime, nolazytime, nomand, noiversion, silent, loud, "
                 "symfollow, dax=never\n"
                 "  libfuse: fsname=NAME, allow_root, auto_unmount, max_read=BYTES, context=, fscontext=, "
                 "defcontext=, rootcontext=\n"
                 "  mount(8), fstab: defaults (rw,suid,dev,exec,async), user and users (noexec,nosuid,nodev), "
                 "owner and group (nosuid,nodev), nouser, nousers, noowner, nogroup, auto, noauto, nofail, _netdev, "
                 "helper=, uhelper=, comment=..., x-...\n"
                 "  refused (exit 2): acl, diratime, mand, iversion, nosymfollow, dax, inlinecrypt, remount, "
                 "and any other option")
      ->allow_extra_args(false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  auto mount = parseMountOptions(optionLists);
  if (!mount.ok()) {
    fprintf(stderr, "acidfsd: %s\n", mount.status().message().c_str());
    return kExitUsage;
  }
  if (mount->debug) setLogLevel(LogLevel::kDebug);
  struct stat st;
  if (stat(mountpoint.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "acidfsd: mount point %s is not a directory\n", mountpoint.c_str());
    return kExitFailure;
  }
  const bool database = isDatabaseStore(storePath);
  if (!database && mount->databaseOptionGiven) {
    fprintf(stderr, "acidfsd: chunks=, coherence_ms=, db_timeout= and session_timeout= are for a database store "
                    "(postgresql://...), not a directory\n");
    return kExitUsage;
  }
  // Both paths absolute: the background process works from "/".
  std::error_code ec;
  if (!database) storePath = std::filesystem::absolute(storePath, ec).lexically_normal().string();
  char resolved[PATH_MAX];
  if (realpath(mountpoint.c_str(), resolved)) mountpoint = resolved;
  // ro leaves the store as it is, as far as acidfsd can without a
  // read-only engine: it never formats one, and it writes no access time, no
  // lease expiry and nothing through the mount or the ioctl door. Still
  // written: the pid in STORE/LOCK; RocksDB's own files at open (a new
  // MANIFEST, OPTIONS and write-ahead log, its LOG, the replay of the old
  // log and any compaction it starts); crash recovery at open (orphan
  // segments removed and dead ranges punched out; files unlinked while open
  // freed); and the periodic sync of the (unchanged) write-ahead log.
  if (mount->readOnly && !database) {
    const bool exists = std::filesystem::exists(storePath, ec);
    if (!exists || (std::filesystem::is_directory(storePath, ec) && std::filesystem::is_empty(storePath, ec))) {
      fprintf(stderr, "acidfsd: %s holds no store to mount read-only (-o ro); mount it read-write once to create it\n",
              storePath.c_str());
      return kExitFailure;
    }
  }

  if (foreground) {
    Readiness readiness(-1);
    return serve(storePath, mountpoint, *mount, readiness);
  }
  // Background: fork before opening anything (RocksDB's threads do not
  // survive a fork); the parent waits for the child's word.
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    perror("acidfsd: pipe");
    return kExitFailure;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("acidfsd: fork");
    return kExitFailure;
  }
  if (child > 0) {
    close(pipefd[1]);
    char answer = '1';
    ssize_t n = read(pipefd[0], &answer, 1);
    return n == 1 && answer == '0' ? 0 : kExitFailure;
  }
  close(pipefd[0]);
  setsid();
  if (chdir("/") != 0) return kExitFailure;
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO), dup2(devnull, STDOUT_FILENO), close(devnull);
  Readiness readiness(pipefd[1]);
  return serve(storePath, mountpoint, *mount, readiness);
}
