/* apply, compose, transform (with its tie-break), invert and position
 * transform: worked examples with multi-byte and astral code points, every
 * error path, and a small seeded cross-check of the laws (the large property
 * runs live in test_ot_props.c). */
#include <stdlib.h>

#include "ot_test_util.h"

static void expect_text(const ot_text *t, const char *s) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_text_to_buf(t, &b), OT_OK);
    cr_assert_str_eq(b.data, s);
    ot_buf_free(&b);
}

Test(ot_algebra, apply_examples) {
    ot_op op = ot_t_parse("[5,\" world\"]");
    ot_t_expect_apply(&op, "hello", "hello world");
    ot_op_free(&op);
    /* a 😀 中 é: replace the emoji with 🎉. */
    op = ot_t_parse("[1,\"\xf0\x9f\x8e\x89\",-1,2]");
    ot_t_expect_apply(&op, "a\xf0\x9f\x98\x80\xe4\xb8\xad\xc3\xa9", "a\xf0\x9f\x8e\x89\xe4\xb8\xad\xc3\xa9");
    ot_op_free(&op);
    /* Code points, not graphemes: delete only the combining acute of e + U+0301. */
    op = ot_t_parse("[1,-1,1]");
    ot_t_expect_apply(&op, "e\xcc\x81x", "ex");
    ot_op_free(&op);
    op = ot_t_parse("[]");
    ot_t_expect_apply(&op, "", "");
    ot_op_free(&op);
    op = ot_t_parse("[-3]");
    ot_t_expect_apply(&op, "\xe4\xb8\xad\xe6\x96\x87!", "");
    ot_op_free(&op);
}

Test(ot_algebra, apply_base_length_mismatch_changes_nothing) {
    ot_op op = ot_t_parse("[3,\"x\"]");
    ot_text *t = ot_text_from_utf8("hello", 5);
    cr_assert_eq(ot_apply(&op, t), OT_ERR_BASE_LENGTH);
    expect_text(t, "hello");
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_buf_append(&b, "keep", 4), OT_OK);
    cr_assert_eq(ot_apply_utf8(&op, "hello", 5, &b), OT_ERR_BASE_LENGTH);
    cr_assert_str_eq(b.data, "keep");
    /* Bytes vs code points: "h😀" is 2 code points, 5 bytes. */
    cr_assert_eq(ot_apply_utf8(&op, "h\xf0\x9f\x98\x80", 5, &b), OT_ERR_BASE_LENGTH);
    cr_assert_eq(ot_apply_utf8(&op, "ab\xff", 3, &b), OT_ERR_BAD_UTF8);
    cr_assert_str_eq(b.data, "keep");
    ot_buf_free(&b);
    ot_text_free(t);
    ot_op_free(&op);
}

static void expect_compose(const char *doc, const char *a_json, const char *b_json, const char *want) {
    ot_op a = ot_t_parse(a_json), b = ot_t_parse(b_json), ab;
    ot_op_init(&ab);
    cr_assert_eq(ot_compose(&a, &b, &ab), OT_OK);
    ot_t_expect_json(&ab, want);
    ot_buf mid, end;
    ot_buf_init(&mid);
    ot_buf_init(&end);
    cr_assert_eq(ot_apply_utf8(&a, doc, strlen(doc), &mid), OT_OK);
    cr_assert_eq(ot_apply_utf8(&b, mid.data, mid.len, &end), OT_OK);
    ot_t_expect_apply(&ab, doc, end.data);
    ot_buf_free(&mid);
    ot_buf_free(&end);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&ab);
}

Test(ot_algebra, compose_examples) {
    expect_compose("abc", "[3,\"x\"]", "[-1,3]", "[-1,2,\"x\"]");
    expect_compose("", "[\"abc\"]", "[1,-1,1]", "[\"ac\"]");       /* insert then delete cancels */
    expect_compose("x", "[1,\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"]", "[2,-1]", "[1,\"\xf0\x9f\x98\x80\"]");
    expect_compose("abcd", "[-2,2]", "[\"\xe4\xb8\xad\",2]", "[\"\xe4\xb8\xad\",-2,2]");
    expect_compose("abcd", "[4]", "[4]", "[4]");
    expect_compose("", "[]", "[]", "[]");
}

