#!/usr/bin/env bash
# Installs dependencies, builds acidfs and runs the demo: a store in
# /var/tmp/acidfs-demo (kept, so you can run it again and see it persist).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
store=${1:-/var/tmp/acidfs-demo}
exec build/bin/acidfs-core-demo "$store"
