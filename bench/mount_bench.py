#!/usr/bin/python3
"""mount_bench.py: acidfs beside bindfs, passthrough_hp and the native directory, on one disk.

One invocation runs the same workloads, in the same work directory (so on the
same disk), on four targets:

  acidfs          a fresh store and mount point per run (acidfsd -f, default
                  options);
  bindfs          `bindfs -f SRC MNT` on a fresh SRC per run: a plain FUSE
                  passthrough (libfuse 2, single-threaded), the peer of issue 3;
  passthrough_hp  `passthrough_hp --foreground SRC MNT` on a fresh SRC per run:
                  libfuse 3.14.0's example/passthrough_hp, a multi-threaded C++
                  passthrough on the low-level API, the second peer of issue 12,
                  built by bench/build-peers.sh (left out, loudly, when absent);
  native          a fresh directory per run, no FUSE.

Workloads: create, stat, read, rename and unlink N files of 4 KiB in one
directory (default 10,000); `tar -x` of a tar of /usr/include (made once per
invocation in the work dir, checked afterwards with `diff -r`, untimed);
4 processes x 300 write transactions on one SQLite database in WAL mode
(checked afterwards, untimed); sequential write of S MiB + fsync, then
sequential read of it after `sync; echo 3 > /proc/sys/vm/drop_caches`
(default 1 GiB); `cp` of that file to a new file on the same mount. The peak
RSS of every FUSE daemon (VmHWM, read just before its unmount) is recorded per
run. Every figure is the median of --runs runs; the order of the targets
rotates from one run to the next so that none always goes first. The table
prints every figure with its speed ratio to each peer and to native and marks
it against the targets of issue 12.

Why Python and not a shell script: the small-file phases must time the
filesystem, not process creation. A shell loop forks a process per file
(~1 ms), which would swamp a native create (~10 us) and hide the difference
between the FUSE targets; here each file costs only the system calls a
program makes (open/write/close, stat, rename, unlink). Standard library only.

Run as root (drop_caches, mounts). Everything is made under
WORKDIR/session-*/ and removed at the end; every mount is unmounted and every
daemon it started is waited for, on failure and on SIGINT/SIGTERM too.
Tables go to stdout, progress to stderr. Exit status: 0 when every workload
ran and every check passed, 1 otherwise, 2 for usage errors.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

KIB = 1024
MIB = 1024 * 1024
SMALL_FILE_SIZE = 4 * KIB
IO_BLOCK = MIB  # sequential I/O is done in 1 MiB calls, as `dd bs=1M` would
TARGETS = ("acidfs", "bindfs", "passthrough_hp", "native")  # the run order rotates over these
FUSE_TARGETS = ("acidfs", "bindfs", "passthrough_hp")
PEERS = ("bindfs", "passthrough_hp")  # an acidfs/<peer> ratio column each
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where bench/build-peers.sh builds libfuse 3.14.0's example (Debian's fuse3 source package).
DEFAULT_PASSTHROUGH_HP = "/var/tmp/acidfs-peers/fuse3-3.14.0/build/example/passthrough_hp"
SQLITE_PROCESSES = 4
MB = 1000 * 1000  # MB/s and the RSS limit are decimal, as the table says "MB"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)


def output_of(cmd):
    try:
        return subprocess.run(cmd, text=True, capture_output=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"


def load_average():
    with open("/proc/loadavg") as f:
        return tuple(float(x) for x in f.read().split()[:3])


def sync_all():
    subprocess.run(["sync"], check=True)


def drop_caches():
    sync_all()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def mounts_under(directory):
    prefix = directory.rstrip("/") + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].encode().decode("unicode_escape") for line in f]
    return [p for p in points if p.startswith(prefix)]


def remove_tree(directory):
    """rm -rf, unless something is still mounted inside (never delete through a mount)."""
    left = mounts_under(directory)
    if left:
        log(f"NOT removing {directory}: still mounted there: {', '.join(left)}")
        return
    shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- mounts ---

class Mount:
    """A FUSE daemon we started in the foreground (so we hold its pid)."""

    def __init__(self, target, name, argv, mountpoint, log_path):
        self.target = target
        self.name = name
        self.mountpoint = mountpoint
        self.log_path = log_path
        self.exit_status = None
        self.peak_rss_kib = None  # VmHWM just before the unmount, set by stop()
        started = time.perf_counter()
        self.log_file = open(log_path, "w")
        # Own session: a Ctrl-C reaches only the harness, which unmounts in order.
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while not os.path.ismount(mountpoint):
                if self.process.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {self.process.returncode} before mounting: "
                                       f"{self.log_tail()}")
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"{name} did not mount {mountpoint} within 60 s")
                time.sleep(0.01)
            os.stat(mountpoint)  # the mount answers
        except BaseException:  # also Ctrl-C: never leave a daemon or a mount behind
            self.stop()
            raise
        self.mount_seconds = time.perf_counter() - started

    def log_tail(self, lines=5):
        with open(self.log_path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-lines:])

    def cpu_seconds(self):
        """User + system CPU of the daemon (all its threads) so far."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def read_peak_rss_kib(self):
        """VmHWM: the most resident memory the daemon (all its threads: one address space)
        has had since it started, in KiB (the kernel's "kB"). None once it has exited."""
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, IndexError, ValueError):
            pass
        return None

    def settle(self, limit=30.0):
        """Waits until the daemon has been idle (< 20 ms CPU in 0.5 s) so that its background
        work is not charged to the next target. Returns (seconds waited, CPU seconds used)."""
        start, cpu_start = time.perf_counter(), self.cpu_seconds()
        last = cpu_start
        while time.perf_counter() - start < limit and self.process.poll() is None:
            time.sleep(0.5)
            now = self.cpu_seconds()
            if now - last < 0.02:
                break
            last = now
        return time.perf_counter() - start, self.cpu_seconds() - cpu_start

    def stop(self):
        """Unmounts and waits for the daemon to exit (it commits pending work first)."""
        if self.process.poll() is None:
            self.peak_rss_kib = self.read_peak_rss_kib()
            for attempt in range(10):
                if not os.path.ismount(self.mountpoint):
                    break
                if subprocess.run(["umount", self.mountpoint], capture_output=True).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                subprocess.run(["umount", "-l", self.mountpoint], capture_output=True)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.process.pid}) still running 120 s after unmount: SIGTERM")
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        elif os.path.ismount(self.mountpoint):  # daemon died, mount left behind
            subprocess.run(["umount", "-l", self.mountpoint], capture_output=True)
        self.exit_status = self.process.returncode
        if not self.log_file.closed:
            self.log_file.close()


