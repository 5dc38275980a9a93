#!/usr/bin/env bash
# Installs everything acidfs needs to build, test and benchmark, from Debian 12
# packages only. Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake pkg-config git
  libfuse3-dev fuse3
  librocksdb-dev libxxhash-dev libcli11-dev libgtest-dev libgmock-dev
  nlohmann-json3-dev libsystemd-dev
  postgresql libpq-dev  # database stores (issue 13): the tests start their own servers
  ceph-mon ceph-osd ceph-common librados-dev  # chunks on RADOS (issue 14): the tests start their own single-node clusters
  attr python3 clang bindfs
  libtsan2  # ThreadSanitizer runtime for GCC (ACIDFS_TSAN); g++ pulls it in, named for clarity
  file lintian systemd man-db groff-base strace  # packaging: CPack's shlibdeps, lintian, systemd-analyze, man -l, the syscall check
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
