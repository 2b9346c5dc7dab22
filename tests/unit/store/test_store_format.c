#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"

static store_record rec_make(uint64_t base, const char *id, const char *author, const char *op) {
    return (store_record){
        .base_version = base,
        .time_ms = 1700000000123 + (int64_t)base,
        .id = id,
        .id_len = strlen(id),
        .author = author,
        .author_len = strlen(author),
        .op_json = op,
        .op_len = strlen(op),
    };
}

/* A segment image: header + records with bases start, start+1, ... */
static size_t build_segment(uint8_t *buf, size_t cap, uint64_t start, int count,
                            size_t *offsets) {
    store_segment_header_encode(start, buf);
    size_t len = STORE_SEGMENT_HEADER_BYTES;
    for (int i = 0; i < count; i++) {
        char id[32];
        snprintf(id, sizeof id, "c1:%d", i);
        store_record r = rec_make(start + (uint64_t)i, id, "alice", "[\"x\"]");
        size_t n = 0;
        cr_assert_eq(store_record_encode(&r, buf + len, cap - len, &n), 0);
        if (offsets != NULL)
            offsets[i] = len;
        len += n;
    }
    return len;
}

Test(store_format, record_round_trip) {
    const char *op = "[3,\"h\xc3\xa9llo \xf0\x9f\x98\x80\",-2,1]";
    store_record r = rec_make(42, "client-7:19", "bob", op);
    r.time_ms = -5;
    uint8_t buf[256];
    size_t n = 0;
    cr_assert_eq(store_record_encode(&r, buf, sizeof buf, &n), 0);
    cr_assert_eq(n, store_record_size(&r));
    cr_assert_eq(n, STORE_RECORD_HEADER_BYTES + STORE_RECORD_FIXED_BYTES + 11 + 3 + strlen(op));
    store_record d;
    size_t used = 0;
    cr_assert_eq(store_record_decode(buf, n, &d, &used), 0);
    cr_assert_eq(used, n);
    cr_assert_eq(d.base_version, 42);
    cr_assert_eq(d.time_ms, -5);
    cr_assert_eq(d.id_len, 11);
    cr_assert_arr_eq(d.id, "client-7:19", 11);
    cr_assert_eq(d.author_len, 3);
    cr_assert_arr_eq(d.author, "bob", 3);
    cr_assert_eq(d.op_len, strlen(op));
    cr_assert_arr_eq(d.op_json, op, strlen(op));
}

Test(store_format, empty_fields_round_trip) {
    store_record r = rec_make(0, "", "", "[]");
    uint8_t buf[64];
    size_t n = 0, used = 0;
    cr_assert_eq(store_record_encode(&r, buf, sizeof buf, &n), 0);
    store_record d;
    cr_assert_eq(store_record_decode(buf, n, &d, &used), 0);
    cr_assert_eq(d.id_len, 0);
    cr_assert_eq(d.author_len, 0);
    cr_assert_eq(d.op_len, 2);
}

Test(store_format, encode_refuses_small_buffer_and_long_fields) {
    store_record r = rec_make(1, "id", "a", "[1]");
    uint8_t buf[16];
    size_t n = 0;
    cr_assert_eq(store_record_encode(&r, buf, sizeof buf, &n), -ENOBUFS);
    static char long_id[STORE_MAX_ID_BYTES + 1];
    memset(long_id, 'x', sizeof long_id);
    r.id = long_id;
    r.id_len = sizeof long_id;
    cr_assert_eq(store_record_size(&r), 0);
    cr_assert_eq(store_record_encode(&r, buf, sizeof buf, &n), -EINVAL);
}

Test(store_format, decode_detects_every_truncation_and_bit_flip) {
    store_record r = rec_make(9, "id-1", "carol", "[1,\"ab\"]");
    uint8_t buf[128];
    size_t n = 0, used = 0;
    store_record d;
    cr_assert_eq(store_record_encode(&r, buf, sizeof buf, &n), 0);
    for (size_t cut = 0; cut < n; cut++)
        cr_assert_eq(store_record_decode(buf, cut, &d, &used), STORE_ERR_TORN, "cut %zu", cut);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            int rc = store_record_decode(buf, n, &d, &used);
            cr_assert_neq(rc, 0, "flip byte %zu bit %d", i, bit);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    cr_assert_eq(store_record_decode(buf, n, &d, &used), 0);
}

