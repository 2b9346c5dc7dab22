/* Operations: buffers, error strings, limits, canonical builders, strict
 * builders, predicates and copies. */
#include "ot_test_util.h"

Test(ot_op, buf_append_clear_free) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_null(b.data);
    cr_assert_eq(ot_buf_append(&b, "", 0), OT_OK);
    cr_assert_str_eq(b.data, ""); /* NUL-terminated after any append */
    for (int i = 0; i < 100; i++)
        cr_assert_eq(ot_buf_append(&b, "abcdefghij", 10), OT_OK);
    cr_assert_eq(b.len, 1000);
    cr_assert(b.cap > 1000);
    cr_assert_eq(b.data[1000], '\0');
    cr_assert_eq(memcmp(b.data + 990, "abcdefghij", 10), 0);
    size_t cap = b.cap;
    ot_buf_clear(&b);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.cap, cap);
    cr_assert_str_eq(b.data, "");
    ot_buf_free(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.cap, 0);
}

Test(ot_op, err_str_is_distinct_per_code) {
    for (int e = OT_OK; e >= OT_ERR_TRANSFORM_MISMATCH; e--) {
        const char *s = ot_err_str(e);
        cr_assert_not_null(s);
        cr_assert_str_neq(s, "unknown error", "code %d", e);
        for (int f = e - 1; f >= OT_ERR_TRANSFORM_MISMATCH; f--)
            cr_assert_str_neq(s, ot_err_str(f));
    }
    cr_assert_str_eq(ot_err_str(1), "unknown error");
    cr_assert_str_eq(ot_err_str(-1000), "unknown error");
}

Test(ot_op, default_limits) {
    ot_limits l = ot_limits_default();
    cr_assert_eq(l.max_doc_codepoints, 16u * 1024 * 1024);
    cr_assert_eq(l.max_op_bytes, 1024u * 1024);
    cr_assert_eq(l.max_op_components, 65536u);
    cr_assert_eq(l.history_depth, 1000u);
}

Test(ot_op, builders_merge_and_order) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_retain(&op, 0), OT_OK);
    cr_assert_eq(ot_op_insert(&op, "", 0), OT_OK);
    cr_assert_eq(ot_op_delete(&op, 0), OT_OK);
    cr_assert_eq(op.count_components, 0);
    cr_assert(ot_op_is_noop(&op));

    cr_assert_eq(ot_op_retain(&op, 2), OT_OK);
    cr_assert_eq(ot_op_retain(&op, 3), OT_OK);
    cr_assert_eq(ot_op_delete(&op, 1), OT_OK);
    cr_assert_eq(ot_op_insert(&op, "ab", 2), OT_OK);   /* moves before the delete */
    cr_assert_eq(ot_op_delete(&op, 2), OT_OK);         /* merges into the delete */
    cr_assert_eq(ot_op_insert(&op, "\xe4\xb8\xad", 3), OT_OK); /* merges into the insert */
    cr_assert_eq(ot_op_retain(&op, 1), OT_OK);
    ot_t_expect_json(&op, "[5,\"ab\xe4\xb8\xad\",-3,1]");
    cr_assert_eq(op.count_components, 4);
    cr_assert_eq(op.base_len_codepoints, 9);
    cr_assert_eq(op.target_len_codepoints, 9);
    cr_assert_eq(op.components[1].count_codepoints, 3);
    cr_assert_eq(op.components[1].text_len_bytes, 5);
    cr_assert_not(ot_op_is_noop(&op));
    ot_op_free(&op);
}

Test(ot_op, insert_after_lone_delete) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_delete(&op, 2), OT_OK);
    cr_assert_eq(ot_op_insert(&op, "x", 1), OT_OK);
    ot_t_expect_json(&op, "[\"x\",-2]");
    cr_assert_eq(ot_op_insert(&op, "y", 1), OT_OK);
    ot_t_expect_json(&op, "[\"xy\",-2]");
    ot_op_free(&op);
}

Test(ot_op, insert_validates_utf8) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_retain(&op, 1), OT_OK);
    const char *bad[] = { "\xff", "a\0b", "\xed\xa0\x80", "\xc3", "\xf8\x88\x80\x80\x80" };
    size_t lens[] = { 1, 3, 3, 1, 5 };
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(ot_op_insert(&op, bad[i], lens[i]), OT_ERR_BAD_UTF8, "case %zu", i);
        cr_assert_eq(op.count_components, 1); /* unchanged */
        cr_assert_eq(op.text_len_bytes, 0);
    }
    ot_op_free(&op);
}

Test(ot_op, counts_overflow) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_retain(&op, UINT64_MAX - 1), OT_OK);
    cr_assert_eq(ot_op_retain(&op, 2), OT_ERR_RANGE);
    cr_assert_eq(ot_op_delete(&op, 2), OT_ERR_RANGE);
    cr_assert_eq(op.base_len_codepoints, UINT64_MAX - 1);
    ot_op_free(&op);
}

