/* ot_op_parse_json / ot_op_to_json: every parse error with its offset,
 * escapes, canonical serialization and round trips. */
#include "ot_test_util.h"

Test(ot_json, parses_the_compact_form) {
    ot_op op = ot_t_parse("[5,\"abc\",-3,2]");
    cr_assert_eq(op.count_components, 4);
    cr_assert_eq(op.components[0].kind, OT_RETAIN);
    cr_assert_eq(op.components[0].count_codepoints, 5);
    cr_assert_eq(op.components[1].kind, OT_INSERT);
    cr_assert_eq(op.components[1].count_codepoints, 3);
    cr_assert_eq(op.components[2].kind, OT_DELETE);
    cr_assert_eq(op.components[2].count_codepoints, 3);
    cr_assert_eq(op.components[3].kind, OT_RETAIN);
    cr_assert_eq(op.base_len_codepoints, 10);
    cr_assert_eq(op.target_len_codepoints, 10);
    ot_t_expect_json(&op, "[5,\"abc\",-3,2]");
    ot_op_free(&op);
}

Test(ot_json, whitespace_and_empty) {
    ot_op op = ot_t_parse(" \t\r\n[ 1 ,\n\"a\" ] \n");
    ot_t_expect_json(&op, "[1,\"a\"]");
    ot_op_free(&op);
    op = ot_t_parse("[]");
    cr_assert_eq(op.count_components, 0);
    cr_assert_eq(op.base_len_codepoints, 0);
    ot_t_expect_json(&op, "[]");
    ot_op_free(&op);
    op = ot_t_parse("[ ]");
    cr_assert_eq(op.count_components, 0);
    ot_op_free(&op);
}

Test(ot_json, counts_code_points_not_bytes) {
    /* é (2 bytes), 中 (3), 😀 (4), e + combining acute (1 + 2). */
    ot_op op = ot_t_parse("[\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" "e\xcc\x81\"]");
    cr_assert_eq(op.components[0].count_codepoints, 5);
    cr_assert_eq(op.components[0].text_len_bytes, 2 + 3 + 4 + 1 + 2);
    cr_assert_eq(op.target_len_codepoints, 5);
    ot_op_free(&op);
}

Test(ot_json, decodes_every_escape) {
    ot_op op = ot_t_parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u4E2D\\ud83d\\ude00\"]");
    const char want[] = "\"\\/\b\f\n\r\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
    cr_assert_eq(op.text_len_bytes, sizeof want - 1);
    cr_assert_eq(memcmp(op.text, want, sizeof want - 1), 0);
    cr_assert_eq(op.components[0].count_codepoints, 11);
    /* Serialized back: only what must be escaped is, "/" and non-ASCII stay. */
    ot_t_expect_json(&op, "[\"\\\"\\\\/\\b\\f\\n\\r\\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"]");
    ot_op_free(&op);
}

Test(ot_json, canonicalizes_on_parse) {
    struct { const char *in, *out; } cases[] = {
        { "[1,2,\"a\",\"b\",-1,-2]", "[3,\"ab\",-3]" },
        { "[-2,\"x\"]", "[\"x\",-2]" },
        { "[\"a\",-1,\"b\"]", "[\"ab\",-1]" },
        { "[1,-1,\"x\",1]", "[1,\"x\",-1,1]" },
        { "[-1,-1,-1]", "[-3]" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ot_op op = ot_t_parse(cases[i].in);
        ot_t_expect_json(&op, cases[i].out);
        /* Canonical text parses back to an equal op. */
        ot_op again = ot_t_parse(cases[i].out);
        cr_assert(ot_op_equal(&op, &again), "%s", cases[i].in);
        ot_op_free(&again);
        ot_op_free(&op);
    }
}

typedef struct bad_case {
    const char *json;
    size_t len; /* 0: strlen */
    int err;
    size_t offset;
} bad_case;

static void expect_errors(const bad_case *cases, size_t n, const ot_limits *limits) {
    for (size_t i = 0; i < n; i++) {
        ot_op op;
        ot_op_init(&op);
        cr_assert_eq(ot_op_retain(&op, 7), OT_OK); /* must be cleared by the parser */
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].json);
        size_t off = 12345;
        int rc = ot_op_parse_json(&op, cases[i].json, len, limits, &off);
        cr_assert_eq(rc, cases[i].err, "case %zu %s: got %s", i, cases[i].json, ot_err_str(rc));
        cr_assert_eq(off, cases[i].offset, "case %zu %s: offset %zu", i, cases[i].json, off);
        cr_assert_eq(op.count_components, 0);
        cr_assert_eq(op.base_len_codepoints, 0);
        ot_op_free(&op);
    }
}

