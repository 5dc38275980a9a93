#!/usr/bin/env python3
"""chunks_bench.py: where file contents live, measured (issue 14).

One invocation, one machine, one work directory. For each of
  dir    a directory store (segment files),
  db     a PostgreSQL store with -o chunks=db (chunks are rows),
  rados  a PostgreSQL store with -o chunks=rados:POOL (a single-node Ceph
         cluster, memstore OSD, started by tests/scripts/ceph-single-node.sh),
interleaved, --runs times: creates/s (open O_EXCL + 100 bytes + close), a
sequential write of --size-mib MiB of distinct chunks + fsync (MB/s), and its
cold read after a remount and drop_caches (MB/s). Beside them, `rados bench`
on the same pool (4 MiB objects, 16 in flight: its defaults) as the cluster's
own ceiling. Medians (min-max). Run as root; everything started is stopped
and removed at the end.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mount_bench  # noqa: E402
import shared_bench  # noqa: E402

MIB = mount_bench.MIB
CEPH_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "scripts", "ceph-single-node.sh")


def write_distinct(path, size_mib):
    """size_mib MiB whose 64 KiB chunks all differ (no deduplication helps), fsynced."""
    block = bytearray(os.urandom(MIB))
    with open(path, "wb") as f:
        for i in range(size_mib):
            for c in range(0, MIB, 65536):
                block[c:c + 8] = (i * 16 + c // 65536).to_bytes(8, "little")
            f.write(block)
        f.flush()
        os.fsync(f.fileno())


def rados_bench(conf, pool, seconds):
    """rados bench write then seq: MB/s of each."""
    def run(mode):
        # At most 48 objects of 4 MiB: the memstore OSD holds 1 GiB, and a
        # full one blocks writes forever.
        out = subprocess.run(["rados", "-c", conf, "-p", pool, "bench", str(seconds), mode, "--no-cleanup",
                              "--max-objects", "48"], capture_output=True, text=True, check=True, timeout=120).stdout
        for line in out.splitlines():
            if line.startswith("Bandwidth (MB/sec):"):
                return float(line.split(":")[1]) * 1.048576  # rados says MiB/s
        raise RuntimeError(f"rados bench {mode}: no bandwidth in {out[-500:]}")
    w = run("write")
    r = run("seq")
    subprocess.run(["rados", "-c", conf, "-p", pool, "cleanup"], capture_output=True, timeout=120)
    return w, r


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir", nargs="?", default="/var/tmp/acidfs-chunksbench")
    p.add_argument("--acidfsd", default="build/bin/acidfsd")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--files", type=int, default=500)
    p.add_argument("--size-mib", type=int, default=256)
    p.add_argument("--quick", action="store_true", help="1 run, 200 files, 64 MiB")
    a = p.parse_args()
    if a.quick:
        a.runs, a.files, a.size_mib = 1, 200, 64
    a.acidfsd = os.path.abspath(a.acidfsd)
    os.makedirs(a.workdir, exist_ok=True)
    session = tempfile.mkdtemp(prefix="session-", dir=a.workdir)
    os.chmod(session, 0o755)  # PostgreSQL runs as its own user
    ceph_dir = os.path.join(session, "ceph")
    pg = None
    results = {}
    started = time.time()
    try:
        pg = shared_bench.Postgres(session)
        subprocess.run(["bash", CEPH_SCRIPT, "start", ceph_dir], check=True, capture_output=True)
        conf = os.path.join(ceph_dir, "ceph.conf")
        with open(os.path.join(ceph_dir, "pool")) as f:
            pool = f.read().strip()
        n = 0
        for run in range(a.runs):
            for kind in ("dir", "db", "rados"):
                n += 1
                if kind == "dir":
                    store, options = os.path.join(session, f"store{n}"), None
                    os.mkdir(store)
                else:
                    store = pg.new_database(f"c{n}")
                    options = "chunks=db" if kind == "db" else f"chunks=rados:{pool},conf={conf}"
                mp = os.path.join(session, f"mnt{n}")
                shared_bench.log(f"run {run + 1}/{a.runs}: {kind}")
                m = shared_bench.Mount(a.acidfsd, store, mp, os.path.join(session, f"d{n}.log"), options)
                try:
                    d = shared_bench.make_dir(m.path("c"))
                    results.setdefault((kind, "create"), []).append(a.files / shared_bench.do_creates(d, a.files))
                    t = time.perf_counter()
                    write_distinct(m.path("big"), a.size_mib)
                    results.setdefault((kind, "write"), []).append(a.size_mib * MIB / 1e6 / (time.perf_counter() - t))
                finally:
                    m.stop()
                m = shared_bench.Mount(a.acidfsd, store, mp, os.path.join(session, f"r{n}.log"), options)
                try:
                    mount_bench.drop_caches()
                    t = mount_bench.seq_read(m.path("big"), a.size_mib * MIB)
                    results.setdefault((kind, "read"), []).append(a.size_mib * MIB / 1e6 / t)
                    os.unlink(m.path("big"))  # its objects go as the daemon closes: the OSD holds 1 GiB
                finally:
                    m.stop()
            w, r = rados_bench(conf, pool, 5 if a.quick else 10)
            results.setdefault(("rados bench", "write"), []).append(w)
            results.setdefault(("rados bench", "read"), []).append(r)
    finally:
        for m in list(shared_bench.LIVE_MOUNTS):
            m.stop()
        subprocess.run(["bash", CEPH_SCRIPT, "stop", ceph_dir], capture_output=True)
        if pg:
            pg.remove()
        shutil.rmtree(session, ignore_errors=True)

    def cell(kind, key, unit):
        v = results.get((kind, key))
        if not v:
            return "-"
        med = statistics.median(v)
        return f"{med:,.0f} ({min(v):,.0f}-{max(v):,.0f}) {unit}" if len(v) > 1 else f"{med:,.0f} {unit}"

    def ratio(kind, key, base="dir"):
        v, b = results.get((kind, key)), results.get((base, key))
        return f"{statistics.median(v) / statistics.median(b):.2f}" if v and b else "-"

    load = open("/proc/loadavg").read().split()[:3]
    print(f"acidfs chunks benchmark (bench/chunks_bench.py), {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
    print(f"machine: {os.cpu_count()} CPUs; load {' '.join(load)}; median (min-max) of {a.runs} run(s); "
          f"{a.files} creates, {a.size_mib} MiB streamed; Ceph memstore OSD, one copy")
    print()
    w = [34, 30, 30, 30]
    row = lambda cells: print("".join(str(c).ljust(x) if i == 0 else str(c).rjust(x) for i, (c, x) in enumerate(zip(cells, w))))
    row(["", "creates", "seq write + fsync", "cold seq read"])
    for kind, label in (("dir", "directory store"), ("db", "PostgreSQL, chunks=db"), ("rados", "PostgreSQL, chunks=rados")):
        row([label, cell(kind, "create", "/s"), cell(kind, "write", "MB/s"), cell(kind, "read", "MB/s")])
    row(["rados bench (4 MiB objects, 16 in flight)", "", cell("rados bench", "write", "MB/s"), cell("rados bench", "read", "MB/s")])
    print()
    row(["ratios", "creates", "write", "read"])
    for kind in ("db", "rados"):
        row([f"{kind} / dir", ratio(kind, "create"), ratio(kind, "write"), ratio(kind, "read")])
    row(["rados / rados bench", "", ratio("rados", "write", "rados bench"), ratio("rados", "read", "rados bench")])
    print(f"\nwhole run: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
