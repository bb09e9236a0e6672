#!/usr/bin/env bash
# Builds the minimal static libcurl the Lambda layer links: HTTP and HTTPS only, on the
# machine's static OpenSSL (libssl.a, libcrypto.a) and zlib (libz.a), from Debian's own
# source package of the curl the machine runs.
#
# usage: deploy/lambda/build-curl.sh <prefix>
#
# Installs into <prefix> (include/, lib/libcurl.a) and writes <prefix>/pkgconfig/libcurl.pc,
# which links libcurl, OpenSSL and zlib statically when it comes first in PKG_CONFIG_PATH.
# A finished <prefix> (its stamp file matches the source version) is reused as it is.
#
# Why not Debian's libcurl.a: it is built against nghttp2, libidn2, librtmp, libssh2, libpsl,
# GnuTLS' nettle, LDAP and Kerberos, several of which have no static form, and the layer must
# start on a system that has none of them (Amazon Linux 2023 has only glibc 2.34).
set -euo pipefail

prefix=${1:?usage: $0 <install prefix>}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

. /etc/os-release
suite=${VERSION_CODENAME:?/etc/os-release names no Debian suite}

# Source of the curl version installed here, so headers and behaviour match the dev package.
version=$(dpkg-query -W -f='${source:Version}' libcurl4-openssl-dev 2>/dev/null || true)
stamp="$prefix/.built-from"
if [ -f "$prefix/lib/libcurl.a" ] && [ -f "$prefix/pkgconfig/libcurl.pc" ] && [ "$(cat "$stamp" 2>/dev/null)" = "curl ${version:-any}" ]; then
    echo "build-curl: reusing $prefix (curl ${version:-any})"
    exit 0
fi

# A deb-src entry for the suites the machine already uses, in a file of its own.
src_list=/etc/apt/sources.list.d/gravel-deb-src.sources
if ! apt-get source --print-uris -qq curl >/dev/null 2>&1; then
    echo "build-curl: adding $src_list (deb-src for $suite) and updating the package lists"
    as_root tee "$src_list" >/dev/null <<EOF
# Added by gravel's deploy/lambda/build-curl.sh: the Lambda layer builds curl from source.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
    cd "$work"
    if [ -n "$version" ]; then
        apt-get source -q --download-only "curl=$version" >/dev/null 2>&1 || apt-get source -q --download-only curl >/dev/null
    else
        apt-get source -q --download-only curl >/dev/null
    fi
    dpkg-source -q -x ./*.dsc src >/dev/null
)
src="$work/src"

# Only what an HTTP(S) client needs. arc4random is in glibc 2.36 but not in Amazon Linux
# 2023's 2.34: configure must not find it. No CA path is compiled in: the extension finds
# the system bundle at start-up (Debian, Amazon Linux and other layouts).
(
    cd "$src"
    ac_cv_func_arc4random=no ./configure -q \
        --prefix="$prefix" --disable-shared --enable-static --with-pic \
        --with-openssl --with-zlib \
        --without-ca-bundle --without-ca-path --without-ca-fallback \
        --without-brotli --without-zstd --without-nghttp2 --without-nghttp3 --without-ngtcp2 \
        --without-libidn2 --without-libpsl --without-librtmp --without-libssh2 --without-libssh \
        --without-libgsasl --without-gssapi --without-hyper --without-quiche --without-msh3 \
        --without-gnutls --without-mbedtls --without-wolfssl --without-bearssl --without-rustls \
        --without-nss --without-winidn \
        --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
        --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
        --disable-ftp --disable-file --disable-manual --disable-ntlm --disable-ntlm-wb \
        --disable-alt-svc --disable-hsts --disable-cookies --disable-doh --disable-netrc \
        --disable-websockets --disable-unix-sockets --disable-libcurl-option --disable-sspi \
        --disable-tls-srp \
        --enable-threaded-resolver --enable-ipv6 >/dev/null
    make -s -j"$(nproc)" -C lib >/dev/null
    make -s -C lib install >/dev/null
    make -s -C include install >/dev/null
)

# libcurl.pc that names the static archives: SwiftPM reads `pkg-config --libs` (never
# --static), and -lssl would otherwise pick libssl.so. The archives are linked through
# links in one directory that holds no shared objects.
multiarch=$(gcc -print-multiarch)
mkdir -p "$prefix/static" "$prefix/pkgconfig"
for archive in libssl.a libcrypto.a libz.a; do
    ln -sf "/usr/lib/$multiarch/$archive" "$prefix/static/$archive"
done
# ${pcfiledir}: the prefix moves with the folder (the cache may be copied between machines).
cat >"$prefix/pkgconfig/libcurl.pc" <<EOF
prefix=\${pcfiledir}/..
Name: libcurl
Description: static libcurl for the gravel-extension layer (HTTP, HTTPS)
Version: $(sed -n 's/^#define LIBCURL_VERSION "\(.*\)"/\1/p' "$prefix/include/curl/curlver.h")
Libs: -L\${prefix}/lib -L\${prefix}/static -lcurl -lssl -lcrypto -lz -lpthread -ldl
Cflags: -I\${prefix}/include
EOF
echo "curl ${version:-any}" >"$stamp"
echo "build-curl: $prefix/lib/libcurl.a ($(stat -c %s "$prefix/lib/libcurl.a") bytes, curl ${version:-any})"
