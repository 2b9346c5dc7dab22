/*
 * Request-target decoding for file lookup, and query-string parameters.
 *
 * path_decode turns the path of an origin-form target ("/a/b%20c.js?x=1")
 * into a normalized relative path ("a/b c.js") or refuses it with a precise
 * path_err. It never produces a path that can leave the root it is joined to:
 * no "." or ".." segment (raw or percent-encoded), no encoded '/', no
 * backslash, no NUL, no control byte. Pure functions, no allocation.
 */
#ifndef RINGPAD_PATH_H
#define RINGPAD_PATH_H

#include <stddef.h>

/* Longest decoded path accepted (bytes, without the terminating NUL). */
#define PATH_MAX_DECODED_BYTES 1024
/* Most segments in one path. */
#define PATH_MAX_SEGMENTS 64

typedef enum path_err {
    PATH_OK = 0,
    PATH_ERR_NOT_ORIGIN_FORM = -1,  /* empty, or does not start with '/' */
    PATH_ERR_TOO_LONG = -2,         /* over PATH_MAX_DECODED_BYTES or PATH_MAX_SEGMENTS */
    PATH_ERR_BAD_ESCAPE = -3,       /* '%' not followed by two hex digits */
    PATH_ERR_NUL = -4,              /* NUL byte, raw or %00 */
    PATH_ERR_ENCODED_SLASH = -5,    /* %2f / %2F */
    PATH_ERR_DOT_SEGMENT = -6,      /* "." or ".." segment, raw or encoded (%2e) */
    PATH_ERR_BACKSLASH = -7,        /* '\\', raw or %5c */
    PATH_ERR_CONTROL = -8,          /* a byte < 0x20 or 0x7f, raw or encoded */
    PATH_ERR_NO_SPACE = -9,         /* the caller's buffer is too small */
} path_err;

/* Stable message for a path_err ("ok" for 0, "unknown path error" otherwise). */
const char *path_err_str(int err);

/*
 * Decodes the path part of `target` (up to the first '?' or '#') into `out`
 * (NUL-terminated) and sets *out_len. The result has no leading or trailing
 * '/', and runs of '/' are collapsed: "/" gives "", "/a//b/" gives "a/b".
 * Decoded bytes >= 0x80 are kept as they are (UTF-8 file names).
 * Returns PATH_OK or a negative path_err; on error `out` holds "".
 * out_cap must be > 0; PATH_MAX_DECODED_BYTES + 1 always suffices.
 */
int path_decode(const char *target, size_t target_len, char *out, size_t out_cap,
                size_t *out_len);

/*
 * Finds the first query parameter named `name` in the query of `target` (after
 * the first '?', up to '#'), decodes its value ('+' is a space, %XX escapes)
 * into `out`, NUL-terminated. Keys are decoded the same way before comparing.
 * "?v" and "?v=" both give an empty value.
 * Returns the decoded length (>= 0), -ENOENT when absent, -EINVAL for a bad
 * escape or a decoded NUL in the value, -ENOSPC when out_cap is too small
 * (out_cap must be > 0).
 */
int path_query_param(const char *target, size_t target_len, const char *name, char *out,
                     size_t out_cap);

/*
 * The key of the query's n-th parameter (from 0; empty pairs are skipped),
 * form-decoded into `out`. Returns its length, -ENOENT when there are fewer
 * parameters, -EINVAL for a bad escape, -ENOSPC when out_cap is too small.
 */
int path_query_key_at(const char *target, size_t target_len, size_t index, char *out, size_t out_cap);

#endif /* RINGPAD_PATH_H */