Test(store_format, decode_reports_magic_and_size) {
    uint8_t buf[32] = {0};
    store_record d;
    size_t used;
    cr_assert_eq(store_record_decode(buf, sizeof buf, &d, &used), STORE_ERR_MAGIC);
    memcpy(buf, "RPR1", 4);
    buf[4] = 0xFF; buf[5] = 0xFF; buf[6] = 0xFF; buf[7] = 0xFF;
    cr_assert_eq(store_record_decode(buf, sizeof buf, &d, &used), STORE_ERR_TOO_LARGE);
}

Test(store_format, segment_header_round_trip) {
    uint8_t h[STORE_SEGMENT_HEADER_BYTES];
    uint64_t v = 0;
    store_segment_header_encode(123456789012ull, h);
    cr_assert_eq(store_segment_header_decode(h, sizeof h, &v), 0);
    cr_assert_eq(v, 123456789012ull);
    cr_assert_eq(store_segment_header_decode(h, sizeof h - 1, &v), STORE_ERR_TORN);
    h[9] ^= 1;
    cr_assert_eq(store_segment_header_decode(h, sizeof h, &v), STORE_ERR_CRC);
    h[0] = 'X';
    cr_assert_eq(store_segment_header_decode(h, sizeof h, &v), STORE_ERR_MAGIC);
}

typedef struct collect {
    uint64_t bases[64];
    int count;
} collect;

static int collect_fn(void *ctx, const store_record *rec, size_t offset) {
    (void)offset;
    collect *c = ctx;
    c->bases[c->count++] = rec->base_version;
    return 0;
}

Test(store_format, scan_clean_segment) {
    uint8_t buf[4096];
    size_t len = build_segment(buf, sizeof buf, 10, 5, NULL);
    collect c = {0};
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, len, collect_fn, &c, &rep), 0);
    cr_assert_eq(rep.start_version, 10);
    cr_assert_eq(rep.next_version, 15);
    cr_assert_eq(rep.count_records, 5);
    cr_assert_eq(rep.valid_len_bytes, len);
    cr_assert_not(rep.torn_tail);
    cr_assert_eq(c.count, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(c.bases[i], 10 + (uint64_t)i);
}

Test(store_format, scan_empty_and_short_header) {
    uint8_t buf[64];
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, 0, NULL, NULL, &rep), 0);
    cr_assert_not(rep.torn_tail);
    store_segment_header_encode(3, buf);
    cr_assert_eq(store_scan_segment(buf, 10, NULL, NULL, &rep), 0);
    cr_assert(rep.torn_tail);
    cr_assert_eq(rep.valid_len_bytes, 0);
}

Test(store_format, scan_truncates_torn_tail_at_every_cut) {
    uint8_t buf[4096];
    size_t offs[4];
    size_t len = build_segment(buf, sizeof buf, 0, 4, offs);
    /* Any cut inside the last record is a torn tail ending at its start. */
    for (size_t cut = offs[3] + 1; cut < len; cut++) {
        store_scan_report rep;
        cr_assert_eq(store_scan_segment(buf, cut, NULL, NULL, &rep), 0, "cut %zu", cut);
        cr_assert(rep.torn_tail);
        cr_assert_eq(rep.valid_len_bytes, offs[3]);
        cr_assert_eq(rep.next_version, 3);
    }
}

Test(store_format, scan_torn_tail_with_garbage_and_zeros) {
    uint8_t buf[4096];
    size_t offs[3];
    size_t len = build_segment(buf, sizeof buf, 0, 3, offs);
    memset(buf + len, 0, 300); /* a file extended with zeros by a crash */
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, len + 300, NULL, NULL, &rep), 0);
    cr_assert(rep.torn_tail);
    cr_assert_eq(rep.valid_len_bytes, len);
    /* The last record's CRC is wrong: still the tail. */
    buf[len - 1] ^= 0x40;
    cr_assert_eq(store_scan_segment(buf, len, NULL, NULL, &rep), 0);
    cr_assert(rep.torn_tail);
    cr_assert_eq(rep.valid_len_bytes, offs[2]);
}

