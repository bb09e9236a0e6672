#ifndef GRAVEL_CCRYPT_SHIM_H
#define GRAVEL_CCRYPT_SHIM_H

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

// libcrypt (libxcrypt) does the hashing; this shim only owns the scratch memory and
// the comparison, so Swift never handles a `struct crypt_data` (about 32 KB) itself.

/// Whether `phrase` hashes to exactly `hash` under the method and salt `hash` names.
///
/// Returns 1 on a match, 0 on a mismatch, -1 when libcrypt refuses the hash (an unknown
/// method, a malformed salt) or memory runs out. The scratch area is allocated per call:
/// calls run on several threads at once, and a bcrypt run costs milliseconds, so the
/// allocation is noise. The comparison takes the same time wherever the first difference is.
static inline int gravel_crypt_matches(const char *phrase, const char *hash) {
    struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) return -1;
    const char *computed = crypt_rn(phrase, hash, data, (int)sizeof(struct crypt_data));
    int result;
    if (computed == NULL || computed[0] == '*') {
        result = -1;
    } else {
        size_t expected = strlen(hash);
        size_t actual = strlen(computed);
        unsigned char difference = (unsigned char)(expected != actual);
        size_t n = expected < actual ? expected : actual;
        for (size_t i = 0; i < n; i++) {
            difference |= (unsigned char)(computed[i] ^ hash[i]);
        }
        result = difference == 0 ? 1 : 0;
    }
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);
    return result;
}

#endif
