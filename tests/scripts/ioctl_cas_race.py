#!/usr/bin/env python3
"""WORKERS processes increment MOUNTPOINT/counter UPDATES times each by
compare-and-swap through the ioctl (STAT, a read through the kernel, PUT,
COMMIT with the read blobId as basis), retrying on conflict. Exit 0 when the
counter ends at exactly WORKERS x UPDATES: no update lost.

    ioctl_cas_race.py MOUNTPOINT [WORKERS] [UPDATES]
"""
import importlib.util
import json
import os
import sys

spec = importlib.util.spec_from_file_location(
    "acidfs_ioctl", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "acidfs_ioctl.py"))
ioc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ioc)


def worker(mnt, updates):
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    conflicts = 0
    for _ in range(updates):
        while True:
            st = ioc.call(fd, ioc.IOC_STAT, b'{"path": "/counter"}')
            with open(os.path.join(mnt, "counter")) as f:
                value = int(f.read())
            put = ioc.call(fd, ioc.IOC_PUT, str(value + 1).encode())
            try:
                ioc.call(fd, ioc.IOC_COMMIT, json.dumps(
                    {"path": "/counter", "blobId": put["blobId"], "basis": st["blobId"]}).encode())
                break
            except ioc.Conflict:
                conflicts += 1
    return conflicts


def main():
    mnt = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    updates = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    with open(os.path.join(mnt, "counter"), "w") as f:
        f.write("0")
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                worker(mnt, updates)
                os._exit(0)
            except BaseException as e:
                print(f"worker failed: {e!r}", file=sys.stderr)
                os._exit(1)
        pids.append(pid)
    failed = sum(1 for p in pids if os.waitpid(p, 0)[1] != 0)
    with open(os.path.join(mnt, "counter")) as f:
        final = int(f.read())
    print(f"counter = {final}, expected {workers * updates}; {failed} worker(s) failed")
    return 0 if failed == 0 and final == workers * updates else 1


if __name__ == "__main__":
    sys.exit(main())
