/* The chunked text buffer, checked against a naive string on large texts with
 * edits at and across chunk boundaries. */
#include <stdlib.h>

#include "ot_test_util.h"

/* Naive reference: UTF-8 in a flat array, positions found by scanning. */
typedef struct ref {
    char *data;
    size_t len;
    size_t cap;
} ref;

static size_t ref_byte(const ref *r, uint64_t pos) {
    size_t i = 0;
    while (i < r->len) {
        if (((unsigned char)r->data[i] & 0xC0) != 0x80) {
            if (pos == 0)
                return i;
            pos--;
        }
        i++;
    }
    return i;
}

static uint64_t ref_cps(const ref *r) {
    uint64_t n = 0;
    for (size_t i = 0; i < r->len; i++)
        n += ((unsigned char)r->data[i] & 0xC0) != 0x80;
    return n;
}

static void ref_insert(ref *r, uint64_t pos, const char *s, size_t n) {
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->data = realloc(r->data, r->cap);
        cr_assert_not_null(r->data);
    }
    size_t at = ref_byte(r, pos);
    memmove(r->data + at + n, r->data + at, r->len - at);
    memcpy(r->data + at, s, n);
    r->len += n;
}

static void ref_delete(ref *r, uint64_t pos, uint64_t count) {
    size_t from = ref_byte(r, pos), to = ref_byte(r, pos + count);
    memmove(r->data + from, r->data + to, r->len - to);
    r->len -= to - from;
}

/* Random text of `count` code points mixing ASCII, 2-, 3- and 4-byte ones. */
static size_t random_text(uint64_t *rng, char *out, size_t count) {
    static const char *pieces[] = { "a", "b", " ", "\n", "\xc3\xa9", "\xe4\xb8\xad",
                                    "\xf0\x9f\x98\x80", "\xcc\x81", "z", "\xe2\x80\x8b" };
    size_t len = 0;
    for (size_t i = 0; i < count; i++) {
        const char *p = pieces[ot_t_below(rng, 10)];
        size_t n = strlen(p);
        memcpy(out + len, p, n);
        len += n;
    }
    return len;
}

static void expect_same(const ot_text *t, const ref *r) {
    cr_assert_eq(ot_text_len_bytes(t), r->len);
    cr_assert_eq(ot_text_len_codepoints(t), ref_cps(r));
    cr_assert(ot_text_equals(t, r->data ? r->data : "", r->len));
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_text_to_buf(t, &b), OT_OK);
    cr_assert_eq(b.len, r->len);
    cr_assert_eq(memcmp(b.data, r->data ? r->data : "", r->len), 0);
    ot_buf_free(&b);
}

Test(ot_text, empty_and_basic) {
    ot_text *t = ot_text_new();
    cr_assert_not_null(t);
    cr_assert_eq(ot_text_len_codepoints(t), 0);
    cr_assert_eq(ot_text_len_bytes(t), 0);
    cr_assert(ot_text_equals(t, "", 0));
    uint64_t off = 99;
    cr_assert_eq(ot_text_byte_offset(t, 0, &off), OT_OK);
    cr_assert_eq(off, 0);
    cr_assert_eq(ot_text_byte_offset(t, 1, &off), OT_ERR_RANGE);
    cr_assert_eq(ot_text_delete(t, 0, 0), OT_OK);
    cr_assert_eq(ot_text_delete(t, 0, 1), OT_ERR_RANGE);
    cr_assert_eq(ot_text_insert(t, 1, "a", 1, 1), OT_ERR_RANGE);
    cr_assert_eq(ot_text_insert(t, 0, "h\xc3\xa9llo", 6, 5), OT_OK);
    cr_assert(ot_text_equals(t, "h\xc3\xa9llo", 6));
    cr_assert_not(ot_text_equals(t, "hello", 5));
    cr_assert_not(ot_text_equals(t, "h\xc3\xa9llp", 6));
    cr_assert_eq(ot_text_delete(t, 0, 5), OT_OK);
    cr_assert_eq(ot_text_len_codepoints(t), 0);
    cr_assert_eq(ot_text_insert(t, 0, "x", 1, 1), OT_OK); /* after becoming empty */
    cr_assert(ot_text_equals(t, "x", 1));
    ot_text_free(t);
    ot_text_free(NULL);
}

Test(ot_text, from_utf8_validates) {
    cr_assert_null(ot_text_from_utf8("\xff", 1));
    cr_assert_null(ot_text_from_utf8("a\0b", 3));
    cr_assert_null(ot_text_from_utf8("\xed\xb0\x80", 3));
    ot_text *t = ot_text_from_utf8("", 0);
    cr_assert_not_null(t);
    cr_assert_eq(ot_text_len_codepoints(t), 0);
    ot_text_free(t);
}

