/*
 * Property tests of the OT algebra and the text buffer, on random documents
 * that mix ASCII, JSON specials, combining marks, CJK, astral emoji and ZWJ
 * sequences. Each property runs ot_gen_case_count() cases (>= 10,000 by
 * default). A failure names RINGPAD_TEST_SEED and the case index; rerun with
 * RINGPAD_TEST_SEED=<seed> to reproduce, RINGPAD_TEST_CASES=<n> for more cases.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ringpad/ot.h>

#include "ot_gen.h"

#define FAIL_AT "RINGPAD_TEST_SEED=%" PRIu64 " case %" PRIu32 ": "

/* Salts keep the properties' random streams independent of one another. */
enum {
    SALT_APPLY = 1,
    SALT_TP1 = 2,
    SALT_TIE = 3,
    SALT_COMPOSE = 4,
    SALT_INVERT = 5,
    SALT_JSON = 6,
    SALT_POSITION = 7,
    SALT_TEXT_SMALL = 8,
    SALT_TEXT_LARGE = 9,
    SALT_TEXT_GROW = 10,
};

enum {
    MAX_INSERT_CODEPOINTS = 6,
    SMALL_TEXT_EDITS = 12,
    LARGE_TEXT_CODEPOINTS = 300000,
    LARGE_TEXT_EDITS = 300,
    LARGE_TEXT_CHECK_EVERY_EDITS = 50,
    GROW_TEXT_INSERTS = 3000,
    GROW_TEXT_CHECK_EVERY_INSERTS = 500,
    JSON_SPLIT_MAX_PARTS = 3,
};

static const char *S(const ot_buf *b) { return b->data != NULL ? b->data : ""; }

static bool buf_eq(const ot_buf *a, const ot_buf *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* A document length: mostly tiny (so that edits collide), sometimes larger. */
static uint64_t gen_doc_len(ot_gen_rng *rng) {
    const uint64_t roll = ot_gen_below(rng, 100);
    if (roll < 60) return ot_gen_below(rng, 9);
    if (roll < 90) return 9 + ot_gen_below(rng, 32);
    return 41 + ot_gen_below(rng, 260);
}

static void gen_doc(ot_gen_rng *rng, ot_buf *doc, uint64_t *len_codepoints) {
    ot_buf_clear(doc);
    *len_codepoints = gen_doc_len(rng);
    cr_assert_eq(ot_gen_text(rng, *len_codepoints, doc), OT_OK);
    cr_assert_eq(ot_gen_utf8_count(S(doc), doc->len), *len_codepoints);
}

/* Shared scratch so that each property body stays short. */
typedef struct prop {
    uint64_t seed;
    uint32_t cases;
    ot_gen_rng rng;
    ot_buf doc, r1, r2, r3, r4, msg1, msg2, msg3, msg4;
    ot_op a, b, a_prime, b_prime, c, d;
} prop;

static void prop_init(prop *p) {
    memset(p, 0, sizeof *p);
    p->seed = ot_gen_base_seed();
    p->cases = ot_gen_case_count();
    ot_buf *bufs[] = {&p->doc, &p->r1, &p->r2, &p->r3, &p->r4, &p->msg1, &p->msg2, &p->msg3, &p->msg4};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ot_buf_init(bufs[i]);
    ot_op *ops[] = {&p->a, &p->b, &p->a_prime, &p->b_prime, &p->c, &p->d};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) ot_op_init(ops[i]);
}

static void prop_fini(prop *p) {
    ot_buf *bufs[] = {&p->doc, &p->r1, &p->r2, &p->r3, &p->r4, &p->msg1, &p->msg2, &p->msg3, &p->msg4};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ot_buf_free(bufs[i]);
    ot_op *ops[] = {&p->a, &p->b, &p->a_prime, &p->b_prime, &p->c, &p->d};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) ot_op_free(ops[i]);
}

static void prop_case(prop *p, uint64_t salt, uint32_t index) {
    ot_gen_seed(&p->rng, ot_gen_case_seed(p->seed, salt, index));
}

/* out = apply(op, in) through the engine, asserting success. */
static void apply_ok(prop *p, uint32_t i, const ot_op *op, const ot_buf *in, ot_buf *out) {
    ot_buf_clear(out);
    int rc = ot_apply_utf8(op, S(in), in->len, out);
    cr_assert_eq(rc, OT_OK, FAIL_AT "apply %s to \"%s\" failed: %s", p->seed, i,
                 ot_gen_op_str(op, &p->msg4), S(in), ot_err_str(rc));
}