# ------------------------------------------------------------- workloads ---

def small_file_names(directory, count):
    return [os.path.join(directory, f"f{i:05d}") for i in range(count)]


def phase_create(paths, contents):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    start = time.perf_counter()
    for path, data in zip(paths, contents):
        fd = os.open(path, flags, 0o644)
        written = os.write(fd, data)
        os.close(fd)
        if written != len(data):
            raise RuntimeError(f"short write to {path}: {written} of {len(data)} bytes")
    return time.perf_counter() - start


def phase_stat(paths):
    wrong = 0
    start = time.perf_counter()
    for path in paths:
        if os.stat(path).st_size != SMALL_FILE_SIZE:
            wrong += 1
    elapsed = time.perf_counter() - start
    if wrong:
        raise RuntimeError(f"stat: {wrong} files do not have size {SMALL_FILE_SIZE}")
    return elapsed


def phase_read(paths, contents):
    wrong = 0
    start = time.perf_counter()
    for path, data in zip(paths, contents):
        fd = os.open(path, os.O_RDONLY)
        got = os.read(fd, 2 * SMALL_FILE_SIZE)
        os.close(fd)
        if got != data:  # a 4 KiB memcmp: noise beside the system calls
            wrong += 1
    elapsed = time.perf_counter() - start
    if wrong:
        raise RuntimeError(f"read: {wrong} of {len(paths)} files read back different content")
    return elapsed


def phase_rename(paths):
    start = time.perf_counter()
    for path in paths:
        os.rename(path, path + ".renamed")
    return time.perf_counter() - start


def phase_unlink(paths):
    start = time.perf_counter()
    for path in paths:
        os.unlink(path + ".renamed")
    return time.perf_counter() - start


def seq_write(path, data):
    view = memoryview(data)
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    for offset in range(0, len(data), IO_BLOCK):
        chunk = view[offset:offset + IO_BLOCK]
        if os.write(fd, chunk) != len(chunk):
            raise RuntimeError(f"short write to {path} at {offset}")
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - start


def seq_read(path, size):
    buffer = bytearray(IO_BLOCK)
    total = 0
    start = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buffer)
            if not n:
                break
            total += n
    elapsed = time.perf_counter() - start
    if total != size:
        raise RuntimeError(f"sequential read of {path} returned {total} bytes, expected {size}")
    return elapsed


def check_sampled_blocks(path, data):
    """Compares the first, last and 16 spread-out 1 MiB blocks (untimed)."""
    size = os.stat(path).st_size
    if size != len(data):
        raise RuntimeError(f"{path} has {size} bytes, expected {len(data)}")
    blocks = len(data) // IO_BLOCK
    picks = sorted({0, blocks - 1, *[(i * 7919) % blocks for i in range(16)]})
    with open(path, "rb", buffering=0) as f:
        for b in picks:
            f.seek(b * IO_BLOCK)
            if f.read(IO_BLOCK) != data[b * IO_BLOCK:(b + 1) * IO_BLOCK]:
                raise RuntimeError(f"{path}: block {b} (1 MiB) differs from what was written")


# The SQLite writer, run as `python3 -c SQLITE_WORKER DB WORKER TRANSACTIONS`. It opens the
# database, reports its journal mode and synchronous setting, waits for "go" on stdin (so the
# timing starts with every process open and ready, and not with four interpreter start-ups),
# then commits TRANSACTIONS write transactions. BEGIN IMMEDIATE takes the write lock at the
# start, so a busy database is waited for by the busy handler (timeout=) instead of failing
# a deferred transaction's upgrade with SQLITE_BUSY, which no busy handler retries.
SQLITE_WORKER = r"""
import os, sqlite3, sys
path, worker, transactions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(path, timeout=120, isolation_level=None)
mode = db.execute("PRAGMA journal_mode").fetchone()[0]
synchronous = db.execute("PRAGMA synchronous").fetchone()[0]
print(f"ready {mode} {synchronous}", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit("no go")
for seq in range(transactions):
    value = worker * 1000000 + seq + 1
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO log(worker, seq, value, payload) VALUES (?, ?, ?, ?)",
               (worker, seq, value, os.urandom(100)))
    db.execute("UPDATE counter SET n = n + 1, total = total + ? WHERE id = 0", (value,))
    db.execute("COMMIT")
db.close()
"""


