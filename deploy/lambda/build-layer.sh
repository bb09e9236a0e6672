#!/usr/bin/env bash
# Builds gravel-extension for Lambda and packs it into a layer zip:
#
#   extensions/gravel-extension   the binary, stripped (Lambda runs every file here)
#
# usage: deploy/lambda/build-layer.sh <output zip>
#
# The binary needs nothing but glibc (libc, libm, libdl, libpthread, librt, ld-linux) and
# libgcc_s, and no glibc symbol newer than 2.34, so it starts on Amazon Linux 2023
# (provided.al2023 and the managed runtimes) although it is built on Debian 12 (glibc 2.36):
#
# - libcurl (HTTP and HTTPS only) is built from Debian's source package into the cache
#   (build-curl.sh) and linked statically with OpenSSL and zlib;
# - the Swift standard library and libstdc++ are linked statically;
# - glibc-compat.c defines the few symbols that would otherwise bind to glibc 2.35+;
# - libgcc_s stays dynamic: its static form calls _dl_find_object (glibc 2.35), and every
#   glibc system has libgcc_s because glibc itself loads it.
#
# The build refuses to pack a binary that breaks any of this (check-layer-binary.sh).
#
# Environment: SWIFT (default swift), LAYER_CACHE (default .build-layer; the Swift build and
# the link helpers live there, so a rerun only redoes what changed), GRAVEL_MACHINE_CACHE
# (default /var/cache/gravel as root, else ~/.cache/gravel: the static libcurl, which depends
# only on Debian's curl source package, is kept there for every clone on the machine).
set -euo pipefail

output=${1:?usage: $0 <output zip>}
swift=${SWIFT:-swift}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${LAYER_CACHE:-$repo/.build-layer}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The zip is for the machine's own architecture (x86_64 here; arm64 on an arm64 machine,
# untested: see README, "Build the layer").
case "$(uname -m)" in
    x86_64|aarch64) ;;
    *) echo "build-layer: Lambda runs x86_64 and arm64 only, not $(uname -m)" >&2; exit 1 ;;
esac

started=$(date +%s)
if [ "$(id -u)" -eq 0 ]; then machine_cache_default=/var/cache/gravel; else machine_cache_default=$HOME/.cache/gravel; fi
machine_cache=${GRAVEL_MACHINE_CACHE:-$machine_cache_default}
mkdir -p "$machine_cache"
"$here/build-curl.sh" "$machine_cache/curl"

# libstdc++.a alone in a directory searched first: -lstdc++ (from the Swift static stdlib's
# link arguments) then resolves to the archive instead of libstdc++.so.
mkdir -p "$cache/link"
ln -sf "$(gcc -print-file-name=libstdc++.a)" "$cache/link/libstdc++.a"
cc -O2 -fPIC -Wall -Werror -c "$here/glibc-compat.c" -o "$cache/link/glibc-compat.o"

# A scratch path of its own: the debug build the tests use keeps Debian's shared libcurl.
# --no-export-dynamic undoes the -export-dynamic of Swift's static-stdlib link arguments:
# nothing loads this binary as a library or looks symbols up in it, and the 11,000 exported
# names cost 1 MB of dynamic symbol table, part of it paged in at every start (the loader
# searches the executable first for each of glibc's own lookups): 0.2 MB of idle RSS.
# -no-pie links the executable at a fixed address. As a position-independent executable it
# carries 58,000 relative relocations (1.4 MB of .rela.dyn that the loader reads at every
# start and that stay mapped) and 0.7 MB of pointer tables the loader rewrites, each page
# a private copy: 2.3 MB of the 15 MB idle RSS budget. The price is that the binary's own
# code and data sit at the same address in every sandbox (libraries, stack, heap and
# mmap stay randomized), as in Go's default builds for linux/amd64.
build=(-c release --static-swift-stdlib --scratch-path "$cache/swift" --product gravel-extension
    -Xlinker -L"$cache/link" -Xlinker "$cache/link/glibc-compat.o" -Xlinker --no-export-dynamic
    -Xlinker -no-pie)
export PKG_CONFIG_PATH="$machine_cache/curl/pkgconfig"
(cd "$repo" && "$swift" build "${build[@]}")
bin="$(cd "$repo" && "$swift" build "${build[@]}" --show-bin-path)/gravel-extension"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/extensions"
cp "$bin" "$work/extensions/gravel-extension"
strip "$work/extensions/gravel-extension"
chmod 755 "$work/extensions/gravel-extension"
"$here/check-layer-binary.sh" "$work/extensions/gravel-extension"

mkdir -p "$(dirname "$output")"
output=$(cd "$(dirname "$output")" && pwd)/$(basename "$output")
rm -f "$output"
(cd "$work" && zip -q -r -X "$output" extensions)

size() { stat -c %s "$1"; }
echo "layer: $output ($(size "$output") bytes, built in $(($(date +%s) - started)) s)"
echo "  extensions/gravel-extension: $(size "$work/extensions/gravel-extension") bytes unpacked (stripped)"
