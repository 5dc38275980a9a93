#!/usr/bin/env bash
# Installs dependencies, builds acidfs twice (release, and ASan+UBSan) and
# runs every test in both builds, warnings as errors; then a ThreadSanitizer
# build runs the concurrency and mount suites, and Clang checks the lock
# annotations. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's time, printed as it ends and again at the end (CI must stay
# well under its limit: the last line says where the time went).
phases=()
phase_start=$SECONDS
phase_done() {
  local took=$((SECONDS - phase_start))
  phases+=("$1 $((took / 60))m$((took % 60))s")
  echo "=== $1: $((took / 60))m$((took % 60))s ===" >&2
  phase_start=$SECONDS
}
trap 'echo "=== phases: ${phases[*]:-none}; total $((SECONDS / 60))m$((SECONDS % 60))s ===" >&2' EXIT

bash scripts/install-deps.sh
phase_done "dependencies"
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACIDFS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
phase_done "release build"
(cd build && ctest --output-on-failure -j"$jobs")
phase_done "release tests"

if [[ "${ACIDFS_SKIP_SANITIZERS:-0}" != 1 ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DACIDFS_SANITIZE=ON -DACIDFS_WERROR=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  phase_done "ASan build"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j"$jobs")
  phase_done "ASan tests"

  # ThreadSanitizer on the suites whose threads race each other: the
  # concurrency suite, and the mounts (the daemon serves requests on many
  # threads). Every process writes its reports to build-tsan/tsan/ — the
  # daemons too, whose stderr goes to a log their test deletes — and any
  # report fails the run. tests/tsan.supp: uninstrumented libraries only.
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACIDFS_TSAN=ON -DACIDFS_WERROR=ON >/dev/null
  cmake --build build-tsan -j"$jobs" --target threaded_tests
  phase_done "TSan build"
  rm -rf build-tsan/tsan && mkdir build-tsan/tsan
  tsan_failed=0
  tsan_options="suppressions=$PWD/tests/tsan.supp log_path=$PWD/build-tsan/tsan/report second_deadlock_stack=1"
  (cd build-tsan && TSAN_OPTIONS="$tsan_options" ctest --output-on-failure -j"$jobs" -L 'concurrency|mount') || tsan_failed=1
  for report in build-tsan/tsan/report*; do
    [[ -e "$report" ]] || continue
    echo "--- $report ---"; cat "$report"; tsan_failed=1
  done
  phase_done "TSan tests"
  if ((tsan_failed)); then echo "ThreadSanitizer build: tests failed or races reported (above)" >&2; exit 1; fi
fi

# The lock annotations (core/thread_annotations.h) checked by Clang.
if command -v clang++ >/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B build-clang -DACIDFS_THREAD_SAFETY=ON -DACIDFS_WERROR=ON -DBUILD_TESTING=OFF >/dev/null
  cmake --build build-clang -j"$jobs" --target acidfs_core acidfs_fuse acidfsd
  phase_done "Clang lock analysis"
fi
