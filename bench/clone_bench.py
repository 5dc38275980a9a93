#!/usr/bin/python3
"""clone_bench.py: `acidfs clone` of a large tree beside `cp -a`, on one disk.

One invocation makes a tree of N entries (default 100,000: 100 directories of
files of 100 bytes) twice in WORKDIR: on a fresh acidfs mount (acidfsd -f,
default options) and in a plain directory. Then, --runs times (default 3):

  acidfs clone   `acidfs clone tree clone-K` on the mount: one transaction,
                 no content copied (SPEC §10);
  cp -a (acidfs) `cp -a tree copy-K` on the mount: what a user would do
                 without clone, through the same FUSE daemon;
  cp -a (native) `cp -a` of the plain tree on the disk itself.

Each copy is checked afterwards (its entry count, untimed). Every figure is
the median of the runs, printed with entries per second and the ratio of
`acidfs clone` to each peer, and to the figure JuiceFS users report for
`juicefs clone` (34,000 entries in 2 min 36 s; JuiceFS is not installable
here, so that one figure is quoted, not measured).

Run as root (mounts). Everything is made under WORKDIR/clone-bench-PID/ and
removed at the end. Exit status: 0 when every run and check passed, 1
otherwise, 2 for usage errors.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from fresh_mount import fresh_mount, programs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JUICEFS_REPORTED = (34000, 156.0)  # entries, seconds: issue 15's figure


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_tree(root, entries):
    """`entries` names under root: 100 directories and their files."""
    directories = 100
    files = entries - directories - 1
    os.makedirs(root)
    for d in range(directories):
        os.mkdir(f"{root}/d{d}")
    for i in range(files):
        with open(f"{root}/d{i % directories}/f{i}", "w") as f:
            f.write(f"file {i} ".ljust(100, "."))


def count(root):
    n = 0
    for _, dirs, files in os.walk(root):
        n += len(dirs) + len(files)
    return n + 1


def timed(cmd):
    start = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default="/var/tmp", help="work directory (default /var/tmp)")
    parser.add_argument("--entries", type=int, default=100000, help="entries in the tree (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--bin", default=os.path.join(REPO, "build", "bin"), help="where acidfsd and acidfs are")
    args = parser.parse_args()
    if args.entries < 200 or args.runs < 1:
        parser.error("--entries must be at least 200, --runs at least 1")
    acidfsd, tool = programs(parser, args.bin)
    ok = True
    with fresh_mount(acidfsd, args.dir, "clone-bench") as (work, mnt, native):
        log(f"making a tree of {args.entries} entries on the mount and on the disk")
        make_tree(f"{mnt}/tree", args.entries)
        make_tree(f"{native}/tree", args.entries)
        whole = count(f"{mnt}/tree")
        figures = {"acidfs clone": [], "cp -a (acidfs)": [], "cp -a (native)": []}
        for run in range(args.runs):
            log(f"run {run + 1} of {args.runs}")
            figures["acidfs clone"].append(timed([tool, "clone", f"{mnt}/tree", f"{mnt}/clone-{run}"]))
            figures["cp -a (acidfs)"].append(timed(["cp", "-a", f"{mnt}/tree", f"{mnt}/copy-{run}"]))
            figures["cp -a (native)"].append(timed(["cp", "-a", f"{native}/tree", f"{native}/copy-{run}"]))
            for copy in (f"{mnt}/clone-{run}", f"{mnt}/copy-{run}", f"{native}/copy-{run}"):
                if count(copy) != whole:
                    log(f"FAILED: {copy} has {count(copy)} entries, not {whole}")
                    ok = False
        medians = {name: statistics.median(times) for name, times in figures.items()}
        clone = medians["acidfs clone"]
        print(f"clone of a tree of {whole} entries, median of {args.runs} runs, {work} "
              f"({os.uname().release}, {os.cpu_count()} CPUs)")
        print(f"{'':16} {'seconds':>9} {'entries/s':>11} {'clone faster by':>16}")
        for name, seconds in medians.items():
            print(f"{name:16} {seconds:9.2f} {whole / seconds:11.0f} {seconds / clone:15.1f}x")
        entries, seconds = JUICEFS_REPORTED
        print(f"{'juicefs clone*':16} {seconds * whole / entries:9.2f} {entries / seconds:11.0f} "
              f"{seconds * whole / entries / clone:15.1f}x")
        print("* reported by JuiceFS users (34,000 entries in 2 min 36 s), scaled to this tree; not measured here")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
