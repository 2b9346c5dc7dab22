/*
 * libFuzzer target for the OT engine: op parsing, apply, transform, compose,
 * invert, position transform, canonical JSON and the document's submit.
 * Input: document text, NUL, op A JSON, NUL, op B JSON. Ops are padded with a
 * trailing retain (and the document with "x") so their base lengths match,
 * then every law is checked; a violation traps.
 *   ./zigw build fuzz -Dfuzz-seconds=N
 */
#include <stdlib.h>
#include <string.h>

#include "ringpad/ot.h"

#define REQUIRE(cond)            \
    do {                         \
        if (!(cond))             \
            __builtin_trap();    \
    } while (0)

enum { max_doc_codepoints = 1 << 14 };

typedef struct ctx {
    ot_op a, b, a2, b2, ab, inv, tmp;
    ot_buf d, x, y, z;
} ctx;

/* Splits at the next NUL (or the end). */
static const uint8_t *next_part(const uint8_t **data, size_t *size, size_t *len) {
    const uint8_t *start = *data;
    const uint8_t *nul = memchr(start, 0, *size);
    *len = nul ? (size_t)(nul - start) : *size;
    *data += *len + (nul ? 1 : 0);
    *size -= *len + (nul ? 1 : 0);
    return start;
}

static void apply_ok(const ot_op *op, const ot_buf *in, ot_buf *out) {
    ot_buf_clear(out);
    REQUIRE(ot_apply_utf8(op, in->data, in->len, out) == OT_OK);
}

