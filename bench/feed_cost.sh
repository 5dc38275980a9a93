#!/bin/sh
# feed_cost.sh: what the change feed costs a transaction, in instructions.
#
# Wall-clock A/B runs of `core_bench --feed-days 0` against `--feed-days 1`
# on a shared 2-core VM swing ±30% from run to run, far more than the effect
# measured, so this counts instructions instead (valgrind's callgrind, which
# is deterministic): core_bench --quick's table 1 with the feed off and on,
# collecting inside the four operations only (Namespace::mknod, rename,
# unlink, CasOps::commit — RocksDB's work on the calling thread included, its
# background flushes not), and prints each operation's ratio.
#
# usage: bench/feed_cost.sh [BUILD_DIR]   (default: build; needs valgrind)
set -eu
build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for days in 0 1; do
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$days" \
    --toggle-collect='acidfs::Namespace::mknod*' --toggle-collect='acidfs::Namespace::rename*' \
    --toggle-collect='acidfs::Namespace::unlink*' --toggle-collect='acidfs::CasOps::commit*' \
    "$build/bin/core_bench" --quick --transactions-only --runs 1 --dir "$work" --feed-days "$days" \
    > "$work/out.$days" 2>&1 &
done
wait
for days in 0 1; do
  callgrind_annotate --tree=caller --inclusive=yes --threshold=100 --auto=no "$work/cg.$days" 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) ([ 0-9.]*%)  \* .*acidfs::\(Namespace::mknod\|Namespace::rename\|Namespace::unlink\|CasOps::commit\)(.*/\2 \1/p' |
    tr -d , | sort -k2,2nr | awk '!seen[$1]++' | sort > "$work/ops.$days"  # an operation's own line: its largest
done
printf '%-20s %16s %16s %8s\n' operation "instr, no feed" "instr, feed" ratio
join "$work/ops.0" "$work/ops.1" | awk '{ printf "%-20s %16d %16d %8.3f\n", $1, $2, $3, $3 / $2 }'
