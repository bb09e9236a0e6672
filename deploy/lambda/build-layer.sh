#!/usr/bin/env bash
# Packs a built gravel-extension into a Lambda layer zip:
#
#   extensions/gravel-extension   the binary, stripped (Lambda runs every file here)
#   lib/                          the shared libraries it needs beyond glibc
#                                 (Lambda puts /opt/lib on the library path)
#
# usage: deploy/lambda/build-layer.sh <path to gravel-extension> <output zip>
#
# Build the binary with `swift build -c release --static-swift-stdlib` first (`make layer`
# does both). Libraries come from the machine that runs this script, so run it where the
# binary was built: on Amazon Linux for production (see README, "The Lambda extension").
set -euo pipefail

binary=${1:?usage: $0 <gravel-extension binary> <output zip>}
output=${2:?usage: $0 <gravel-extension binary> <output zip>}

# glibc's own libraries: every Lambda runtime has them, and a copy from another
# distribution would not match the loader there.
is_glibc() {
    case "$1" in
        linux-vdso.so*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|libutil.so*|libnsl.so*|libanl.so*|libBrokenLocale.so*)
            return 0 ;;
        *) return 1 ;;
    esac
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/extensions" "$work/lib"
cp "$binary" "$work/extensions/gravel-extension"
strip "$work/extensions/gravel-extension"
chmod 755 "$work/extensions/gravel-extension"

copied=0
while read -r name _ path _; do
    [ -n "${path:-}" ] && [ -f "$path" ] || continue
    is_glibc "$name" && continue
    cp -L "$path" "$work/lib/$name"
    copied=$((copied + 1))
done < <(ldd "$binary" | grep '=>')

mkdir -p "$(dirname "$output")"
output=$(cd "$(dirname "$output")" && pwd)/$(basename "$output")
rm -f "$output"
(cd "$work" && zip -q -r -X "$output" extensions lib)

size() { stat -c %s "$1"; }
echo "layer: $output ($(size "$output") bytes)"
echo "  extensions/gravel-extension: $(size "$work/extensions/gravel-extension") bytes (stripped)"
echo "  lib/: $copied shared libraries"