Test(store_format, scan_reports_middle_corruption_with_offset) {
    uint8_t buf[4096];
    size_t offs[5];
    size_t len = build_segment(buf, sizeof buf, 7, 5, offs);
    buf[offs[2] + 20] ^= 0x01; /* inside record 2's payload */
    store_scan_report rep;
    collect c = {0};
    cr_assert_eq(store_scan_segment(buf, len, collect_fn, &c, &rep), STORE_ERR_CORRUPT);
    cr_assert_eq(rep.error, STORE_ERR_CORRUPT);
    cr_assert_eq(rep.error_offset_bytes, offs[2]);
    cr_assert_eq(c.count, 2);
    /* A damaged length field in the middle is caught the same way. */
    buf[offs[2] + 20] ^= 0x01;
    buf[offs[1] + 5] ^= 0x10;
    cr_assert_eq(store_scan_segment(buf, len, NULL, NULL, &rep), STORE_ERR_CORRUPT);
    cr_assert_eq(rep.error_offset_bytes, offs[1]);
}

Test(store_format, scan_bad_header_before_valid_records_is_corruption) {
    uint8_t buf[4096];
    size_t len = build_segment(buf, sizeof buf, 0, 2, NULL);
    buf[3] ^= 0xFF;
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, len, NULL, NULL, &rep), STORE_ERR_MAGIC);
    cr_assert_eq(rep.error_offset_bytes, 0);
}

Test(store_format, scan_reports_version_gap) {
    uint8_t buf[4096];
    size_t len = build_segment(buf, sizeof buf, 0, 2, NULL);
    store_record r = rec_make(5, "x", "y", "[1]");
    size_t n = 0;
    cr_assert_eq(store_record_encode(&r, buf + len, sizeof buf - len, &n), 0);
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, len + n, NULL, NULL, &rep), STORE_ERR_VERSION_GAP);
    cr_assert_eq(rep.error_offset_bytes, len);
}

static int stop_at_two(void *ctx, const store_record *rec, size_t offset) {
    (void)ctx;
    (void)offset;
    return rec->base_version == 2 ? -77 : 0;
}

Test(store_format, scan_callback_can_stop) {
    uint8_t buf[4096];
    size_t offs[4];
    size_t len = build_segment(buf, sizeof buf, 0, 4, offs);
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, len, stop_at_two, NULL, &rep), -77);
    cr_assert_eq(rep.error_offset_bytes, offs[2]);
}

Test(store_format, snapshot_round_trip_and_damage) {
    const char *text = "hello\nw\xc3\xb6rld";
    uint8_t buf[128];
    size_t n = 0;
    cr_assert_eq(store_snapshot_encode(77, text, strlen(text), buf, sizeof buf, &n), 0);
    cr_assert_eq(n, store_snapshot_size(strlen(text)));
    uint64_t v = 0;
    const char *t = NULL;
    size_t tl = 0;
    cr_assert_eq(store_snapshot_decode(buf, n, &v, &t, &tl), 0);
    cr_assert_eq(v, 77);
    cr_assert_eq(tl, strlen(text));
    cr_assert_arr_eq(t, text, tl);
    cr_assert_eq(store_snapshot_decode(buf, n - 1, &v, &t, &tl), STORE_ERR_TORN);
    buf[30] ^= 4;
    cr_assert_eq(store_snapshot_decode(buf, n, &v, &t, &tl), STORE_ERR_CRC);
    buf[30] ^= 4;
    buf[0] = 'x';
    cr_assert_eq(store_snapshot_decode(buf, n, &v, &t, &tl), STORE_ERR_MAGIC);
    cr_assert_eq(store_snapshot_encode(1, text, strlen(text), buf, 10, &n), -ENOBUFS);
    cr_assert_eq(store_snapshot_encode(5, "", 0, buf, sizeof buf, &n), 0);
    cr_assert_eq(store_snapshot_decode(buf, n, &v, &t, &tl), 0);
    cr_assert_eq(tl, 0);
}

Test(store_format, err_str_is_stable) {
    cr_assert_str_eq(store_err_str(STORE_ERR_CORRUPT), "corrupt record followed by valid records");
    cr_assert_str_eq(store_err_str(-ENOSPC), "No space left on device");
    cr_assert_str_eq(store_err_str(-99999), "unknown error");
}
