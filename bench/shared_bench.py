#!/usr/bin/env python3
"""shared_bench.py: acidfs on a PostgreSQL store (issue 13) beside a directory store.

One invocation, one machine, one work directory (the directory stores, the
PostgreSQL data directory and the mount points all live in it, so on one disk):

 1. through one mount, transactions/s of create, rename, CAS commit (``acidfs cas``,
    one process per commit, and the same with system calls: getxattr blob_id, a new
    file, setxattr dest_basis, rename) and a 10-move ``acidfs transact``, on a
    PostgreSQL store and on a directory store, interleaved; ratio PG/dir;
 2. a cold streaming read of a 256 MiB file on both;
 3. three acidfsd over one database: aggregate creates/s of three processes (one
    per mount) in three directories and in one shared directory, beside one
    process on one of those mounts alone;
 4. visibility: ms from a rename/create returning on mount A until mount B sees it
    (os.listdir / os.stat polled in a tight loop), coherence_ms=1000 (the default);
 5. a profile: statements and transactions per operation from pg_stat_statements
    (the server restarted with it preloaded, after the timed part).

Every rate is the median of --runs runs (min-max beside it). Run as root (mounts,
drop_caches, PostgreSQL started as the postgres user). Python 3 standard library
only; PostgreSQL 15 from Debian (pg_config --bindir), psql for SQL.
Everything is unmounted, stopped and removed at the end, on failure and on
SIGINT/SIGTERM too. Tables on stdout, progress on stderr.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ left in the tree by the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mount_bench  # noqa: E402  (its Mount, drop_caches and seq_read)

MIB = mount_bench.MIB


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ------------------------------------------------------------ PostgreSQL ---

class Postgres:
    """A throwaway PostgreSQL server on a Unix socket in a directory of its own
    (as tests/postgres_instance.h): initdb, pg_ctl start, default settings
    (fsync=on, synchronous_commit=on), no TCP."""

    def __init__(self, parent):
        self.bin = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                  check=True).stdout.strip()
        self.dir = tempfile.mkdtemp(prefix="pg-", dir=parent)
        os.chmod(self.dir, 0o755)
        self.run_as = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "server.log")
        self.started = False
        self._run([f"{self.bin}/initdb", "-D", self.data, "--no-sync", "-A", "trust", "-U", "postgres",
                   "-E", "UTF8", "--no-locale"])
        self.start()

    def _run(self, argv):
        r = subprocess.run(self.run_as + argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {r.stdout[-2000:]} {r.stderr[-2000:]}")
        return r.stdout

    def start(self, extra=""):
        self._run([f"{self.bin}/pg_ctl", "-D", self.data, "-l", self.log_path, "-w", "-o",
                   f"-k {self.dir} -c listen_addresses='' {extra}", "start"])
        self.started = True

    def stop(self, mode="fast"):
        if self.started:
            self.started = False
            self._run([f"{self.bin}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])

    def uri(self, database):
        return f"postgresql:///{database}?host={self.dir}&user=postgres"

    def sql(self, statement, database="postgres"):
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                            "-U", "postgres", "-d", database, "-c", statement],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql {statement!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def settings(self):
        return self.sql("SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings "
                        "WHERE name IN ('fsync','synchronous_commit','shared_buffers','wal_level',"
                        "'max_wal_size','full_page_writes','server_version')")

    def new_database(self, name):
        self.sql(f"CREATE DATABASE {name}")
        return self.uri(name)

    def remove(self):
        try:
            self.stop("immediate")
        except Exception as e:  # noqa: BLE001 - cleanup goes on
            log(f"pg_ctl stop: {e}")
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- mounts ---

class Mount(mount_bench.Mount):
    """acidfsd in the foreground (mount_bench's daemon handling), remembered in LIVE_MOUNTS
    so that a failure or a signal unmounts it."""

    def __init__(self, acidfsd, store, mountpoint, log_path, options=None):
        os.makedirs(mountpoint, exist_ok=True)
        argv = [acidfsd, store, mountpoint, "-f"] + (["-o", options] if options else [])
        super().__init__("acidfs", "acidfsd", argv, mountpoint, log_path)
        LIVE_MOUNTS.append(self)

    def path(self, *parts):
        return os.path.join(self.mountpoint, *parts)

    def stop(self):
        if self in LIVE_MOUNTS:
            LIVE_MOUNTS.remove(self)
        super().stop()
        if self.exit_status not in (0, None):
            log(f"acidfsd on {self.mountpoint} exited with {self.exit_status}: {self.log_tail()}")


LIVE_MOUNTS = []


# ------------------------------------------------------------- workloads ---

BLOB = "user.acidfs.blob_id"
BASIS = "user.acidfs.dest_basis"


def make_dir(path):
    os.mkdir(path)
    return path


def do_creates(directory, count, prefix="f"):
    """count x open(O_CREAT|O_EXCL|O_WRONLY) + write 100 distinct bytes + close; returns seconds."""
    payloads = [os.urandom(100) for _ in range(count)]
    start = time.perf_counter()
    for i in range(count):
        fd = os.open(os.path.join(directory, f"{prefix}{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, payloads[i])
        os.close(fd)
    return time.perf_counter() - start


def do_renames(directory, count, prefix="f"):
    start = time.perf_counter()
    for i in range(count):
        os.rename(os.path.join(directory, f"{prefix}{i}"), os.path.join(directory, f"r{i}"))
    return time.perf_counter() - start


def do_cas_cli(acidfs, path, count):
    """count x (getxattr blob_id; `acidfs cas PATH --expect ID` with 100 new bytes on stdin)."""
    payloads = [os.urandom(100) for _ in range(count)]
    start = time.perf_counter()
    for i in range(count):
        blob = os.getxattr(path, BLOB).decode()
        r = subprocess.run([acidfs, "cas", path, "--expect", blob], input=payloads[i], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"acidfs cas: {r.returncode} {r.stdout!r} {r.stderr!r}")
    return time.perf_counter() - start


def do_cas_xattr(path, count):
    """count x (getxattr blob_id; new file with 100 bytes; setxattr dest_basis; rename onto PATH):
    SPEC 4.2's compare-and-swap with system calls only, no process per commit."""
    payloads = [os.urandom(100) for _ in range(count)]
    tmp = os.path.join(os.path.dirname(path), ".cas.new")
    start = time.perf_counter()
    for i in range(count):
        blob = os.getxattr(path, BLOB)
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, payloads[i])
        os.close(fd)
        os.setxattr(tmp, BASIS, blob)
        os.rename(tmp, path)
    return time.perf_counter() - start


