#!/usr/bin/env bash
# Checks that a gravel-extension binary can start on Amazon Linux 2023 (glibc 2.34):
# its only shared libraries are glibc's own and libgcc_s, no symbol needs a glibc version
# above 2.34, and it is at most 20 MB.
#
# usage: deploy/lambda/check-layer-binary.sh <binary>
set -euo pipefail

binary=${1:?usage: $0 <binary>}
max_glibc=2.34
max_bytes=$((20 * 1024 * 1024))
failed=0

allowed_needed='^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|libgcc_s\.so\.1)$'
while read -r lib; do
    if ! [[ $lib =~ $allowed_needed ]]; then
        echo "check-layer-binary: needs $lib, which Lambda's Amazon Linux may not have" >&2
        failed=1
    fi
done < <(objdump -p "$binary" | awk '$1 == "NEEDED" { print $2 }')

# Versioned references look like "GLIBC_2.34" in the dynamic symbol table.
newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
if [ -n "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$max_glibc" | sort -V | tail -n 1)" != "$max_glibc" ]; then
    echo "check-layer-binary: needs GLIBC_$newest (Amazon Linux 2023 has $max_glibc):" >&2
    objdump -T "$binary" | awk -v max="$max_glibc" '{ for (i = 1; i <= NF; i++) if ($i ~ /^\(?GLIBC_/) print }' |
        grep -v -E "GLIBC_(2\.([0-9]|[12][0-9]|3[0-4])(\.[0-9]+)?)\)? " >&2 || true
    failed=1
fi

bytes=$(stat -c %s "$binary")
if [ "$bytes" -gt "$max_bytes" ]; then
    echo "check-layer-binary: $bytes bytes, more than the 20 MB budget" >&2
    failed=1
fi
[ "$failed" -eq 0 ] && echo "check-layer-binary: ok (newest glibc symbol GLIBC_${newest:-none}, $bytes bytes)"
exit "$failed"
