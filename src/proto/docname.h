/*
 * Document names and the file names they are stored under.
 *
 * A valid name has 1..DOCNAME_MAX_BYTES bytes from [A-Za-z0-9._-] and '/',
 * does not start or end with '/', has no empty segment ("//") and no "." or
 * ".." segment. So a name can never climb out of the data directory.
 *
 * On disk a name becomes one flat directory entry: every '/' is written as
 * '+' ('+' itself is not allowed in names, so the mapping is reversible),
 * e.g. "notes/a" <-> "notes+a". One byte per byte keeps every file name
 * within NAME_MAX (255) even for a 200-byte name full of '/' (a 3-byte
 * escape like "%2F" would not).
 */
#ifndef RINGPAD_DOCNAME_H
#define RINGPAD_DOCNAME_H

#include <stddef.h>

#define DOCNAME_MAX_BYTES 200
/* File names are as long as names; plus the NUL. */
#define DOCNAME_FILE_MAX_BYTES (DOCNAME_MAX_BYTES + 1)

typedef enum docname_err {
    DOCNAME_OK = 0,
    DOCNAME_ERR_EMPTY = -1,          /* zero bytes */
    DOCNAME_ERR_TOO_LONG = -2,       /* more than DOCNAME_MAX_BYTES */
    DOCNAME_ERR_BAD_CHAR = -3,       /* a byte outside [A-Za-z0-9._-/] (NUL included) */
    DOCNAME_ERR_LEADING_SLASH = -4,
    DOCNAME_ERR_TRAILING_SLASH = -5,
    DOCNAME_ERR_EMPTY_SEGMENT = -6,  /* "//" */
    DOCNAME_ERR_DOT_SEGMENT = -7,    /* a "." or ".." segment */
    DOCNAME_ERR_BAD_FILE_NAME = -8,  /* not a file name docname_to_file produces */
    DOCNAME_ERR_NO_SPACE = -9,       /* output buffer too small */
} docname_err;

/* Stable message (never NULL). */
const char *docname_err_str(int err);

/* 0 or a negative docname_err. */
int docname_validate(const char *name, size_t len_bytes);

/* Validates `name` and writes its NUL-terminated file name into out
 * (out_cap >= DOCNAME_FILE_MAX_BYTES always suffices). *out_len excludes the NUL. */
int docname_to_file(const char *name, size_t len_bytes, char *out, size_t out_cap,
                    size_t *out_len);

/* The inverse: a file name back to the document name (validated), NUL-terminated.
 * Any file name that docname_to_file cannot produce is DOCNAME_ERR_BAD_FILE_NAME. */
int docname_from_file(const char *file, size_t len_bytes, char *out, size_t out_cap,
                      size_t *out_len);

#endif /* RINGPAD_DOCNAME_H */
