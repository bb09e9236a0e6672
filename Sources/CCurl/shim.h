#ifndef GRAVEL_CCURL_SHIM_H
#define GRAVEL_CCURL_SHIM_H

#include <curl/curl.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// One malloc arena for the whole process (glibc). Not curl's, but this is the extension's
// only C shim: Swift's Glibc module does not export mallopt.
// Returns the heap pages start-up freed to the system (glibc keeps them otherwise): the
// extension's steady state is far smaller than its start-up.
static inline void gravel_release_free_heap(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

static inline int gravel_use_one_malloc_arena(void) {
#if defined(__GLIBC__)
    return mallopt(M_ARENA_MAX, 1);
#else
    return 1;
#endif
}

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call.
// These typed wrappers give each argument kind its own entry point.

static inline CURLcode gravel_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gravel_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gravel_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gravel_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode gravel_curl_setopt_write_function(
    CURL *handle, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode gravel_curl_setopt_header_function(
    CURL *handle, size_t (*callback)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

static inline CURLcode gravel_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode gravel_curl_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode gravel_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

// A blob is copied by libcurl (CURL_BLOB_COPY), so the caller's bytes need not outlive the call.
static inline CURLcode gravel_curl_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t length) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = length;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(handle, option, &blob);
}

// CURLAUTH_BASIC is a cast expression that Swift does not import.
static const long gravel_curlauth_basic = (long)CURLAUTH_BASIC;

static inline CURLcode gravel_curl_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT);
}

#endif
