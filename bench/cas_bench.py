#!/usr/bin/env python3
"""Compare-and-swap on an acidfs mount, measured (issue 4).

    bench/cas_bench.py [--acidfsd PATH] [--tool PATH] [--runs N] [--quick] [WORKDIR]

Mounts a fresh store in WORKDIR (default /var/tmp/acidfs-casbench) and runs,
each on the same mount and side by side with plain `mv`/rename(2):

  ioctl CAS, uncontended   one process: STAT + PUT + COMMIT with the read
                           blobId as basis, per update (examples/acidfs_ioctl.py)
  ioctl CAS, C++ client    the same loop from bench/cas_door_bench.cc (built
                           with the project), without Python's own cost
  ioctl CAS, 4 contending  four processes increment one file by CAS with retry;
                           committed updates per second and the conflict rate
  tool CAS, uncontended    `acidfs blob-id` + `acidfs cas --expect` per update
                           (two process starts each)
  tool CAS, 4 contending   four shell loops doing the same with retry
  transact of 100 moves    one ioctl TRANSACT of 100 moves, each with a source
                           blobId and an absent destination
  peers                    rename(2) in-process (vs ioctl) and `mv` processes
                           (vs the tool), on the same mount

Every figure is the median of N runs (default 3). Standard library only; run
as root (it mounts). The table goes to stdout, progress to stderr.
"""
import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("acidfs_ioctl", os.path.join(HERE, "..", "examples", "acidfs_ioctl.py"))
ioc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ioc)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ioctl_cas_worker(mnt, name, updates, result_path):
    """Increments MNT/NAME `updates` times by CAS; writes attempts and conflicts."""
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    attempts = conflicts = 0
    for _ in range(updates):
        while True:
            attempts += 1
            st = ioc.call(fd, ioc.IOC_STAT, json.dumps({"path": "/" + name}).encode())
            with open(os.path.join(mnt, name)) as f:
                value = int(f.read())
            put = ioc.call(fd, ioc.IOC_PUT, str(value + 1).encode())
            try:
                ioc.call(fd, ioc.IOC_COMMIT, json.dumps({"path": "/" + name, "blobId": put["blobId"],
                                                         "basis": st["blobId"]}).encode())
                break
            except ioc.Conflict:
                conflicts += 1
    os.close(fd)
    with open(result_path, "w") as f:
        json.dump({"attempts": attempts, "conflicts": conflicts}, f)


def read_int(path):
    with open(path) as f:
        return int(f.read())