Test(ot_props, apply_matches_reference) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_APPLY, i);
        uint64_t n;
        gen_doc(&p.rng, &p.doc, &n);
        cr_assert_eq(ot_gen_op(&p.rng, n, MAX_INSERT_CODEPOINTS, &p.a), OT_OK);
        cr_assert_eq(p.a.base_len_codepoints, n);

        apply_ok(&p, i, &p.a, &p.doc, &p.r1);
        ot_buf_clear(&p.r2);
        cr_assert_eq(ot_gen_ref_apply(&p.a, S(&p.doc), p.doc.len, &p.r2), 0);
        cr_assert(buf_eq(&p.r1, &p.r2), FAIL_AT "apply %s to \"%s\": engine \"%s\", reference \"%s\"",
                  p.seed, i, ot_gen_op_str(&p.a, &p.msg1), S(&p.doc), S(&p.r1), S(&p.r2));
        cr_assert_eq(ot_gen_utf8_count(S(&p.r1), p.r1.len), p.a.target_len_codepoints,
                     FAIL_AT "target length of %s", p.seed, i, ot_gen_op_str(&p.a, &p.msg1));

        /* The in-place form on an ot_text agrees with the string form. */
        ot_text *t = ot_text_from_utf8(S(&p.doc), p.doc.len);
        cr_assert_not_null(t);
        cr_assert_eq(ot_apply(&p.a, t), OT_OK);
        cr_assert(ot_text_equals(t, S(&p.r2), p.r2.len),
                  FAIL_AT "ot_apply on ot_text disagrees for %s", p.seed, i, ot_gen_op_str(&p.a, &p.msg1));
        cr_assert_eq(ot_text_len_codepoints(t), p.a.target_len_codepoints);

        /* A mismatched base length is refused and leaves the text alone. */
        ot_buf_clear(&p.r3);
        cr_assert_eq(ot_gen_text(&p.rng, 1 + ot_gen_below(&p.rng, 3), &p.r3), OT_OK);
        ot_text *longer = ot_text_from_utf8(S(&p.r3), p.r3.len);
        cr_assert_not_null(longer);
        if (ot_text_len_codepoints(longer) != p.a.base_len_codepoints) {
            cr_assert_eq(ot_apply(&p.a, longer), OT_ERR_BASE_LENGTH, FAIL_AT "base length not checked",
                         p.seed, i);
            cr_assert(ot_text_equals(longer, S(&p.r3), p.r3.len), FAIL_AT "failed apply changed the text",
                      p.seed, i);
        }
        ot_text_free(longer);
        ot_text_free(t);
    }
    prop_fini(&p);
}

Test(ot_props, transform_converges_tp1) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_TP1, i);
        uint64_t n;
        gen_doc(&p.rng, &p.doc, &n);
        cr_assert_eq(ot_gen_op(&p.rng, n, MAX_INSERT_CODEPOINTS, &p.a), OT_OK);
        cr_assert_eq(ot_gen_op(&p.rng, n, MAX_INSERT_CODEPOINTS, &p.b), OT_OK);
        int rc = ot_transform(&p.a, &p.b, &p.a_prime, &p.b_prime);
        cr_assert_eq(rc, OT_OK, FAIL_AT "transform(%s, %s): %s", p.seed, i, ot_gen_op_str(&p.a, &p.msg1),
                     ot_gen_op_str(&p.b, &p.msg2), ot_err_str(rc));
        cr_assert_eq(p.a_prime.base_len_codepoints, p.b.target_len_codepoints, FAIL_AT "a' base", p.seed, i);
        cr_assert_eq(p.b_prime.base_len_codepoints, p.a.target_len_codepoints, FAIL_AT "b' base", p.seed, i);
        cr_assert_eq(p.a_prime.target_len_codepoints, p.b_prime.target_len_codepoints,
                     FAIL_AT "a' and b' targets differ", p.seed, i);

        apply_ok(&p, i, &p.a, &p.doc, &p.r1);
        apply_ok(&p, i, &p.b_prime, &p.r1, &p.r2);
        apply_ok(&p, i, &p.b, &p.doc, &p.r3);
        apply_ok(&p, i, &p.a_prime, &p.r3, &p.r4);
        cr_assert(buf_eq(&p.r2, &p.r4),
                  FAIL_AT "TP1 fails on \"%s\" with a=%s b=%s: a.b' = \"%s\", b.a' = \"%s\"", p.seed, i,
                  S(&p.doc), ot_gen_op_str(&p.a, &p.msg1), ot_gen_op_str(&p.b, &p.msg2), S(&p.r2), S(&p.r4));

        /* Transforming against a no-op changes nothing. */
        ot_op_clear(&p.c);
        cr_assert_eq(ot_op_retain(&p.c, n), OT_OK);
        cr_assert_eq(ot_transform(&p.a, &p.c, &p.a_prime, &p.b_prime), OT_OK);
        cr_assert(ot_op_equal(&p.a_prime, &p.a), FAIL_AT "transform(a, noop) = %s, a = %s", p.seed, i,
                  ot_gen_op_str(&p.a_prime, &p.msg1), ot_gen_op_str(&p.a, &p.msg2));
        cr_assert(ot_op_is_noop(&p.b_prime), FAIL_AT "noop' = %s", p.seed, i, ot_gen_op_str(&p.b_prime, &p.msg1));

        /* Different base lengths are refused. */
        ot_op_clear(&p.c);
        cr_assert_eq(ot_op_retain(&p.c, n + 1), OT_OK);
        cr_assert_eq(ot_transform(&p.a, &p.c, &p.a_prime, &p.b_prime), OT_ERR_TRANSFORM_MISMATCH,
                     FAIL_AT "transform with base %" PRIu64 " vs %" PRIu64, p.seed, i, n, n + 1);
    }
    prop_fini(&p);
}

