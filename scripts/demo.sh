#!/usr/bin/env bash
# Installs dependencies, builds acidfs and its Debian package, installs the
# package, and mounts a demo store:
#   STORE /var/lib/acidfs-demo, mounted at /mnt/acidfs-demo (kept between runs).
# Then shows compare-and-swap on the mount. Unmount with: umount /mnt/acidfs-demo
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target package
apt-get install -y -qq --reinstall "$(ls -t "$PWD"/build/acidfs_*.deb | head -1)" >/dev/null
echo "installed: $(acidfsd --version), $(acidfs --version); man acidfsd, man acidfs"
store=${1:-/var/lib/acidfs-demo}
mnt=${2:-/mnt/acidfs-demo}
mkdir -p "$mnt"
if ! mountpoint -q "$mnt"; then
  acidfsd "$store" "$mnt" -o allow_other   # returns once the mount answers
fi
echo "acidfs is mounted at $mnt (store $store):"
findmnt "$mnt"
cd "$mnt"
echo 1 > counter.txt
cp counter.txt copy.txt             # shares content: O(1)
ls -l "$mnt"
echo
echo "Compare-and-swap with the acidfs tool: add 1 to counter.txt only if nobody changed it since we read it."
b=$(acidfs blob-id counter.txt)
echo $(( $(cat counter.txt) + 1 )) | acidfs cas counter.txt --expect "$b"
echo "counter.txt is now $(cat counter.txt); the same update again with the old blobId is refused:"
echo 99 | acidfs cas counter.txt --expect "$b" || echo "(exit $?: the conflict report above; counter.txt still $(cat counter.txt))"
echo
echo "The same with getfattr/setfattr/mv:"
b=$(getfattr --only-values -n user.acidfs.blob_id counter.txt)
echo $(( $(cat counter.txt) + 1 )) > .counter.new
setfattr -n user.acidfs.dest_basis -v "$b" .counter.new
mv .counter.new counter.txt && echo "counter.txt is now $(cat counter.txt)"