/* The document: a at v0, then b from v0 is transformed past a. */
static void check_doc(ctx *c, const ot_limits *limits) {
    ot_doc *doc = ot_doc_new(limits, 0, c->d.data, c->d.len);
    REQUIRE(doc != NULL);
    ot_submit_result res;
    ot_op_init(&res.op);
    REQUIRE(ot_doc_submit(doc, 0, &c->a, "a", 1, NULL, 0, 0, &res) == OT_OK);
    int rc = ot_doc_submit(doc, 0, &c->b, "b", 1, NULL, 0, 0, &res);
    REQUIRE(ot_transform(&c->b, &c->a, &c->tmp, NULL) == OT_OK);
    if (c->tmp.target_len_codepoints > max_doc_codepoints) {
        REQUIRE(rc == OT_ERR_TOO_LARGE);
    } else {
        REQUIRE(rc == OT_OK && ot_op_equal(&res.op, &c->tmp));
        apply_ok(&c->a, &c->d, &c->x);
        apply_ok(&c->tmp, &c->x, &c->y);
        REQUIRE(ot_text_equals(ot_doc_text(doc), c->y.data, c->y.len));
        ot_buf_clear(&c->z);
        REQUIRE(ot_doc_text_at(doc, 0, &c->z) == OT_OK);
        REQUIRE(c->z.len == c->d.len && memcmp(c->z.data, c->d.data, c->d.len) == 0);
    }
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

static void run(ctx *c, const uint8_t *data, size_t size) {
    ot_limits limits = ot_limits_default();
    limits.max_doc_codepoints = max_doc_codepoints;
    limits.max_op_bytes = 1 << 16;
    limits.max_op_components = 4096;
    limits.history_depth = 4;

    size_t dl, al, bl;
    const uint8_t *dp = next_part(&data, &size, &dl);
    const uint8_t *ap = next_part(&data, &size, &al);
    const uint8_t *bp = next_part(&data, &size, &bl);

    ot_text *dt = ot_text_from_utf8((const char *)dp, dl);
    if (!dt)
        return; /* not valid UTF-8: nothing to check beyond not crashing */
    uint64_t dlen = ot_text_len_codepoints(dt);
    ot_text_free(dt);
    size_t off = 0;
    int rc_a = ot_op_parse_json(&c->a, (const char *)ap, al, &limits, &off);
    REQUIRE(rc_a == OT_OK || off <= al);
    int rc_b = ot_op_parse_json(&c->b, (const char *)bp, bl, &limits, &off);
    REQUIRE(rc_b == OT_OK || off <= bl);
    if (rc_a || rc_b || dlen > max_doc_codepoints)
        return;

    /* Canonical JSON round trip. */
    ot_buf_clear(&c->x);
    REQUIRE(ot_op_to_json(&c->a, &c->x) == OT_OK);
    REQUIRE(ot_op_parse_json(&c->tmp, c->x.data, c->x.len, &limits, NULL) == OT_OK);
    REQUIRE(ot_op_equal(&c->tmp, &c->a));

    /* Pad to one base length. */
    uint64_t base = dlen;
    if (c->a.base_len_codepoints > base)
        base = c->a.base_len_codepoints;
    if (c->b.base_len_codepoints > base)
        base = c->b.base_len_codepoints;
    if (base > max_doc_codepoints)
        return;
    REQUIRE(ot_op_retain(&c->a, base - c->a.base_len_codepoints) == OT_OK);
    REQUIRE(ot_op_retain(&c->b, base - c->b.base_len_codepoints) == OT_OK);
    ot_buf_clear(&c->d);
    REQUIRE(ot_buf_append(&c->d, (const char *)dp, dl) == OT_OK);
    for (uint64_t i = dlen; i < base; i++)
        REQUIRE(ot_buf_append(&c->d, "x", 1) == OT_OK);

    /* apply through the indexed text == apply on the flat string. */
    ot_text *t = ot_text_from_utf8(c->d.data, c->d.len);
    REQUIRE(t != NULL);
    REQUIRE(ot_invert(&c->a, t, &c->inv) == OT_OK);
    apply_ok(&c->a, &c->d, &c->x); /* x = d.a */
    REQUIRE(ot_apply(&c->a, t) == OT_OK);
    REQUIRE(ot_text_equals(t, c->x.data, c->x.len));
    REQUIRE(ot_text_len_codepoints(t) == c->a.target_len_codepoints);
    /* invert */
    REQUIRE(ot_apply(&c->inv, t) == OT_OK);
    REQUIRE(ot_text_equals(t, c->d.data, c->d.len));
    ot_text_free(t);

    /* TP1 */
    REQUIRE(ot_transform(&c->a, &c->b, &c->a2, &c->b2) == OT_OK);
    apply_ok(&c->b2, &c->x, &c->y);       /* y = d.a.b' */
    apply_ok(&c->b, &c->d, &c->z);        /* z = d.b */
    apply_ok(&c->a2, &c->z, &c->x);       /* x = d.b.a' */
    REQUIRE(c->x.len == c->y.len && memcmp(c->x.data, c->y.data, c->x.len) == 0);

    /* compose: d.(a∘b') == d.a.b' */
    REQUIRE(ot_compose(&c->a, &c->b2, &c->ab) == OT_OK);
    apply_ok(&c->ab, &c->d, &c->z);
    REQUIRE(c->z.len == c->y.len && memcmp(c->z.data, c->y.data, c->z.len) == 0);

    /* Positions stay in bounds and keep their order. */
    uint64_t prev = 0;
    for (uint64_t p = 0; p <= base && p < 256; p++) {
        uint64_t q = ot_transform_position(p, &c->a, OT_SIDE_BEFORE);
        uint64_t r = ot_transform_position(p, &c->a, OT_SIDE_AFTER);
        REQUIRE(q <= c->a.target_len_codepoints && r <= c->a.target_len_codepoints);
        REQUIRE(q <= r && q >= prev);
        prev = q;
    }

    check_doc(c, &limits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ctx c;
    ot_op *ops[] = { &c.a, &c.b, &c.a2, &c.b2, &c.ab, &c.inv, &c.tmp };
    ot_buf *bufs[] = { &c.d, &c.x, &c.y, &c.z };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ot_op_init(ops[i]);
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ot_buf_init(bufs[i]);
    run(&c, data, size);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ot_op_free(ops[i]);
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ot_buf_free(bufs[i]);
    return 0;
}
