#!/usr/bin/env bash
# acidfs@.service as packaged: `systemd-analyze verify` has nothing to say
# about it (any diagnostic fails the test; the check is shown to catch a
# broken copy), and the commands it runs behave as Type=notify promises
# (unit_lifecycle.py: READY=1 once mounted, SIGTERM stops cleanly, a crash
# is recovered by ExecStopPost + restart).
source "$(dirname "$0")/common.sh"
unit=$root/usr/lib/systemd/system/acidfs@.service
[[ -f "$unit" ]] || fail "the package has no acidfs@.service"

# systemd-analyze verify exits 0 even on unknown keys and bad values; it only
# prints them. So any output fails.
verify() { with_package_installed systemd-analyze verify "$@" 2>&1; }
out=$(verify acidfs@mnt-data.service) || fail "systemd-analyze verify exited $?: $out"
[[ -z "$out" ]] || fail "systemd-analyze verify acidfs@mnt-data.service: $out"
pass "systemd-analyze verify acidfs@mnt-data.service (ExecStart= binaries and man:acidfsd(8) checked too)"

# The database form: its EnvironmentFile must exist for verify to look at it.
dbunit=$root/usr/lib/systemd/system/acidfs-db@.service
[[ -f "$dbunit" ]] || fail "the package has no acidfs-db@.service"
out=$(verify acidfs-db@mnt-shared.service) || fail "systemd-analyze verify exited $?: $out"
[[ -z "$out" ]] || fail "systemd-analyze verify acidfs-db@mnt-shared.service: $out"
pass "systemd-analyze verify acidfs-db@mnt-shared.service"

mkdir -p "$work/broken"
sed 's/^Restart=on-failure/Restrat=on-failure/' "$unit" >"$work/broken/acidfs@.service"
out=$(verify "$work/broken/acidfs@mnt-data.service") || true
[[ -n "$out" ]] || fail "verify did not notice a misspelt key; this check would miss a broken unit"
pass "a misspelt key is caught: $out"

require_fuse
python3 "$(dirname "$0")/unit_lifecycle.py" "$root" "$unit" "$work"
