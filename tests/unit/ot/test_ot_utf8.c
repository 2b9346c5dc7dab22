/* The code point scans under the text buffer's position mapping: forward
 * (ot_utf8_advance) and from the end (ot_utf8_retreat), against a byte-by-byte
 * reference on strings of every length around the 8- and 32-byte strides. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <string.h>

#include "ot_gen.h"
#include "ot_internal.h"

enum { SALT_SCAN = 201, MAX_SCAN_CODEPOINTS = 90 };

Test(ot_utf8, advance_and_retreat_match_the_reference) {
    uint64_t seed = ot_gen_base_seed();
    uint32_t cases = ot_gen_case_count() / 10 + 1;
    ot_buf text;
    ot_buf_init(&text);
    ot_gen_rng rng;
    for (uint32_t i = 0; i < cases; i++) {
        ot_gen_seed(&rng, ot_gen_case_seed(seed, SALT_SCAN, i));
        ot_buf_clear(&text);
        uint64_t n = ot_gen_below(&rng, MAX_SCAN_CODEPOINTS + 1);
        /* Half the cases all ASCII, half mixed. */
        if (ot_gen_chance(&rng, 50)) {
            for (uint64_t k = 0; k < n; k++)
                cr_assert_eq(ot_buf_append(&text, "q", 1), OT_OK);
        } else {
            cr_assert_eq(ot_gen_text(&rng, n, &text), OT_OK);
        }
        const char *s = text.data ? text.data : "";
        for (uint64_t k = 0; k <= n + 1; k++) {
            size_t expect_fwd = ot_gen_utf8_offset(s, text.len, k > n ? n : k);
            cr_assert_eq(ot_utf8_advance(s, text.len, k), expect_fwd,
                         "RINGPAD_TEST_SEED=%" PRIu64 " case %" PRIu32 ": advance %" PRIu64 " of %" PRIu64,
                         seed, i, k, n);
            size_t expect_back = k > n ? 0 : ot_gen_utf8_offset(s, text.len, n - k);
            cr_assert_eq(ot_utf8_retreat(s, text.len, k), expect_back,
                         "RINGPAD_TEST_SEED=%" PRIu64 " case %" PRIu32 ": retreat %" PRIu64 " of %" PRIu64,
                         seed, i, k, n);
        }
    }
    ot_buf_free(&text);
}

Test(ot_utf8, retreat_by_hand) {
    /* "aé中😀" is 1 + 2 + 3 + 4 bytes. */
    static const char s[] = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
    size_t len = sizeof s - 1;
    cr_assert_eq(ot_utf8_retreat(s, len, 0), 10);
    cr_assert_eq(ot_utf8_retreat(s, len, 1), 6);
    cr_assert_eq(ot_utf8_retreat(s, len, 2), 3);
    cr_assert_eq(ot_utf8_retreat(s, len, 3), 1);
    cr_assert_eq(ot_utf8_retreat(s, len, 4), 0);
    cr_assert_eq(ot_utf8_retreat(s, len, 5), 0);
    cr_assert_eq(ot_utf8_retreat("", 0, 1), 0);
}