/* Concurrent inserts at one position: the op being transformed (a) goes first. */
Test(ot_props, transform_tie_break_puts_a_first) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_TIE, i);
        uint64_t n;
        gen_doc(&p.rng, &p.doc, &n);
        const uint64_t at = ot_gen_below(&p.rng, n + 1);
        ot_buf_clear(&p.r1);
        ot_buf_clear(&p.r2);
        cr_assert_eq(ot_gen_text(&p.rng, 1 + ot_gen_below(&p.rng, 4), &p.r1), OT_OK);
        cr_assert_eq(ot_gen_text(&p.rng, 1 + ot_gen_below(&p.rng, 4), &p.r2), OT_OK);
        ot_op_clear(&p.a);
        ot_op_clear(&p.b);
        cr_assert_eq(ot_op_retain(&p.a, at), OT_OK);
        cr_assert_eq(ot_op_insert(&p.a, S(&p.r1), p.r1.len), OT_OK);
        cr_assert_eq(ot_op_retain(&p.a, n - at), OT_OK);
        cr_assert_eq(ot_op_retain(&p.b, at), OT_OK);
        cr_assert_eq(ot_op_insert(&p.b, S(&p.r2), p.r2.len), OT_OK);
        cr_assert_eq(ot_op_retain(&p.b, n - at), OT_OK);
        cr_assert_eq(ot_transform(&p.a, &p.b, &p.a_prime, &p.b_prime), OT_OK);

        /* expected = doc[..at] + a's text + b's text + doc[at..] */
        const size_t cut = ot_gen_utf8_offset(S(&p.doc), p.doc.len, at);
        ot_buf_clear(&p.r3);
        cr_assert_eq(ot_buf_append(&p.r3, S(&p.doc), cut), OT_OK);
        cr_assert_eq(ot_buf_append(&p.r3, S(&p.r1), p.r1.len), OT_OK);
        cr_assert_eq(ot_buf_append(&p.r3, S(&p.r2), p.r2.len), OT_OK);
        cr_assert_eq(ot_buf_append(&p.r3, S(&p.doc) + cut, p.doc.len - cut), OT_OK);

        ot_buf tmp;
        ot_buf_init(&tmp);
        apply_ok(&p, i, &p.b, &p.doc, &tmp);
        apply_ok(&p, i, &p.a_prime, &tmp, &p.r4);
        cr_assert(buf_eq(&p.r4, &p.r3), FAIL_AT "tie at %" PRIu64 " in \"%s\": a=%s b=%s gave \"%s\", want \"%s\"",
                  p.seed, i, at, S(&p.doc), ot_gen_op_str(&p.a, &p.msg1), ot_gen_op_str(&p.b, &p.msg2),
                  S(&p.r4), S(&p.r3));
        apply_ok(&p, i, &p.a, &p.doc, &tmp);
        apply_ok(&p, i, &p.b_prime, &tmp, &p.r4);
        cr_assert(buf_eq(&p.r4, &p.r3), FAIL_AT "tie (a then b') gave \"%s\", want \"%s\"", p.seed, i, S(&p.r4),
                  S(&p.r3));
        ot_buf_free(&tmp);
    }
    prop_fini(&p);
}