def sqlite_expected(processes, transactions):
    """(rows, sum of values) that the workers must leave behind."""
    values = [w * 1000000 + s + 1 for w in range(processes) for s in range(transactions)]
    return len(values), sum(values)


def sqlite_prepare(path):
    """The database, untimed: WAL mode (persistent in the file), the log table, the counter row."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise RuntimeError(f"PRAGMA journal_mode=WAL left the database in {mode!r} mode")
        db.execute("CREATE TABLE log(worker INTEGER NOT NULL, seq INTEGER NOT NULL, value INTEGER NOT NULL, "
                   "payload BLOB, PRIMARY KEY (worker, seq))")
        db.execute("CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, total INTEGER NOT NULL)")
        db.execute("INSERT INTO counter VALUES (0, 0, 0)")
    finally:
        db.close()


def sqlite_wal(path, processes, transactions):
    """Runs the writers concurrently. Returns (seconds from "go" until the last one exited,
    the set of (journal_mode, synchronous) the workers reported)."""
    workers = []
    try:
        for w in range(processes):
            workers.append(subprocess.Popen(
                [sys.executable, "-c", SQLITE_WORKER, path, str(w), str(transactions)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        settings = set()
        for p in workers:
            words = p.stdout.readline().split()
            if len(words) != 3 or words[0] != "ready":
                p.wait(timeout=30)
                raise RuntimeError(f"sqlite worker did not start: {p.stderr.read().strip()[-300:]}")
            settings.add((words[1], words[2]))
        start = time.perf_counter()
        for p in workers:
            p.stdin.write("go\n")
            p.stdin.close()
        failures = []
        for p in workers:
            err = p.stderr.read()
            if p.wait() != 0:
                failures.append(f"status {p.returncode}: {err.strip()[-300:]}")
        elapsed = time.perf_counter() - start
        if failures:
            raise RuntimeError(f"{len(failures)} of {processes} sqlite workers failed; {failures[0]}")
        return elapsed, settings
    finally:  # never leave a writer holding files open on a mount that is about to go
        for p in workers:
            if p.poll() is None:
                p.kill()
            p.wait()
            for stream in (p.stdin, p.stdout, p.stderr):
                if stream and not stream.closed:
                    try:
                        stream.close()
                    except OSError:
                        pass


def sqlite_check(path, processes, transactions):
    """Untimed: every transaction is in, exactly once, and the database is intact."""
    rows, total = sqlite_expected(processes, transactions)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        got_rows, got_sum = db.execute("SELECT count(*), coalesce(sum(value), 0) FROM log").fetchone()
        n, counter_total = db.execute("SELECT n, total FROM counter WHERE id = 0").fetchone()
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    problems = []
    if (got_rows, got_sum) != (rows, total):
        problems.append(f"log has {got_rows} rows summing to {got_sum}, expected {rows} and {total}")
    if (n, counter_total) != (rows, total):
        problems.append(f"counter is n={n} total={counter_total}, expected {rows} and {total}")
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    if problems:
        raise RuntimeError("; ".join(problems))


# ------------------------------------------------------------- the bench ---

# (key, label, unit, kind, targets) — kind "rate": figure = count / seconds,
# "mbps": figure = bytes / 1e6 / seconds, "seconds": figure = seconds, "rss": figure = the
# largest VmHWM of any run, in MB (not a median: the limit holds through the whole bench).
# targets, those of issue 12, each one of:
#   ("ratio", target, x)  acidfs at least x times the speed of target (a peer or native);
#   ("below", s)          acidfs median under s seconds;
#   ("below_mb", m)       acidfs daemon's peak RSS under m MB in every run.
def workload_table(args):
    n = f"{args.files:,}"
    s = f"{args.size_mib} MiB" if args.size_mib % 1024 else f"{args.size_mib // 1024} GiB"
    metadata = [("ratio", "bindfs", 1.0), ("ratio", "passthrough_hp", 1.5)]
    lookups = [("ratio", "bindfs", 1.5), ("ratio", "passthrough_hp", 1.5)]
    return [
        ("create", f"create {n} x 4 KiB", "files/s", "rate", metadata),
        ("stat", f"stat {n}", "files/s", "rate", lookups),
        ("read", f"read {n} x 4 KiB", "files/s", "rate", lookups),
        ("rename", f"rename {n}", "files/s", "rate", metadata),
        ("unlink", f"unlink {n}", "files/s", "rate", metadata),
        ("tar", f"tar x ({args.tar_entries:,} entries)", "s", "seconds", metadata),
        ("sqlite", f"sqlite wal {SQLITE_PROCESSES} x {args.sqlite_transactions} txns", "s", "seconds",
         [("ratio", "native", 0.5)]),
        ("write", f"seq write {s} + fsync", "MB/s", "mbps", [("ratio", "passthrough_hp", 1.5)]),
        ("readseq", f"seq read {s} (cold)", "MB/s", "mbps", [("ratio", "passthrough_hp", 1.0)]),
        ("cp", f"cp {s} file (same mount)", "s", "seconds", [("below", 0.050)]),
        ("rss", "daemon peak RSS (max of runs)", "MB", "rss", [("below_mb", 200)]),
    ]


class Bench:
    def __init__(self, args, session):
        self.args = args
        self.session = session
        self.mounts = []
        # results[key][target] = list of per-run seconds
        self.seconds = {}
        self.errors = []  # (run, target, what, message)
        # passthrough_hp only when it is built; the report then leaves its columns out.
        self.targets = tuple(t for t in TARGETS if t != "passthrough_hp" or args.passthrough_hp)
        self.tar_checks = {t: [] for t in self.targets}  # per run: "identical" or a summary
        self.sqlite_checks = {t: [] for t in self.targets}  # per run: "exact" or what was wrong
        self.sqlite_settings = {t: set() for t in self.targets}  # (journal_mode, synchronous) seen
        self.mount_seconds = {t: [] for t in FUSE_TARGETS}
        self.peak_rss_kib = {t: [] for t in FUSE_TARGETS}  # per run, VmHWM before the unmount
        self.daemon_notes = []
        self.settle_notes = []
        self.teardown = []  # per run: (seconds to unmount both mounts, seconds to rm -rf the run dir)
        self.run_loads = []

    def record(self, key, target, seconds):
        self.seconds.setdefault(key, {}).setdefault(target, []).append(seconds)

    def fail(self, run_index, target, what, error):
        message = f"{type(error).__name__}: {error}"
        self.errors.append((run_index + 1, target, what, message))
        log(f"run {run_index + 1} {target} {what}: FAILED: {message}")

    # -- one run ---------------------------------------------------------

    def run_once(self, run_index, contents, big):
        args = self.args
        run_dir = os.path.join(self.session, f"run{run_index + 1}")
        os.makedirs(run_dir)
        roots = {}
        store, acid_mnt = os.path.join(run_dir, "acidfs-store"), os.path.join(run_dir, "acidfs-mnt")
        src, bind_mnt = os.path.join(run_dir, "bindfs-src"), os.path.join(run_dir, "bindfs-mnt")
        hp_src, hp_mnt = os.path.join(run_dir, "passthrough_hp-src"), os.path.join(run_dir, "passthrough_hp-mnt")
        for d in (store, acid_mnt, src, bind_mnt, hp_src, hp_mnt, os.path.join(run_dir, "native")):
            os.makedirs(d)
        daemons = [("acidfs", "acidfsd", [args.acidfsd, store, acid_mnt, "-f"]
                    + (["-o", args.acidfs_options] if args.acidfs_options else []), acid_mnt),
                   ("bindfs", "bindfs", ["bindfs", "-f", src, bind_mnt], bind_mnt)]
        if "passthrough_hp" in self.targets:
            # It daemonizes unless told --foreground; otherwise default options (multi-threaded,
            # writeback cache, 86400 s entry/attribute timeouts, splice).
            daemons.append(("passthrough_hp", "passthrough_hp",
                            [args.passthrough_hp, "--foreground", hp_src, hp_mnt], hp_mnt))
        for target, name, argv, mountpoint in daemons:
            try:
                m = Mount(target, name, argv, mountpoint,
                          os.path.join(self.session, f"{name}-run{run_index + 1}.log"))
                self.mounts.append(m)
                self.mount_seconds[target].append(m.mount_seconds)
                roots[target] = mountpoint
            except Exception as e:  # noqa: BLE001 — reported, the other targets still run
                self.fail(run_index, target, "mount", e)
        roots["native"] = os.path.join(run_dir, "native")

        shift = run_index % len(self.targets)
        order = [t for t in self.targets[shift:] + self.targets[:shift] if t in roots]
        log(f"run {run_index + 1}/{args.runs}: target order {', '.join(order)}; load {load_average()}")

        for group, method, extra in (("small files", self.small_files, (contents,)),
                                     ("tar x", self.tar_extract, ()),
                                     ("sqlite wal", self.sqlite_wal, ()),
                                     ("sequential + cp", self.sequential, (big,))):
            for target in order:
                self.settle_all(group, target)
                method(run_index, target, roots[target], *extra)

        started = time.perf_counter()
        self.unmount_all()
        unmounted = time.perf_counter()
        remove_tree(run_dir)
        self.teardown.append((unmounted - started, time.perf_counter() - unmounted))
        log(f"run {run_index + 1}: unmounted in {unmounted - started:.1f} s, removed its files in "
            f"{time.perf_counter() - unmounted:.1f} s")

    def small_files(self, run_index, target, root, contents):
        directory = os.path.join(root, "files")
        paths = small_file_names(directory, len(contents))
        what = "create"
        try:
            os.mkdir(directory)
            sync_all()
            self.record("create", target, phase_create(paths, contents))
            what = "stat"
            self.record("stat", target, phase_stat(paths))
            what = "read"
            self.record("read", target, phase_read(paths, contents))
            what = "rename"
            self.record("rename", target, phase_rename(paths))
            what = "unlink"
            self.record("unlink", target, phase_unlink(paths))
            what = "unlink (directory check)"
            left = os.listdir(directory)
            if left:
                raise RuntimeError(f"{len(left)} entries left after unlinking all, e.g. {left[:3]}")
            os.rmdir(directory)
            log(f"run {run_index + 1} {target}: small files done")
        except Exception as e:  # noqa: BLE001
            self.fail(run_index, target, what, e)

    def tar_extract(self, run_index, target, root):
        destination = os.path.join(root, "tar")
        try:
            os.mkdir(destination)
            sync_all()
            start = time.perf_counter()
            run(["tar", "-xf", self.args.tar_path, "-C", destination])
            self.record("tar", target, time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001
            detail = getattr(e, "stderr", "") or ""
            self.fail(run_index, target, "tar x", RuntimeError(f"{e} {detail.strip()[:300]}"))
            self.tar_checks[target].append("tar failed")
            return
        # Correctness, untimed: the extracted tree against the reference tree.
        top = os.path.basename(self.args.tar_source.rstrip("/"))
        diff = subprocess.run(["diff", "-r", "--no-dereference", os.path.join(self.args.reference, top),
                               os.path.join(destination, top)], text=True, capture_output=True)
        if diff.returncode == 0:
            self.tar_checks[target].append("identical")
        else:
            lines = (diff.stdout + diff.stderr).splitlines()
            summary = f"{len(lines)} diff lines, first: {' | '.join(lines[:3])}"
            self.tar_checks[target].append(summary)
            self.errors.append((run_index + 1, target, "tar x diff -r", summary))
        log(f"run {run_index + 1} {target}: tar x done ({self.tar_checks[target][-1][:60]})")

    def sqlite_wal(self, run_index, target, root):
        directory = os.path.join(root, "sqlite")
        path = os.path.join(directory, "bench.db")
        processes, transactions = SQLITE_PROCESSES, self.args.sqlite_transactions
        what = "sqlite wal (prepare)"
        try:
            os.mkdir(directory)
            sqlite_prepare(path)
            sync_all()
            what = "sqlite wal"
            elapsed, settings = sqlite_wal(path, processes, transactions)
            self.sqlite_settings[target] |= settings
            what = "sqlite wal (check)"
            sqlite_check(path, processes, transactions)
        except Exception as e:  # noqa: BLE001
            self.fail(run_index, target, what, e)
            self.sqlite_checks[target].append(f"{what} failed")
            return
        self.record("sqlite", target, elapsed)
        self.sqlite_checks[target].append("exact")
        log(f"run {run_index + 1} {target}: sqlite wal done ({elapsed:.2f} s)")

    def sequential(self, run_index, target, root, big):
        directory = os.path.join(root, "seq")
        path = os.path.join(directory, "big")
        what = "seq write"
        try:
            os.mkdir(directory)
            sync_all()
            self.record("write", target, seq_write(path, big))
            what = "seq read"
            drop_caches()
            self.record("readseq", target, seq_read(path, len(big)))
            check_sampled_blocks(path, big)
            what = "cp"
            sync_all()
            start = time.perf_counter()
            run(["cp", path, path + ".copy"])
            self.record("cp", target, time.perf_counter() - start)
            check_sampled_blocks(path + ".copy", big)
            log(f"run {run_index + 1} {target}: sequential + cp done")
        except Exception as e:  # noqa: BLE001
            detail = getattr(e, "stderr", "") or ""
            self.fail(run_index, target, what, RuntimeError(f"{e} {detail.strip()[:300]}"))

    def settle_all(self, group, next_target):
        """Before each target's turn: every daemon idle, then `sync` (dirty pages of the
        previous target are written back before the next one is timed)."""
        for m in self.mounts:
            waited, cpu = m.settle()
            if waited > 0.6:  # more than one idle check: the daemon was still busy
                self.settle_notes.append(f"{m.name} busy {waited:.1f} s ({cpu:.2f} s CPU) after its "
                                         f"work, before {group} on {next_target}")
        sync_all()

    def unmount_all(self):
        while self.mounts:
            m = self.mounts.pop()
            try:
                m.stop()
            except BaseException as e:  # keep going: every other mount must still come down
                self.daemon_notes.append(f"{m.name}: stopping failed: {type(e).__name__}: {e}")
                if isinstance(e, Exception):
                    continue
                self.unmount_all()
                raise
            if m.peak_rss_kib is not None:
                self.peak_rss_kib[m.target].append(m.peak_rss_kib)
            else:
                self.daemon_notes.append(f"{m.name}: no peak RSS (the daemon was gone before its unmount)")
            try:
                with open(m.log_path, errors="replace") as f:  # the peers log only what goes wrong
                    noteworthy = [line for line in f.read().splitlines()
                                  if m.name == "acidfsd" and (" warning:" in line or " error:" in line)
                                  or m.name != "acidfsd" and line.strip()]
            except OSError as e:
                noteworthy = [f"(log unreadable: {e})"]
            if m.exit_status != 0:
                self.daemon_notes.append(f"{m.name} exited with status {m.exit_status} after unmount")
            self.daemon_notes.extend(f"{m.name} log: {line}" for line in noteworthy[:20])

    # -- the report ------------------------------------------------------

    def figure(self, kind, key, target):
        if kind == "rss":
            if target not in FUSE_TARGETS or target not in self.targets:
                return None
            runs = self.peak_rss_kib[target]
            return max(runs) * KIB / MB if len(runs) == self.args.runs else None
        runs = self.seconds.get(key, {}).get(target, [])
        if len(runs) != self.args.runs:
            return None
        if kind == "rate":
            return statistics.median(self.args.files / s for s in runs)
        if kind == "mbps":
            return statistics.median(self.args.size_mib * MIB / MB / s for s in runs)
        return statistics.median(runs)

    @staticmethod
    def speed_ratio(kind, ours, theirs):
        if kind == "rss" or ours is None or theirs is None or ours == 0 or theirs == 0:
            return None
        return theirs / ours if kind == "seconds" else ours / theirs

    def verdict(self, kind, figures, goal):
        """(goal as printed, "met" / "NOT MET" / "not measured") of one issue 12 target."""
        a = figures["acidfs"]
        if goal[0] == "ratio":
            _, peer, threshold = goal
            text = f">= {threshold:g}x {peer}"
            if peer not in self.targets:
                return text, "not measured"
            ratio = self.speed_ratio(kind, a, figures[peer])
            return text, "met" if ratio is not None and ratio >= threshold else "NOT MET"
        if goal[0] == "below":
            return f"< {goal[1] * 1000:.0f} ms", "met" if a is not None and a < goal[1] else "NOT MET"
        return f"< {goal[1]:g} MB", "met" if a is not None and a < goal[1] else "NOT MET"

    def report(self, workloads):
        def fmt(value, unit, target):
            if value is None:
                return "-" if unit == "MB" and target == "native" else "error"
            if unit == "s":
                return f"{value:.3f}"
            return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"

        peers = [p for p in PEERS if p in self.targets]
        comparisons = peers + ["native"]
        rows = []
        verdicts = []  # (label, goal, verdict), one per target of issue 12
        for key, label, unit, kind, goals in workloads:
            figures = {t: self.figure(kind, key, t) for t in self.targets}
            ratios = [self.speed_ratio(kind, figures["acidfs"], figures[t]) for t in comparisons]
            judged = [(label, *self.verdict(kind, figures, g)) for g in goals]
            verdicts.extend(judged)
            rows.append([label, unit] + [fmt(figures[t], unit, t) for t in self.targets]
                        + ["-" if r is None else f"{r:.2f}x" for r in ratios]
                        + ["; ".join(f"{goal}: {v}" for _, goal, v in judged)])
        header = (["workload", "unit"] + list(self.targets) + [f"acidfs/{t}" for t in comparisons]
                  + ["issue 12 target"])
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        right = set(range(2, len(header) - 1))

        def line(cells):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        print(f"\nRESULTS: median of {self.args.runs} run(s) per figure (peak RSS: the largest of the runs)")
        print("Ratios are speed ratios: above 1 = acidfs faster. For rows in seconds that is "
              "peer seconds / acidfs seconds; for rates, acidfs rate / peer rate.")
        if "passthrough_hp" not in self.targets:
            print(f"passthrough_hp: NOT MEASURED, its columns are left out (no executable at "
                  f"{self.args.passthrough_hp_wanted}; build it with bench/build-peers.sh)")
        print(line(header))
        print(line(["-" * w for w in widths]))
        for r in rows:
            print(line(r))
        met = [v for v in verdicts if v[2] == "met"]
        missed = [v for v in verdicts if v[2] == "NOT MET"]
        unmeasured = [v for v in verdicts if v[2] == "not measured"]
        print(f"\nissue 12 targets met: {len(met)} of {len(verdicts)}; not met: "
              + (", ".join(f"{label} ({goal})" for label, goal, _ in missed) or "none")
              + (f"; not measured: {', '.join(f'{label} ({goal})' for label, goal, _ in unmeasured)}"
                 if unmeasured else ""))

        print("\nPer-run seconds (in run order; target order rotates each run):")
        for key, label, unit, kind, _ in workloads:
            if kind == "rss":
                continue
            cells = []
            for t in self.targets:
                runs = self.seconds.get(key, {}).get(t, [])
                cells.append(f"{t} " + (" ".join(f"{s:.3f}" for s in runs) or "-"))
            print(f"  {label:<40} " + " | ".join(cells))
        for t in FUSE_TARGETS:
            if self.mount_seconds[t]:
                print(f"  {'mount until it answers (' + t + ')':<40} "
                      + " ".join(f"{s:.3f}" for s in self.mount_seconds[t]))
        print("  daemon peak RSS per run, MB (VmHWM just before the unmount): "
              + " | ".join(f"{t} " + (" ".join(f"{k * KIB / MB:.1f}" for k in self.peak_rss_kib[t]) or "-")
                           for t in FUSE_TARGETS if t in self.targets))
        print("  untimed teardown per run (unmount all | rm -rf): "
              + "; ".join(f"{u:.1f} | {r:.1f}" for u, r in self.teardown))
        print("  load average at each run's start: " + "; ".join(f"{l[0]:.2f}" for l in self.run_loads))

        print("\nChecks (untimed):")
        for t in self.targets:
            checks = self.tar_checks[t]
            good = sum(1 for c in checks if c == "identical")
            print(f"  tar x, diff -r against the reference tree, {t}: identical in {good} of {len(checks)} runs"
                  + "".join(f"; run {i + 1}: {c}" for i, c in enumerate(checks) if c != "identical"))
        for t in self.targets:
            checks = self.sqlite_checks[t]
            good = sum(1 for c in checks if c == "exact")
            settings = ", ".join(f"journal_mode={m} synchronous={s}" for m, s in sorted(self.sqlite_settings[t]))
            print(f"  sqlite wal, rows, sums, counter and integrity_check, {t}: exact in {good} of "
                  f"{len(checks)} runs (workers saw {settings or 'nothing'})"
                  + "".join(f"; run {i + 1}: {c}" for i, c in enumerate(checks) if c != "exact"))
        print("  small-file reads compared byte for byte; seq read and cp copy: size and 18 sampled "
              "1 MiB blocks compared")
        if self.errors:
            print("\nERRORS:")
            for run_number, target, what, message in self.errors:
                print(f"  run {run_number} {target} {what}: {message}")
        if self.settle_notes:
            print("\nBackground work (a daemon still using CPU when the next target's turn came; the "
                  "harness waited until it was idle, up to 30 s, before timing on):")
            for note in self.settle_notes:
                print(f"  {note}")
        if self.daemon_notes:
            print("\nDaemon notes (exit status and warning/error log lines):")
            for note in dict.fromkeys(self.daemon_notes):
                print(f"  {note}")


def passthrough_hp_description(path):
    """What the header says of the passthrough_hp binary: its source package and build type,
    read from the tree bench/build-peers.sh leaves (SRC/build/example/passthrough_hp)."""
    build = os.path.dirname(os.path.dirname(path))
    source = os.path.dirname(build)
    package = "source unknown"
    try:
        with open(os.path.join(source, "debian", "changelog")) as f:
            package = "Debian source " + f.readline().split(";")[0].strip()
    except OSError:
        pass
    build_type, cpp_args = "unknown", []
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            options = {o["name"]: o["value"] for o in json.load(f)}
        build_type, cpp_args = options.get("buildtype", build_type), options.get("cpp_args", [])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    built = datetime.datetime.fromtimestamp(os.stat(path).st_mtime).astimezone()
    flags = f" (cpp_args {' '.join(cpp_args)})" if cpp_args else ""
    return (f"libfuse example/passthrough_hp ({package}), meson {build_type}{flags} build at {path}, built "
            f"{built.isoformat(timespec='minutes')}; defaults: multi-threaded, writeback cache, "
            f"86400 s timeouts, splice")


def sqlite_description(args):
    db = sqlite3.connect(":memory:")
    try:
        options = [row[0] for row in db.execute("PRAGMA compile_options")]
    finally:
        db.close()
    defaults = ", ".join(o for o in options if "SYNCHRONOUS" in o) or "no synchronous default compiled in"
    return (f"SQLite {sqlite3.sqlite_version} (python sqlite3), {SQLITE_PROCESSES} processes x "
            f"{args.sqlite_transactions} transactions on one database, concurrently, each BEGIN IMMEDIATE + "
            f"INSERT of a row (100 random bytes) + UPDATE of one shared counter row + COMMIT; "
            f"PRAGMA journal_mode=WAL, synchronous left at its default ({defaults}: FULL, every "
            f"commit fsyncs the WAL); busy timeout 120 s; timed from \"go\" (all processes open) until "
            f"the last one exited")


def machine_header(args, load_start):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
    fs = output_of(["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", args.workdir])
    build_type = "unknown"
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.acidfsd))), "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache) as f:
            for l in f:
                if l.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = l.split("=", 1)[1].strip() or "(none)"
    commit = output_of(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    dirty = output_of(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
    built = datetime.datetime.fromtimestamp(os.stat(args.acidfsd).st_mtime).astimezone()
    print("acidfs mount benchmark (bench/mount_bench.py)")
    print(f"date:        {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"command:     {' '.join(sys.argv)}")
    print(f"machine:     {os.cpu_count()} CPUs (nproc {output_of(['nproc'])}), {cpu}; "
          f"{mem_kib / 1024 / 1024:.1f} GiB memory; kernel {platform.release()}")
    print(f"work dir:    {args.workdir} on {fs}")
    print(f"acidfsd:     {output_of([args.acidfsd, '--version'])}, {build_type} build at {args.acidfsd}; "
          f"binary built {built.isoformat(timespec='minutes')}; repo HEAD now {commit}"
          f"{' + uncommitted changes' if dirty else ''}; options: "
          f"{('-o ' + args.acidfs_options) if args.acidfs_options else 'defaults (commit_interval=5, no sync)'}")
    print(f"bindfs:      {output_of(['bindfs', '--version']).splitlines()[0]} "
          f"(libfuse 2, defaults: single-threaded) `bindfs -f SRC MNT`")
    if args.passthrough_hp:
        print(f"passthrough_hp: {passthrough_hp_description(args.passthrough_hp)} "
              f"`passthrough_hp --foreground SRC MNT`")
    else:
        print(f"passthrough_hp: NOT MEASURED: no executable at {args.passthrough_hp_wanted} "
              f"(bench/build-peers.sh builds it); its columns are left out")
    print(f"sqlite:      {sqlite_description(args)}")
    print(f"tools:       {output_of(['tar', '--version']).splitlines()[0]}; "
          f"{output_of(['cp', '--version']).splitlines()[0]}; python {platform.python_version()}")
    print(f"runs:        {args.runs} per figure, median reported; fresh store/SRC/directory per run; "
          f"daemon peak RSS = VmHWM from /proc/PID/status just before each unmount")
    print(f"workloads:   {args.files:,} files of 4 KiB in one directory (distinct random content; "
          f"create/stat/read/rename/unlink, warm: no cache drop between phases); "
          f"tar x of {args.tar_source} ({args.tar_entries:,} entries, {args.tar_bytes / MIB:.0f} MiB); "
          f"sqlite wal ({SQLITE_PROCESSES} x {args.sqlite_transactions} transactions); "
          f"{args.size_mib} MiB of random bytes written in 1 MiB calls + fsync, read back in 1 MiB calls "
          f"after sync + drop_caches; cp of that file (GNU cp: FICLONE, then copy_file_range)")
    print(f"load avg:    {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} at start (1/5/15 min)")
    if load_start[0] > 0.5:
        print("NOTE:        load above 0.5 at start: other work is running on this machine; "
              "absolute figures are noisy, the ratios of one run less so")
    sys.stdout.flush()


def parse_args():
    p = argparse.ArgumentParser(description="acidfs vs bindfs vs passthrough_hp vs native: mount benchmark "
                                            "(run as root)")
    p.add_argument("workdir", nargs="?", default="/var/tmp/acidfs-bench",
                   help="where stores, mounts and files are made (default /var/tmp/acidfs-bench); "
                        "the disk under test")
    p.add_argument("--runs", type=int, help="runs per figure (default 3)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1,000 files, 128 MiB, tar of /usr/include/linux, 4 x 100 sqlite "
                        "transactions")
    p.add_argument("--files", type=int, help="small files (default 10000; --quick 1000)")
    p.add_argument("--size-mib", type=int, help="sequential file size in MiB (default 1024; --quick 128)")
    p.add_argument("--tar-source", help="tree to tar (default /usr/include; --quick /usr/include/linux)")
    p.add_argument("--sqlite-transactions", type=int,
                   help=f"write transactions per sqlite process, {SQLITE_PROCESSES} processes "
                        f"(default 300; --quick 100)")
    p.add_argument("--acidfs-options", default="",
                   help="-o options for acidfsd, e.g. readdirplus=no or attr_timeout=0 (to measure a feature)")
    p.add_argument("--acidfsd", default=None,
                   help="the daemon (default: $ACIDFSD, else build/bin/acidfsd in the repo)")
    p.add_argument("--passthrough-hp", default=None, metavar="PATH",
                   help="libfuse 3.14's example/passthrough_hp (default: $PASSTHROUGH_HP, else "
                        f"{DEFAULT_PASSTHROUGH_HP}, where bench/build-peers.sh builds it); when it is "
                        "absent its columns are left out")
    args = p.parse_args()
    args.runs = args.runs or 3
    args.files = args.files or (1000 if args.quick else 10000)
    args.size_mib = args.size_mib or (128 if args.quick else 1024)
    args.tar_source = args.tar_source or ("/usr/include/linux" if args.quick else "/usr/include")
    args.sqlite_transactions = args.sqlite_transactions or (100 if args.quick else 300)
    args.acidfsd = os.path.abspath(args.acidfsd or os.environ.get("ACIDFSD")
                                   or os.path.join(REPO, "build", "bin", "acidfsd"))
    if args.runs < 1 or args.files < 1 or args.size_mib < 1 or args.sqlite_transactions < 1:
        p.error("--runs, --files, --size-mib and --sqlite-transactions must be positive")
    if os.geteuid() != 0:
        p.error("run as root: the cold read drops the page cache and the mounts need it")
    for tool in (args.acidfsd, shutil.which("bindfs"), shutil.which("tar"), shutil.which("diff")):
        if not tool or not os.access(tool, os.X_OK):
            p.error(f"missing executable: {tool or 'bindfs/tar/diff'} (scripts/install-deps.sh; "
                    f"build acidfsd or pass --acidfsd)")
    args.passthrough_hp_wanted = os.path.abspath(args.passthrough_hp or os.environ.get("PASSTHROUGH_HP")
                                                 or DEFAULT_PASSTHROUGH_HP)
    args.passthrough_hp = args.passthrough_hp_wanted if os.path.isfile(args.passthrough_hp_wanted) \
        and os.access(args.passthrough_hp_wanted, os.X_OK) else None
    if not args.passthrough_hp:
        print(f"\n{'!' * 78}\n!! passthrough_hp NOT FOUND at {args.passthrough_hp_wanted}\n"
              f"!! Its column is SKIPPED: the acidfs/passthrough_hp targets will read 'not measured'.\n"
              f"!! Build it (as root, Debian 12): bench/build-peers.sh\n"
              f"!! or pass --passthrough-hp PATH (or set $PASSTHROUGH_HP).\n{'!' * 78}\n",
              file=sys.stderr, flush=True)
    args.workdir = os.path.abspath(args.workdir)
    return args


def main():
    args = parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    session = os.path.join(args.workdir, "session-" + time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}")
    os.makedirs(session)
    bench = Bench(args, session)

    def terminate(signum, _frame):
        raise SystemExit(f"mount_bench: signal {signum}, cleaning up")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    started = time.perf_counter()
    try:
        # The tar, made once, outside the mounts; the reference tree for diff -r.
        args.tar_path = os.path.join(session, "source.tar")
        parent, top = os.path.split(args.tar_source.rstrip("/"))
        run(["tar", "-cf", args.tar_path, "-C", parent, top])
        args.tar_entries = len(run(["tar", "-tf", args.tar_path]).stdout.splitlines())
        args.tar_bytes = os.stat(args.tar_path).st_size
        args.reference = os.path.join(session, "reference")
        os.makedirs(args.reference)
        run(["tar", "-xf", args.tar_path, "-C", args.reference])

        load_start = load_average()
        machine_header(args, load_start)
        log(f"generating {args.size_mib} MiB + {args.files} x 4 KiB of random bytes")
        big = os.urandom(args.size_mib * MIB)
        pool = os.urandom(args.files * SMALL_FILE_SIZE)
        contents = [pool[i * SMALL_FILE_SIZE:(i + 1) * SMALL_FILE_SIZE] for i in range(args.files)]

        for run_index in range(args.runs):
            bench.run_loads.append(load_average())
            bench.run_once(run_index, contents, big)

        load_end = load_average()
        bench.report(workload_table(args))
        print(f"\nload avg:    {load_start[0]:.2f} at start, {load_end[0]:.2f} at end (1 min); "
              f"5/15 min at end {load_end[1]:.2f}/{load_end[2]:.2f}")
        if max(load_start[0], load_end[0], *(l[0] for l in bench.run_loads)) > 0.5:
            print("NOTE:        load was above 0.5 during the benchmark: other work was running on this "
                  f"{os.cpu_count()}-CPU machine, so absolute figures are noisy")
        print(f"elapsed:     {time.perf_counter() - started:.0f} s")
    finally:
        bench.unmount_all()
        remove_tree(session)
        sys.stdout.flush()
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
