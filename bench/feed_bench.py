#!/usr/bin/python3
"""feed_bench.py: the delay from a commit to its line in `acidfs watch`.

One invocation mounts a fresh store (acidfsd -f, default options: feed_days=1)
in WORKDIR, starts `acidfs watch MOUNT`, and then makes N changes one after
another (default 2,000), each a whole-file write that commits at close:
open, write 100 bytes, close of a new file. For each, the delay is the time
from close() returning (the commit done) to the watcher's `write` line for
that file being read from its pipe. Prints the median, p90, p99 and the
largest delay, in milliseconds, and inotify's on a plain directory of the
same disk as the peer (inotifywait is not installed here: the peer is
Python's own inotify loop through ctypes, same shape of measurement).

Run as root (mounts). Everything is made under WORKDIR/feed-bench-PID/ and
removed at the end. Exit status: 0 when every change was seen, 1 otherwise,
2 for usage errors.
"""

import argparse
import ctypes
import json
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time

from fresh_mount import fresh_mount, programs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IN_CLOSE_WRITE = 0x00000008


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def write_files(directory, n, committed):
    """Writes f0..f{n-1}, noting when each close returned."""
    for i in range(n):
        with open(f"{directory}/f{i}", "w") as f:
            f.write("x" * 100)
        committed[f"f{i}"] = time.monotonic()
        time.sleep(0.002)  # one change at a time: a delay, not a queue


def acidfs_delays(tool, mnt, n):
    watcher = subprocess.Popen([tool, "watch", mnt], stdout=subprocess.PIPE, text=True, bufsize=1)
    seen, committed = {}, {}

    def read():
        for line in watcher.stdout:
            change = json.loads(line)
            if change["op"] == "write":
                seen[change["path"].rsplit("/", 1)[1]] = time.monotonic()
            if len(seen) >= n:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1.0)  # the watcher asks "from now on" before the first change
    os.mkdir(f"{mnt}/d")
    write_files(f"{mnt}/d", n, committed)
    reader.join(timeout=60)
    watcher.send_signal(signal.SIGKILL)
    watcher.wait()
    return [1000 * (seen[name] - at) for name, at in committed.items() if name in seen], len(seen)


def inotify_delays(directory, n):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    libc.inotify_add_watch(fd, directory.encode(), IN_CLOSE_WRITE)
    seen, committed = {}, {}

    def read():
        while len(seen) < n:
            select.select([fd], [], [], 1.0)
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                continue
            now = time.monotonic()
            offset = 0
            while offset < len(data):
                _, _, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + length].rstrip(b"\0").decode()
                seen.setdefault(name, now)
                offset += 16 + length

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    write_files(directory, n, committed)
    reader.join(timeout=60)
    os.close(fd)
    return [1000 * (seen[name] - at) for name, at in committed.items() if name in seen], len(seen)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default="/var/tmp", help="work directory (default /var/tmp)")
    parser.add_argument("--changes", type=int, default=2000, help="changes measured (default 2000)")
    parser.add_argument("--bin", default=os.path.join(REPO, "build", "bin"), help="where acidfsd and acidfs are")
    args = parser.parse_args()
    if args.changes < 10:
        parser.error("--changes must be at least 10")
    acidfsd, tool = programs(parser, args.bin)
    ok = True
    with fresh_mount(acidfsd, args.dir, "feed-bench") as (work, mnt, native):
        log(f"{args.changes} writes on the mount, `acidfs watch` reading")
        ours, got = acidfs_delays(tool, mnt, args.changes)
        log(f"{args.changes} writes in a plain directory, inotify reading")
        theirs, got_native = inotify_delays(native, args.changes)
        if got != args.changes or got_native != args.changes:
            log(f"FAILED: acidfs watch saw {got}, inotify {got_native} of {args.changes}")
            ok = False
        print(f"commit → watcher delay over {args.changes} changes, {work} ({os.uname().release}, {os.cpu_count()} CPUs)")
        print(f"{'':18} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for name, delays in (("acidfs watch", ours), ("inotify (native)", theirs)):
            if delays:
                print(f"{name:18} {statistics.median(delays):10.2f} {percentile(delays, 90):8.2f} "
                      f"{percentile(delays, 99):8.2f} {max(delays):8.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