def prepare_transact(mount, directory, session, tag):
    """10 files a0..a9 in directory; two transaction files (a->b and b->a), each 10 moves with the
    source blobId and an absent destination. Returns the two paths."""
    rel = "/" + os.path.relpath(directory, mount.mountpoint)
    blobs = []
    for k in range(10):
        with open(os.path.join(directory, f"a{k}"), "wb") as f:
            f.write(os.urandom(100))
    for k in range(10):
        blobs.append(os.getxattr(os.path.join(directory, f"a{k}"), BLOB).decode())
    files = []
    for src, dst in (("a", "b"), ("b", "a")):
        ops = [{"op": "move", "source": {"path": f"{rel}/{src}{k}", "blobId": blobs[k]},
                "dest": {"path": f"{rel}/{dst}{k}", "basis": None}} for k in range(10)]
        p = os.path.join(session, f"tx-{tag}-{src}{dst}.json")
        with open(p, "w") as f:
            json.dump(ops, f)
        files.append(p)
    return files


def do_transacts(acidfs, mount, files, count):
    start = time.perf_counter()
    for i in range(count):
        r = subprocess.run([acidfs, "transact", files[i % 2], "--mount", mount.mountpoint], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError(f"acidfs transact: {r.returncode} {r.stdout!r} {r.stderr!r}")
    return time.perf_counter() - start


def write_big(path, size):
    block = os.urandom(MIB)
    with open(path, "wb") as f:
        for i in range(size // MIB):
            f.write(i.to_bytes(8, "little") + block[8:])
        f.flush()
        os.fsync(f.fileno())


def read_big(path, size):
    """Cold: the page cache dropped first. Returns seconds; checks the size."""
    mount_bench.drop_caches()
    return mount_bench.seq_read(path, size)


def _creator(directory, count, prefix, barrier, out):
    barrier.wait()
    out.put(do_creates(directory, count, prefix))


def parallel_creates(directories, count, prefixes):
    """One process per directory (fork), released together; returns wall seconds until all finish."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(len(directories) + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_creator, args=(d, count, p, barrier, out)) for d, p in zip(directories, prefixes)]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=60)
        start = time.perf_counter()
        per = [out.get(timeout=600) for _ in procs]
        wall = time.perf_counter() - start
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
                p.join()
    if any(p.exitcode != 0 for p in procs):
        raise RuntimeError("a create worker failed")
    return wall, per


def wait_visible(check, limit=30.0):
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > limit:
            raise RuntimeError("not visible within 30 s")
    return time.perf_counter() - start


# ------------------------------------------------------------------ bench ---

class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.workdir
        os.makedirs(self.work, exist_ok=True)
        self.session = tempfile.mkdtemp(prefix="session-", dir=self.work)
        os.chmod(self.session, 0o755)
        self.pg = None
        self.results = {}  # key -> list of values (one per run)
        self.dbs = 0

    def record(self, key, value):
        self.results.setdefault(key, []).append(value)

    def new_store(self, kind):
        self.dbs += 1
        if kind in ("pg", "pgna"):
            uri = self.pg.new_database(f"b{self.dbs}")
            if kind == "pgna":  # the database's default for every session acidfsd opens
                self.pg.sql(f"ALTER DATABASE b{self.dbs} SET synchronous_commit = off")
            return uri
        d = os.path.join(self.session, f"store{self.dbs}")
        os.mkdir(d)
        return d

    def mount(self, store, name, options=None):
        mp = os.path.join(self.session, f"mnt-{name}-{self.dbs}")
        return Mount(self.args.acidfsd, store, mp, os.path.join(self.session, f"acidfsd-{name}-{self.dbs}.log"),
                     options)

    # 1 + 2: one mount, one store kind
    def single(self, kind, run_index):
        a = self.args
        store = self.new_store(kind)
        m = self.mount(store, kind)
        try:
            d = make_dir(m.path("c"))
            self.record((kind, "create"), a.files / do_creates(d, a.files))
            self.record((kind, "rename"), a.files / do_renames(d, a.files))
            f = m.path("counter")
            with open(f, "wb") as fh:
                fh.write(b"0")
            self.record((kind, "cas_cli"), a.cas_cli / do_cas_cli(a.acidfs, f, a.cas_cli))
            self.record((kind, "cas_xattr"), a.cas_xattr / do_cas_xattr(f, a.cas_xattr))
            t = make_dir(m.path("t"))
            files = prepare_transact(m, t, self.session, f"{kind}{run_index}")
            self.record((kind, "transact"), a.transacts / do_transacts(a.acidfs, m, files, a.transacts))
            if kind == "pgna":
                return
            big = m.path("big")
            start = time.perf_counter()
            write_big(big, a.size_mib * MIB)
            self.record((kind, "bigwrite"), a.size_mib * MIB / 1e6 / (time.perf_counter() - start))
        finally:
            m.stop()
        # Cold read: the daemon restarted (no cache of its own), page cache dropped.
        m = self.mount(store, kind + "r")
        try:
            self.record((kind, "read"), a.size_mib * MIB / 1e6 / read_big(m.path("big"), a.size_mib * MIB))
        finally:
            m.stop()

    # 3: three mounts over one database
    def three(self):
        a = self.args
        uri = self.new_store("pg")
        mounts = []
        try:
            for h in range(3):
                mounts.append(self.mount(uri, f"h{h}"))
            for h in range(3):
                os.mkdir(mounts[h].path(f"own{h}"))
            os.mkdir(mounts[0].path("alone"))
            os.mkdir(mounts[0].path("shared"))
            time.sleep(1.5)  # the directories are seen everywhere (coherence_ms)
            self.record(("3m", "alone"), a.files / do_creates(mounts[0].path("alone"), a.files))
            wall, _ = parallel_creates([mounts[h].path(f"own{h}") for h in range(3)], a.files, ["f", "f", "f"])
            self.record(("3m", "own"), 3 * a.files / wall)
            wall, _ = parallel_creates([mounts[h].path("shared") for h in range(3)], a.files, ["x", "y", "z"])
            self.record(("3m", "shared"), 3 * a.files / wall)
            time.sleep(1.5)
            n = len(os.listdir(mounts[1].path("shared")))
            if n != 3 * a.files:
                raise RuntimeError(f"shared directory on mount 1 lists {n} entries, not {3 * a.files}")
        finally:
            for m in mounts:
                m.stop()

    # 4: visibility
    def visibility(self):
        a = self.args
        uri = self.new_store("pg")
        A = self.mount(uri, "vA")
        B = self.mount(uri, "vB")
        out = {"rename_listdir": [], "create_stat": []}
        try:
            os.mkdir(A.path("v"))
            wait_visible(lambda: os.path.isdir(B.path("v")))
            for i in range(a.trials):
                with open(A.path("v", f"s{i}"), "wb") as f:
                    f.write(b"x")
            time.sleep(1.5)
            os.listdir(B.path("v"))  # B has listed the directory (its kernel may cache the listing)
            for i in range(a.trials):
                time.sleep(0.05 + (i * 0.037) % 0.3)  # not in step with the coherence tick
                os.rename(A.path("v", f"s{i}"), A.path("v", f"t{i}"))
                name, bdir = f"t{i}", B.path("v")
                out["rename_listdir"].append(wait_visible(lambda: name in os.listdir(bdir)))
            for i in range(a.trials):
                time.sleep(0.05 + (i * 0.037) % 0.3)
                p = B.path("v", f"n{i}")
                try:
                    os.stat(p)  # B looks it up first and finds nothing (a negative entry)
                except FileNotFoundError:
                    pass
                with open(A.path("v", f"n{i}"), "wb") as f:
                    f.write(b"y")
                out["create_stat"].append(wait_visible(lambda: os.path.exists(p)))
        finally:
            A.stop()
            B.stop()
        return out

    # 5: statements per operation, pg_stat_statements
    def profile(self):
        a = self.args
        self.pg.stop()
        self.pg.start("-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all")
        uri = self.new_store("pg")
        db = f"b{self.dbs}"
        self.pg.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")  # in 'postgres': acidfs refuses
        m = self.mount(uri, "prof")
        rows = []
        try:
            def counters():
                # statements (each one round trip: libpq, no pipelining) and COMMITs of this database
                calls, commits = self.pg.sql(
                    "SELECT coalesce(sum(calls),0) || ' ' || coalesce(sum(calls) FILTER (WHERE query = 'COMMIT'),0) "
                    f"FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}'").split()
                return int(calls), int(commits)

            def top(n=6):
                return self.pg.sql(
                    "SELECT s.calls || ' x ' || regexp_replace(left(s.query, 90), '\\s+', ' ', 'g') "
                    f"FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}' "
                    f"ORDER BY s.calls DESC LIMIT {n}")

            def measure(label, count, fn):
                time.sleep(0.2)
                self.pg.sql("SELECT pg_stat_statements_reset()")
                c0, x0 = counters()
                start = time.perf_counter()
                fn()
                seconds = time.perf_counter() - start
                time.sleep(0.2)
                c1, x1 = counters()
                rows.append((label, count, (c1 - c0) / count, (x1 - x0) / count, seconds, top()))

            n = 200
            d = make_dir(m.path("c"))
            measure("idle, per second", 1, lambda: time.sleep(1.0))
            measure("create", n, lambda: do_creates(d, n))
            measure("rename", n, lambda: do_renames(d, n))
            f = m.path("counter")
            with open(f, "wb") as fh:
                fh.write(b"0")
            measure("CAS, acidfs cas", 50, lambda: do_cas_cli(a.acidfs, f, 50))
            measure("CAS, xattrs + rename", 50, lambda: do_cas_xattr(f, 50))
            t = make_dir(m.path("t"))
            files = prepare_transact(m, t, self.session, "prof")
            measure("transact, 10 moves", 20, lambda: do_transacts(a.acidfs, m, files, 20))
        finally:
            m.stop()
        return rows


# ----------------------------------------------------------------- report ---

def fmt(values, unit=""):
    if not values:
        return "error"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.0f}{unit}"
    return f"{med:,.0f} ({min(values):,.0f}-{max(values):,.0f}){unit}"


def ratio(a, b):
    if not a or not b:
        return None
    return statistics.median(a) / statistics.median(b)


def report(bench, vis, prof, header, elapsed):
    R = bench.results
    a = bench.args
    print("\n".join(header))
    print()
    print("1-2. One mount: PostgreSQL store vs directory store (median (min-max) of the runs)")
    print()
    rows = [
        ("create (open O_EXCL+write 100 B+close)", "create", "tx/s", a.files, 1 / 3),
        ("rename (same directory)", "rename", "tx/s", a.files, 1 / 3),
        ("CAS, acidfs cas (a process each)", "cas_cli", "tx/s", a.cas_cli, 1 / 3),
        ("CAS, getxattr+new file+setxattr+rename", "cas_xattr", "tx/s", a.cas_xattr, 1 / 3),
        ("transact, 10 moves (acidfs transact)", "transact", "tx/s", a.transacts, 1 / 3),
        ("256 MiB write + fsync (for the read)", "bigwrite", "MB/s", a.size_mib, None),
        ("256 MiB read, cold (remount+drop_caches)", "read", "MB/s", a.size_mib, 1.0),
    ]
    w = [42, 8, 26, 26, 7, 18, 22, 8]
    line = lambda cells: print("".join(str(c).rjust(wd) if i else str(c).ljust(wd) for i, (c, wd) in
                                       enumerate(zip(cells, w))))
    line(["operation", "count", "PostgreSQL", "directory", "PG/dir", "bar", "PG, sync_commit=off", "/dir"])
    print("-" * sum(w))
    verdicts = []
    for label, key, unit, count, bar in rows:
        r = ratio(R.get(("pg", key)), R.get(("dir", key)))
        if bar is None:
            verdict = "-"
        elif r is None:
            verdict = "error"
        else:
            verdict = ("met" if r >= bar - 1e-9 else "NOT MET") + (" (>=1/3)" if bar < 1 else " (>=1)")
            verdicts.append((label, verdict))
        ra = ratio(R.get(("pgna", key)), R.get(("dir", key)))
        line([label, count if unit == "tx/s" else f"{count} MiB", fmt(R.get(("pg", key)), " " + unit),
              fmt(R.get(("dir", key)), " " + unit), "-" if r is None else f"{r:.2f}", verdict,
              fmt(R.get(("pgna", key))) if ra else "-", "-" if ra is None else f"{ra:.2f}"])
    print("(bar: the issue's, PG/dir >= 1/3 on metadata, >= 1 on the cold read. The directory store runs")
    print(" with acidfsd's defaults, commit_interval=5 and no sync: it does not flush per commit, PostgreSQL")
    print(" with synchronous_commit=on does. The last two columns: the same PostgreSQL server, a database with")
    print(" synchronous_commit=off (commits not waiting for the WAL flush), metadata rows only)")
    print()
    print("3. Three acidfsd over one PostgreSQL database, creates (one process per mount, in parallel)")
    print()
    w2 = [56, 26, 10]
    print("case".ljust(w2[0]) + "creates/s".rjust(w2[1]) + "x alone".rjust(w2[2]))
    print("-" * sum(w2))
    alone = R.get(("3m", "alone"))
    for label, key in (("one mount alone, one process (the other two idle)", "alone"),
                       ("3 mounts, each in its own directory (aggregate)", "own"),
                       ("3 mounts, all in one shared directory (aggregate)", "shared")):
        r = ratio(R.get(("3m", key)), alone)
        print(label.ljust(w2[0]) + fmt(R.get(("3m", key)), " tx/s").rjust(w2[1]) +
              ("-" if r is None else f"{r:.2f}").rjust(w2[2]))
    print(f"({a.files} creates per process; 'x alone' divides by the first row)")
    print()
    if vis:
        print(f"4. Visibility, mount A -> mount B (coherence_ms=1000, the default), {a.trials} trials each, ms")
        print()
        print("change on A, seen on B by".ljust(44) + "median".rjust(10) + "p90".rjust(10) + "min".rjust(10) +
              "max".rjust(10))
        print("-" * 84)
        for label, key in (("rename; os.listdir of the directory on B", "rename_listdir"),
                           ("create; os.stat on B (after a failed stat)", "create_stat")):
            v = sorted(x * 1000 for x in vis[key])
            p90 = v[min(len(v) - 1, int(0.9 * len(v)))]
            print(label.ljust(44) + f"{statistics.median(v):.0f}".rjust(10) + f"{p90:.0f}".rjust(10) +
                  f"{v[0]:.0f}".rjust(10) + f"{v[-1]:.0f}".rjust(10))
        print("(from the return of rename/close on A until B's call first shows the change; B polls in a tight loop)")
        print()
    if prof:
        print("5. Profile: PostgreSQL statements and transactions per operation (pg_stat_statements, one run,")
        print("   server restarted with it preloaded; counts include the daemon's background work meanwhile)")
        print()
        print("operation".ljust(28) + "ops".rjust(6) + "statements/op".rjust(16) + "commits/op".rjust(12) +
              "ms/op".rjust(9))
        print("-" * 71)
        for label, count, st, xa, seconds, _top in prof:
            print(label.ljust(28) + str(count).rjust(6) + f"{st:.1f}".rjust(16) + f"{xa:.1f}".rjust(12) +
                  f"{seconds * 1000 / count:.2f}".rjust(9))
        print()
        for label, count, st, xa, seconds, top in prof:
            if label.startswith("idle"):
                continue
            print(f"most called statements during '{label}' ({count} ops):")
            for t in top.splitlines():
                print("    " + t)
        print()
    met = sum(1 for _, v in verdicts if v.startswith("met"))
    print(f"bars: {met} of {len(verdicts)} met" +
          ("" if met == len(verdicts) else "; NOT MET: " + "; ".join(l for l, v in verdicts if not v.startswith("met"))))
    print(f"whole run: {elapsed:.0f} s; load average at the end: {load_average()}")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir", nargs="?", default="/var/tmp/acidfs-shared-bench",
                   help="where stores, the PostgreSQL data and mount points go (removed at the end)")
    p.add_argument("--acidfsd", default=os.environ.get("ACIDFSD", "build/bin/acidfsd"))
    p.add_argument("--acidfs", default=os.environ.get("ACIDFS", "build/bin/acidfs"))
    p.add_argument("--runs", type=int, default=None, help="runs per figure (default 3; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="one run, a tenth of the work: a smoke check")
    p.add_argument("--files", type=int, default=None, help="creates/renames per run (default 2000)")
    p.add_argument("--size-mib", type=int, default=None, help="the streamed file (default 256)")
    p.add_argument("--trials", type=int, default=None, help="visibility trials per kind (default 50)")
    p.add_argument("--no-profile", action="store_true", help="skip the pg_stat_statements profile")
    a = p.parse_args()
    q = a.quick
    a.runs = a.runs or (1 if q else 3)
    a.files = a.files or (200 if q else 2000)
    a.size_mib = a.size_mib or (32 if q else 256)
    a.trials = a.trials or (10 if q else 50)
    a.cas_cli = 30 if q else 200
    a.cas_xattr = 50 if q else 500
    a.transacts = 20 if q else 100
    a.acidfsd = os.path.abspath(a.acidfsd)
    a.acidfs = os.path.abspath(a.acidfs)
    for b in (a.acidfsd, a.acidfs):
        if not os.access(b, os.X_OK):
            p.error(f"no executable {b}")
    if os.geteuid() != 0:
        p.error("run as root (mounts, drop_caches, PostgreSQL as the postgres user)")
    return a


def main():
    args = parse_args()
    started = time.perf_counter()

    def terminate(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, terminate)
    bench = Bench(args)
    status = 0
    vis = prof = None
    try:
        load_start = load_average()
        log(f"session {bench.session}; starting PostgreSQL")
        bench.pg = Postgres(bench.session)
        pg_settings = bench.pg.settings()
        for r in range(args.runs):
            order = ["dir", "pg", "pgna"] if r % 2 == 0 else ["pgna", "pg", "dir"]
            for kind in order:
                log(f"run {r + 1}/{args.runs}: one mount, {kind} store (load {load_average()})")
                bench.single(kind, r)
            log(f"run {r + 1}/{args.runs}: three mounts over one database")
            bench.three()
        log("visibility")
        vis = bench.visibility()
        if not args.no_profile:
            log("profile (pg_stat_statements)")
            prof = bench.profile()
        try:
            head = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "log", "-1",
                                   "--format=%h %s"], capture_output=True, text=True).stdout.strip()[:90]
        except OSError:
            head = "?"
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / 1024 / 1024
        header = [
            "acidfs shared_bench: a PostgreSQL store (issue 13) beside a directory store, through FUSE",
            f"date:       {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
            f"machine:    {os.cpu_count()} CPUs, {mem:.1f} GiB memory, Linux {os.uname().release}",
            f"work dir:   {args.workdir} (directory stores, PostgreSQL data, mount points: one disk)",
            f"acidfsd:    {args.acidfsd} (repository HEAD {head})",
            f"PostgreSQL: local, Unix socket, initdb defaults: {pg_settings}",
            f"mounts:     acidfsd STORE MNT -f, default options (PostgreSQL: coherence_ms=1000, chunks=db)",
            f"runs:       {args.runs}; the two stores interleaved, order alternating per run",
            f"load:       {load_start} at start",
        ]
        report(bench, vis, prof, header, time.perf_counter() - started)
    except BaseException as e:  # noqa: BLE001 - report, then clean up
        log(f"FAILED: {type(e).__name__}: {e}")
        status = 1
        if bench.results:
            print("partial results:", {f"{k[0]}/{k[1]}": [round(v) for v in vs] for k, vs in bench.results.items()})
    finally:
        for m in list(LIVE_MOUNTS):
            m.stop()
        if bench.pg:
            bench.pg.remove()
        left = [l.split()[1] for l in open("/proc/mounts") if l.split()[1].startswith(bench.session)]
        if left:
            log(f"NOT removing {bench.session}: still mounted: {left}")
        else:
            shutil.rmtree(bench.session, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
