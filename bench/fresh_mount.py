"""fresh_mount.py: a fresh acidfs store mounted for one benchmark run.

Shared by the benchmarks that need one mount beside a plain directory on the
same disk (clone_bench.py, feed_bench.py): the binaries checked, WORKDIR/
NAME-PID/{store,mnt,native} made, `acidfsd -f` started and waited for, and on
the way out (failure and SIGINT too) unmounted, waited for and removed.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time


def programs(parser, bin_dir):
    """acidfsd's and acidfs's paths in bin_dir; a usage error when one is missing."""
    acidfsd, tool = os.path.join(bin_dir, "acidfsd"), os.path.join(bin_dir, "acidfs")
    for program in (acidfsd, tool):
        if not os.access(program, os.X_OK):
            parser.error(f"{program} is missing: build first")
    return acidfsd, tool


@contextlib.contextmanager
def fresh_mount(acidfsd, workdir, name):
    """Yields (work, mnt, native): a mounted fresh store and an empty plain directory."""
    work = os.path.join(workdir, f"{name}-{os.getpid()}")
    store, mnt, native = f"{work}/store", f"{work}/mnt", f"{work}/native"
    for d in (store, mnt, native):
        os.makedirs(d)
    daemon = subprocess.Popen([acidfsd, "-f", store, mnt], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not os.path.ismount(mnt):
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError("acidfsd did not mount")
            time.sleep(0.05)
        yield work, mnt, native
    finally:
        subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
        shutil.rmtree(work, ignore_errors=True)