Test(ot_json, syntax_errors) {
    const bad_case cases[] = {
        { "", 0, OT_ERR_JSON_SYNTAX, 0 },
        { "   ", 0, OT_ERR_JSON_SYNTAX, 3 },
        { "x", 0, OT_ERR_JSON_SYNTAX, 0 },
        { "[", 0, OT_ERR_JSON_SYNTAX, 1 },
        { "[1", 0, OT_ERR_JSON_SYNTAX, 2 },
        { "[1,]", 0, OT_ERR_JSON_SYNTAX, 3 },
        { "[,1]", 0, OT_ERR_JSON_SYNTAX, 1 },
        { "[1 2]", 0, OT_ERR_JSON_SYNTAX, 3 },
        { "[1]x", 0, OT_ERR_JSON_SYNTAX, 3 },
        { "[1] [2]", 0, OT_ERR_JSON_SYNTAX, 4 },
        { "[1.]", 0, OT_ERR_JSON_SYNTAX, 3 },
        { "[1e]", 0, OT_ERR_JSON_SYNTAX, 3 },
        { "[01]", 0, OT_ERR_JSON_SYNTAX, 1 },
        { "[-]", 0, OT_ERR_JSON_SYNTAX, 2 },
        { "[+1]", 0, OT_ERR_JSON_SYNTAX, 1 },
        { "[\"abc", 0, OT_ERR_JSON_SYNTAX, 5 },
        { "[\"a\nb\"]", 0, OT_ERR_JSON_SYNTAX, 3 },
        { "[\"\\x\"]", 0, OT_ERR_JSON_SYNTAX, 2 },
        { "[\"\\u12\"]", 0, OT_ERR_JSON_SYNTAX, 2 },
        { "[\"\\u12G4\"]", 0, OT_ERR_JSON_SYNTAX, 2 },
        { "[\"\\", 0, OT_ERR_JSON_SYNTAX, 2 },
    };
    expect_errors(cases, sizeof cases / sizeof cases[0], NULL);
}

Test(ot_json, not_an_array) {
    const bad_case cases[] = {
        { "{}", 0, OT_ERR_NOT_ARRAY, 0 },
        { "  \"abc\"", 0, OT_ERR_NOT_ARRAY, 2 },
        { "5", 0, OT_ERR_NOT_ARRAY, 0 },
        { "-1", 0, OT_ERR_NOT_ARRAY, 0 },
        { "null", 0, OT_ERR_NOT_ARRAY, 0 },
        { "true", 0, OT_ERR_NOT_ARRAY, 0 },
        { "false", 0, OT_ERR_NOT_ARRAY, 0 },
    };
    expect_errors(cases, sizeof cases / sizeof cases[0], NULL);
}

Test(ot_json, bad_components_and_counts) {
    const bad_case cases[] = {
        { "[true]", 0, OT_ERR_BAD_COMPONENT, 1 },
        { "[false]", 0, OT_ERR_BAD_COMPONENT, 1 },
        { "[1, null]", 0, OT_ERR_BAD_COMPONENT, 4 },
        { "[{\"a\":1}]", 0, OT_ERR_BAD_COMPONENT, 1 },
        { "[[1]]", 0, OT_ERR_BAD_COMPONENT, 1 },
        { "[1.5]", 0, OT_ERR_COUNT_RANGE, 1 },
        { "[2,-1.0]", 0, OT_ERR_COUNT_RANGE, 3 },
        { "[1e3]", 0, OT_ERR_COUNT_RANGE, 1 },
        { "[1E+2]", 0, OT_ERR_COUNT_RANGE, 1 },
        { "[9223372036854775808]", 0, OT_ERR_COUNT_RANGE, 1 },
        { "[-9223372036854775808]", 0, OT_ERR_COUNT_RANGE, 1 },
        { "[0]", 0, OT_ERR_ZERO_COUNT, 1 },
        { "[1,-0]", 0, OT_ERR_ZERO_COUNT, 3 },
        { "[\"\"]", 0, OT_ERR_EMPTY_INSERT, 1 },
        { "[3, \"\" ]", 0, OT_ERR_EMPTY_INSERT, 4 },
    };
    expect_errors(cases, sizeof cases / sizeof cases[0], NULL);
}

