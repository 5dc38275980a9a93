#!/usr/bin/env bash
# Runs the public pjdfstest POSIX suite against a fresh acidfs mount.
#   scripts/run-pjdfstest.sh PJDFSTEST_DIR [ACIDFSD]
# PJDFSTEST_DIR is a built checkout of pjdfstest kept OUTSIDE this repository
# (never commit it): autoreconf -ifs && ./configure && make pjdfstest.
# Runs as root (the suite switches uids), mounts with allow_other.
set -euo pipefail
suite=$(cd "${1:?usage: $0 PJDFSTEST_DIR [ACIDFSD]}" && pwd)
acidfsd=${2:-$(cd "$(dirname "$0")/.." && pwd)/build/bin/acidfsd}
work=$(mktemp -d /var/tmp/acidfs-pjdfstest.XXXXXX)
mkdir -p "$work/store" "$work/mnt"
cleanup() {
  cd /
  fusermount3 -u "$work/mnt" 2>/dev/null || umount -l "$work/mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$acidfsd" "$work/store" "$work/mnt" -o allow_other
cd "$work/mnt"
prove -r "$suite/tests"
