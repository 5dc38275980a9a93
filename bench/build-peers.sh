#!/bin/bash
# build-peers.sh: builds the peer FUSE daemons that bench/mount_bench.py measures acidfs
# against, outside the repository (default /var/tmp/acidfs-peers, or $ACIDFS_PEERS).
#
# Today that is one peer: passthrough_hp, libfuse 3.14.0's example/passthrough_hp.cc, a
# multi-threaded C++ passthrough on the low-level API (issue 12). Debian 12 ships libfuse
# 3.14.0 but not its examples, so this fetches Debian's fuse3 source package through apt
# (the Debian archive is the only source it uses), unpacks it with Debian's patches applied
# and builds that one target with meson and ninja, -j1 (the bench machine is shared).
#
# Run as root on Debian 12 (bookworm): it installs what is missing with apt-get and, when no
# deb-src line is configured, adds one in its own file under /etc/apt/sources.list.d/ and runs
# `apt-get update`. Running it again rebuilds nothing that is up to date. The last line of its
# output is the path of the binary (also on stderr with the rest of the progress).

set -euo pipefail

PEERS=${ACIDFS_PEERS:-/var/tmp/acidfs-peers}
LIBFUSE_VERSION=3.14.0  # bookworm's; the libfuse that acidfsd links against
SOURCE_DIR=$PEERS/fuse3-$LIBFUSE_VERSION
BUILD_DIR=$SOURCE_DIR/build
BINARY=$BUILD_DIR/example/passthrough_hp
DEB_SRC_LIST=/etc/apt/sources.list.d/acidfs-bench-deb-src.sources

say() { echo "build-peers: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

case "$PEERS" in
    "$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || echo /nonexistent)"*)
        die "ACIDFS_PEERS=$PEERS is inside the repository; use a directory outside it" ;;
esac

# --- build tools ----------------------------------------------------------------------------
# dpkg-dev unpacks the source package (dpkg-source); libfuse's build needs a C and a C++
# compiler, meson, ninja and pkg-config, and nothing else once utils and tests are off.
needed=(dpkg-dev gcc g++ meson ninja-build pkg-config)
missing=()
for package in "${needed[@]}"; do
    dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$' \
        || missing+=("$package")
done

has_deb_src() {
    grep -Eqs '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        || grep -Eiqs '^Types:.*\bdeb-src\b' /etc/apt/sources.list.d/*.sources
}

need_source=true
[ -f "$SOURCE_DIR/example/passthrough_hp.cc" ] && need_source=false

if [ ${#missing[@]} -gt 0 ] || { $need_source && ! has_deb_src; }; then
    [ "$(id -u)" -eq 0 ] || die "run as root: apt-get must install ${missing[*]:-nothing} and/or add a deb-src line"
    if $need_source && ! has_deb_src; then
        codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        [ "$codename" = bookworm ] \
            || say "WARNING: this is '$codename', not Debian 12 (bookworm); adding bookworm's deb-src anyway"
        say "no deb-src line configured: writing $DEB_SRC_LIST"
        cat >"$DEB_SRC_LIST" <<'EOF'
# Added by acidfs bench/build-peers.sh: source packages, to build libfuse's examples.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
    say "apt-get update"
    apt-get update -q >&2
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    fi
fi

# --- the source -----------------------------------------------------------------------------
mkdir -p "$PEERS"
if $need_source; then
    say "fetching Debian's fuse3 source package into $PEERS"
    # apt-get source verifies the .dsc against the archive's signed index, then dpkg-source
    # unpacks fuse3-3.14.0/ with Debian's patches applied.
    (cd "$PEERS" && apt-get source -q fuse3 >&2) \
        || die "apt-get source fuse3 failed (is a deb-src line for bookworm configured? see $DEB_SRC_LIST)"
    [ -f "$SOURCE_DIR/example/passthrough_hp.cc" ] \
        || die "the source package did not unpack $SOURCE_DIR (found: $(ls "$PEERS" | tr '\n' ' '));" \
               "bookworm ships libfuse $LIBFUSE_VERSION, is this bookworm?"
fi
say "source: $SOURCE_DIR ($(head -1 "$SOURCE_DIR/debian/changelog" 2>/dev/null | cut -d';' -f1))"

# --- the build ------------------------------------------------------------------------------
# libfuse's default build type (debugoptimized: -O2 -g, as acidfsd's RelWithDebInfo). The
# helper programs need udev's pkg-config file and the tests need nothing we run: both off.
#
# -DHAVE_UTIMENSAT: meson finds utimensat and writes HAVE_UTIMENSAT into fuse_config.h, but
# passthrough_hp.cc (3.14.0) never includes that header, so its setattr of times without an
# open file (tar's utimensat after close, touch -d) fails with EOPNOTSUPP and `tar -x` exits 2
# ("Cannot utime: Operation not supported"). The define gives it the code path its author
# wrote for Linux; nothing else in the file depends on it.
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    say "meson setup $BUILD_DIR"
    meson setup "$BUILD_DIR" "$SOURCE_DIR" -Dutils=false -Dtests=false -Dexamples=true \
        -Dcpp_args=-DHAVE_UTIMENSAT >&2
fi
meson configure "$BUILD_DIR" -Dcpp_args=-DHAVE_UTIMENSAT >&2  # a build dir set up without it
say "ninja -j1 example/passthrough_hp (libfuse itself is built first)"
ninja -C "$BUILD_DIR" -j1 example/passthrough_hp >&2
[ -x "$BINARY" ] || die "the build finished but $BINARY is missing"

"$BINARY" --help >/dev/null || die "$BINARY --help failed"
say "built passthrough_hp; bench/mount_bench.py finds it there (or pass --passthrough-hp / \$PASSTHROUGH_HP)"
echo "$BINARY"
