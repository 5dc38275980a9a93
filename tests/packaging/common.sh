# Shared by the package tests: each is `bash TEST.sh PATH/TO/acidfs_VERSION_ARCH.deb`.
# Sourcing this extracts the package into a throwaway root, $root, removed
# on exit with everything else the test registered through at_exit.
set -euo pipefail

deb=${1:?usage: $0 PATH/TO/acidfs.deb}
[[ -f "$deb" ]] || { echo "FAIL: no package at $deb (the package_build test makes it)" >&2; exit 1; }
work=$(mktemp -d /tmp/acidfs-pkgtest.XXXXXX)
root=$work/root
cleanups=()
at_exit() { cleanups+=("$1"); }
run_cleanups() {
  local i
  for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" || true; done
  rm -rf "$work"
}
trap run_cleanups EXIT
dpkg-deb -x "$deb" "$root"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# ctest counts exit 77 as skipped (SKIP_RETURN_CODE); say so loudly.
require_fuse() {
  if [[ ! -c /dev/fuse ]]; then
    echo "SKIPPED: /dev/fuse is missing on this machine, so nothing can be mounted" >&2
    exit 77
  fi
}

# Runs "$@" in a private mount namespace in which the package's files are
# laid over the host's /usr, as if installed, without touching the host.
# Used where a program looks only in fixed places: mount(8) runs helpers with
# a clean PATH, and systemd-analyze checks ExecStart= and man: paths.
with_package_installed() {
  unshare --mount --propagation private bash -c '
    set -e
    root=$1; shift
    for d in bin libexec share/man lib/systemd/system; do
      [[ -d $root/usr/$d ]] || continue
      mkdir -p /usr/$d
      mount -t overlay overlay -o lowerdir="$root/usr/$d:/usr/$d" "/usr/$d"
    done
    exec "$@"' with_package_installed "$root" "$@"
}

# Waits until the daemon that had STORE open has closed it: acidfsd holds an
# exclusive flock on STORE/LOCK until its store is closed (core/store.cc).
wait_store_closed() { flock "$1/LOCK" true; }

# For the scripts that with_package_installed runs in a new bash.
export -f fail pass wait_store_closed
