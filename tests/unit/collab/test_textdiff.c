/* The minimal op between two texts: common prefix and suffix in code points. */
#include <criterion/criterion.h>
#include <string.h>

#include "collab/textdiff.h"

static void expect(const char *from, const char *to, const char *json) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(textdiff_op(from, strlen(from), to, strlen(to), &op), OT_OK, "%s -> %s", from, to);
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_op_to_json(&op, &b), OT_OK);
    cr_assert_eq(b.len, strlen(json), "%s -> %s: %.*s", from, to, (int)b.len, b.data);
    cr_assert_eq(memcmp(b.data, json, b.len), 0, "%s -> %s: %.*s, not %s", from, to, (int)b.len, b.data, json);
    ot_buf_free(&b);
    ot_op_free(&op);
}

Test(textdiff, keeps_the_common_prefix_and_suffix) {
    expect("hello world", "hello big world", "[6,\"big \",5]");
    expect("abc", "abc", "[3]");
    expect("", "", "[]");
    expect("", "new", "[\"new\"]");
    expect("old", "", "[-3]");
    expect("abcabc", "abc", "[3,-3]");
    expect("aXb", "ab", "[1,-1,1]");
    expect("ab", "aXYb", "[1,\"XY\",1]");
}

Test(textdiff, counts_code_points_and_never_splits_one) {
    /* 😀 and 😃 share their first three bytes */
    expect("a\xF0\x9F\x98\x80" "b", "a\xF0\x9F\x98\x83" "b", "[1,\"😃\",-1,1]");
    /* é (C3 A9) and è (C3 A8), then a shared suffix */
    expect("caf\xC3\xA9!", "caf\xC3\xA8!", "[3,\"è\",-1,1]");
    expect("中文中文", "中文", "[2,-2]");
    expect("x中", "y中", "[\"y\",-1,1]");
}

Test(textdiff, refuses_invalid_utf8_and_knows_a_noop) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(textdiff_op("a", 1, "a\xFF", 2, &op), OT_ERR_BAD_UTF8);
    cr_assert_eq(textdiff_op("abc", 3, "abc", 3, &op), OT_OK);
    cr_assert(textdiff_is_noop(&op));
    cr_assert_eq(textdiff_op("abc", 3, "abd", 3, &op), OT_OK);
    cr_assert_not(textdiff_is_noop(&op));
    ot_op_free(&op);
}
