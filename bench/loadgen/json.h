/*
 * A small scanner for the server's ringpad.v1 messages: one pass over a flat
 * JSON object that records where each member the client needs sits (no
 * allocation, no copy). Nested values it does not need (welcome.limits,
 * snapshot.peers) are skipped with a bounded depth. Strings are returned raw
 * (between the quotes); lg_json_unescape decodes one when it has escapes.
 */
#ifndef RINGPAD_LG_JSON_H
#define RINGPAD_LG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringpad/ot.h"

#define LG_JSON_MAX_DEPTH 16

typedef struct lg_jval {
    const char *p;          /* string: content between the quotes; else the raw value */
    size_t len;
    bool present;
    bool is_string;
    bool escaped;           /* string contains a backslash */
} lg_jval;

typedef struct lg_jmsg {
    lg_jval type, doc, v, id, op, text, code, message, ref, by, session;
} lg_jmsg;

/* 0, or -EINVAL when json is not one well-formed object (or too deep). */
int lg_json_scan(const char *json, size_t len, lg_jmsg *m);
/* A non-negative integer value (<= 2^53-1). 0 or -EINVAL. */
int lg_json_uint(const lg_jval *v, uint64_t *out);
/* Appends the decoded string to out (\uXXXX pairs to UTF-8). 0, -EINVAL, -ENOMEM. */
int lg_json_unescape(const lg_jval *v, ot_buf *out);
/* String value equal to the given bytes (decoding escapes when needed). */
bool lg_json_str_eq(const lg_jval *v, const char *s, size_t len);

#endif
