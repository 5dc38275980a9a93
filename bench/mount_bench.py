#!/usr/bin/python3
"""mount_bench.py: acidfs beside bindfs and the native directory, on one disk.

One invocation runs the same workloads, in the same work directory (so on the
same disk), on three targets:

  acidfs  a fresh store and mount point per run (acidfsd -f, default options);
  bindfs  `bindfs SRC MNT` on a fresh SRC per run: a plain FUSE passthrough,
          the peer named in issue 3;
  native  a fresh directory per run, no FUSE.

Workloads: create, stat, read, rename and unlink N files of 4 KiB in one
directory (default 10,000); `tar -x` of a tar of /usr/include (made once per
invocation in the work dir, checked afterwards with `diff -r`, untimed);
sequential write of S MiB + fsync, then sequential read of it after
`sync; echo 3 > /proc/sys/vm/drop_caches` (default 1 GiB); `cp` of that file
to a new file on the same mount. Every figure is the median of --runs runs;
the order of the three targets rotates from one run to the next so that none
always goes first. The table prints every figure with its speed ratio to
bindfs and to native and marks it against the targets of issue 3.

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
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

KIB = 1024
MIB = 1024 * 1024
SMALL_FILE_SIZE = 4 * KIB
IO_BLOCK = MIB  # sequential I/O is done in 1 MiB calls, as `dd bs=1M` would
TARGETS = ("acidfs", "bindfs", "native")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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

    def __init__(self, name, argv, mountpoint, log_path):
        self.name = name
        self.mountpoint = mountpoint
        self.log_path = log_path
        self.exit_status = None
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


# ------------------------------------------------------------- the bench ---

# (key, label, unit, kind, target) — kind "rate": figure = count / seconds,
# "mbps": figure = bytes / 1e6 / seconds, "seconds": figure = seconds.
# target: ("ratio", x) = acidfs at least x times bindfs's speed;
#         ("below", s) = acidfs median under s seconds.
def workload_table(args):
    n = f"{args.files:,}"
    s = f"{args.size_mib} MiB" if args.size_mib % 1024 else f"{args.size_mib // 1024} GiB"
    return [
        ("create", f"create {n} x 4 KiB", "files/s", "rate", ("ratio", 1.0)),
        ("stat", f"stat {n}", "files/s", "rate", ("ratio", 1.0)),
        ("read", f"read {n} x 4 KiB", "files/s", "rate", ("ratio", 1.0)),
        ("rename", f"rename {n}", "files/s", "rate", ("ratio", 1.0)),
        ("unlink", f"unlink {n}", "files/s", "rate", ("ratio", 1.0)),
        ("tar", f"tar x ({args.tar_entries:,} entries)", "s", "seconds", ("ratio", 1.0)),
        ("write", f"seq write {s} + fsync", "MB/s", "mbps", ("ratio", 0.8)),
        ("readseq", f"seq read {s} (cold)", "MB/s", "mbps", ("ratio", 0.8)),
        ("cp", f"cp {s} file (same mount)", "s", "seconds", ("below", 0.050)),
    ]


class Bench:
    def __init__(self, args, session):
        self.args = args
        self.session = session
        self.mounts = []
        # results[key][target] = list of per-run seconds
        self.seconds = {}
        self.errors = []  # (run, target, what, message)
        self.tar_checks = {t: [] for t in TARGETS}  # per run: "identical" or a summary
        self.mount_seconds = {"acidfs": [], "bindfs": []}
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
        for d in (store, acid_mnt, src, bind_mnt, os.path.join(run_dir, "native")):
            os.makedirs(d)
        try:
            extra = ["-o", args.acidfs_options] if args.acidfs_options else []
            m = Mount("acidfsd", [args.acidfsd, store, acid_mnt, "-f"] + extra, acid_mnt,
                      os.path.join(self.session, f"acidfsd-run{run_index + 1}.log"))
            self.mounts.append(m)
            self.mount_seconds["acidfs"].append(m.mount_seconds)
            roots["acidfs"] = acid_mnt
        except Exception as e:  # noqa: BLE001 — reported, the other targets still run
            self.fail(run_index, "acidfs", "mount", e)
        try:
            m = Mount("bindfs", ["bindfs", "-f", src, bind_mnt], bind_mnt,
                      os.path.join(self.session, f"bindfs-run{run_index + 1}.log"))
            self.mounts.append(m)
            self.mount_seconds["bindfs"].append(m.mount_seconds)
            roots["bindfs"] = bind_mnt
        except Exception as e:  # noqa: BLE001
            self.fail(run_index, "bindfs", "mount", e)
        roots["native"] = os.path.join(run_dir, "native")

        order = list(TARGETS[run_index % 3:] + TARGETS[:run_index % 3])
        order = [t for t in order if t in roots]
        log(f"run {run_index + 1}/{args.runs}: target order {', '.join(order)}; load {load_average()}")

        for group, method, extra in (("small files", self.small_files, (contents,)),
                                     ("tar x", self.tar_extract, ()),
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
            try:
                with open(m.log_path, errors="replace") as f:
                    noteworthy = [line for line in f.read().splitlines()
                                  if m.name == "acidfsd" and (" warning:" in line or " error:" in line)
                                  or m.name == "bindfs" and line.strip()]
            except OSError as e:
                noteworthy = [f"(log unreadable: {e})"]
            if m.exit_status != 0:
                self.daemon_notes.append(f"{m.name} exited with status {m.exit_status} after unmount")
            self.daemon_notes.extend(f"{m.name} log: {line}" for line in noteworthy[:20])

    # -- the report ------------------------------------------------------

    def figure(self, kind, key, target):
        runs = self.seconds.get(key, {}).get(target, [])
        if len(runs) != self.args.runs:
            return None
        if kind == "rate":
            return statistics.median(self.args.files / s for s in runs)
        if kind == "mbps":
            return statistics.median(self.args.size_mib * MIB / 1e6 / s for s in runs)
        return statistics.median(runs)

    @staticmethod
    def speed_ratio(kind, ours, theirs):
        if ours is None or theirs is None or ours == 0 or theirs == 0:
            return None
        return theirs / ours if kind == "seconds" else ours / theirs

    def report(self, workloads):
        def fmt(value, unit):
            if value is None:
                return "error"
            if unit == "s":
                return f"{value:.3f}"
            return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"

        rows = []
        verdicts = []
        for key, label, unit, kind, (target_kind, threshold) in workloads:
            a, b, n = (self.figure(kind, key, t) for t in TARGETS)
            rb, rn = self.speed_ratio(kind, a, b), self.speed_ratio(kind, a, n)
            if target_kind == "ratio":
                goal = f">= {threshold:g}x bindfs"
                met = rb is not None and rb >= threshold
            else:
                goal = f"< {threshold * 1000:.0f} ms"
                met = a is not None and a < threshold
            verdict = "met" if met else "NOT MET"
            verdicts.append((label, goal, verdict))
            rows.append([label, unit, fmt(a, unit), fmt(b, unit), fmt(n, unit),
                         "-" if rb is None else f"{rb:.2f}x", "-" if rn is None else f"{rn:.2f}x",
                         f"{goal}: {verdict}"])
        header = ["workload", "unit", "acidfs", "bindfs", "native", "acidfs/bindfs", "acidfs/native",
                  "issue 3 target"]
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        right = {2, 3, 4, 5, 6}

        def line(cells):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        print(f"\nRESULTS: median of {self.args.runs} run(s) per figure")
        print("Ratios are speed ratios: above 1 = acidfs faster. For rows in seconds that is "
              "peer seconds / acidfs seconds; for rates, acidfs rate / peer rate.")
        print(line(header))
        print(line(["-" * w for w in widths]))
        for r in rows:
            print(line(r))
        met = sum(1 for v in verdicts if v[2] == "met")
        print(f"\nissue 3 targets met: {met} of {len(verdicts)}; not met: "
              + (", ".join(v[0] for v in verdicts if v[2] != "met") or "none"))

        print("\nPer-run seconds (in run order; target order rotates each run):")
        for key, label, unit, kind, _ in workloads:
            cells = []
            for t in TARGETS:
                runs = self.seconds.get(key, {}).get(t, [])
                cells.append(f"{t} " + (" ".join(f"{s:.3f}" for s in runs) or "-"))
            print(f"  {label:<32} " + " | ".join(cells))
        for t in ("acidfs", "bindfs"):
            if self.mount_seconds[t]:
                print(f"  {'mount until it answers (' + t + ')':<32} "
                      + " ".join(f"{s:.3f}" for s in self.mount_seconds[t]))
        print("  untimed teardown per run (unmount both | rm -rf): "
              + "; ".join(f"{u:.1f} | {r:.1f}" for u, r in self.teardown))
        print("  load average at each run's start: " + "; ".join(f"{l[0]:.2f}" for l in self.run_loads))

        print("\nChecks (untimed):")
        for t in TARGETS:
            checks = self.tar_checks[t]
            good = sum(1 for c in checks if c == "identical")
            print(f"  tar x, diff -r against the reference tree, {t}: identical in {good} of {len(checks)} runs"
                  + "".join(f"; run {i + 1}: {c}" for i, c in enumerate(checks) if c != "identical"))
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
    print(f"tools:       {output_of(['tar', '--version']).splitlines()[0]}; "
          f"{output_of(['cp', '--version']).splitlines()[0]}; python {platform.python_version()}")
    print(f"runs:        {args.runs} per figure, median reported; fresh store/SRC/directory per run")
    print(f"workloads:   {args.files:,} files of 4 KiB in one directory (distinct random content; "
          f"create/stat/read/rename/unlink, warm: no cache drop between phases); "
          f"tar x of {args.tar_source} ({args.tar_entries:,} entries, {args.tar_bytes / MIB:.0f} MiB); "
          f"{args.size_mib} MiB of random bytes written in 1 MiB calls + fsync, read back in 1 MiB calls "
          f"after sync + drop_caches; cp of that file (GNU cp: FICLONE, then copy_file_range)")
    print(f"load avg:    {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f} at start (1/5/15 min)")
    if load_start[0] > 0.5:
        print("NOTE:        load above 0.5 at start: other work is running on this machine; "
              "absolute figures are noisy, the ratios of one run less so")
    sys.stdout.flush()


def parse_args():
    p = argparse.ArgumentParser(description="acidfs vs bindfs vs native: mount benchmark (run as root)")
    p.add_argument("workdir", nargs="?", default="/var/tmp/acidfs-bench",
                   help="where stores, mounts and files are made (default /var/tmp/acidfs-bench); "
                        "the disk under test")
    p.add_argument("--runs", type=int, help="runs per figure (default 3)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1,000 files, 128 MiB, tar of /usr/include/linux")
    p.add_argument("--files", type=int, help="small files (default 10000; --quick 1000)")
    p.add_argument("--size-mib", type=int, help="sequential file size in MiB (default 1024; --quick 128)")
    p.add_argument("--tar-source", help="tree to tar (default /usr/include; --quick /usr/include/linux)")
    p.add_argument("--acidfs-options", default="",
                   help="-o options for acidfsd, e.g. readdirplus=no or attr_timeout=0 (to measure a feature)")
    p.add_argument("--acidfsd", default=None,
                   help="the daemon (default: $ACIDFSD, else build/bin/acidfsd in the repo)")
    args = p.parse_args()
    args.runs = args.runs or 3
    args.files = args.files or (1000 if args.quick else 10000)
    args.size_mib = args.size_mib or (128 if args.quick else 1024)
    args.tar_source = args.tar_source or ("/usr/include/linux" if args.quick else "/usr/include")
    args.acidfsd = os.path.abspath(args.acidfsd or os.environ.get("ACIDFSD")
                                   or os.path.join(REPO, "build", "bin", "acidfsd"))
    if args.runs < 1 or args.files < 1 or args.size_mib < 1:
        p.error("--runs, --files and --size-mib must be positive")
    if os.geteuid() != 0:
        p.error("run as root: the cold read drops the page cache and the mounts need it")
    for tool in (args.acidfsd, shutil.which("bindfs"), shutil.which("tar"), shutil.which("diff")):
        if not tool or not os.access(tool, os.X_OK):
            p.error(f"missing executable: {tool or 'bindfs/tar/diff'} (scripts/install-deps.sh; "
                    f"build acidfsd or pass --acidfsd)")
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