class Mount:
    def __init__(self, acidfsd, workdir):
        self.root = tempfile.mkdtemp(prefix="run-", dir=workdir)
        self.store, self.mnt = os.path.join(self.root, "store"), os.path.join(self.root, "mnt")
        os.makedirs(self.store)
        os.makedirs(self.mnt)
        subprocess.run([acidfsd, self.store, self.mnt], check=True, stderr=subprocess.DEVNULL)

    def close(self):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def bench_once(args, m):
    mnt, n, tn = m.mnt, args.updates, args.tool_updates
    out = {}
    # ioctl CAS, uncontended
    with open(os.path.join(mnt, "counter"), "w") as f:
        f.write("0")
    t = time.monotonic()
    ioctl_cas_worker(mnt, "counter", n, os.path.join(m.root, "solo.json"))
    out["ioctl CAS, uncontended"] = n / (time.monotonic() - t)
    assert read_int(os.path.join(mnt, "counter")) == n

    # the same from a compiled client: what the door sustains when the
    # client's own CPU (Python's: about 250 µs an update) is out of the way
    if os.path.exists(args.door_bench):
        with open(os.path.join(mnt, "ccounter"), "w") as f:
            f.write("0")
        done = subprocess.run([args.door_bench, os.path.join(mnt, "ccounter"), str(n)], check=True,
                              capture_output=True, text=True)
        out["ioctl CAS, uncontended, C++ client"] = json.loads(done.stdout)["rate"]
        assert read_int(os.path.join(mnt, "ccounter")) == n

    # ioctl CAS, 4 contending processes
    with open(os.path.join(mnt, "shared"), "w") as f:
        f.write("0")
    each = n // 4
    t = time.monotonic()
    pids = []
    for w in range(4):
        pid = os.fork()
        if pid == 0:
            try:
                ioctl_cas_worker(mnt, "shared", each, os.path.join(m.root, f"w{w}.json"))
                os._exit(0)
            except BaseException:
                os._exit(1)
        pids.append(pid)
    assert all(os.waitpid(p, 0)[1] == 0 for p in pids), "a contending worker failed"
    elapsed = time.monotonic() - t
    assert read_int(os.path.join(mnt, "shared")) == 4 * each, "lost update"
    stats = [json.load(open(os.path.join(m.root, f"w{w}.json"))) for w in range(4)]
    attempts = sum(s["attempts"] for s in stats)
    out["ioctl CAS, 4 contending"] = 4 * each / elapsed
    out["ioctl CAS, 4 contending: conflict rate"] = sum(s["conflicts"] for s in stats) / attempts

    # rename(2) in-process, the peer of the ioctl rows
    for i in range(n):
        open(os.path.join(mnt, f"r{i}"), "w").close()
    t = time.monotonic()
    for i in range(n):
        os.rename(os.path.join(mnt, f"r{i}"), os.path.join(mnt, f"s{i}"))
    out["rename(2), in-process"] = n / (time.monotonic() - t)

    # tool CAS, uncontended: blob-id + cas per update
    tool = args.tool
    with open(os.path.join(mnt, "tcounter"), "w") as f:
        f.write("0")
    script = (f"for i in $(seq {tn}); do b=$('{tool}' blob-id tcounter) && "
              f"echo -n $i | '{tool}' cas tcounter --expect $b || exit 1; done")
    t = time.monotonic()
    subprocess.run(["sh", "-c", script], cwd=mnt, check=True)
    out["tool CAS, uncontended"] = tn / (time.monotonic() - t)

    # tool CAS, 4 contending shell loops with retry
    with open(os.path.join(mnt, "tshared"), "w") as f:
        f.write("0")
    per = tn // 4
    worker = (f"for i in $(seq {per}); do while :; do b=$('{tool}' blob-id tshared) || exit 3; v=$(cat tshared); "
              f"echo -n $((v + 1)) | '{tool}' cas tshared --expect $b >/dev/null; rc=$?; "
              f"[ $rc = 0 ] && break; [ $rc = 1 ] || exit 4; echo x >> conflicts.$1; done; done")
    t = time.monotonic()
    procs = [subprocess.Popen(["sh", "-c", worker, "w", str(w)], cwd=mnt) for w in range(4)]
    assert all(p.wait() == 0 for p in procs), "a tool worker failed"
    elapsed = time.monotonic() - t
    assert read_int(os.path.join(mnt, "tshared")) == 4 * per, "lost update through the tool"
    conflicts = sum(sum(1 for _ in open(os.path.join(mnt, f"conflicts.{w}"))) if os.path.exists(os.path.join(mnt, f"conflicts.{w}")) else 0 for w in range(4))
    out["tool CAS, 4 contending"] = 4 * per / elapsed
    out["tool CAS, 4 contending: conflict rate"] = conflicts / (4 * per + conflicts)

    # mv processes, the peer of the tool rows
    for i in range(tn):
        open(os.path.join(mnt, f"m{i}"), "w").close()
    t = time.monotonic()
    subprocess.run(["sh", "-c", f"for i in $(seq 0 {tn - 1}); do mv m$i n$i || exit 1; done"], cwd=mnt, check=True)
    out["mv, one process each"] = tn / (time.monotonic() - t)

    # transact of 100 moves with preconditions, vs 100 rename(2)
    os.mkdir(os.path.join(mnt, "tx"))
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    rounds = args.transacts
    ids = []
    for i in range(100):
        with open(os.path.join(mnt, "tx", f"a{i}"), "w") as f:
            f.write(f"file {i}")
    for i in range(100):
        ids.append(ioc.call(fd, ioc.IOC_STAT, json.dumps({"path": f"/tx/a{i}"}).encode())["blobId"])
    times = []
    for r in range(rounds):
        src, dst = ("a", "b") if r % 2 == 0 else ("b", "a")
        ops = [{"op": "move", "source": {"path": f"/tx/{src}{i}", "blobId": ids[i]},
                "dest": {"path": f"/tx/{dst}{i}", "basis": None}} for i in range(100)]
        payload = json.dumps(ops).encode()
        t = time.monotonic()
        assert ioc.call(fd, ioc.IOC_TRANSACT, payload) == {"applied": 100}
        times.append(time.monotonic() - t)
    os.close(fd)
    out["transact, 100 moves: ms each"] = statistics.median(times) * 1000
    src = "a" if rounds % 2 == 0 else "b"
    t = time.monotonic()
    for i in range(100):
        os.rename(os.path.join(mnt, "tx", f"{src}{i}"), os.path.join(mnt, "tx", f"c{i}"))
    out["100 x rename(2): ms"] = (time.monotonic() - t) * 1000
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir", nargs="?", default="/var/tmp/acidfs-casbench")
    root = os.path.join(HERE, "..")
    p.add_argument("--acidfsd", default=os.environ.get("ACIDFSD", os.path.join(root, "build", "bin", "acidfsd")))
    p.add_argument("--tool", default=os.environ.get("ACIDFS", os.path.join(root, "build", "bin", "acidfs")))
    p.add_argument("--door-bench", default=os.path.join(root, "build", "bin", "cas_door_bench"),
                   help="the compiled CAS client (bench/cas_door_bench.cc); its row is left out when it is missing")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="a smoke run: fewer updates, one run")
    args = p.parse_args()
    args.tool = os.path.abspath(args.tool)
    args.updates, args.tool_updates, args.transacts = (400, 40, 10) if args.quick else (2000, 200, 50)
    if args.quick:
        args.runs = 1
    os.makedirs(args.workdir, exist_ok=True)
    runs = []
    for r in range(args.runs):
        m = Mount(args.acidfsd, args.workdir)
        try:
            log(f"run {r + 1}/{args.runs}")
            runs.append(bench_once(args, m))
        finally:
            m.close()
    med = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
    print(f"acidfs CAS benchmark (bench/cas_bench.py), {time.strftime('%Y-%m-%dT%H:%M:%S%z')}")
    print(f"machine: {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; work dir {args.workdir}; "
          f"median of {args.runs} run(s); {args.updates} ioctl updates, {args.tool_updates} tool updates, "
          f"{args.transacts} transacts per run")
    rows = [
        ("ioctl CAS, uncontended", "updates/s", "rename(2), in-process"),
        ("ioctl CAS, uncontended, C++ client", "updates/s", "rename(2), in-process"),
        ("ioctl CAS, 4 contending", "updates/s", "rename(2), in-process"),
        ("ioctl CAS, 4 contending: conflict rate", "of attempts", None),
        ("rename(2), in-process", "renames/s", None),
        ("tool CAS, uncontended", "updates/s", "mv, one process each"),
        ("tool CAS, 4 contending", "updates/s", "mv, one process each"),
        ("tool CAS, 4 contending: conflict rate", "of attempts", None),
        ("mv, one process each", "moves/s", None),
        ("transact, 100 moves: ms each", "ms", "100 x rename(2): ms"),
        ("100 x rename(2): ms", "ms", None),
    ]
    print(f"{'workload':42} {'unit':12} {'median':>10}  vs peer")
    if "ioctl CAS, uncontended, C++ client" not in med:
        log(f"no {args.door_bench}: the C++ client's row is left out (cmake --build build --target cas_door_bench)")
    for name, unit, peer in rows:
        if name not in med:
            continue
        v = med[name]
        shown = f"{v:.1%}" if "rate" in name else f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
        ratio = ""
        if peer:
            ratio = f"{(med[peer] / v if unit == 'ms' else v / med[peer]):.2f}x {peer}"
        print(f"{name:42} {unit:12} {shown:>10}  {ratio}")
    print("Per-run values: " + json.dumps(runs))


if __name__ == "__main__":
    main()
