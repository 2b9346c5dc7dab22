/*
 * Document name validation and the reversible name <-> file name mapping.
 * Validation is by allow-list: anything not explicitly allowed is refused.
 */
#include "proto/docname.h"

#include <stdbool.h>

const char *docname_err_str(int err) {
    switch (err) {
    case DOCNAME_OK: return "ok";
    case DOCNAME_ERR_EMPTY: return "document name is empty";
    case DOCNAME_ERR_TOO_LONG: return "document name is longer than 200 bytes";
    case DOCNAME_ERR_BAD_CHAR: return "document name may only contain A-Z a-z 0-9 . _ - /";
    case DOCNAME_ERR_LEADING_SLASH: return "document name starts with '/'";
    case DOCNAME_ERR_TRAILING_SLASH: return "document name ends with '/'";
    case DOCNAME_ERR_EMPTY_SEGMENT: return "document name contains '//'";
    case DOCNAME_ERR_DOT_SEGMENT: return "document name contains a '.' or '..' segment";
    case DOCNAME_ERR_BAD_FILE_NAME: return "not a document file name";
    case DOCNAME_ERR_NO_SPACE: return "buffer too small for the document name";
    default: return "unknown error";
    }
}

static bool docname_char_ok(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '/';
}

int docname_validate(const char *name, size_t len_bytes) {
    if (len_bytes == 0)
        return DOCNAME_ERR_EMPTY;
    if (len_bytes > DOCNAME_MAX_BYTES)
        return DOCNAME_ERR_TOO_LONG;
    for (size_t i = 0; i < len_bytes; i++)
        if (!docname_char_ok((unsigned char)name[i]))
            return DOCNAME_ERR_BAD_CHAR;
    if (name[0] == '/')
        return DOCNAME_ERR_LEADING_SLASH;
    if (name[len_bytes - 1] == '/')
        return DOCNAME_ERR_TRAILING_SLASH;
    size_t seg_start = 0;
    for (size_t i = 0; i <= len_bytes; i++) {
        if (i < len_bytes && name[i] != '/')
            continue;
        size_t seg_len = i - seg_start;
        if (seg_len == 0)
            return DOCNAME_ERR_EMPTY_SEGMENT;
        if ((seg_len == 1 && name[seg_start] == '.') ||
            (seg_len == 2 && name[seg_start] == '.' && name[seg_start + 1] == '.'))
            return DOCNAME_ERR_DOT_SEGMENT;
        seg_start = i + 1;
    }
    return DOCNAME_OK;
}

int docname_to_file(const char *name, size_t len_bytes, char *out, size_t out_cap,
                    size_t *out_len) {
    int rc = docname_validate(name, len_bytes);
    if (rc != DOCNAME_OK)
        return rc;
    if (len_bytes + 1 > out_cap)
        return DOCNAME_ERR_NO_SPACE;
    for (size_t i = 0; i < len_bytes; i++)
        out[i] = name[i] == '/' ? '+' : name[i];
    out[len_bytes] = '\0';
    if (out_len != NULL)
        *out_len = len_bytes;
    return DOCNAME_OK;
}

int docname_from_file(const char *file, size_t len_bytes, char *out, size_t out_cap,
                      size_t *out_len) {
    if (len_bytes > DOCNAME_MAX_BYTES)
        return DOCNAME_ERR_BAD_FILE_NAME;
    if (len_bytes + 1 > out_cap)
        return DOCNAME_ERR_NO_SPACE;
    for (size_t i = 0; i < len_bytes; i++) {
        /* A '/' in a file name is impossible, and it must not turn into a
         * valid name either: only '+' maps to '/'. */
        if (file[i] == '/')
            return DOCNAME_ERR_BAD_FILE_NAME;
        out[i] = file[i] == '+' ? '/' : file[i];
    }
    out[len_bytes] = '\0';
    if (docname_validate(out, len_bytes) != DOCNAME_OK)
        return DOCNAME_ERR_BAD_FILE_NAME;
    if (out_len != NULL)
        *out_len = len_bytes;
    return DOCNAME_OK;
}