Test(ot_op, push_int_rules) {
    ot_limits l = ot_limits_default();
    l.max_op_components = 2;
    l.max_doc_codepoints = 10;
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_push_int(&op, 0, &l), OT_ERR_ZERO_COUNT);
    cr_assert_eq(ot_op_push_int(&op, INT64_MIN, &l), OT_ERR_COUNT_RANGE);
    cr_assert_eq(ot_op_push_int(&op, 11, &l), OT_ERR_TOO_LARGE);
    cr_assert_eq(ot_op_push_int(&op, -11, &l), OT_ERR_TOO_LARGE);
    cr_assert_eq(ot_op_push_int(&op, 4, &l), OT_OK);
    cr_assert_eq(ot_op_push_int(&op, -6, &l), OT_OK);
    cr_assert_eq(ot_op_push_int(&op, 1, &l), OT_ERR_TOO_MANY_COMPONENTS);
    cr_assert_eq(op.base_len_codepoints, 10);
    cr_assert_eq(op.target_len_codepoints, 4);
    ot_op_clear(&op);
    l.max_op_components = 100;
    cr_assert_eq(ot_op_push_int(&op, 8, &l), OT_OK);
    cr_assert_eq(ot_op_push_int(&op, -3, &l), OT_ERR_TOO_LARGE); /* base would be 11 */
    cr_assert_eq(ot_op_push_int(&op, 3, NULL), OT_OK); /* NULL: default limits */
    cr_assert_eq(op.base_len_codepoints, 11);
    ot_op_free(&op);
}

Test(ot_op, push_string_rules) {
    ot_limits l = ot_limits_default();
    l.max_op_bytes = 8;
    l.max_doc_codepoints = 6;
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_push_string(&op, "", 0, &l), OT_ERR_EMPTY_INSERT);
    cr_assert_eq(ot_op_push_string(&op, "\xff", 1, &l), OT_ERR_BAD_UTF8);
    cr_assert_eq(ot_op_push_string(&op, "123456789", 9, &l), OT_ERR_TOO_LARGE);
    cr_assert_eq(ot_op_push_string(&op, "\xf0\x9f\x98\x80", 4, &l), OT_OK);
    cr_assert_eq(ot_op_push_string(&op, "\xf0\x9f\x98\x80!", 5, &l), OT_ERR_TOO_LARGE); /* 9 bytes */
    cr_assert_eq(ot_op_push_string(&op, "abcd", 4, &l), OT_OK);
    cr_assert_eq(op.target_len_codepoints, 5);
    cr_assert_eq(op.count_components, 1);
    l.max_op_bytes = 100;
    cr_assert_eq(ot_op_push_string(&op, "xy", 2, &l), OT_ERR_TOO_LARGE); /* 7 code points */
    cr_assert_eq(op.text_len_bytes, 8);
    ot_op_free(&op);
}

Test(ot_op, equal_copy_clear) {
    ot_op a = ot_t_parse("[1,\"ab\",-2,3]");
    ot_op b = ot_t_parse("[1,\"ac\",-2,3]");
    ot_op c = ot_t_parse("[1,\"ab\",-2,2]");
    ot_op d = ot_t_parse("[1,\"ab\",-2]");
    cr_assert(ot_op_equal(&a, &a));
    cr_assert_not(ot_op_equal(&a, &b));
    cr_assert_not(ot_op_equal(&a, &c));
    cr_assert_not(ot_op_equal(&a, &d));
    ot_op copy;
    ot_op_init(&copy);
    cr_assert_eq(ot_op_copy(&copy, &a), OT_OK);
    cr_assert(ot_op_equal(&copy, &a));
    cr_assert_eq(copy.base_len_codepoints, a.base_len_codepoints);
    cr_assert_eq(copy.target_len_codepoints, a.target_len_codepoints);
    cr_assert_neq(copy.text, a.text);
    cr_assert_eq(ot_op_copy(&copy, &d), OT_OK); /* over an existing op */
    cr_assert(ot_op_equal(&copy, &d));
    cr_assert_eq(ot_op_copy(&copy, &copy), OT_OK);
    cr_assert(ot_op_equal(&copy, &d));
    ot_op_clear(&copy);
    cr_assert_eq(copy.count_components, 0);
    cr_assert_eq(copy.base_len_codepoints, 0);
    cr_assert(ot_op_is_noop(&copy));
    ot_op_free(&copy);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&c);
    ot_op_free(&d);
}

Test(ot_op, noop_forms) {
    ot_op a = ot_t_parse("[3]");
    cr_assert(ot_op_is_noop(&a));
    ot_op b = ot_t_parse("[-1,1]");
    cr_assert_not(ot_op_is_noop(&b));
    ot_op c = ot_t_parse("[\"a\"]");
    cr_assert_not(ot_op_is_noop(&c));
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&c);
}
