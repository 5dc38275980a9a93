#!/usr/bin/env bash
# The packaged programs run from the extracted package: --version names the
# package's version, --help answers, and each man page renders without a
# single warning.
source "$(dirname "$0")/common.sh"
version=$(dpkg-deb -f "$deb" Version)

for bin in usr/bin/acidfsd usr/bin/acidfs usr/libexec/acidfs/acidfs-fsck; do
  out=$("$root/$bin" --version) || fail "$bin --version exited $?"
  grep -qF "$version" <<<"$out" || fail "$bin --version printed '$out', not $version"
  help=$("$root/$bin" --help) || fail "$bin --help exited $?"
  grep -q 'Usage:' <<<"$help" || fail "$bin --help printed no usage"
  pass "$bin --version: $out"
done
for sub in stat blob-id mv cp rm cas transact status fsck log undelete gc clone; do
  "$root/usr/bin/acidfs" "$sub" --help | grep -q "Usage:.*$sub" || fail "acidfs $sub --help"
done
pass "acidfs SUBCOMMAND --help for every subcommand"

# The installed tool finds its fsck helper in ../libexec/acidfs.
"$root/usr/bin/acidfs" fsck "$work/no-such-store" 2>"$work/fsck.err" && fail "fsck of a missing store succeeded" || true
grep -q 'cannot find acidfs-fsck' "$work/fsck.err" && fail "acidfs did not find acidfs-fsck: $(cat "$work/fsck.err")"
pass "acidfs fsck runs the packaged acidfs-fsck: $(head -1 "$work/fsck.err")"

for page in usr/share/man/man1/acidfs.1.gz usr/share/man/man8/acidfsd.8.gz; do
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$root/$page" 2>&1 >"$work/page.txt") ||
    fail "man -l $page exited $?"
  [[ -z "$warnings" ]] || fail "man -l $page warns: $warnings"
  [[ $(wc -l <"$work/page.txt") -gt 40 ]] || fail "$page renders to almost nothing"
  pass "man -l $page: $(wc -l <"$work/page.txt") lines, no warnings"
done
# Every subcommand and every -o option is documented.
man_text() { LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$root/$1" 2>/dev/null; }
acidfs_page=$(man_text usr/share/man/man1/acidfs.1.gz)
for sub in stat blob-id mv cp rm cas transact status fsck log undelete gc clone user.acidfs.blob_id user.acidfs.dest_basis; do
  grep -q -- "$sub" <<<"$acidfs_page" || fail "acidfs(1) does not mention $sub"
done
acidfsd_page=$(man_text usr/share/man/man8/acidfsd.8.gz)
for opt in allow_other sync commit_interval debug attr_timeout entry_timeout max_write readdirplus noatime trash_days \
  fuse.acidfsd acidfs@.service READY=1 SIGTERM; do
  grep -q -- "$opt" <<<"$acidfsd_page" || fail "acidfsd(8) does not mention $opt"
done
pass "man pages cover every subcommand and mount option"