Test(ot_props, compose_equals_sequential_apply) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_COMPOSE, i);
        uint64_t n;
        gen_doc(&p.rng, &p.doc, &n);
        cr_assert_eq(ot_gen_op(&p.rng, n, MAX_INSERT_CODEPOINTS, &p.a), OT_OK);
        cr_assert_eq(ot_gen_op(&p.rng, p.a.target_len_codepoints, MAX_INSERT_CODEPOINTS, &p.b), OT_OK);
        int rc = ot_compose(&p.a, &p.b, &p.c);
        cr_assert_eq(rc, OT_OK, FAIL_AT "compose(%s, %s): %s", p.seed, i, ot_gen_op_str(&p.a, &p.msg1),
                     ot_gen_op_str(&p.b, &p.msg2), ot_err_str(rc));
        cr_assert_eq(p.c.base_len_codepoints, p.a.base_len_codepoints, FAIL_AT "compose base", p.seed, i);
        cr_assert_eq(p.c.target_len_codepoints, p.b.target_len_codepoints, FAIL_AT "compose target", p.seed, i);

        apply_ok(&p, i, &p.a, &p.doc, &p.r1);
        apply_ok(&p, i, &p.b, &p.r1, &p.r2);
        apply_ok(&p, i, &p.c, &p.doc, &p.r3);
        cr_assert(buf_eq(&p.r2, &p.r3),
                  FAIL_AT "compose on \"%s\": a=%s b=%s ab=%s gives \"%s\", sequential \"%s\"", p.seed, i,
                  S(&p.doc), ot_gen_op_str(&p.a, &p.msg1), ot_gen_op_str(&p.b, &p.msg2),
                  ot_gen_op_str(&p.c, &p.msg3), S(&p.r3), S(&p.r2));

        /* b's base must be a's target. */
        ot_op_clear(&p.d);
        cr_assert_eq(ot_op_retain(&p.d, p.a.target_len_codepoints + 1), OT_OK);
        cr_assert_eq(ot_compose(&p.a, &p.d, &p.c), OT_ERR_COMPOSE_MISMATCH, FAIL_AT "compose mismatch",
                     p.seed, i);
    }
    prop_fini(&p);
}

Test(ot_props, invert_undoes) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_INVERT, i);
        uint64_t n;
        gen_doc(&p.rng, &p.doc, &n);
        cr_assert_eq(ot_gen_op(&p.rng, n, MAX_INSERT_CODEPOINTS, &p.a), OT_OK);
        ot_text *t = ot_text_from_utf8(S(&p.doc), p.doc.len);
        cr_assert_not_null(t);
        int rc = ot_invert(&p.a, t, &p.b);
        cr_assert_eq(rc, OT_OK, FAIL_AT "invert(%s): %s", p.seed, i, ot_gen_op_str(&p.a, &p.msg1), ot_err_str(rc));
        cr_assert_eq(p.b.base_len_codepoints, p.a.target_len_codepoints, FAIL_AT "inverse base", p.seed, i);
        cr_assert_eq(p.b.target_len_codepoints, p.a.base_len_codepoints, FAIL_AT "inverse target", p.seed, i);

        apply_ok(&p, i, &p.a, &p.doc, &p.r1);
        apply_ok(&p, i, &p.b, &p.r1, &p.r2);
        cr_assert(buf_eq(&p.r2, &p.doc), FAIL_AT "undo of %s (inverse %s) on \"%s\" gave \"%s\"", p.seed, i,
                  ot_gen_op_str(&p.a, &p.msg1), ot_gen_op_str(&p.b, &p.msg2), S(&p.doc), S(&p.r2));

        /* In place on the text: apply, undo, back to the start. */
        cr_assert_eq(ot_apply(&p.a, t), OT_OK);
        cr_assert_eq(ot_apply(&p.b, t), OT_OK);
        cr_assert(ot_text_equals(t, S(&p.doc), p.doc.len), FAIL_AT "in-place undo", p.seed, i);

        /* Inverting the inverse (on the text after a) gives a back. */
        ot_text *after = ot_text_from_utf8(S(&p.r1), p.r1.len);
        cr_assert_not_null(after);
        cr_assert_eq(ot_invert(&p.b, after, &p.c), OT_OK);
        cr_assert(ot_op_equal(&p.c, &p.a), FAIL_AT "invert(invert(a)) = %s, a = %s", p.seed, i,
                  ot_gen_op_str(&p.c, &p.msg1), ot_gen_op_str(&p.a, &p.msg2));
        ot_text_free(after);
        ot_text_free(t);
    }
    prop_fini(&p);
}

/* ---- JSON: canonical round trip, and non-canonical spellings parse to it ---- */

static void json_puts(ot_buf *out, const char *s) { cr_assert_eq(ot_buf_append(out, s, strlen(s)), OT_OK); }

