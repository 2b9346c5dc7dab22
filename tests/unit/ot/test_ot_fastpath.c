/*
 * The transform's shortcuts (no-op ops, two one-site ops) against its general
 * component walk, and the claim that transforming small ops into reused
 * output ops allocates nothing (counted through the op allocator hook).
 * Random cases follow ot_gen's seeding: a failure names RINGPAD_TEST_SEED and
 * the case index.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ot_gen.h"
#include "ot_internal.h"
#include "ot_test_util.h"

#define FAIL_AT "RINGPAD_TEST_SEED=%" PRIu64 " case %" PRIu32 ": "

enum {
    SALT_SITES = 101,
    SALT_ALLOC = 102,
    MAX_DOC_CODEPOINTS = 12,
    MAX_EDIT_CODEPOINTS = 4,
    ALLOC_TRANSFORMS = 20000,
};

/* An op of one of the shapes the shortcuts take (no-op, one insert, one
 * delete), sometimes a replace or a general random op that they must pass on. */
static void gen_small_op(ot_gen_rng *rng, uint64_t len, ot_op *op) {
    ot_op_clear(op);
    uint64_t shape = ot_gen_below(rng, 10);
    if (shape == 9) {
        cr_assert_eq(ot_gen_op(rng, len, MAX_EDIT_CODEPOINTS, op), OT_OK);
        return;
    }
    uint64_t pos = ot_gen_below(rng, len + 1);
    uint64_t del = shape >= 3 && pos < len ? 1 + ot_gen_below(rng, len - pos) : 0;
    if (del > MAX_EDIT_CODEPOINTS) del = MAX_EDIT_CODEPOINTS;
    bool insert = shape == 0 || shape == 1 || shape == 2 || shape == 8 || del == 0;
    if (shape == 7) {
        insert = false;
        del = 0; /* a no-op */
    }
    cr_assert_eq(ot_op_retain(op, pos), OT_OK);
    if (insert) {
        ot_buf text;
        ot_buf_init(&text);
        cr_assert_eq(ot_gen_text(rng, 1 + ot_gen_below(rng, MAX_EDIT_CODEPOINTS), &text), OT_OK);
        cr_assert_eq(ot_op_insert(op, text.data, text.len), OT_OK);
        ot_buf_free(&text);
    }
    if (shape != 7 && (!insert || shape == 8))
        cr_assert_eq(ot_op_delete(op, del), OT_OK);
    cr_assert_eq(ot_op_retain(op, len - op->base_len_codepoints), OT_OK);
    cr_assert_eq(op->base_len_codepoints, len);
}

static void assert_same(uint64_t seed, uint32_t i, const char *what, const ot_op *fast,
                        const ot_op *general, const ot_op *a, const ot_op *b) {
    ot_buf m1, m2, m3, m4;
    ot_buf_init(&m1);
    ot_buf_init(&m2);
    ot_buf_init(&m3);
    ot_buf_init(&m4);
    cr_assert(ot_op_equal(fast, general) &&
                  fast->base_len_codepoints == general->base_len_codepoints &&
                  fast->target_len_codepoints == general->target_len_codepoints &&
                  fast->text_len_bytes == general->text_len_bytes,
              FAIL_AT "%s of a=%s b=%s: ot_transform %s, general walk %s", seed, i, what,
              ot_gen_op_str(a, &m1), ot_gen_op_str(b, &m2), ot_gen_op_str(fast, &m3),
              ot_gen_op_str(general, &m4));
    ot_buf_free(&m1);
    ot_buf_free(&m2);
    ot_buf_free(&m3);
    ot_buf_free(&m4);
}

Test(ot_fastpath, shortcuts_match_the_general_walk) {
    uint64_t seed = ot_gen_base_seed();
    uint32_t cases = ot_gen_case_count() * 5;
    ot_op a, b, fa, fb, ga, gb, only;
    ot_op *ops[] = {&a, &b, &fa, &fb, &ga, &gb, &only};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) ot_op_init(ops[k]);
    ot_gen_rng rng;
    for (uint32_t i = 0; i < cases; i++) {
        ot_gen_seed(&rng, ot_gen_case_seed(seed, SALT_SITES, i));
        uint64_t len = ot_gen_below(&rng, MAX_DOC_CODEPOINTS + 1);
        gen_small_op(&rng, len, &a);
        gen_small_op(&rng, len, &b);

        cr_assert_eq(ot_transform(&a, &b, &fa, &fb), OT_OK);
        cr_assert_eq(ot_transform_prepare(&a, &b, &ga, &gb), OT_OK);
        ot_transform_general(&a, &b, &ga, &gb);
        assert_same(seed, i, "a'", &fa, &ga, &a, &b);
        assert_same(seed, i, "b'", &fb, &gb, &a, &b);

        /* One half alone: a one-site a' even when b' would not be one site. */
        cr_assert_eq(ot_transform(&a, &b, &only, NULL), OT_OK);
        assert_same(seed, i, "a' alone", &only, &ga, &a, &b);
        cr_assert_eq(ot_transform(&a, &b, NULL, &only), OT_OK);
        assert_same(seed, i, "b' alone", &only, &gb, &a, &b);
    }
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) ot_op_free(ops[k]);
}

/* The shapes the shortcuts are for, spelled out (positions of the 1-char op
 * [2,"x",3] against edits before, at and after it). */
