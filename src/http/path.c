/*
 * Request-target decoding (see path.h). Segments are split on raw '/' only,
 * each one is percent-decoded on its own and judged after decoding, so an
 * escape can never smuggle a separator or a dot segment past the checks.
 */
#include "http/path.h"

#include <errno.h>
#include <string.h>

const char *path_err_str(int err) {
    switch (err) {
    case PATH_OK: return "ok";
    case PATH_ERR_NOT_ORIGIN_FORM: return "path does not start with '/'";
    case PATH_ERR_TOO_LONG: return "path too long";
    case PATH_ERR_BAD_ESCAPE: return "malformed percent escape";
    case PATH_ERR_NUL: return "NUL byte in path";
    case PATH_ERR_ENCODED_SLASH: return "encoded '/' in path";
    case PATH_ERR_DOT_SEGMENT: return "dot segment in path";
    case PATH_ERR_BACKSLASH: return "backslash in path";
    case PATH_ERR_CONTROL: return "control byte in path";
    case PATH_ERR_NO_SPACE: return "output buffer too small";
    default: return "unknown path error";
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one %XX at s[i] (s[i] == '%'); -1 when malformed. */
static int decode_escape(const char *s, size_t len, size_t i) {
    if (len < 3 || i > len - 3)
        return -1;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi * 16 + lo;
}

/* Decodes the segment s[0..len) (no raw '/') onto out+*o; judges every byte. */
static int decode_segment(const char *s, size_t len, char *out, size_t out_cap, size_t *o) {
    size_t start = *o;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            c = decode_escape(s, len, i);
            if (c < 0)
                return PATH_ERR_BAD_ESCAPE;
            if (c == '/')
                return PATH_ERR_ENCODED_SLASH;
            i += 2;
        }
        if (c == 0)
            return PATH_ERR_NUL;
        if (c == '\\')
            return PATH_ERR_BACKSLASH;
        if (c < 0x20 || c == 0x7f)
            return PATH_ERR_CONTROL;
        if (*o >= PATH_MAX_DECODED_BYTES)
            return PATH_ERR_TOO_LONG;
        if (*o + 1 >= out_cap)
            return PATH_ERR_NO_SPACE;
        out[(*o)++] = (char)c;
    }
    size_t n = *o - start;
    if ((n == 1 && out[start] == '.') || (n == 2 && out[start] == '.' && out[start + 1] == '.'))
        return PATH_ERR_DOT_SEGMENT;
    return PATH_OK;
}

int path_decode(const char *target, size_t target_len, char *out, size_t out_cap,
                size_t *out_len) {
    if (out_cap == 0)
        return PATH_ERR_NO_SPACE;
    out[0] = '\0';
    *out_len = 0;
    size_t end = 0;
    while (end < target_len && target[end] != '?' && target[end] != '#')
        end++;
    if (end == 0 || target[0] != '/')
        return PATH_ERR_NOT_ORIGIN_FORM;

    size_t o = 0;
    size_t count_segments = 0;
    size_t i = 0;
    while (i < end) {
        while (i < end && target[i] == '/')
            i++;
        size_t seg = i;
        while (i < end && target[i] != '/')
            i++;
        if (i == seg)
            break; /* trailing slashes */
        if (++count_segments > PATH_MAX_SEGMENTS) {
            out[0] = '\0';
            return PATH_ERR_TOO_LONG;
        }
        if (o > 0) {
            if (o >= PATH_MAX_DECODED_BYTES) {
                out[0] = '\0';
                return PATH_ERR_TOO_LONG;
            }
            if (o + 1 >= out_cap) {
                out[0] = '\0';
                return PATH_ERR_NO_SPACE;
            }
            out[o++] = '/';
        }
        int rc = decode_segment(target + seg, i - seg, out, out_cap, &o);
        if (rc < 0) {
            out[0] = '\0';
            return rc;
        }
    }
    out[o] = '\0';
    *out_len = o;
    return PATH_OK;
}

/* Form-decodes s[0..len) into out (NUL-terminated); length or -errno. */
static int form_decode(const char *s, size_t len, char *out, size_t out_cap) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            c = decode_escape(s, len, i);
            if (c < 0)
                return -EINVAL;
            i += 2;
        }
        if (c == 0)
            return -EINVAL;
        if (o + 1 >= out_cap)
            return -ENOSPC;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (int)o;
}

/* Longest key compared; longer keys never match a caller's name. */
#define PATH_MAX_KEY_BYTES 128

int path_query_param(const char *target, size_t target_len, const char *name, char *out,
                     size_t out_cap) {
    if (out_cap == 0)
        return -ENOSPC;
    out[0] = '\0';
    size_t i = 0;
    while (i < target_len && target[i] != '?' && target[i] != '#')
        i++;
    if (i == target_len || target[i] == '#')
        return -ENOENT;
    i++;
    size_t end = i;
    while (end < target_len && target[end] != '#')
        end++;

    while (i < end) {
        size_t start = i;
        while (i < end && target[i] != '&')
            i++;
        size_t pair_end = i;
        i++; /* skip '&' */
        if (pair_end == start)
            continue;
        const char *eq = memchr(target + start, '=', pair_end - start);
        size_t key_end = eq ? (size_t)(eq - target) : pair_end;
        char key[PATH_MAX_KEY_BYTES + 1];
        if (form_decode(target + start, key_end - start, key, sizeof key) < 0)
            continue; /* a malformed or huge key is not the one asked for */
        if (strcmp(key, name) != 0)
            continue;
        size_t value_start = eq ? key_end + 1 : pair_end;
        int rc = form_decode(target + value_start, pair_end - value_start, out, out_cap);
        if (rc < 0)
            out[0] = '\0';
        return rc;
    }
    return -ENOENT;
}
