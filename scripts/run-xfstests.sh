#!/usr/bin/env bash
# Runs the public xfstests suite (by default its generic "quick" group) against
# fresh acidfs mounts, or, for a baseline, against libfuse's passthrough_ll.
#   scripts/run-xfstests.sh [--acidfsd PATH] [--peer passthrough_ll PATH]
#                           XFSTESTS_DIR [CHECK_ARGS...]
# CHECK_ARGS go to xfstests' ./check (default: -g quick).
#
# XFSTESTS_DIR is a built checkout of xfstests kept OUTSIDE this repository
# (never commit it), e.g. on Debian 12:
#   apt-get install autoconf automake libtool make gcc pkg-config xfslibs-dev \
#     uuid-dev libattr1-dev libacl1-dev libaio-dev libgdbm-dev liburing-dev
#   git clone https://git.kernel.org/pub/scm/fs/xfs/xfstests-dev.git /var/tmp/xfstests
#   make -C /var/tmp/xfstests
# For the baseline, passthrough_ll from libfuse's source at the version Debian
# ships (3.14.0), built against Debian's libfuse3-dev (never commit it either):
#   git clone -b fuse-3.14.0 https://github.com/libfuse/libfuse /var/tmp/libfuse
#   gcc -O2 /var/tmp/libfuse/example/passthrough_ll.c \
#     $(pkg-config --cflags --libs fuse3) -o /var/tmp/passthrough_ll
#
# What the script does to the machine (it runs as root: xfstests needs it):
# - installs the run-time packages xfstests needs when missing (apt-get);
# - installs the mount(8) helper /sbin/mount.fuse.acidfsd (from
#   scripts/xfstests/), or /sbin/mount.fuse.passthrough_ll (as README.fuse
#   of xfstests has it) for the baseline: xfstests mounts FSTYP=fuse as
#   "mount -t fuse$FUSE_SUBTYP TAG DIR", TAG a plain name;
# - edits XFSTESTS_DIR/common/rc once, so that _fs_type reports the type
#   "fuse.acidfsd" (acidfsd always sets subtype=acidfsd) as "fuse", as it
#   already does for fuse.glusterfs and fuse.ceph-fuse; otherwise xfstests
#   finds TEST_DEV "mounted but not a type fuse filesystem".
# Stores, mount points, the config, results and the mount log are kept in
# /var/tmp/acidfs-xfstests.TARGET.XXXXXX (printed at the end); xfstests'
# RESULT_BASE points there, so XFSTESTS_DIR/results is not used.
# xfstests cannot re-make a FUSE filesystem: its _scratch_mkfs for fuse
# removes everything in the scratch mount instead, so SCRATCH_DEV's store is
# emptied, not formatted afresh, between tests (and likewise for the baseline).
# Tests that need the fsgqa users (useradd fsgqa ...) are "not run" unless
# they exist; the script does not create them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
acidfsd=$repo/build/bin/acidfsd
peer=
peer_bin=
while [ $# -gt 0 ]; do
  case $1 in
    --acidfsd) acidfsd=$2; shift 2 ;;
    --peer)
      [ "${2-}" = passthrough_ll ] || { echo "$0: the only --peer is passthrough_ll" >&2; exit 2; }
      peer=$2 peer_bin=$(realpath "${3:?--peer passthrough_ll PATH}"); shift 3 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