Test(ot_algebra, compose_mismatch) {
    ot_op a = ot_t_parse("[3]"), b = ot_t_parse("[4]"), out = ot_t_parse("[1]");
    cr_assert_eq(ot_compose(&a, &b, &out), OT_ERR_COMPOSE_MISMATCH);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&out);
}

static void expect_transform(const char *doc, const char *a_json, const char *b_json,
                             const char *a2_json, const char *b2_json, const char *result) {
    ot_op a = ot_t_parse(a_json), b = ot_t_parse(b_json), a2, b2;
    ot_op_init(&a2);
    ot_op_init(&b2);
    cr_assert_eq(ot_transform(&a, &b, &a2, &b2), OT_OK);
    ot_t_expect_json(&a2, a2_json);
    ot_t_expect_json(&b2, b2_json);
    ot_buf x, y;
    ot_buf_init(&x);
    ot_buf_init(&y);
    cr_assert_eq(ot_apply_utf8(&a, doc, strlen(doc), &x), OT_OK);
    ot_t_expect_apply(&b2, x.data, result);
    cr_assert_eq(ot_apply_utf8(&b, doc, strlen(doc), &y), OT_OK);
    ot_t_expect_apply(&a2, y.data, result);
    ot_buf_free(&x);
    ot_buf_free(&y);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&a2);
    ot_op_free(&b2);
}

Test(ot_algebra, transform_tie_break_puts_a_first) {
    expect_transform("", "[\"A\"]", "[\"B\"]", "[\"A\",1]", "[1,\"B\"]", "AB");
    /* Swapping the roles swaps the order: the op being ordered always goes first. */
    expect_transform("", "[\"B\"]", "[\"A\"]", "[\"B\",1]", "[1,\"A\"]", "BA");
    expect_transform("abc", "[1,\"x\",2]", "[1,\"y\",2]", "[1,\"x\",3]", "[2,\"y\",2]", "axybc");
    /* Astral and CJK at the same position. */
    expect_transform("\xf0\x9f\x98\x80", "[1,\"\xf0\x9f\x8e\x89\"]", "[1,\"\xe4\xb8\xad\"]",
                     "[1,\"\xf0\x9f\x8e\x89\",1]", "[2,\"\xe4\xb8\xad\"]",
                     "\xf0\x9f\x98\x80\xf0\x9f\x8e\x89\xe4\xb8\xad");
}

Test(ot_algebra, transform_examples) {
    /* Overlapping deletes: each side deletes only what the other did not. */
    expect_transform("abcdef", "[1,-3,2]", "[2,-3,1]", "[1,-1,1]", "[1,-1,1]", "af");
    /* A delete around a concurrent insert keeps the insert. */
    expect_transform("abcdef", "[1,-4,1]", "[3,\"XY\",3]", "[1,-2,2,-2,1]", "[1,\"XY\",1]", "aXYf");
    /* Same delete on both sides. */
    expect_transform("abc", "[-3]", "[-3]", "[]", "[]", "");
    /* Disjoint edits with multi-byte text. */
    expect_transform("\xf0\x9f\x98\x80", "[1,\"\xf0\x9f\x8e\x89\"]", "[\"\xe4\xb8\xad\",1]",
                     "[2,\"\xf0\x9f\x8e\x89\"]", "[\"\xe4\xb8\xad\",2]",
                     "\xe4\xb8\xad\xf0\x9f\x98\x80\xf0\x9f\x8e\x89");
    /* Insert inside text the other deletes. */
    expect_transform("abcd", "[2,\"\xc3\xa9\",2]", "[-4]", "[\"\xc3\xa9\"]", "[-2,1,-2]", "\xc3\xa9");
}

