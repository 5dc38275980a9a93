#!/usr/bin/env bash
# Runs the job snippet of the README's "Using acidfs in CI" section, line for
# line, with the freshly built package extracted into a throwaway root in
# place of its install line (the line ending in "# install") and a real
# workload in place of the line ending in "# your job here". Then checks the
# teardown was clean: no mount; the store mounts again at once, with no wait
# for the old daemon, the work kept; the store closed in the end, fsck clean.
source "$(dirname "$0")/common.sh"
require_fuse
readme=$(cd "$(dirname "$0")/../.." && pwd)/README.md

# The `run: |` block of the yaml example under "## Using acidfs in CI".
snippet=$(awk '
  /^## Using acidfs in CI/ { in_section = 1; next }
  in_section && /^## / { exit }
  in_section && /run: \|/ { in_run = 1; match($0, /^ */); indent = RLENGTH + 2; next }
  in_run && /^```/ { exit }
  in_run { print substr($0, indent + 1) }
' "$readme")
[[ -n "$snippet" ]] || fail "no run: | block under '## Using acidfs in CI' in $readme"
grep -q '# install$' <<<"$snippet" || fail "the snippet has no line ending in '# install'"
grep -q '# your job here$' <<<"$snippet" || fail "the snippet has no line ending in '# your job here'"

job='mkdir "$mnt/src" && cp -a "$ACIDFS_TEST_SOURCE/include" "$mnt/src/" && (cd "$mnt/src" && tar -cf ../include.tar include && sha256sum ../include.tar >sums) && echo "$store $mnt" >"$ACIDFS_TEST_WORK/paths"'
script=$(sed -e '/# install$/d' -e "s|.*# your job here\$|$(sed 's/[&|\\]/\\&/g' <<<"$job")|" <<<"$snippet")
echo "--- the README's job, as run:"
echo "$script"
echo "---"

# Installed = the package's programs first on PATH.
PATH=$root/usr/bin:$PATH ACIDFS_TEST_SOURCE=$(dirname "$readme") ACIDFS_TEST_WORK=$work \
  bash -c "$script" || fail "the README's CI job failed (exit $?)"
[[ -s "$work/paths" ]] || fail "the job line did not run"
read -r store mnt <"$work/paths"
at_exit "rm -rf '$store' '$mnt'"

findmnt "$mnt" >/dev/null && fail "$mnt is still mounted after the job"
pass "teardown: unmounted"

# The work is in the store. Mount it again straight after the job's umount,
# with no wait (the README says none is needed: a new acidfsd waits for the
# old daemon to close the store), and check.
"$root/usr/bin/acidfsd" "$store" "$mnt" || fail "mounting the store straight after the job's umount: exit $?"
at_exit "umount '$mnt' 2>/dev/null; wait_store_closed '$store'"
(cd "$mnt/src" && sha256sum -c --quiet sums) || fail "the job's tarball changed across unmount"
diff -r "$(dirname "$readme")/include" "$mnt/src/include" || fail "the job's copy differs"
umount "$mnt"
timeout 10 flock "$store/LOCK" true || fail "the daemon still holds $store 10 s after umount"
"$root/usr/bin/acidfs" fsck "$store" || fail "fsck after the job: exit $?"
pass "the job's files are in the store, mounted again straight after umount; store closed, fsck clean"