suite=$(cd "${1:?usage: $0 [--acidfsd PATH] [--peer passthrough_ll PATH] XFSTESTS_DIR [CHECK_ARGS...]}" && pwd)
shift
[ $# -gt 0 ] || set -- -g quick
[ "$(id -u)" = 0 ] || { echo "$0: xfstests must run as root" >&2; exit 2; }
[ -x "$suite/check" ] && [ -x "$suite/ltp/fsstress" ] ||
  { echo "$0: $suite is not a built xfstests checkout (make -C $suite)" >&2; exit 2; }
if [ -n "$peer" ]; then
  [ -x "$peer_bin" ] || { echo "$0: $peer_bin is not executable" >&2; exit 2; }
  target=$peer
else
  acidfsd=$(realpath "$acidfsd")
  [ -x "$acidfsd" ] || { echo "$0: $acidfsd is not built" >&2; exit 2; }
  target=acidfs
fi

# Run-time packages (mount.fuse3 and fusermount3 come with fuse3).
need=()
for p in xfsprogs attr acl bc dbench fio psmisc quota gawk fuse3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

# One run at a time: two would compete for the same cores and mount tags.
exec 9>/var/tmp/acidfs-xfstests.lock
flock -n 9 || { echo "$0: another run-xfstests.sh is running" >&2; exit 1; }

if ! grep -q 's/fuse\\.acidfsd/fuse/' "$suite/common/rc"; then
  sed -i "s|-e 's/fuse.ceph-fuse/ceph-fuse/'|& -e 's/fuse\\\\.acidfsd/fuse/'|" "$suite/common/rc"
  grep -q 's/fuse\\.acidfsd/fuse/' "$suite/common/rc" ||
    { echo "$0: could not teach $suite/common/rc's _fs_type about fuse.acidfsd" >&2; exit 1; }
fi

work=$(mktemp -d "/var/tmp/acidfs-xfstests.$target.XXXXXX")
mkdir -p "$work/test" "$work/scratch"
touch "$work/mounts.log"
if [ "$target" = acidfs ]; then
  install -m 755 "$repo/scripts/xfstests/mount.fuse.acidfsd" /sbin/mount.fuse.acidfsd
  # acidfsd formats a missing or empty store directory itself, and adds
  # default_permissions (and refuses it as an option).
  common="daemon=$acidfsd,log=$work/mounts.log,allow_other"
  cat >"$work/local.config" <<EOF
export FSTYP=fuse
export FUSE_SUBTYP=.acidfsd
export TEST_DEV=acidfs-test
export TEST_DIR=$work/test
export SCRATCH_DEV=acidfs-scratch
export SCRATCH_MNT=$work/scratch
export TEST_FS_MOUNT_OPTS="-o store=$work/store-test,$common"
export MOUNT_OPTIONS="-o store=$work/store-scratch,$common"
export RESULT_BASE=$work/results
EOF
else
  mkdir -p "$work/source-test" "$work/source-scratch"
  cat >/sbin/mount.fuse.passthrough_ll <<EOF
#!/bin/bash
# Generated by acidfs' scripts/run-xfstests.sh, as xfstests' README.fuse has it.
ulimit -n 1048576
exec $peer_bin -ofsname="\$@"
EOF
  chmod 755 /sbin/mount.fuse.passthrough_ll
  cat >"$work/local.config" <<EOF
export FSTYP=fuse
export FUSE_SUBTYP=.passthrough_ll
export TEST_DEV=passthrough-test
export TEST_DIR=$work/test
export SCRATCH_DEV=passthrough-scratch
export SCRATCH_MNT=$work/scratch
export TEST_FS_MOUNT_OPTS="-osource=$work/source-test,allow_other,default_permissions"
export MOUNT_OPTIONS="-osource=$work/source-scratch,allow_other,default_permissions"
export RESULT_BASE=$work/results
EOF
fi

cleanup() {
  cd /
  for m in "$work/scratch" "$work/test"; do
    if mountpoint -q "$m"; then fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
}
trap cleanup EXIT

echo "xfstests ($(git -C "$suite" describe --always --tags 2>/dev/null || echo "?")) ./check $* on $target; results in $work"
set +e
(cd "$suite" && HOST_OPTIONS=$work/local.config ./check "$@") 2>&1 | tee "$work/check.log"
set -e
cleanup

# Summary, from check's closing lines "Ran: ...", "Not run: ...", "Failures: ...".
list() { sed -n "s/^$1: //p" "$work/check.log" | tail -1; }
ran=$(list Ran | wc -w)
notrun=$(list "Not run" | wc -w)
failures=$(list Failures)
failed=$(echo "$failures" | wc -w)
echo
echo "== xfstests $* on $target: $((ran - failed)) passed, $failed failed, $notrun not run (results: $work/results)"
[ -z "$failures" ] || echo "failed: $failures"
if [ "$target" = acidfs ]; then
  mounts=$(grep -c " -o .*fsname=" "$work/mounts.log" || true)
  failedmounts=$(grep -c "^exit [^0]" "$work/mounts.log" || true)
  # Each mount's entry runs from its command line to "exit N".
  waited=$(awk '/waiting for .* to close store|closed store .* within/ { w = 1 } /^exit / { n += w; w = 0 } END { print n + 0 }' "$work/mounts.log")
  inuse=$(awk '/in use by another process/ { u = 1 } /^exit / { n += u; u = 0 } END { print n + 0 }' "$work/mounts.log")
  echo "mounts: $mounts, of which failed $failedmounts, waited for the previous daemon $waited, store in use $inuse (log: $work/mounts.log)"
fi