Test(ot_json, bad_utf8_and_surrogates) {
    const bad_case cases[] = {
        { "[\"\xff\"]", 0, OT_ERR_BAD_UTF8, 2 },
        { "[\"ab\x80\"]", 0, OT_ERR_BAD_UTF8, 4 },
        { "[\"\xc3\"]", 0, OT_ERR_BAD_UTF8, 2 },           /* truncated */
        { "[\"\xc0\xaf\"]", 0, OT_ERR_BAD_UTF8, 2 },       /* overlong */
        { "[\"\xe0\x80\xaf\"]", 0, OT_ERR_BAD_UTF8, 2 },   /* overlong */
        { "[\"\xed\xa0\x80\"]", 0, OT_ERR_BAD_UTF8, 2 },   /* encoded surrogate */
        { "[\"\xf4\x90\x80\x80\"]", 0, OT_ERR_BAD_UTF8, 2 }, /* > U+10FFFF */
        { "[\"\\u0000\"]", 0, OT_ERR_BAD_UTF8, 2 },
        { "[\"a\0\"]", 6, OT_ERR_BAD_UTF8, 3 },            /* raw NUL */
        { "[\"\\ud800\"]", 0, OT_ERR_LONE_SURROGATE, 2 },
        { "[\"a\\udc00\"]", 0, OT_ERR_LONE_SURROGATE, 3 },
        { "[\"\\ud800\\u0041\"]", 0, OT_ERR_LONE_SURROGATE, 2 },
        { "[\"\\ud800x\"]", 0, OT_ERR_LONE_SURROGATE, 2 },
        { "[\"\\ud800\\ud800\"]", 0, OT_ERR_LONE_SURROGATE, 2 },
        { "[\"\\ude00\\ud83d\"]", 0, OT_ERR_LONE_SURROGATE, 2 }, /* reversed pair */
        { "[\"\\ud800\\u00\"]", 0, OT_ERR_JSON_SYNTAX, 8 },
    };
    expect_errors(cases, sizeof cases / sizeof cases[0], NULL);
}

Test(ot_json, limits) {
    ot_limits limits = ot_limits_default();
    limits.max_op_bytes = 16;
    limits.max_op_components = 3;
    limits.max_doc_codepoints = 6;
    const bad_case cases[] = {
        { "[1,        2,3,4]", 0, OT_ERR_TOO_LARGE, 16 }, /* JSON text beyond max_op_bytes */
        { "[1,\"a\",-1,1]", 0, OT_ERR_TOO_MANY_COMPONENTS, 10 },
        { "[7]", 0, OT_ERR_TOO_LARGE, 1 },           /* base beyond the largest doc */
        { "[4,-3]", 0, OT_ERR_TOO_LARGE, 3 },
        { "[\"abcdefg\"]", 0, OT_ERR_TOO_LARGE, 1 },  /* target beyond the largest doc */
        { "[5,\"ab\"]", 0, OT_ERR_TOO_LARGE, 3 },
    };
    expect_errors(cases, sizeof cases / sizeof cases[0], &limits);
    /* At the limits exactly: accepted. */
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_parse_json(&op, "[1,\"a\",4]", 9, &limits, NULL), OT_OK);
    cr_assert_eq(ot_op_parse_json(&op, "[\"abcdef\"]", 10, &limits, NULL), OT_OK);
    /* Inserted bytes count against max_op_bytes too (escapes shrink text,
     * so this needs a limit below the JSON length: checked via push_string). */
    limits.max_op_bytes = 4;
    cr_assert_eq(ot_op_parse_json(&op, "[\"ab\"]", 6, &limits, NULL), OT_ERR_TOO_LARGE);
    ot_op_free(&op);
}

Test(ot_json, null_err_offset_is_allowed) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_parse_json(&op, "[0]", 3, NULL, NULL), OT_ERR_ZERO_COUNT);
    ot_op_free(&op);
}

Test(ot_json, serializes_control_characters) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_retain(&op, 2), OT_OK);
    cr_assert_eq(ot_op_insert(&op, "\x01\x1f\"\\\n/\xc3\xa9\xf0\x9f\x98\x80", 12), OT_OK);
    cr_assert_eq(ot_op_delete(&op, 9000000000ull), OT_OK);
    ot_t_expect_json(&op, "[2,\"\\u0001\\u001f\\\"\\\\\\n/\xc3\xa9\xf0\x9f\x98\x80\",-9000000000]");
    /* And the serialized form parses back to the same op. */
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_op_to_json(&op, &b), OT_OK);
    ot_op back;
    ot_op_init(&back);
    ot_limits big = ot_limits_default();
    big.max_doc_codepoints = UINT64_MAX;
    cr_assert_eq(ot_op_parse_json(&back, b.data, b.len, &big, NULL), OT_OK);
    cr_assert(ot_op_equal(&op, &back));
    ot_op_free(&back);
    ot_buf_free(&b);
    ot_op_free(&op);
}

Test(ot_json, to_json_appends) {
    ot_op op = ot_t_parse("[1,\"x\"]");
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_buf_append(&b, "op=", 3), OT_OK);
    cr_assert_eq(ot_op_to_json(&op, &b), OT_OK);
    cr_assert_str_eq(b.data, "op=[1,\"x\"]");
    cr_assert_eq(b.len, 10);
    ot_buf_free(&b);
    ot_op_free(&op);
}

Test(ot_json, parse_reuses_and_clears_the_op) {
    ot_op op = ot_t_parse("[\"hello\",3]");
    cr_assert_eq(ot_op_parse_json(&op, "[-2]", 4, NULL, NULL), OT_OK);
    cr_assert_eq(op.count_components, 1);
    cr_assert_eq(op.text_len_bytes, 0);
    cr_assert_eq(op.base_len_codepoints, 2);
    cr_assert_eq(op.target_len_codepoints, 0);
    ot_op_free(&op);
}