static void json_space(ot_gen_rng *rng, ot_buf *out) {
    static const char *const spaces[] = {" ", "\n", "\t", "\r\n ", "  "};
    if (ot_gen_chance(rng, 15)) json_puts(out, spaces[ot_gen_below(rng, 5)]);
}

static uint32_t utf8_decode(const unsigned char *s, size_t *len) {
    if (s[0] < 0x80) { *len = 1; return s[0]; }
    if (s[0] < 0xE0) { *len = 2; return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F); }
    if (s[0] < 0xF0) {
        *len = 3;
        return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
           (s[3] & 0x3F);
}

static void json_u_escape(ot_gen_rng *rng, ot_buf *out, uint32_t unit) {
    char tmp[8];
    snprintf(tmp, sizeof tmp, ot_gen_chance(rng, 50) ? "\\u%04x" : "\\u%04X", unit);
    json_puts(out, tmp);
}

/* One JSON string for `len` bytes of UTF-8: required escapes always, every
 * other code point at random raw, \uXXXX, or a surrogate pair. */
static void json_string(ot_gen_rng *rng, ot_buf *out, const char *utf8, size_t len) {
    json_puts(out, "\"");
    size_t at = 0;
    while (at < len) {
        size_t n;
        const uint32_t cp = utf8_decode((const unsigned char *)utf8 + at, &n);
        const bool escape = cp < 0x20 || cp == '"' || cp == '\\' || ot_gen_chance(rng, 30);
        if (!escape) {
            cr_assert_eq(ot_buf_append(out, utf8 + at, n), OT_OK);
        } else if (cp == '"') {
            json_puts(out, "\\\"");
        } else if (cp == '\\') {
            json_puts(out, ot_gen_chance(rng, 80) ? "\\\\" : "\\u005c");
        } else if (cp == '/' && ot_gen_chance(rng, 50)) {
            json_puts(out, "\\/");
        } else if (cp == '\n' && ot_gen_chance(rng, 50)) {
            json_puts(out, "\\n");
        } else if (cp == '\t' && ot_gen_chance(rng, 50)) {
            json_puts(out, "\\t");
        } else if (cp >= 0x10000) {
            const uint32_t v = cp - 0x10000;
            json_u_escape(rng, out, 0xD800 + (v >> 10));
            json_u_escape(rng, out, 0xDC00 + (v & 0x3FF));
        } else {
            json_u_escape(rng, out, cp);
        }
        at += n;
    }
    json_puts(out, "\"");
}

static void json_sep(ot_gen_rng *rng, ot_buf *out, bool *first) {
    if (!*first) {
        json_space(rng, out);
        json_puts(out, ",");
    }
    *first = false;
    json_space(rng, out);
}

/* A count split into up to JSON_SPLIT_MAX_PARTS parts (non-canonical). */
static void json_count(ot_gen_rng *rng, ot_buf *out, bool *first, uint64_t count, int sign) {
    uint64_t left = count;
    for (int part = 0; left > 0; part++) {
        uint64_t n = (part + 1 < JSON_SPLIT_MAX_PARTS && left > 1 && ot_gen_chance(rng, 30))
                         ? 1 + ot_gen_below(rng, left - 1)
                         : left;
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%s%" PRIu64, sign < 0 ? "-" : "", n);
        json_sep(rng, out, first);
        json_puts(out, tmp);
        left -= n;
    }
}

static void json_insert(ot_gen_rng *rng, ot_buf *out, bool *first, const char *utf8, size_t len) {
    /* Split at a code point boundary now and then. */
    size_t cut = len;
    if (ot_gen_chance(rng, 30)) {
        const uint64_t cps = ot_gen_utf8_count(utf8, len);
        if (cps > 1) cut = ot_gen_utf8_offset(utf8, len, 1 + ot_gen_below(rng, cps - 1));
    }
    json_sep(rng, out, first);
    json_string(rng, out, utf8, cut);
    if (cut < len) {
        json_sep(rng, out, first);
        json_string(rng, out, utf8 + cut, len - cut);
    }
}

/* A valid but non-canonical spelling of op: split runs, escapes, whitespace,
 * and a delete written before the insert that shares its position. */
