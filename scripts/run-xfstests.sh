#!/usr/bin/env bash
# Runs the public xfstests suite (by default its generic "quick" group) against
# fresh acidfs mounts, or, for a baseline, against libfuse's passthrough_ll.
#   scripts/run-xfstests.sh [--acidfsd PATH] [--peer passthrough_ll PATH]
#                           [--options OPTS] XFSTESTS_DIR [CHECK_ARGS...]
# CHECK_ARGS go to xfstests' ./check (default: -g quick). OPTS are more mount
# options for both mounts (e.g. nodev,nosuid: the helpers mount dev,suid, as
# mount(8) and mount.fuse3 do, unless told so, while acidfsd's and libfuse's
# own defaults are nodev,nosuid; tests that make device nodes or setuid
# binaries then fail).
#
# XFSTESTS_DIR is a built checkout of xfstests kept OUTSIDE this repository
# (never commit it), e.g. on Debian 12:
#   apt-get install autoconf automake libtool make gcc pkg-config xfslibs-dev \
#     uuid-dev libattr1-dev libacl1-dev libaio-dev libgdbm-dev liburing-dev
#   git clone https://git.kernel.org/pub/scm/fs/xfs/xfstests-dev.git /var/tmp/xfstests
#   make -C /var/tmp/xfstests
# For the baseline, passthrough_ll from libfuse's source at the version Debian
# ships (3.14.0), built by its own meson (never commit it either):
#   apt-get install meson ninja-build
#   git clone -b fuse-3.14.0 https://github.com/libfuse/libfuse /var/tmp/libfuse
#   cd /var/tmp/libfuse && meson setup build -Dutils=false &&
#     ninja -C build example/passthrough_ll      # build/example/passthrough_ll
# (Compiled alone with gcc, it lacks fallocate and copy_file_range, which
# meson's fuse_config.h turns on: many tests are then "not run".)
#
# What the script does to the machine (it runs as root: xfstests needs it):
# - installs the run-time packages xfstests needs when missing (apt-get);
# - installs the mount(8) helper /sbin/mount.fuse.acidfsd (from
#   scripts/xfstests/), or /sbin/mount.fuse.passthrough_ll (as README.fuse
#   of xfstests has it) for the baseline: xfstests mounts FSTYP=fuse as
#   "mount -t fuse$FUSE_SUBTYP TAG DIR", TAG a plain name. It is removed
#   when the run ends (mount(8) would otherwise prefer it to mount.fuse3 for
#   fstab lines of type fuse.acidfsd, which it hands on to mount.fuse3 anyway);
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
extra=
while [ $# -gt 0 ]; do
  case $1 in
    --acidfsd) acidfsd=$2; shift 2 ;;
    --options) extra=,${2:?--options OPTS}; shift 2 ;;
    --peer)
      [ "${2-}" = passthrough_ll ] || { echo "$0: the only --peer is passthrough_ll" >&2; exit 2; }
      peer=$2 peer_bin=$(realpath "${3:?--peer passthrough_ll PATH}"); shift 3 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
suite=$(cd "${1:?usage: $0 [--acidfsd PATH] [--peer passthrough_ll PATH] [--options OPTS] XFSTESTS_DIR [CHECK_ARGS...]}" && pwd)
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
cleanup() {
  cd /
  for m in "$work/scratch" "$work/test"; do
    if mountpoint -q "$m"; then fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
  rm -f /sbin/mount.fuse.acidfsd /sbin/mount.fuse.passthrough_ll
}
trap cleanup EXIT
# xfstests' configuration: FUSE subtype, device tag prefix, and the mount
# options of the test and of the scratch filesystem.
write_config() {
  cat >"$work/local.config" <<EOF
export FSTYP=fuse
export FUSE_SUBTYP=.$1
export TEST_DEV=$2-test
export TEST_DIR=$work/test
export SCRATCH_DEV=$2-scratch
export SCRATCH_MNT=$work/scratch
export TEST_FS_MOUNT_OPTS="$3"
export MOUNT_OPTIONS="$4"
export RESULT_BASE=$work/results
EOF
}
if [ "$target" = acidfs ]; then
  install -m 755 "$repo/scripts/xfstests/mount.fuse.acidfsd" /sbin/mount.fuse.acidfsd
  # acidfsd formats a missing or empty store directory itself, and adds
  # default_permissions (and refuses it as an option).
  common="daemon=$acidfsd,log=$work/mounts.log,allow_other$extra"
  write_config acidfsd acidfs "-o store=$work/store-test,$common" "-o store=$work/store-scratch,$common"
