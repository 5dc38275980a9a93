#!/usr/bin/env bash
# Installs dependencies, builds acidfs twice (release, and ASan+UBSan) and
# runs every test in both builds, warnings as errors; then a ThreadSanitizer
# build runs the concurrency and mount suites, and Clang checks the lock
# annotations. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACIDFS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

if [[ "${ACIDFS_SKIP_SANITIZERS:-0}" != 1 ]]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DACIDFS_SANITIZE=ON -DACIDFS_WERROR=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j"$jobs")

  # ThreadSanitizer on the suites whose threads race each other: the
  # concurrency suite, and the mounts (the daemon serves requests on many
  # threads). Every process writes its reports to build-tsan/tsan/ — the
  # daemons too, whose stderr goes to a log their test deletes — and any
  # report fails the run. tests/tsan.supp: uninstrumented libraries only.
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACIDFS_TSAN=ON -DACIDFS_WERROR=ON >/dev/null
  cmake --build build-tsan -j"$jobs" --target threaded_tests
  rm -rf build-tsan/tsan && mkdir build-tsan/tsan
  tsan_failed=0
  tsan_options="suppressions=$PWD/tests/tsan.supp log_path=$PWD/build-tsan/tsan/report second_deadlock_stack=1"
  (cd build-tsan && TSAN_OPTIONS="$tsan_options" ctest --output-on-failure -j"$jobs" -L 'concurrency|mount') || tsan_failed=1
  for report in build-tsan/tsan/report*; do
    [[ -e "$report" ]] || continue
    echo "--- $report ---"; cat "$report"; tsan_failed=1
  done
  if ((tsan_failed)); then echo "ThreadSanitizer build: tests failed or races reported (above)" >&2; exit 1; fi
fi

# The lock annotations (core/thread_annotations.h) checked by Clang.
if command -v clang++ >/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B build-clang -DACIDFS_THREAD_SAFETY=ON -DACIDFS_WERROR=ON -DBUILD_TESTING=OFF >/dev/null
  cmake --build build-clang -j"$jobs" --target acidfs_core acidfs_fuse acidfsd
fi
