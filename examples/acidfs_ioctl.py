#!/usr/bin/env python3
"""Compare-and-swap on an acidfs mount from Python, through the ioctl
interface of include/acidfs/ioctl.h (standard library only).

    examples/acidfs_ioctl.py MOUNTPOINT

Writes MOUNTPOINT/counter.txt, then increments it five times by compare-and-
swap (put the new content, commit it only if the file still holds the blobId
that was read), shows a refused commit and a refused transaction with their
conflict reports, moves two files in one transaction, and prints the daemon's
counters. Exits 0 when every step behaved as documented.
"""
import errno
import fcntl
import json
import os
import struct
import sys

# From include/acidfs/ioctl.h: _IOWR(0xAF, nr, struct acidfs_ioc_msg).
VERSION = 1
DATA_MAX = 16352
MSG_SIZE = 16 + DATA_MAX
MORE = 0x1
_IOC_WRITE, _IOC_READ = 1, 2


def _iowr(nr, size):
    return ((_IOC_READ | _IOC_WRITE) << 30) | (size << 16) | (0xAF << 8) | nr


IOC_STAT, IOC_TRANSACT, IOC_PUT, IOC_COMMIT, IOC_STATUS = (_iowr(n, MSG_SIZE) for n in range(1, 6))


class Conflict(Exception):
    def __init__(self, err, report):
        super().__init__(f"{errno.errorcode.get(err, err)}: {report}")
        self.errno, self.report = err, report


def call(fd, request, payload=b""):
    """One request; payloads longer than one buffer go in parts (MORE)."""
    parts = [payload[i:i + DATA_MAX] for i in range(0, len(payload), DATA_MAX)] or [b""]
    for i, part in enumerate(parts):
        msg = bytearray(MSG_SIZE)  # mutable: fcntl.ioctl passes it in and fills it in place
        struct.pack_into("<IIIi", msg, 0, VERSION, MORE if i + 1 < len(parts) else 0, len(part), 0)
        msg[16:16 + len(part)] = part
        fcntl.ioctl(fd, request, msg)
    _, _, length, result = struct.unpack_from("<IIIi", msg, 0)
    answer = json.loads(bytes(msg[16:16 + length]))
    if result == 0:
        return answer
    if "code" in answer:
        raise Conflict(result, answer)
    raise OSError(result, answer.get("error", "acidfs error"))


def main():
    mnt = sys.argv[1]
    fd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    with open(os.path.join(mnt, "counter.txt"), "w") as f:
        f.write("0")

    for _ in range(5):
        st = call(fd, IOC_STAT, json.dumps({"path": "/counter.txt"}).encode())
        with open(os.path.join(mnt, "counter.txt")) as f:
            value = int(f.read())
        new = call(fd, IOC_PUT, str(value + 1).encode())
        call(fd, IOC_COMMIT, json.dumps({"path": "/counter.txt", "blobId": new["blobId"],
                                         "basis": st["blobId"]}).encode())
    with open(os.path.join(mnt, "counter.txt")) as f:
        assert f.read() == "5", "five compare-and-swaps"
    print("counter.txt = 5 after five compare-and-swaps")

    stale = call(fd, IOC_PUT, b"stale")
    try:
        call(fd, IOC_COMMIT, json.dumps({"path": "/counter.txt", "blobId": stale["blobId"],
                                         "basis": "0" * 32}).encode())
        raise AssertionError("a commit against the wrong basis went through")
    except Conflict as c:
        assert c.errno == errno.ECANCELED and c.report["code"] == "CAS_CONFLICT", c
        print("refused as expected:", json.dumps(c.report))

    for name in ("a.txt", "b.txt"):
        with open(os.path.join(mnt, name), "w") as f:
            f.write(name)
    a = call(fd, IOC_STAT, b'{"path": "/a.txt"}')["blobId"]
    b = call(fd, IOC_STAT, b'{"path": "/b.txt"}')["blobId"]
    swap = [
        {"op": "move", "source": {"path": "/a.txt", "blobId": a}, "dest": {"path": "/swap.tmp", "basis": None}},
        {"op": "move", "source": {"path": "/b.txt", "blobId": b}, "dest": {"path": "/a.txt", "basis": None}},
        {"op": "move", "source": {"path": "/swap.tmp"}, "dest": {"path": "/b.txt", "basis": None}},
    ]
    assert call(fd, IOC_TRANSACT, json.dumps(swap).encode()) == {"applied": 3}
    with open(os.path.join(mnt, "a.txt")) as f:
        assert f.read() == "b.txt", "swapped"
    print("a.txt and b.txt swapped in one transaction")

    try:
        call(fd, IOC_TRANSACT, json.dumps(swap).encode())  # the blobIds are stale now
        raise AssertionError("a transaction with stale preconditions went through")
    except Conflict as c:
        assert c.errno == errno.ECANCELED and c.report["code"] == "SOURCE_CHANGED", c
        print("refused as expected:", json.dumps(c.report))

    print("status:", json.dumps(call(fd, IOC_STATUS)))
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