else
  mkdir -p "$work/source-test" "$work/source-scratch"
  cat >/sbin/mount.fuse.passthrough_ll <<EOF
#!/bin/bash
# Generated by acidfs' scripts/run-xfstests.sh, as xfstests' README.fuse has it,
# but quiet where the hard limit on open files is lower (a message here would
# end up in the output of a test that mounts), and with dev,suid unless the
# options given say nodev or nosuid, as mount.fuse3 and mount.fuse.acidfsd do.
ulimit -n 1048576 2>/dev/null || ulimit -n "\$(ulimit -Hn)"
exec $peer_bin -ofsname="\$1" -odev,suid "\${@:2}"
EOF
  chmod 755 /sbin/mount.fuse.passthrough_ll
  write_config passthrough_ll passthrough "-osource=$work/source-test,allow_other,default_permissions$extra" \
    "-osource=$work/source-scratch,allow_other,default_permissions$extra"
fi


echo "xfstests ($(git -C "$suite" describe --always --tags 2>/dev/null || echo "?")) ./check $* on $target${extra:+ -o ${extra#,}}; results in $work"
set +e
(cd "$suite" && HOST_OPTIONS=$work/local.config ./check "$@") 2>&1 | tee "$work/check.log"
set -e
cleanup

# Summary, from check's closing lines "Ran: ...", "Not run: ...", "Failures: ...".
# "Ran" lists the tests not run too.
list() { sed -n "s/^$1: //p" "$work/check.log" | tail -1 | tr ' ' '\n' | sed '/^$/d' | sort -u; }
list Ran >"$work/ran.txt"
list "Not run" >"$work/notrun.txt"
list Failures >"$work/failed.txt"
passed=$(sort -u "$work/notrun.txt" "$work/failed.txt" | comm -23 "$work/ran.txt" - | wc -l)
echo
echo "== xfstests $* on $target${extra:+ -o ${extra#,}}: $passed passed, $(wc -l <"$work/failed.txt") failed," \
  "$(wc -l <"$work/notrun.txt") not run (results: $work/results)"
[ ! -s "$work/failed.txt" ] || echo "failed: $(tr '\n' ' ' <"$work/failed.txt")"
if [ "$target" = acidfs ]; then
  # Each mount's entry in the log runs from its command line to "exit N".
  # A daemon that finds the store still held by the one just unmounted waits
  # for it quietly ("closed store ... within N ms"), says so past a moment
  # ("waiting for ... to close store"), and gives up after 10 s ("in use").
  count() { awk -v re="$1" '$0 ~ re { f = 1 } /^exit / { n += f; f = 0 } END { print n + 0 }' "$work/mounts.log"; }
  slowest=$(sed -n 's/^exit .* after \([0-9]*\) ms$/\1/p' "$work/mounts.log" | sort -n | tail -1)
  longest=$(grep -o 'within [0-9]* ms' "$work/mounts.log" | sort -k2n | tail -1 | cut -d' ' -f2- || true)
  echo "mounts: $(grep -c '^exit ' "$work/mounts.log"), refused or failed $(grep -c '^exit [^0]' "$work/mounts.log");" \
    "handed over from the previous daemon $(count 'closed store .* within') (longest ${longest:-0 ms}), waited" \
    "noticeably $(count 'waiting for .* to close store'), store in use $(count 'in use by another process');" \
    "slowest mount ${slowest:-?} ms" \
    "(log: $work/mounts.log)"
fi
