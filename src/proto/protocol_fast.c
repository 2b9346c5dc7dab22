/*
 * The op message without jansson: a tree per message (a malloc per key, value
 * and array element, then their frees) was the largest share of the server's
 * own CPU per op in the docs benchmark. This scanner accepts only the shapes it
 * can decode exactly; everything else goes back to the general decoder, so
 * results and errors are unchanged.
 */

#include "proto/protocol.h"

#include <string.h>

/* An op string decoded from JSON escapes is copied here; longer escaped
 * strings (pastes with newlines) take the general path. */
#define FAST_UNESCAPE_MAX_BYTES 1024

typedef struct scan {
    const char *p;
    const char *end;
} scan;

typedef struct span {
    const char *s;
    size_t len;
    bool escaped;      /* contains a backslash escape */
} span;

static void skip_ws(scan *sc) {
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r')) sc->p++;
}

static bool eat(scan *sc, char c) {
    skip_ws(sc);
    if (sc->p == sc->end || *sc->p != c) return false;
    sc->p++;
    return true;
}

/* A string token: raw bytes between the quotes. False on a control byte (not
 * JSON) or a \u escape (left to jansson: surrogates, \u0000). */
static bool scan_string(scan *sc, span *out) {
    if (!eat(sc, '"')) return false;
    out->s = sc->p;
    out->escaped = false;
    while (sc->p < sc->end) {
        unsigned char c = (unsigned char)*sc->p;
        if (c == '"') {
            out->len = (size_t)(sc->p - out->s);
            sc->p++;
            return true;
        }
        if (c < 0x20) return false;
        if (c == '\\') {
            if (sc->end - sc->p < 2) return false;
            char e = sc->p[1];
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
                return false;
            out->escaped = true;
            sc->p += 2;
            continue;
        }
        sc->p++;
    }
    return false;
}

static size_t unescape(const span *in, char *out) {
    size_t n = 0;
    for (size_t i = 0; i < in->len; i++) {
        char c = in->s[i];
        if (c == '\\') {
            char e = in->s[++i];   /* scan_string saw a valid two-byte escape */
            c = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
        }
        out[n++] = c;
    }
    return n;
}

/* An integer as jansson reads one (no leading zeros, no "-0", no fraction or
 * exponent), within +-(2^53-1); anything else is left to the general path. */
static bool scan_int(scan *sc, int64_t *out) {
    skip_ws(sc);
    bool neg = sc->p < sc->end && *sc->p == '-';
    if (neg) sc->p++;
    const char *start = sc->p;
    uint64_t x = 0;
    while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9') {
        if (sc->p - start >= 16) return false;
        x = x * 10 + (uint64_t)(*sc->p - '0');
        sc->p++;
    }
    size_t digits = (size_t)(sc->p - start);
    if (digits == 0 || (digits > 1 && *start == '0') || (neg && x == 0)) return false;
    if (sc->p < sc->end && (*sc->p == '.' || *sc->p == 'e' || *sc->p == 'E')) return false;
    if (x > PROTO_MAX_SAFE_INTEGER) return false;
    *out = neg ? -(int64_t)x : (int64_t)x;
    return true;
}

static bool push_string(const proto_limits *limits, proto_msg *msg, const span *s) {
    if (!s->escaped) return ot_op_push_string(&msg->op, s->s, s->len, &limits->ot) == OT_OK;
    char buf[FAST_UNESCAPE_MAX_BYTES];
    if (s->len > sizeof buf) return false;   /* decoded is never longer than raw */
    size_t n = unescape(s, buf);
    return ot_op_push_string(&msg->op, buf, n, &limits->ot) == OT_OK;
}

/* The op array, components pushed as they come. */
static bool scan_op(const proto_limits *limits, scan *sc, proto_msg *msg) {
    if (!eat(sc, '[')) return false;
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == ']') {
        sc->p++;
        return true;
    }
    for (uint32_t n = 1;; n++) {
        if (n > limits->ot.max_op_components) return false;
        skip_ws(sc);
        if (sc->p == sc->end) return false;
        if (*sc->p == '"') {
            span s;
            if (!scan_string(sc, &s) || !push_string(limits, msg, &s)) return false;
        } else {
            int64_t x;
            if (!scan_int(sc, &x) || ot_op_push_int(&msg->op, x, &limits->ot) != OT_OK) return false;
        }
        if (eat(sc, ']')) return true;
        if (!eat(sc, ',')) return false;
    }
}

enum { K_TYPE, K_ID, K_DOC, K_V, K_OP, K_COUNT };

static int key_of(const span *k) {
    static const char *const names[K_COUNT] = {"type", "id", "doc", "v", "op"};
    if (k->escaped) return -1;
    for (int i = 0; i < K_COUNT; i++)
        if (strlen(names[i]) == k->len && memcmp(names[i], k->s, k->len) == 0) return i;
    return -1;
}

static bool id_ok(const span *s) {
    if (s->escaped || s->len < 1 || s->len > PROTO_MAX_ID_BYTES) return false;
    for (size_t i = 0; i < s->len; i++)
        if (s->s[i] < 0x20 || s->s[i] > 0x7e) return false;
    return true;
}

bool proto_decode_op_fast(const proto_limits *limits, const char *json, size_t len_bytes, proto_msg *msg) {
    scan sc = {json, json + len_bytes};
    span str[K_COUNT] = {0};
    bool seen[K_COUNT] = {false};
    int64_t v = -1;
    if (!eat(&sc, '{')) return false;
    do {
        span k;
        if (!scan_string(&sc, &k) || !eat(&sc, ':')) return false;
        int key = key_of(&k);
        if (key < 0 || seen[key]) return false;
        seen[key] = true;
        bool ok = key == K_V ? scan_int(&sc, &v) && v >= 0
                : key == K_OP ? scan_op(limits, &sc, msg)
                : scan_string(&sc, &str[key]);
        if (!ok) return false;
    } while (eat(&sc, ','));
    if (!eat(&sc, '}')) return false;
    skip_ws(&sc);
    if (sc.p != sc.end) return false;
    for (int i = 0; i < K_COUNT; i++)
        if (!seen[i]) return false;
    const span *t = &str[K_TYPE], *doc = &str[K_DOC], *id = &str[K_ID];
    if (t->escaped || t->len != 2 || memcmp(t->s, "op", 2) != 0) return false;
    if (!id_ok(id) || doc->escaped || !proto_doc_name_valid(doc->s, doc->len, limits->max_doc_name_bytes))
        return false;
    msg->type = PROTO_OP;
    memcpy(msg->id, id->s, id->len);
    msg->id[id->len] = '\0';
    msg->id_len = id->len;
    memcpy(msg->err_ref, msg->id, id->len + 1);
    msg->err_ref_len = id->len;
    msg->has_err_ref = true;
    memcpy(msg->doc, doc->s, doc->len);
    msg->doc[doc->len] = '\0';
    msg->doc_len = doc->len;
    msg->v = (uint64_t)v;
    msg->has_v = true;
    return true;
}