static void json_scramble(ot_gen_rng *rng, const ot_op *op, ot_buf *out) {
    ot_buf_clear(out);
    json_space(rng, out);
    json_puts(out, "[");
    bool first = true;
    for (uint32_t i = 0; i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        const ot_component *next = i + 1 < op->count_components ? &op->components[i + 1] : NULL;
        if (c->kind == OT_INSERT && next != NULL && next->kind == OT_DELETE && ot_gen_chance(rng, 50)) {
            json_count(rng, out, &first, next->count_codepoints, -1);
            json_insert(rng, out, &first, op->text + c->text_offset_bytes, c->text_len_bytes);
            i++;
            continue;
        }
        if (c->kind == OT_INSERT) json_insert(rng, out, &first, op->text + c->text_offset_bytes, c->text_len_bytes);
        else json_count(rng, out, &first, c->count_codepoints, c->kind == OT_DELETE ? -1 : 1);
    }
    json_space(rng, out);
    json_puts(out, "]");
    json_space(rng, out);
}

Test(ot_props, json_round_trip) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_JSON, i);
        const uint64_t n = gen_doc_len(&p.rng);
        cr_assert_eq(ot_gen_op(&p.rng, n, MAX_INSERT_CODEPOINTS, &p.a), OT_OK);

        ot_buf_clear(&p.r1);
        cr_assert_eq(ot_op_to_json(&p.a, &p.r1), OT_OK);
        size_t err_at = 0;
        int rc = ot_op_parse_json(&p.b, S(&p.r1), p.r1.len, NULL, &err_at);
        cr_assert_eq(rc, OT_OK, FAIL_AT "parse of own output %s: %s at byte %zu", p.seed, i, S(&p.r1),
                     ot_err_str(rc), err_at);
        cr_assert(ot_op_equal(&p.a, &p.b), FAIL_AT "round trip of %s gave %s", p.seed, i, S(&p.r1),
                  ot_gen_op_str(&p.b, &p.msg1));
        cr_assert_eq(p.b.base_len_codepoints, p.a.base_len_codepoints);
        cr_assert_eq(p.b.target_len_codepoints, p.a.target_len_codepoints);
        ot_buf_clear(&p.r2);
        cr_assert_eq(ot_op_to_json(&p.b, &p.r2), OT_OK);
        cr_assert(buf_eq(&p.r1, &p.r2), FAIL_AT "serialization not stable: %s then %s", p.seed, i, S(&p.r1),
                  S(&p.r2));

        json_scramble(&p.rng, &p.a, &p.r3);
        rc = ot_op_parse_json(&p.c, S(&p.r3), p.r3.len, NULL, &err_at);
        cr_assert_eq(rc, OT_OK, FAIL_AT "parse of %s: %s at byte %zu", p.seed, i, S(&p.r3), ot_err_str(rc), err_at);
        cr_assert(ot_op_equal(&p.a, &p.c), FAIL_AT "%s parsed to %s, want canonical %s", p.seed, i, S(&p.r3),
                  ot_gen_op_str(&p.c, &p.msg1), S(&p.r1));
    }
    prop_fini(&p);
}

Test(ot_props, transform_position_bounds_order_reference) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_POSITION, i);
        const uint64_t n = gen_doc_len(&p.rng);
        cr_assert_eq(ot_gen_op(&p.rng, n, MAX_INSERT_CODEPOINTS, &p.a), OT_OK);
        const uint64_t target = p.a.target_len_codepoints;
        /* Up to 2 past the end: those clamp. */
        uint64_t pos[2] = {ot_gen_below(&p.rng, n + 3), ot_gen_below(&p.rng, n + 3)};
        if (pos[0] > pos[1]) {
            uint64_t t = pos[0];
            pos[0] = pos[1];
            pos[1] = t;
        }
        uint64_t moved[2][2];
        for (int s = 0; s < 2; s++) {
            const ot_side side = s == 0 ? OT_SIDE_BEFORE : OT_SIDE_AFTER;
            for (int k = 0; k < 2; k++) {
                moved[s][k] = ot_transform_position(pos[k], &p.a, side);
                cr_assert_leq(moved[s][k], target, FAIL_AT "position %" PRIu64 " through %s -> %" PRIu64 " > %" PRIu64,
                              p.seed, i, pos[k], ot_gen_op_str(&p.a, &p.msg1), moved[s][k], target);
                const uint64_t want = ot_gen_ref_position(pos[k], &p.a, side);
                cr_assert_eq(moved[s][k], want,
                             FAIL_AT "position %" PRIu64 " side %s through %s -> %" PRIu64 ", reference %" PRIu64,
                             p.seed, i, pos[k], s == 0 ? "before" : "after", ot_gen_op_str(&p.a, &p.msg1),
                             moved[s][k], want);
            }
            cr_assert_leq(moved[s][0], moved[s][1],
                          FAIL_AT "order lost: %" PRIu64 " <= %" PRIu64 " became %" PRIu64 " > %" PRIu64 " (%s)",
                          p.seed, i, pos[0], pos[1], moved[s][0], moved[s][1], ot_gen_op_str(&p.a, &p.msg1));
        }
        for (int k = 0; k < 2; k++)
            cr_assert_leq(moved[0][k], moved[1][k], FAIL_AT "side before > side after", p.seed, i);
    }
    prop_fini(&p);
}

