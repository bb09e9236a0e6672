// Definitions linked into the layer's gravel-extension in place of glibc symbols that only
// newer glibc versions have. The layer is built on Debian 12 (glibc 2.36) and must start on
// Amazon Linux 2023 (glibc 2.34); a reference to any of these would make the loader refuse
// the binary there ("version `GLIBC_2.35' not found").
//
// - hypotf: glibc 2.35 added a new symbol version; the Swift runtime calls it.
// - arc4random, arc4random_buf, arc4random_uniform: new in glibc 2.36; GCC 12's libstdc++.a
//   (std::random_device) calls them.
//
// A definition in the executable wins over the shared library's, so these are used
// everywhere in the process. build-layer.sh compiles this file; the debug build does not.
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>

float hypotf(float x, float y) {
    // C99 Annex F: an infinite operand wins over a NaN.
    if (isinf(x) || isinf(y)) return INFINITY;
    if (isnan(x) || isnan(y)) return x + y;
    // Every float squared and summed fits a double exactly enough that the rounded result
    // is the correctly rounded float in all but vanishing cases; no overflow is possible.
    double dx = x, dy = y;
    return (float)__builtin_sqrt(dx * dx + dy * dy);
}

void arc4random_buf(void *buffer, size_t length) {
    unsigned char *bytes = buffer;
    while (length > 0) {
        ssize_t got = getrandom(bytes, length, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            // The kernel's generator is the only source the process has; glibc aborts too.
            abort();
        }
        bytes += got;
        length -= (size_t)got;
    }
}

uint32_t arc4random(void) {
    uint32_t value;
    arc4random_buf(&value, sizeof value);
    return value;
}

uint32_t arc4random_uniform(uint32_t upper) {
    if (upper < 2) return 0;
    // Reject the values below 2^32 mod upper so every residue is equally likely.
    uint32_t floor = -upper % upper;
    for (;;) {
        uint32_t value = arc4random();
        if (value >= floor) return value % upper;
    }
}
