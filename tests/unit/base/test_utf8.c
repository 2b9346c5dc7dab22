/* utf8: the incremental DFA validator, including Markus Kuhn's UTF-8 decoder
 * stress test cases (sections 1-5), written out as byte sequences. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "base/utf8.h"

typedef struct kuhn_case {
    const char *name;
    const char *bytes;
    size_t len;
    int expect;            /* 1 valid+complete, 0 valid prefix but incomplete, -1 rejected */
    size_t bad_offset;     /* for -1: the first byte that cannot be valid */
} kuhn_case;

#define CASE(name, lit, expect, off) { name, lit, sizeof(lit) - 1, expect, off }

static const kuhn_case kuhn_cases[] = {
    /* 1: some correct UTF-8 text */
    CASE("1 kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1, 0),
    /* 2.1 first possible sequence of a certain length */
    CASE("2.1.1 U+0000", "\x00", 1, 0),
    CASE("2.1.2 U+0080", "\xc2\x80", 1, 0),
    CASE("2.1.3 U+0800", "\xe0\xa0\x80", 1, 0),
    CASE("2.1.4 U+10000", "\xf0\x90\x80\x80", 1, 0),
    CASE("2.1.5 5-byte U+200000", "\xf8\x88\x80\x80\x80", -1, 0),
    CASE("2.1.6 6-byte U+4000000", "\xfc\x84\x80\x80\x80\x80", -1, 0),
    /* 2.2 last possible sequence of a certain length */
    CASE("2.2.1 U+007F", "\x7f", 1, 0),
    CASE("2.2.2 U+07FF", "\xdf\xbf", 1, 0),
    CASE("2.2.3 U+FFFF", "\xef\xbf\xbf", 1, 0),
    CASE("2.2.4 U+1FFFFF", "\xf7\xbf\xbf\xbf", -1, 0),
    CASE("2.2.5 U+3FFFFFF", "\xfb\xbf\xbf\xbf\xbf", -1, 0),
    CASE("2.2.6 U+7FFFFFFF", "\xfd\xbf\xbf\xbf\xbf\xbf", -1, 0),
    /* 2.3 other boundary conditions */
    CASE("2.3.1 U+D7FF", "\xed\x9f\xbf", 1, 0),
    CASE("2.3.2 U+E000", "\xee\x80\x80", 1, 0),
    CASE("2.3.3 U+FFFD", "\xef\xbf\xbd", 1, 0),
    CASE("2.3.4 U+10FFFF", "\xf4\x8f\xbf\xbf", 1, 0),
    CASE("2.3.5 U+110000", "\xf4\x90\x80\x80", -1, 1),
    /* 3.1 unexpected continuation bytes */
    CASE("3.1.1 first continuation", "\x80", -1, 0),
    CASE("3.1.2 last continuation", "\xbf", -1, 0),
    CASE("3.1.3 2 continuations", "\x80\xbf", -1, 0),
    CASE("3.1.4 3 continuations", "\x80\xbf\x80", -1, 0),
    CASE("3.1.8 7 continuations", "\x80\xbf\x80\xbf\x80\xbf\x80", -1, 0),
    CASE("3.1 after valid text", "ab\xce\xba\x80", -1, 4),
    /* 3.2 lonely start characters (each followed by a space) */
    CASE("3.2.1 lonely C0", "\xc0\x20", -1, 0),
    CASE("3.2.1 lonely C2", "\xc2\x20", -1, 1),
    CASE("3.2.1 lonely DF", "\xdf\x20", -1, 1),
    CASE("3.2.2 lonely E0", "\xe0\x20", -1, 1),
    CASE("3.2.2 lonely EF", "\xef\x20", -1, 1),
    CASE("3.2.3 lonely F0", "\xf0\x20", -1, 1),
    CASE("3.2.3 lonely F7", "\xf7\x20", -1, 0),
    CASE("3.2.4 lonely F8", "\xf8\x20", -1, 0),
    CASE("3.2.5 lonely FC", "\xfc\x20", -1, 0),
    /* 3.3 sequences with the last continuation byte missing */
    CASE("3.3.1 2-byte U+0000 missing", "\xc0", -1, 0),
    CASE("3.3.2 3-byte U+0000 missing", "\xe0\x80", -1, 1),
    CASE("3.3.3 4-byte U+0000 missing", "\xf0\x80\x80", -1, 1),
    CASE("3.3.6 2-byte U+07FF missing", "\xdf", 0, 0),
    CASE("3.3.7 3-byte U+FFFF missing", "\xef\xbf", 0, 0),
    CASE("3.3.8 4-byte U+1FFFFF missing", "\xf7\xbf\xbf", -1, 0),
    CASE("3.3 4-byte U+10FFFF missing", "\xf4\x8f\xbf", 0, 0),
    /* 3.4 concatenation of incomplete sequences */
    CASE("3.4 concatenated incomplete", "\xc2\xe0\x80\xf0\x80\x80\xdf\xef\xbf", -1, 1),
    /* 3.5 impossible bytes */
    CASE("3.5.1 FE", "\xfe", -1, 0),
    CASE("3.5.2 FF", "\xff", -1, 0),
    CASE("3.5.3 FE FE FF FF", "\xfe\xfe\xff\xff", -1, 0),
    /* 4.1 overlong ASCII '/' */
    CASE("4.1.1 C0 AF", "\xc0\xaf", -1, 0),
    CASE("4.1.2 E0 80 AF", "\xe0\x80\xaf", -1, 1),
    CASE("4.1.3 F0 80 80 AF", "\xf0\x80\x80\xaf", -1, 1),
    CASE("4.1.4 F8 80 80 80 AF", "\xf8\x80\x80\x80\xaf", -1, 0),
    CASE("4.1.5 FC 80 80 80 80 AF", "\xfc\x80\x80\x80\x80\xaf", -1, 0),
    /* 4.2 maximum overlong sequences */
    CASE("4.2.1 C1 BF", "\xc1\xbf", -1, 0),
    CASE("4.2.2 E0 9F BF", "\xe0\x9f\xbf", -1, 1),
    CASE("4.2.3 F0 8F BF BF", "\xf0\x8f\xbf\xbf", -1, 1),
    CASE("4.2.4 F8 87 BF BF BF", "\xf8\x87\xbf\xbf\xbf", -1, 0),
    /* 4.3 overlong NUL */
    CASE("4.3.1 C0 80", "\xc0\x80", -1, 0),
    CASE("4.3.2 E0 80 80", "\xe0\x80\x80", -1, 1),
    CASE("4.3.3 F0 80 80 80", "\xf0\x80\x80\x80", -1, 1),
    /* 5.1 single UTF-16 surrogates */
    CASE("5.1.1 U+D800", "\xed\xa0\x80", -1, 1),
    CASE("5.1.2 U+DB7F", "\xed\xad\xbf", -1, 1),
    CASE("5.1.3 U+DB80", "\xed\xae\x80", -1, 1),
    CASE("5.1.4 U+DBFF", "\xed\xaf\xbf", -1, 1),
    CASE("5.1.5 U+DC00", "\xed\xb0\x80", -1, 1),
    CASE("5.1.6 U+DF80", "\xed\xbe\x80", -1, 1),
    CASE("5.1.7 U+DFFF", "\xed\xbf\xbf", -1, 1),
    /* 5.2 paired UTF-16 surrogates */
    CASE("5.2.1 U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80", -1, 1),
    CASE("5.2.8 U+DBFF U+DFFF", "\xed\xaf\xbf\xed\xbf\xbf", -1, 1),
    /* 5.3 noncharacters are valid UTF-8 */
    CASE("5.3.1 U+FFFE", "\xef\xbf\xbe", 1, 0),
    CASE("5.3.2 U+FFFF", "\xef\xbf\xbf", 1, 0),
    CASE("5.3 U+FDD0", "\xef\xb7\x90", 1, 0),
};

Test(utf8, kuhn_stress_cases_whole) {
    for (size_t i = 0; i < sizeof kuhn_cases / sizeof kuhn_cases[0]; i++) {
        const kuhn_case *c = &kuhn_cases[i];
        utf8_validator v;
        utf8_init(&v);
        size_t bad = SIZE_MAX;
        int rc = utf8_feed(&v, (const uint8_t *)c->bytes, c->len, &bad);
        if (c->expect < 0) {
            cr_expect_eq(rc, -EILSEQ, "%s: should be rejected", c->name);
            cr_expect_eq(bad, c->bad_offset, "%s: rejected at %zu, want %zu", c->name, bad,
                         c->bad_offset);
        } else {
            cr_expect_eq(rc, 0, "%s: rejected at %zu", c->name, bad);
            cr_expect_eq(utf8_is_complete(&v), c->expect == 1, "%s: completeness", c->name);
        }
        cr_expect_eq(utf8_validate((const uint8_t *)c->bytes, c->len), c->expect == 1, "%s",
                     c->name);
    }
}

/* The same verdict, at the same byte, when fed one byte per call. */
Test(utf8, kuhn_stress_cases_byte_at_a_time) {
    for (size_t i = 0; i < sizeof kuhn_cases / sizeof kuhn_cases[0]; i++) {
        const kuhn_case *c = &kuhn_cases[i];
        utf8_validator v;
        utf8_init(&v);
        size_t failed_at = SIZE_MAX;
        for (size_t j = 0; j < c->len; j++) {
            if (utf8_feed(&v, (const uint8_t *)c->bytes + j, 1, NULL) < 0) {
                failed_at = j;
                break;
            }
        }
        if (c->expect < 0)
            cr_expect_eq(failed_at, c->bad_offset, "%s", c->name);
        else
            cr_expect(failed_at == SIZE_MAX && utf8_is_complete(&v) == (c->expect == 1), "%s",
                      c->name);
    }
}

Test(utf8, all_continuation_bytes_alone_rejected) {
    for (unsigned b = 0x80; b <= 0xbf; b++) {
        uint8_t byte = (uint8_t)b;
        cr_expect(!utf8_validate(&byte, 1), "0x%02x", b);
    }
}

Test(utf8, code_point_split_across_calls) {
    const uint8_t four[] = { 0xf0, 0x9f, 0x98, 0x80 };          /* U+1F600 */
    for (size_t split = 0; split <= sizeof four; split++) {
        utf8_validator v;
        utf8_init(&v);
        cr_assert_eq(utf8_feed(&v, four, split, NULL), 0);
        cr_assert_eq(utf8_is_complete(&v), split == 0 || split == 4);
        cr_assert_eq(utf8_feed(&v, four + split, sizeof four - split, NULL), 0);
        cr_assert(utf8_is_complete(&v), "split %zu", split);
    }
}

Test(utf8, surrogate_fails_on_second_call_at_offset_0) {
    utf8_validator v;
    utf8_init(&v);
    size_t bad = 99;
    cr_assert_eq(utf8_feed(&v, (const uint8_t *)"ok\xed", 3, &bad), 0);
    cr_assert_eq(utf8_feed(&v, (const uint8_t *)"\xa0\x80", 2, &bad), -EILSEQ);
    cr_assert_eq(bad, 0);
    /* stays rejected */
    cr_assert_eq(utf8_feed(&v, (const uint8_t *)"a", 1, &bad), -EILSEQ);
    cr_assert(!utf8_is_complete(&v));
}

Test(utf8, ascii_fast_path_reports_exact_offset) {
    uint8_t buf[100];
    for (size_t pos = 0; pos < sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = 0xff;
        utf8_validator v;
        utf8_init(&v);
        size_t bad = SIZE_MAX;
        cr_assert_eq(utf8_feed(&v, buf, sizeof buf, &bad), -EILSEQ);
        cr_assert_eq(bad, pos);
    }
    memset(buf, 'a', sizeof buf);
    cr_assert(utf8_validate(buf, sizeof buf));
    cr_assert(utf8_validate(buf, 0));
}

/* Reference decoder written the arithmetic way, to cross-check the DFA. */
static int reference_len(const uint8_t *p, size_t len) {
    uint32_t cp;
    size_t need;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) { cp = p[0] & 0x1f; need = 2; }
    else if ((p[0] & 0xf0) == 0xe0) { cp = p[0] & 0x0f; need = 3; }
    else if ((p[0] & 0xf8) == 0xf0) { cp = p[0] & 0x07; need = 4; }
    else return -1;
    if (len < need)
        return -1;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min_cp[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    return (int)need;
}

static bool reference_valid(const uint8_t *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        int n = reference_len(p + i, len - i);
        if (n < 0)
            return false;
        i += (size_t)n;
    }
    return true;
}

