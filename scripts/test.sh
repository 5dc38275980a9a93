#!/usr/bin/env bash
# Installs dependencies, builds acidfs twice (release, and ASan+UBSan) and
# runs every test in both builds, warnings as errors. This is what CI runs
# (.ci/run).
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
fi

# The lock annotations (core/thread_annotations.h) checked by Clang.
if command -v clang++ >/dev/null; then
  CC=clang CXX=clang++ cmake -S . -B build-clang -DACIDFS_THREAD_SAFETY=ON -DACIDFS_WERROR=ON -DBUILD_TESTING=OFF >/dev/null
  cmake --build build-clang -j"$jobs" --target acidfs_core acidfs_fuse acidfsd
fi