Test(ot_text, byte_offsets_and_slices_multibyte) {
    /* a é 中 😀 e+combining */
    const char *s = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" "e\xcc\x81";
    ot_text *t = ot_text_from_utf8(s, strlen(s));
    cr_assert_not_null(t);
    cr_assert_eq(ot_text_len_codepoints(t), 6);
    cr_assert_eq(ot_text_len_bytes(t), 13);
    uint64_t want[] = { 0, 1, 3, 6, 10, 11, 13 };
    for (uint64_t p = 0; p <= 6; p++) {
        uint64_t off = 0;
        cr_assert_eq(ot_text_byte_offset(t, p, &off), OT_OK);
        cr_assert_eq(off, want[p], "pos %lu", (unsigned long)p);
    }
    uint64_t off;
    cr_assert_eq(ot_text_byte_offset(t, 7, &off), OT_ERR_RANGE);
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_text_slice(t, 2, 2, &b), OT_OK);
    cr_assert_str_eq(b.data, "\xe4\xb8\xad\xf0\x9f\x98\x80");
    ot_buf_clear(&b);
    cr_assert_eq(ot_text_slice(t, 6, 0, &b), OT_OK);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(ot_text_slice(t, 5, 2, &b), OT_ERR_RANGE);
    cr_assert_eq(ot_text_slice(t, 7, 0, &b), OT_ERR_RANGE);
    cr_assert_eq(ot_text_slice(t, 0, UINT64_MAX, &b), OT_ERR_RANGE);
    cr_assert_eq(ot_text_delete(t, 3, 4), OT_ERR_RANGE);
    cr_assert_eq(ot_text_delete(t, 2, 1), OT_OK);
    cr_assert(ot_text_equals(t, "a\xc3\xa9\xf0\x9f\x98\x80" "e\xcc\x81", 10));
    ot_buf_free(&b);
    ot_text_free(t);
}

/* Edits right at and across the 2 KiB fill / 4 KiB capacity of chunks. */
Test(ot_text, chunk_boundaries) {
    enum { n = 3 * 2048 + 5 };
    char *s = malloc(n);
    cr_assert_not_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    ot_text *t = ot_text_from_utf8(s, n);
    ref r = { 0 };
    ref_insert(&r, 0, s, n);
    expect_same(t, &r);
    uint64_t spots[] = { 2043, 2044, 2045, 2046, 2047, 2048, 4091, 4092, 4096, 6080 };
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        uint64_t p = spots[i];
        cr_assert_eq(ot_text_insert(t, p, "\xf0\x9f\x98\x80", 4, 1), OT_OK);
        ref_insert(&r, p, "\xf0\x9f\x98\x80", 4);
        expect_same(t, &r);
        cr_assert_eq(ot_text_delete(t, p - 3, 7), OT_OK); /* spans the insert */
        ref_delete(&r, p - 3, 7);
        expect_same(t, &r);
    }
    /* Grow one chunk past its capacity with single code points: forces splits. */
    for (int i = 0; i < 5000; i++) {
        cr_assert_eq(ot_text_insert(t, 3000, "\xc3\xa9", 2, 1), OT_OK);
        ref_insert(&r, 3000, "\xc3\xa9", 2);
    }
    expect_same(t, &r);
    /* A delete spanning many chunks, then every byte offset checked. */
    cr_assert_eq(ot_text_delete(t, 100, 9000), OT_OK);
    ref_delete(&r, 100, 9000);
    expect_same(t, &r);
    for (uint64_t p = 0; p <= ot_text_len_codepoints(t); p++) {
        uint64_t off = 0;
        cr_assert_eq(ot_text_byte_offset(t, p, &off), OT_OK);
        cr_assert_eq(off, ref_byte(&r, p));
    }
    /* Everything deleted. */
    cr_assert_eq(ot_text_delete(t, 0, ot_text_len_codepoints(t)), OT_OK);
    ref_delete(&r, 0, ref_cps(&r));
    expect_same(t, &r);
    free(r.data);
    free(s);
    ot_text_free(t);
}

/* Random inserts (1 code point up to several chunks) and deletes (up to
 * several chunks) on a ~100 k code point text, against the reference. */
