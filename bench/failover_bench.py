#!/usr/bin/env python3
"""failover_bench.py: acidfs on a PostgreSQL primary with a synchronous standby (issue 14).

One invocation, one machine, one work directory (both servers' data directories and
the mount points in it, so on one disk):

 1. what a synchronous standby costs: creates/s and renames/s through one mount on
    a server alone, and on a primary whose every writing commit waits for its
    synchronous standby (synchronous_standby_names = '*'; acidfs then commits
    every writing transaction synchronously, SPEC 9), interleaved runs;
 2. the failover: one mount on host=PRIMARY,STANDBY&target_session_attrs=read-write
    creating files in a loop; every primary process is SIGKILLed (as its host
    dying), the standby promoted at once (pg_ctl promote -w; an operator or
    Patroni adds its detection time before this); measured: seconds from the kill
    to the first create begun after it that succeeds, and from the promotion's
    return to it. A fresh pair of servers per run.

Every figure is the median of --runs runs (min-max beside it). Run as root. Python 3
standard library only (shared_bench.py's Postgres and Mount); PostgreSQL 15 from
Debian, default settings (fsync on). Tables on stdout, progress on stderr.
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shared_bench  # noqa: E402  (its Postgres, Mount, workloads)

log = shared_bench.log


class Standby(shared_bench.Postgres):
    """A hot standby of `primary`: pg_basebackup -R, started, streaming."""

    def __init__(self, parent, primary):  # noqa: super().__init__ would initdb
        self.bin = primary.bin
        self.dir = tempfile.mkdtemp(prefix="pg-standby-", dir=parent)
        os.chmod(self.dir, 0o755)
        self.run_as = primary.run_as
        if self.run_as:
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "server.log")
        self.started = False
        self._run([f"{self.bin}/pg_basebackup", "-h", primary.dir, "-U", "postgres", "-D", self.data,
                   "-R", "-X", "stream"])
        self.start()

    def promote(self):
        self._run([f"{self.bin}/pg_ctl", "-D", self.data, "-w", "promote"])


def make_synchronous(primary):
    primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
    primary.sql("SELECT pg_reload_conf()")
    deadline = time.time() + 30
    while primary.sql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") != "1":
        if time.time() > deadline:
            raise RuntimeError("the standby never became synchronous")
        time.sleep(0.02)


def crash(server):
    """Every process of the server SIGKILLed, the postmaster stopped first (as its host dying)."""
    with open(os.path.join(server.data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    os.kill(postmaster, signal.SIGSTOP)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == postmaster:
            os.kill(int(pid), signal.SIGKILL)
    os.kill(postmaster, signal.SIGKILL)
    while os.path.exists(f"/proc/{postmaster}"):
        time.sleep(0.005)
    server.started = False


class Bench:
    def __init__(self, args):
        self.args = args
        os.makedirs(args.workdir, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="failover-", dir=args.workdir)
        os.chmod(self.work, 0o755)
        self.results = {}
        self.servers = []
        self.mounts = 0

    def record(self, key, value):
        self.results.setdefault(key, []).append(value)

    def server(self, cls, *extra):
        s = cls(self.work, *extra)
        self.servers.append(s)
        return s

    def mount(self, uri):
        self.mounts += 1
        mountpoint = os.path.join(self.work, f"mnt{self.mounts}")
        return shared_bench.Mount(self.args.acidfsd, uri, mountpoint, os.path.join(self.work, f"d{self.mounts}.log"),
                                  "db_timeout=30")

    def drop(self, *servers):
        for s in servers:
            s.remove()
            self.servers.remove(s)

    def throughput(self, label, uri):
        m = self.mount(uri)
        try:
            d = shared_bench.make_dir(m.path("bench"))
            n = self.args.files
            self.record((label, "create"), n / shared_bench.do_creates(d, n))
            self.record((label, "rename"), n / shared_bench.do_renames(d, n))
        finally:
            m.stop()

    def costs(self, run):
        alone = self.server(shared_bench.Postgres)
        primary = self.server(shared_bench.Postgres)
        standby = self.server(Standby, primary)
        make_synchronous(primary)
        try:
            for label, server in (("alone", alone), ("sync", primary)):
                log(f"run {run}: creates and renames, {label}")
                self.throughput(label, server.new_database(f"b{run}"))
        finally:
            self.drop(standby, primary, alone)

    def failover(self, run):
        primary = self.server(shared_bench.Postgres)
        standby = self.server(Standby, primary)
        make_synchronous(primary)
        uri = f"postgresql:///postgres?host={primary.dir},{standby.dir}&user=postgres&target_session_attrs=read-write"
        m = self.mount(uri)
        outcomes = []  # (began, returned, ok)
        working = threading.Event()
        working.set()

        def creator():
            i = 0
            while working.is_set():
                began = time.perf_counter()
                try:
                    fd = os.open(m.path(f"f{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                    os.write(fd, b"x" * 100)
                    os.close(fd)
                    ok = True
                except OSError:
                    ok = False
                outcomes.append((began, time.perf_counter(), ok))
                i += 1

        t = threading.Thread(target=creator)
        t.start()
        try:
            time.sleep(1.0)
            log(f"run {run}: crashing the primary, promoting the standby")
            crash(primary)
            crashed = time.perf_counter()
            standby.promote()
            promoted = time.perf_counter()
            deadline = time.perf_counter() + 60
            while not any(ok and began > crashed for began, _, ok in list(outcomes)):
                if time.perf_counter() > deadline:
                    raise RuntimeError("no create succeeded within 60 s of the promotion")
                time.sleep(0.01)
        finally:
            working.clear()
            t.join()
            m.stop()
            self.drop(standby, primary)
        first = min(returned for began, returned, ok in outcomes if ok and began > crashed)
        self.record("kill_to_first", first - crashed)
        self.record("promote", promoted - crashed)
        self.record("promoted_to_first", first - promoted)
        self.record("failed", sum(1 for _, _, ok in outcomes if not ok))

    def run(self):
        for run in range(1, self.args.runs + 1):
            self.costs(run)
            self.failover(run)

    def cleanup(self):
        for m in list(shared_bench.LIVE_MOUNTS):
            m.stop()
        for s in list(self.servers):
            s.remove()
        shutil.rmtree(self.work, ignore_errors=True)


def fmt(values, scale=1.0, unit="", digits=0):
    v = [x * scale for x in values]
    med = statistics.median(v)
    return f"{med:,.{digits}f} ({min(v):,.{digits}f}-{max(v):,.{digits}f}){unit}"


def report(bench):
    R, a = bench.results, bench.args
    print(f"failover_bench.py: {a.runs} runs, {a.files} files per rate; load {shared_bench.load_average()}")
    print()
    print("1. What a synchronous standby costs, one mount (median (min-max))")
    print()
    print("operation".ljust(12) + "server alone".rjust(24) + "sync standby".rjust(24) + "ratio".rjust(8))
    print("-" * 68)
    for op in ("create", "rename"):
        alone, sync = R[("alone", op)], R[("sync", op)]
        print(op.ljust(12) + fmt(alone, unit=" tx/s").rjust(24) + fmt(sync, unit=" tx/s").rjust(24) +
              f"{statistics.median(sync) / statistics.median(alone):.2f}".rjust(8))
    print("(sync standby: every writing commit waits until the standby has flushed it; alone: acidfs commits")
    print(" without waiting for the WAL flush, durable at fsync or within wal_writer_delay)")
    print()
    print("2. Failover: the primary killed (every process, SIGKILL), the standby promoted at once")
    print()
    print(f"  pg_ctl promote -w                         {fmt(R['promote'], 1000, ' ms')}")
    print(f"  kill -> first create begun after it, OK   {fmt(R['kill_to_first'], 1000, ' ms')}")
    print(f"  promotion returned -> that create         {fmt(R['promoted_to_first'], 1000, ' ms', 0)}")
    print(f"  creates that failed (db_timeout=30)       {fmt(R['failed'])}")
    print("(an operator's or Patroni's detection time comes before the promotion: Patroni's ttl is 30 s by default)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--acidfsd", required=True)
    p.add_argument("--workdir", default="/var/tmp/acidfs-failover-bench")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--files", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="1 run, 300 files")
    args = p.parse_args()
    if args.quick:
        args.runs, args.files = 1, 300
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        bench.run()
    finally:
        bench.cleanup()
    report(bench)


if __name__ == "__main__":
    main()
