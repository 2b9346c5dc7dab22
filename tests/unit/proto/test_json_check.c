/* json_syntax_ok: the allocation-free check that tells a parser's failed
 * allocation from malformed input. */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/json_check.h"

static bool ok(const char *s) { return json_syntax_ok(s, strlen(s), 8); }

Test(json_check, accepts_every_kind_of_value) {
    const char *good[] = {
        "{}", "[]", " {\"type\":\"op\",\"v\":0,\"op\":[5,\"x\",-3]} ", "\"\"", "0", "-0.5e+10", "1E3",
        "true", "false", "null", "[1,[2,[3]],{\"a\":{\"b\":null}}]", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"",
        "\"\\ud83d\\ude00\"", "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"", "\t\r\n[ 1 , 2 ]\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) cr_assert(ok(good[i]), "%s", good[i]);
}

Test(json_check, refuses_malformed_text) {
    const char *bad[] = {
        "", " ", "{", "[1,]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "[1 2]", "01", "1.", "1e", "-",
        "+1", ".5", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\\ud83d\"", "\"\\ude00\"",
        "\"\\ud83d\\u0041\"", "\"a\nb\"", "\"\xff\"", "\"\xc3\"", "{} {}", "[] x", "'a'", "NaN",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) cr_assert_not(ok(bad[i]), "%s", bad[i]);
}

Test(json_check, nesting_is_bounded) {
    cr_assert(json_syntax_ok("[[[]]]", 6, 3));
    cr_assert_not(json_syntax_ok("[[[[]]]]", 8, 3));
    cr_assert_not(json_syntax_ok("{\"a\":{\"b\":{\"c\":{}}}}", 20, 3));
}

Test(json_check, the_length_is_the_end) {
    /* a NUL inside the bounds is not an end: it is a stray byte */
    cr_assert_not(json_syntax_ok("[1]\0", 4, 8));
    cr_assert(json_syntax_ok("[1]xyz", 3, 8));
}