Test(ot_text, random_edits_match_reference) {
    uint64_t seed = 0x5eed0001;
    const char *env = getenv("OT_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    uint64_t rng = seed;
    enum { initial_cps = 100000, max_insert_cps = 3000 };
    char *tmp = malloc(initial_cps * 4);
    cr_assert_not_null(tmp);
    size_t len = random_text(&rng, tmp, initial_cps);
    ot_text *t = ot_text_from_utf8(tmp, len);
    cr_assert_not_null(t);
    ref r = { 0 };
    ref_insert(&r, 0, tmp, len);
    expect_same(t, &r);
    for (int step = 0; step < 1500; step++) {
        uint64_t total = ot_text_len_codepoints(t);
        uint64_t kind = ot_t_below(&rng, 10);
        if (kind < 5 || total == 0) {
            uint64_t cps = kind == 0 ? 1 + ot_t_below(&rng, max_insert_cps) : 1 + ot_t_below(&rng, 4);
            size_t n = random_text(&rng, tmp, cps);
            uint64_t pos = ot_t_below(&rng, total + 1);
            cr_assert_eq(ot_text_insert(t, pos, tmp, n, cps), OT_OK, "seed %#lx step %d",
                         (unsigned long)seed, step);
            ref_insert(&r, pos, tmp, n);
        } else {
            uint64_t cps = kind == 9 ? ot_t_below(&rng, 6000) : 1 + ot_t_below(&rng, 3);
            uint64_t pos = ot_t_below(&rng, total + 1);
            if (cps > total - pos)
                cps = total - pos;
            cr_assert_eq(ot_text_delete(t, pos, cps), OT_OK);
            ref_delete(&r, pos, cps);
        }
        cr_assert_eq(ot_text_len_bytes(t), r.len, "seed %#lx step %d", (unsigned long)seed, step);
        if (step % 100 == 0) {
            expect_same(t, &r);
            uint64_t p = ot_t_below(&rng, ot_text_len_codepoints(t) + 1);
            uint64_t off = 0;
            cr_assert_eq(ot_text_byte_offset(t, p, &off), OT_OK);
            cr_assert_eq(off, ref_byte(&r, p), "seed %#lx step %d", (unsigned long)seed, step);
            uint64_t count = ot_t_below(&rng, ot_text_len_codepoints(t) - p + 1);
            ot_buf b;
            ot_buf_init(&b);
            cr_assert_eq(ot_text_slice(t, p, count, &b), OT_OK);
            size_t to = ref_byte(&r, p + count);
            cr_assert_eq(b.len, to - off);
            cr_assert_eq(memcmp(b.data, r.data + off, b.len), 0);
            ot_buf_free(&b);
        }
    }
    expect_same(t, &r);
    free(r.data);
    free(tmp);
    ot_text_free(t);
}

/* Position mapping takes shortcuts: an all-ASCII chunk maps code points to
 * bytes directly, others are scanned from the nearer end, and a delete's end
 * is found from its start. Mostly ASCII text, whose chunks turn mixed and back
 * as multi-byte code points come and go, checked at every step. */
Test(ot_text, ascii_and_mixed_chunks_map_positions) {
    uint64_t rng = 0x5eed0002;
    enum { initial_cps = 9000, steps = 3000 };
    char *s = malloc(initial_cps);
    cr_assert_not_null(s);
    memset(s, 'k', initial_cps);
    ot_text *t = ot_text_from_utf8(s, initial_cps);
    cr_assert_not_null(t);
    ref r = { 0 };
    ref_insert(&r, 0, s, initial_cps);
    static const char *pieces[] = { "x", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80" };
    for (int step = 0; step < steps; step++) {
        uint64_t total = ot_text_len_codepoints(t);
        uint64_t pos = ot_t_below(&rng, total + 1);
        if (ot_t_below(&rng, 2) == 0 || total == 0) {
            /* Multi-byte inserts are rare, so most chunks stay or turn ASCII. */
            const char *p = pieces[ot_t_below(&rng, 8) == 0 ? 1 + ot_t_below(&rng, 3) : 0];
            cr_assert_eq(ot_text_insert(t, pos, p, strlen(p), 1), OT_OK);
            ref_insert(&r, pos, p, strlen(p));
        } else {
            uint64_t cps = 1 + ot_t_below(&rng, 40);
            if (cps > total - pos)
                cps = total - pos;
            cr_assert_eq(ot_text_delete(t, pos, cps), OT_OK);
            ref_delete(&r, pos, cps);
        }
        uint64_t p = ot_t_below(&rng, ot_text_len_codepoints(t) + 1);
        uint64_t off = 0;
        cr_assert_eq(ot_text_byte_offset(t, p, &off), OT_OK);
        cr_assert_eq(off, ref_byte(&r, p), "step %d", step);
    }
    expect_same(t, &r);
    for (uint64_t p = 0; p <= ot_text_len_codepoints(t); p++) {
        uint64_t off = 0;
        cr_assert_eq(ot_text_byte_offset(t, p, &off), OT_OK);
        cr_assert_eq(off, ref_byte(&r, p));
    }
    free(r.data);
    free(s);
    ot_text_free(t);
}