/* ---- ot_text against a plain string ----------------------------------------- */

typedef struct text_model {
    ot_text *text;
    ot_buf ref;
    uint64_t ref_codepoints;
    ot_buf scratch;
    ot_buf piece;
} text_model;

static void model_init(text_model *m, const char *utf8, size_t len) {
    ot_buf_init(&m->ref);
    ot_buf_init(&m->scratch);
    ot_buf_init(&m->piece);
    cr_assert_eq(ot_buf_append(&m->ref, utf8, len), OT_OK);
    m->ref_codepoints = ot_gen_utf8_count(utf8, len);
    m->text = ot_text_from_utf8(utf8, len);
    cr_assert_not_null(m->text);
}

static void model_fini(text_model *m) {
    ot_text_free(m->text);
    ot_buf_free(&m->ref);
    ot_buf_free(&m->scratch);
    ot_buf_free(&m->piece);
}

/* Cheap checks after every edit: lengths and one byte offset. */
static void model_check_quick(text_model *m, ot_gen_rng *rng, uint64_t seed, uint32_t i) {
    cr_assert_eq(ot_text_len_codepoints(m->text), m->ref_codepoints, FAIL_AT "length in code points", seed, i);
    cr_assert_eq(ot_text_len_bytes(m->text), m->ref.len, FAIL_AT "length in bytes", seed, i);
    const uint64_t pos = ot_gen_below(rng, m->ref_codepoints + 1);
    uint64_t off = UINT64_MAX;
    cr_assert_eq(ot_text_byte_offset(m->text, pos, &off), OT_OK);
    cr_assert_eq(off, ot_gen_utf8_offset(S(&m->ref), m->ref.len, pos),
                 FAIL_AT "byte offset of code point %" PRIu64, seed, i, pos);
}

/* Full comparison: equals, to_buf and a random slice. */
static void model_check_full(text_model *m, ot_gen_rng *rng, uint64_t seed, uint32_t i) {
    model_check_quick(m, rng, seed, i);
    cr_assert(ot_text_equals(m->text, S(&m->ref), m->ref.len), FAIL_AT "text differs from reference", seed, i);
    ot_buf_clear(&m->scratch);
    cr_assert_eq(ot_text_to_buf(m->text, &m->scratch), OT_OK);
    cr_assert(buf_eq(&m->scratch, &m->ref), FAIL_AT "to_buf differs from reference", seed, i);
    const uint64_t start = ot_gen_below(rng, m->ref_codepoints + 1);
    const uint64_t count = ot_gen_below(rng, m->ref_codepoints - start + 1);
    ot_buf_clear(&m->scratch);
    cr_assert_eq(ot_text_slice(m->text, start, count, &m->scratch), OT_OK);
    const size_t from = ot_gen_utf8_offset(S(&m->ref), m->ref.len, start);
    const size_t to = from + ot_gen_utf8_offset(S(&m->ref) + from, m->ref.len - from, count);
    cr_assert_eq(m->scratch.len, to - from, FAIL_AT "slice [%" PRIu64 ", +%" PRIu64 ") length", seed, i, start, count);
    cr_assert(to == from || memcmp(m->scratch.data, S(&m->ref) + from, to - from) == 0,
              FAIL_AT "slice [%" PRIu64 ", +%" PRIu64 ") content", seed, i, start, count);
}

