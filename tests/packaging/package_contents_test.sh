#!/usr/bin/env bash
# The package holds every promised file (SPEC §8, issue 5) and nothing else:
# no build tree, no tests, no benchmarks. Its library dependencies are the
# ones dpkg-shlibdeps derives from the binaries.
source "$(dirname "$0")/common.sh"

expected="./usr/bin/acidfs
./usr/bin/acidfsd
./usr/include/acidfs/ioctl.h
./usr/lib/systemd/system/acidfs-db@.service
./usr/lib/systemd/system/acidfs@.service
./usr/libexec/acidfs/acidfs-fsck
./usr/share/doc/acidfs/changelog.gz
./usr/share/doc/acidfs/copyright
./usr/share/doc/acidfs/fstab.example
./usr/share/man/man1/acidfs.1.gz
./usr/share/man/man8/acidfsd.8.gz"
actual=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -v '/$' | sort)
if [[ "$actual" != "$expected" ]]; then
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  fail "file list differs from the promised one (- promised, + packaged)"
fi
pass "file list: $(echo "$actual" | wc -l) files, as promised"

# Owned by root, sane modes.
while read -r mode owner _ _ _ path; do
  [[ "$owner" == root/root ]] || fail "$path is owned by $owner"
  case "$path" in
    */) [[ "$mode" == drwxr-xr-x ]] || fail "$path has mode $mode" ;;
    ./usr/bin/* | ./usr/libexec/*) [[ "$mode" == -rwxr-xr-x ]] || fail "$path has mode $mode" ;;
    *) [[ "$mode" == -rw-r--r-- ]] || fail "$path has mode $mode" ;;
  esac
done < <(dpkg-deb -c "$deb")
pass "owners root/root, modes 0755/0644"

for bin in usr/bin/acidfs usr/bin/acidfsd usr/libexec/acidfs/acidfs-fsck; do
  file -b "$root/$bin" | grep -q 'ELF 64-bit.*, stripped' || fail "$bin is not a stripped ELF: $(file -b "$root/$bin")"
  if readelf -d "$root/$bin" | grep -qE 'RPATH|RUNPATH'; then fail "$bin carries an RPATH into the build tree"; fi
  readelf -d "$root/$bin" | grep -q 'BIND_NOW' || fail "$bin is not linked with -z now"
done
pass "binaries stripped, no RPATH, full RELRO"

control() { dpkg-deb -f "$deb" "$1"; }
[[ "$(control Package)" == acidfs ]] || fail "Package: $(control Package)"
[[ "$(control Architecture)" == "$(dpkg --print-architecture)" ]] || fail "Architecture: $(control Architecture)"
version=$(control Version)
[[ "$(basename "$deb")" == "acidfs_${version}_$(control Architecture).deb" ]] || fail "file name $(basename "$deb") for version $version"
zcat "$root/usr/share/doc/acidfs/changelog.gz" | head -1 | grep -qF "acidfs ($version)" || fail "changelog does not start at $version"

# Depends = fuse3 (a program we run) + exactly what dpkg-shlibdeps derives.
mkdir -p "$work/shlibs/debian"
printf 'Source: acidfs\n\nPackage: acidfs\nArchitecture: any\n' > "$work/shlibs/debian/control"
derived=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/acidfs" "$root/usr/bin/acidfsd" \
  "$root/usr/libexec/acidfs/acidfs-fsck" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
normalize() { tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep -v '^$' | sort; }
want=$( (echo "$derived"; echo "fuse3") | tr '\n' ',' | normalize)
have=$(control Depends | normalize)
if [[ "$want" != "$have" ]]; then
  diff <(echo "$want") <(echo "$have") >&2 || true
  fail "Depends is not dpkg-shlibdeps' list plus fuse3"
fi
for lib in libfuse3-3 librocksdb libxxhash libsystemd0 libc6; do
  grep -q "^$lib" <<<"$have" || fail "Depends lacks $lib"
done
pass "Depends: $(control Depends)"