Test(utf8, matches_reference_on_all_two_byte_and_three_byte_e_sequences) {
    uint8_t b[3];
    for (unsigned x = 0; x < 256; x++)
        for (unsigned y = 0; y < 256; y++) {
            b[0] = (uint8_t)x;
            b[1] = (uint8_t)y;
            cr_assert_eq(utf8_validate(b, 2), reference_valid(b, 2), "%02x %02x", x, y);
        }
    for (unsigned x = 0xe0; x <= 0xef; x++)
        for (unsigned y = 0x80; y <= 0xbf; y++)
            for (unsigned z = 0; z < 256; z++) {
                b[0] = (uint8_t)x;
                b[1] = (uint8_t)y;
                b[2] = (uint8_t)z;
                cr_assert_eq(utf8_validate(b, 3), reference_valid(b, 3), "%02x %02x %02x", x,
                             y, z);
            }
}

Test(utf8, matches_reference_on_four_byte_leads) {
    uint8_t b[4] = { 0, 0, 0x80, 0x80 };
    for (unsigned x = 0xf0; x <= 0xff; x++)
        for (unsigned y = 0; y < 256; y++) {
            b[0] = (uint8_t)x;
            b[1] = (uint8_t)y;
            cr_assert_eq(utf8_validate(b, 4), reference_valid(b, 4), "%02x %02x", x, y);
        }
}