/* One random edit on both, with the engine's result checked. */
static void model_edit(text_model *m, ot_gen_rng *rng, uint64_t seed, uint32_t i, uint64_t max_insert,
                       uint64_t max_delete, unsigned insert_percent) {
    if (m->ref_codepoints == 0 || ot_gen_chance(rng, insert_percent)) {
        const uint64_t pos = ot_gen_below(rng, m->ref_codepoints + 1);
        const uint64_t count = 1 + ot_gen_below(rng, max_insert);
        ot_buf_clear(&m->piece);
        cr_assert_eq(ot_gen_text(rng, count, &m->piece), OT_OK);
        int rc = ot_text_insert(m->text, pos, S(&m->piece), m->piece.len, count);
        cr_assert_eq(rc, OT_OK, FAIL_AT "insert at %" PRIu64 ": %s", seed, i, pos, ot_err_str(rc));
        const size_t at = ot_gen_utf8_offset(S(&m->ref), m->ref.len, pos);
        ot_buf_clear(&m->scratch);
        cr_assert_eq(ot_buf_append(&m->scratch, S(&m->ref), at), OT_OK);
        cr_assert_eq(ot_buf_append(&m->scratch, S(&m->piece), m->piece.len), OT_OK);
        cr_assert_eq(ot_buf_append(&m->scratch, S(&m->ref) + at, m->ref.len - at), OT_OK);
        ot_buf t = m->ref;
        m->ref = m->scratch;
        m->scratch = t;
        m->ref_codepoints += count;
    } else {
        const uint64_t pos = ot_gen_below(rng, m->ref_codepoints);
        uint64_t count = 1 + ot_gen_below(rng, max_delete);
        if (count > m->ref_codepoints - pos) count = m->ref_codepoints - pos;
        int rc = ot_text_delete(m->text, pos, count);
        cr_assert_eq(rc, OT_OK, FAIL_AT "delete [%" PRIu64 ", +%" PRIu64 "): %s", seed, i, pos, count, ot_err_str(rc));
        const size_t from = ot_gen_utf8_offset(S(&m->ref), m->ref.len, pos);
        const size_t to = from + ot_gen_utf8_offset(S(&m->ref) + from, m->ref.len - from, count);
        memmove(m->ref.data + from, m->ref.data + to, m->ref.len - to);
        m->ref.len -= to - from;
        m->ref.data[m->ref.len] = '\0';
        m->ref_codepoints -= count;
    }
    /* Out-of-range edits are refused. */
    cr_assert_eq(ot_text_delete(m->text, m->ref_codepoints, 1), OT_ERR_RANGE, FAIL_AT "delete past the end", seed, i);
    cr_assert_eq(ot_text_insert(m->text, m->ref_codepoints + 1, "x", 1, 1), OT_ERR_RANGE,
                 FAIL_AT "insert past the end", seed, i);
}

Test(ot_props, text_small_edits_match_string) {
    prop p;
    prop_init(&p);
    for (uint32_t i = 0; i < p.cases; i++) {
        prop_case(&p, SALT_TEXT_SMALL, i);
        uint64_t n;
        gen_doc(&p.rng, &p.doc, &n);
        text_model m;
        model_init(&m, S(&p.doc), p.doc.len);
        model_check_full(&m, &p.rng, p.seed, i);
        for (int e = 0; e < SMALL_TEXT_EDITS; e++) {
            model_edit(&m, &p.rng, p.seed, i, 8, 8, 50);
            model_check_full(&m, &p.rng, p.seed, i);
        }
        model_fini(&m);
    }
    prop_fini(&p);
}

/* A large text (hundreds of KB): edits far apart, compared in full now and then. */
Test(ot_props, text_large_edits_match_string) {
    prop p;
    prop_init(&p);
    prop_case(&p, SALT_TEXT_LARGE, 0);
    cr_assert_eq(ot_gen_text(&p.rng, LARGE_TEXT_CODEPOINTS, &p.doc), OT_OK);
    text_model m;
    model_init(&m, S(&p.doc), p.doc.len);
    model_check_full(&m, &p.rng, p.seed, 0);
    for (uint32_t e = 1; e <= LARGE_TEXT_EDITS; e++) {
        /* Mostly small edits, a few that cut big ranges. */
        const uint64_t max_delete = ot_gen_chance(&p.rng, 5) ? 20000 : 30;
        model_edit(&m, &p.rng, p.seed, e, 40, max_delete, 55);
        model_check_quick(&m, &p.rng, p.seed, e);
        if (e % LARGE_TEXT_CHECK_EVERY_EDITS == 0) model_check_full(&m, &p.rng, p.seed, e);
    }
    model_fini(&m);
    prop_fini(&p);
}

/* A text grown from nothing by many inserts (exercises the index as it splits). */
Test(ot_props, text_grown_by_inserts_matches_string) {
    prop p;
    prop_init(&p);
    prop_case(&p, SALT_TEXT_GROW, 0);
    text_model m;
    model_init(&m, "", 0);
    for (uint32_t e = 1; e <= GROW_TEXT_INSERTS; e++) {
        model_edit(&m, &p.rng, p.seed, e, 40, 10, 90);
        if (e % GROW_TEXT_CHECK_EVERY_INSERTS == 0) model_check_full(&m, &p.rng, p.seed, e);
    }
    model_check_full(&m, &p.rng, p.seed, GROW_TEXT_INSERTS);
    model_fini(&m);
    prop_fini(&p);
}