Test(ot_algebra, transform_mismatch_and_null_half) {
    ot_op a = ot_t_parse("[2]"), b = ot_t_parse("[3]"), a2, b2;
    ot_op_init(&a2);
    ot_op_init(&b2);
    cr_assert_eq(ot_transform(&a, &b, &a2, &b2), OT_ERR_TRANSFORM_MISMATCH);
    ot_op_free(&a);
    ot_op_free(&b);
    a = ot_t_parse("[1,\"x\",1]");
    b = ot_t_parse("[-2]");
    cr_assert_eq(ot_transform(&a, &b, &a2, NULL), OT_OK);
    ot_t_expect_json(&a2, "[\"x\"]");
    cr_assert_eq(ot_transform(&a, &b, NULL, &b2), OT_OK);
    ot_t_expect_json(&b2, "[-1,1,-1]");
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&a2);
    ot_op_free(&b2);
}

Test(ot_algebra, invert_examples) {
    const char *doc = "h\xf0\x9f\x98\x80llo";
    ot_text *t = ot_text_from_utf8(doc, strlen(doc));
    ot_op op = ot_t_parse("[1,\"e\",-1,3]"), inv;
    ot_op_init(&inv);
    cr_assert_eq(ot_invert(&op, t, &inv), OT_OK);
    ot_t_expect_json(&inv, "[1,\"\xf0\x9f\x98\x80\",-1,3]");
    cr_assert_eq(ot_apply(&op, t), OT_OK);
    expect_text(t, "hello");
    cr_assert_eq(ot_apply(&inv, t), OT_OK);
    expect_text(t, doc);
    ot_op_free(&op);
    /* Base length mismatch. */
    op = ot_t_parse("[2]");
    cr_assert_eq(ot_invert(&op, t, &inv), OT_ERR_BASE_LENGTH);
    ot_op_free(&op);
    ot_op_free(&inv);
    ot_text_free(t);
}

Test(ot_algebra, transform_position_examples) {
    ot_op op = ot_t_parse("[2,\"ab\",3]");
    cr_assert_eq(ot_transform_position(0, &op, OT_SIDE_BEFORE), 0);
    cr_assert_eq(ot_transform_position(2, &op, OT_SIDE_BEFORE), 2);
    cr_assert_eq(ot_transform_position(2, &op, OT_SIDE_AFTER), 4);
    cr_assert_eq(ot_transform_position(3, &op, OT_SIDE_BEFORE), 5);
    cr_assert_eq(ot_transform_position(5, &op, OT_SIDE_BEFORE), 7);
    cr_assert_eq(ot_transform_position(99, &op, OT_SIDE_BEFORE), 7); /* clamped */
    ot_op_free(&op);
    op = ot_t_parse("[1,-3,1]");
    uint64_t want[] = { 0, 1, 1, 1, 1, 2 };
    for (uint64_t p = 0; p <= 5; p++)
        cr_assert_eq(ot_transform_position(p, &op, OT_SIDE_AFTER), want[p], "pos %lu", (unsigned long)p);
    ot_op_free(&op);
    op = ot_t_parse("[\"x\",-2,1]");
    cr_assert_eq(ot_transform_position(0, &op, OT_SIDE_BEFORE), 0);
    cr_assert_eq(ot_transform_position(0, &op, OT_SIDE_AFTER), 1);
    cr_assert_eq(ot_transform_position(2, &op, OT_SIDE_BEFORE), 1);
    cr_assert_eq(ot_transform_position(3, &op, OT_SIDE_BEFORE), 2);
    ot_op_free(&op);
    /* Insert at the end of the document. */
    op = ot_t_parse("[2,\"\xf0\x9f\x98\x80\"]");
    cr_assert_eq(ot_transform_position(2, &op, OT_SIDE_BEFORE), 2);
    cr_assert_eq(ot_transform_position(2, &op, OT_SIDE_AFTER), 3);
    ot_op_free(&op);
}

/* ---- a small seeded cross-check of the laws ---------------------------------------- */

static const char *const pieces[] = { "a", "b", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
                                      "\xcc\x81", " " };

static void random_string(uint64_t *rng, ot_buf *out, uint64_t cps) {
    for (uint64_t i = 0; i < cps; i++) {
        const char *p = pieces[ot_t_below(rng, 7)];
        cr_assert_eq(ot_buf_append(out, p, strlen(p)), OT_OK);
    }
}

