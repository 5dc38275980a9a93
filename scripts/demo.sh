#!/usr/bin/env bash
# Installs dependencies, builds acidfs and mounts a demo store:
#   STORE /var/lib/acidfs-demo, mounted at /mnt/acidfs-demo (kept between runs).
# Then shows compare-and-swap on the mount. Unmount with: fusermount3 -u /mnt/acidfs-demo
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
store=${1:-/var/lib/acidfs-demo}
mnt=${2:-/mnt/acidfs-demo}
mkdir -p "$mnt"
if ! mountpoint -q "$mnt"; then
  build/bin/acidfsd "$store" "$mnt" -o allow_other
fi
echo "acidfs is mounted at $mnt (store $store):"
findmnt "$mnt"
cd "$mnt"
echo "hello from acidfs" > hello.txt
cp hello.txt copy.txt             # shares content: O(1)
ls -l "$mnt"
echo
echo "The core's compare-and-swap, on a separate store (the CLI and xattrs come next):"
"$OLDPWD"/build/bin/acidfs-core-demo /var/lib/acidfs-core-demo
