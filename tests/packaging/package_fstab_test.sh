#!/usr/bin/env bash
# Mounting from fstab, without touching /etc/fstab: an entry of type
# fuse.acidfsd in a file of our own, `mount --fstab FILE MOUNTPOINT`, use,
# `umount`. mount(8) runs helpers with a clean PATH, so the package is laid
# over /usr in a private mount namespace (common.sh) for mount.fuse3 to find
# acidfsd where the package installs it.
source "$(dirname "$0")/common.sh"
require_fuse

store=$work/store
mnt=$work/mnt
mkdir -p "$mnt"
chmod 0755 "$work"  # mktemp made it 0700; user 65534 must reach the mount
# The packaged sample line, with our paths.
sample=$(grep -v '^#' "$root/usr/share/doc/acidfs/fstab.example" | grep fuse.acidfsd)
read -r _ _ type options dump pass <<<"$sample"
[[ "$type" == fuse.acidfsd ]] || fail "sample fstab line has type $type"
echo "$store $mnt $type $options $dump $pass" >"$work/fstab"
echo "fstab entry: $(cat "$work/fstab")"

with_package_installed bash -euo pipefail -c '
  work=$1 store=$2 mnt=$3
  # SPEC section 1: a STORE that does not exist yet is created.
  mount --fstab "$work/fstab" "$mnt" || fail "mount --fstab exited $?"
  findmnt -n -o FSTYPE,SOURCE "$mnt" | grep -q "^fuse.acidfsd *$store\$" ||
    fail "mounted as: $(findmnt -n -o FSTYPE,SOURCE,OPTIONS "$mnt")"
  pass "mounted: $(findmnt -n -o TARGET,FSTYPE,SOURCE,OPTIONS "$mnt")"
  # The sample line asks for nosuid,nodev: they reach the kernel.
  for flag in nosuid nodev; do
    findmnt -n -o OPTIONS "$mnt" | tr , "\n" | grep -qx "$flag" || fail "$flag missing: $(findmnt -n -o OPTIONS "$mnt")"
  done

  echo first >"$mnt/note.txt"
  blob=$(/usr/bin/acidfs blob-id "$mnt/note.txt")
  echo second | /usr/bin/acidfs cas "$mnt/note.txt" --expect "$blob"
  [[ $(cat "$mnt/note.txt") == second ]] || fail "cas through the fstab mount did not apply"
  # allow_other (in the sample line): another user can use the mount, and
  # permissions still hold (default_permissions).
  chmod 0777 "$mnt"
  setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo mine >\"$mnt/nobody.txt\"" ||
    fail "user 65534 could not write into an allow_other mount"
  if setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo x >>\"$mnt/note.txt\"" 2>/dev/null; then
    fail "user 65534 wrote to a root-owned 0644 file"
  fi
  pass "used: cas, allow_other, permissions"

  umount "$mnt" || fail "umount exited $?"
  wait_store_closed "$store"
  findmnt "$mnt" >/dev/null && fail "still mounted after umount"
  pass "umount"

  # Mounted again from the same line, everything is there.
  mount --fstab "$work/fstab" "$mnt"
  [[ $(cat "$mnt/note.txt") == second && $(cat "$mnt/nobody.txt") == mine ]] || fail "contents lost across umount"
  [[ $(stat -c %u "$mnt/nobody.txt") == 65534 ]] || fail "owner lost"
  umount "$mnt"
  wait_store_closed "$store"
  /usr/bin/acidfs fsck "$store" || fail "fsck after two fstab mounts: exit $?"
  pass "remounted from fstab, contents kept, fsck clean"
' fstab-test "$work" "$store" "$mnt"