static void random_op(uint64_t *rng, uint64_t base, ot_op *op) {
    ot_op_clear(op);
    ot_buf s;
    ot_buf_init(&s);
    uint64_t left = base;
    for (int guard = 0; guard < 64 && (left || ot_t_below(rng, 2)); guard++) {
        uint64_t k = ot_t_below(rng, 3);
        uint64_t n = 1 + ot_t_below(rng, left < 5 ? 5 : left);
        if (k == 0 && left) {
            n = n > left ? left : n;
            cr_assert_eq(ot_op_retain(op, n), OT_OK);
            left -= n;
        } else if (k == 1 && left) {
            n = n > left ? left : n;
            cr_assert_eq(ot_op_delete(op, n), OT_OK);
            left -= n;
        } else {
            ot_buf_clear(&s);
            random_string(rng, &s, 1 + ot_t_below(rng, 4));
            cr_assert_eq(ot_op_insert(op, s.data, s.len), OT_OK);
        }
    }
    cr_assert_eq(ot_op_retain(op, left), OT_OK);
    ot_buf_free(&s);
}

static void apply_ok(const ot_op *op, const ot_buf *in, ot_buf *out) {
    ot_buf_clear(out);
    cr_assert_eq(ot_apply_utf8(op, in->data, in->len, out), OT_OK);
}

Test(ot_algebra, seeded_laws_cross_check) {
    uint64_t seed = 0xa1b2c3d4;
    const char *env = getenv("OT_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    uint64_t rng = seed;
    ot_op a, b, a2, b2, ab, inv;
    ot_op_init(&a);
    ot_op_init(&b);
    ot_op_init(&a2);
    ot_op_init(&b2);
    ot_op_init(&ab);
    ot_op_init(&inv);
    ot_buf d, x, y, z;
    ot_buf_init(&d);
    ot_buf_init(&x);
    ot_buf_init(&y);
    ot_buf_init(&z);
    for (int i = 0; i < 500; i++) {
        ot_buf_clear(&d);
        uint64_t len = ot_t_below(&rng, 30);
        random_string(&rng, &d, len);
        random_op(&rng, len, &a);
        random_op(&rng, len, &b);
        /* TP1 */
        cr_assert_eq(ot_transform(&a, &b, &a2, &b2), OT_OK);
        apply_ok(&a, &d, &x);
        apply_ok(&b2, &x, &y);
        apply_ok(&b, &d, &x);
        apply_ok(&a2, &x, &z);
        cr_assert_str_eq(y.data, z.data, "seed %#lx case %d", (unsigned long)seed, i);
        /* compose */
        apply_ok(&a, &d, &x);
        random_op(&rng, a.target_len_codepoints, &b);
        cr_assert_eq(ot_compose(&a, &b, &ab), OT_OK);
        apply_ok(&b, &x, &y);
        apply_ok(&ab, &d, &z);
        cr_assert_str_eq(y.data, z.data, "seed %#lx case %d", (unsigned long)seed, i);
        /* invert, through the indexed text */
        ot_text *t = ot_text_from_utf8(d.data, d.len);
        cr_assert_eq(ot_invert(&a, t, &inv), OT_OK);
        cr_assert_eq(ot_apply(&a, t), OT_OK);
        cr_assert(ot_text_equals(t, x.data, x.len));
        cr_assert_eq(ot_apply(&inv, t), OT_OK);
        cr_assert(ot_text_equals(t, d.data, d.len), "seed %#lx case %d", (unsigned long)seed, i);
        ot_text_free(t);
        /* canonical JSON round trip */
        ot_buf_clear(&x);
        cr_assert_eq(ot_op_to_json(&ab, &x), OT_OK);
        cr_assert_eq(ot_op_parse_json(&inv, x.data, x.len, NULL, NULL), OT_OK);
        cr_assert(ot_op_equal(&inv, &ab), "%s", x.data);
    }
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&a2);
    ot_op_free(&b2);
    ot_op_free(&ab);
    ot_op_free(&inv);
    ot_buf_free(&d);
    ot_buf_free(&x);
    ot_buf_free(&y);
    ot_buf_free(&z);
}