Test(ot_fastpath, one_site_cases_by_hand) {
    static const struct {
        const char *a, *b, *a_prime, *b_prime;
    } cases[] = {
        {"[2,\"x\",3]", "[2,\"y\",3]", "[2,\"x\",4]", "[3,\"y\",3]"},       /* tie: a first */
        {"[2,\"x\",3]", "[1,\"y\",4]", "[3,\"x\",3]", "[1,\"y\",5]"},
        {"[2,\"x\",3]", "[1,-3,1]", "[1,\"x\",1]", "[1,-1,1,-2,1]"},       /* b' splits */
        {"[2,-1,2]", "[2,-1,2]", "[4]", "[4]"},                         /* both took it */
        {"[1,-3,1]", "[2,-1,2]", "[1,-2,1]", "[2]"},
        {"[1,-3,1]", "[2,\"y\",3]", "[1,-1,1,-2,1]", "[1,\"y\",1]"},     /* a' splits */
        {"[2,-1,2]", "[2,\"y\",3]", "[3,-1,2]", "[2,\"y\",2]"},         /* insert before delete */
        {"[5]", "[2,\"y\",3]", "[6]", "[2,\"y\",3]"},                   /* no-op a */
        {"[2,\"x\",3]", "[5]", "[2,\"x\",3]", "[6]"},                   /* no-op b */
    };
    ot_op ap, bp;
    ot_op_init(&ap);
    ot_op_init(&bp);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ot_op a = ot_t_parse(cases[i].a), b = ot_t_parse(cases[i].b);
        cr_assert_eq(ot_transform(&a, &b, &ap, &bp), OT_OK);
        ot_t_expect_json(&ap, cases[i].a_prime);
        ot_t_expect_json(&bp, cases[i].b_prime);
        ot_op_free(&a);
        ot_op_free(&b);
    }
    ot_op_free(&ap);
    ot_op_free(&bp);
}

Test(ot_fastpath, lengths_past_2_to_the_64_are_a_range_error) {
    ot_op a, b, ap;
    ot_op_init(&a);
    ot_op_init(&b);
    ot_op_init(&ap);
    cr_assert_eq(ot_op_retain(&a, 1), OT_OK);
    cr_assert_eq(ot_op_insert(&a, "x", 1), OT_OK);
    cr_assert_eq(ot_op_insert(&b, "y", 1), OT_OK);
    cr_assert_eq(ot_op_retain(&b, 1), OT_OK);
    /* Both targets near 2^63 after huge inserts are not buildable as text;
     * retains stand in for them. */
    cr_assert_eq(ot_op_retain(&a, UINT64_MAX / 2), OT_OK);
    cr_assert_eq(ot_op_retain(&b, UINT64_MAX / 2), OT_OK);
    cr_assert_eq(ot_transform(&a, &b, &ap, NULL), OT_ERR_RANGE);
    cr_assert_eq(ap.count_components, 0);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&ap);
}

/* ---- allocation counting ------------------------------------------------------ */

typedef struct counting {
    uint64_t allocations;  /* new blocks and growths */
    uint64_t frees;
} counting;

static void *counting_resize(void *ctx, void *ptr, size_t old_size_bytes, size_t new_size_bytes) {
    counting *c = ctx;
    (void)old_size_bytes;
    if (new_size_bytes == 0) {
        c->frees++;
        free(ptr);
        return NULL;
    }
    c->allocations++;
    return realloc(ptr, new_size_bytes);
}

Test(ot_fastpath, small_transforms_allocate_nothing_once_outputs_are_warm) {
    counting count = {0, 0};
    const ot_allocator alloc = {.resize = counting_resize, .ctx = &count};
    ot_op ap, bp;
    ot_op_init_with(&ap, &alloc);
    ot_op_init_with(&bp, &alloc);

    /* The counter sees the first use of fresh ops: a block for the
     * components and one for the text of each half. */
    ot_op a = ot_t_parse("[2,\"xyz\",3]"), b = ot_t_parse("[1,\"y\",-1,3]");
    cr_assert_eq(ot_transform(&a, &b, &ap, &bp), OT_OK);
    cr_assert_eq(count.allocations, 4, "components and text of a' and of b'");

    /* From then on, small ops (<= 4 components, <= 16 bytes of insert) of every
     * shape, through every path, allocate nothing. */
    uint64_t seed = ot_gen_base_seed();
    ot_gen_rng rng;
    uint64_t before = count.allocations;
    uint32_t transforms = 0;
    for (uint32_t i = 0; transforms < ALLOC_TRANSFORMS; i++) {
        ot_gen_seed(&rng, ot_gen_case_seed(seed, SALT_ALLOC, i));
        uint64_t len = ot_gen_below(&rng, MAX_DOC_CODEPOINTS + 1);
        gen_small_op(&rng, len, &a);
        gen_small_op(&rng, len, &b);
        if (a.count_components > 4 || b.count_components > 4 || a.text_len_bytes > 16 ||
            b.text_len_bytes > 16)
            continue;
        cr_assert_eq(ot_transform(&a, &b, &ap, &bp), OT_OK);
        cr_assert_eq(count.allocations, before, FAIL_AT "transform allocated", seed, i);
        transforms++;
    }

    ot_op_free(&ap);
    ot_op_free(&bp);
    cr_assert_eq(count.frees, 4, "every block goes back through the hook");
    ot_op_free(&a);
    ot_op_free(&b);
}
