/* Helpers shared by the OT engine's unit suites (test_ot_*.c). */
#ifndef RINGPAD_OT_TEST_UTIL_H
#define RINGPAD_OT_TEST_UTIL_H

#include <criterion/criterion.h>
#include <string.h>

#include "ringpad/ot.h"

/* Parses `json` (must be valid) into a fresh op the caller frees. */
static inline ot_op ot_t_parse(const char *json) {
    ot_op op;
    ot_op_init(&op);
    size_t off = 0;
    int rc = ot_op_parse_json(&op, json, strlen(json), NULL, &off);
    cr_assert_eq(rc, OT_OK, "parse %s: %s at %zu", json, ot_err_str(rc), off);
    return op;
}

/* Asserts the canonical JSON of op. */
static inline void ot_t_expect_json(const ot_op *op, const char *expected) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_op_to_json(op, &b), OT_OK);
    cr_assert_str_eq(b.data, expected);
    ot_buf_free(&b);
}

/* Asserts apply(op, doc) == expected through both apply paths. */
static inline void ot_t_expect_apply(const ot_op *op, const char *doc, const char *expected) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_apply_utf8(op, doc, strlen(doc), &b), OT_OK);
    cr_assert_str_eq(b.data, expected);
    ot_buf_free(&b);
    ot_text *t = ot_text_from_utf8(doc, strlen(doc));
    cr_assert_not_null(t);
    cr_assert_eq(ot_apply(op, t), OT_OK);
    cr_assert(ot_text_equals(t, expected, strlen(expected)));
    ot_text_free(t);
}

/* xorshift64*: a tiny seeded PRNG for reproducible randomized checks. */
static inline uint64_t ot_t_rand(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline uint64_t ot_t_below(uint64_t *state, uint64_t n) {
    return n ? ot_t_rand(state) % n : 0;
}

#endif
