/* ws_reader: the message reader state machine (suite ws_reader). */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "ws/ws.h"

#define MAX_EVENTS 32
#define MAX_STREAM_BYTES (1 << 17)

typedef struct got {
    ws_event_type type;
    uint8_t opcode;
    bool compressed;
    uint16_t close_code;
    int err;
    size_t len;
    uint8_t *data;                      /* copy of the event bytes (data or reason) */
} got;

typedef struct run_result {
    got ev[MAX_EVENTS];
    size_t count;
    size_t consumed_at_error;           /* stream offset just after the failing byte */
} run_result;

static void record(run_result *res, const ws_event *ev) {
    cr_assert_lt(res->count, MAX_EVENTS);
    got *g = &res->ev[res->count++];
    g->type = ev->type;
    g->opcode = ev->opcode;
    g->compressed = ev->compressed;
    g->close_code = ev->close_code;
    g->err = ev->err;
    const void *src = ev->type == WS_EV_CLOSE ? (const void *)ev->reason : (const void *)ev->data;
    g->len = ev->type == WS_EV_CLOSE ? ev->reason_len : ev->len;
    g->data = malloc(g->len + 1);
    if (g->len)
        memcpy(g->data, src, g->len);
}

static void run_free(run_result *res) {
    for (size_t i = 0; i < res->count; i++)
        free(res->ev[i].data);
    res->count = 0;
}

/* Feeds `stream` in pieces of `step` bytes (0: all at once), collecting events
 * until the input ends or an error. Works on a copy: the reader unmasks in place. */
static void run(ws_reader *r, const uint8_t *stream, size_t len, size_t step, run_result *res) {
    memset(res, 0, sizeof *res);
    uint8_t *copy = malloc(len + 1);
    memcpy(copy, stream, len);
    size_t off = 0;
    if (step == 0)
        step = len ? len : 1;
    while (off < len) {
        size_t piece = len - off < step ? len - off : step;
        size_t pos = 0;
        for (int guard = 0; guard < 100000; guard++) {
            ws_event ev;
            size_t n = ws_reader_feed(r, copy + off + pos, piece - pos, &ev);
            pos += n;
            if (ev.type != WS_EV_NONE)
                record(res, &ev);
            if (ev.type == WS_EV_ERROR) {
                res->consumed_at_error = off + pos;
                free(copy);
                return;
            }
            if (pos == piece)
                break;
        }
        off += piece;
    }
    free(copy);
}

static void server_reader(ws_reader *r, size_t max_message_bytes, pmd_inflater *inf) {
    ws_reader_config cfg = { .max_message_bytes = max_message_bytes, .expect_masked = true,
                             .inflater = inf };
    cr_assert_eq(ws_reader_init(r, &cfg), 0);
}

/* Appends one masked client frame to a stream. */
static size_t put(uint8_t *out, size_t at, bool fin, uint8_t opcode, bool rsv1,
                  const void *payload, size_t len) {
    static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    int64_t n = ws_encode_frame(out + at, MAX_STREAM_BYTES - at, fin, opcode, rsv1, payload,
                                len, mask);
    cr_assert_gt(n, 0);
    return at + (size_t)n;
}

static void expect_message(const got *g, uint8_t opcode, const void *data, size_t len) {
    cr_assert_eq(g->type, WS_EV_MESSAGE);
    cr_assert_eq(g->opcode, opcode);
    cr_assert_eq(g->len, len);
    if (len)
        cr_assert_arr_eq(g->data, data, len);
}

static void expect_error(const run_result *res, int err, uint16_t code) {
    cr_assert_gt(res->count, 0);
    const got *g = &res->ev[res->count - 1];
    cr_assert_eq(g->type, WS_EV_ERROR, "type %d", g->type);
    cr_assert_eq(g->err, err, "err %d (%s), want %d (%s)", g->err, ws_err_str(g->err), err,
                 ws_err_str(err));
    cr_assert_eq(g->close_code, code);
}

Test(ws_reader, rfc_masked_hello_delivered_in_place) {
    uint8_t frame[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    ws_reader r;
    server_reader(&r, 0, NULL);
    ws_event ev;
    cr_assert_eq(ws_reader_feed(&r, frame, sizeof frame, &ev), sizeof frame);
    cr_assert_eq(ev.type, WS_EV_MESSAGE);
    cr_assert_eq(ev.opcode, WS_OP_TEXT);
    cr_assert_eq(ev.data, frame + 6, "a whole frame is not copied");
    cr_assert_eq(ev.len, 5);
    cr_assert_arr_eq(ev.data, "Hello", 5);
    cr_assert_eq(r.buf, NULL, "no reassembly buffer allocated");
    ws_reader_free(&r);
}

Test(ws_reader, rfc_unmasked_fragments_in_client_role) {
    const uint8_t stream[] = { 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f,
                               0x89, 0x05, 'H', 'e', 'l', 'l', 'o' };
    ws_reader r;
    ws_reader_config cfg = { .expect_masked = false };
    ws_reader_init(&r, &cfg);
    run_result res;
    run(&r, stream, sizeof stream, 0, &res);
    cr_assert_eq(res.count, 2);
    expect_message(&res.ev[0], WS_OP_TEXT, "Hello", 5);
    cr_assert_eq(res.ev[1].type, WS_EV_PING);
    cr_assert_arr_eq(res.ev[1].data, "Hello", 5);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, rfc_masked_pong_and_large_binary) {
    static uint8_t stream[MAX_STREAM_BYTES];
    const uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    memcpy(stream, pong, sizeof pong);
    static uint8_t big[65000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31);
    size_t len = put(stream, sizeof pong, true, WS_OP_BINARY, false, big, 256);
    len = put(stream, len, true, WS_OP_BINARY, false, big, sizeof big);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, stream, len, 0, &res);
    cr_assert_eq(res.count, 3);
    cr_assert_eq(res.ev[0].type, WS_EV_PONG);
    cr_assert_arr_eq(res.ev[0].data, "Hello", 5);
    expect_message(&res.ev[1], WS_OP_BINARY, big, 256);
    expect_message(&res.ev[2], WS_OP_BINARY, big, sizeof big);
    run_free(&res);
    ws_reader_free(&r);
}

/* A stream exercising fragmentation with interleaved control frames, empty
 * frames and every length form. */
static size_t mixed_stream(uint8_t *s) {
    static uint8_t blob[70000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i ^ (i >> 8));
    size_t n = 0;
    n = put(s, n, false, WS_OP_TEXT, false, "κό", 4);
    n = put(s, n, false, WS_OP_CONTINUATION, false, "\xcf", 1);      /* split code point */
    n = put(s, n, true, WS_OP_PING, false, "p1", 2);
    n = put(s, n, false, WS_OP_CONTINUATION, false, "", 0);
    n = put(s, n, true, WS_OP_CONTINUATION, false, "\x83με", 5);
    n = put(s, n, true, WS_OP_TEXT, false, "", 0);
    n = put(s, n, true, WS_OP_BINARY, false, blob, 300);
    n = put(s, n, false, WS_OP_BINARY, false, blob, 1000);
    n = put(s, n, true, WS_OP_PONG, false, "", 0);
    n = put(s, n, true, WS_OP_CONTINUATION, false, blob + 1000, 69000);
    n = put(s, n, true, WS_OP_CLOSE, false, "\x03\xe8" "done", 6);
    return n;
}

static void check_mixed(const run_result *res) {
    static uint8_t blob[70000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i ^ (i >> 8));
    cr_assert_eq(res->count, 7);
    cr_assert_eq(res->ev[0].type, WS_EV_PING);
    cr_assert_eq(res->ev[0].len, 2);
    expect_message(&res->ev[1], WS_OP_TEXT, "κόσμε", strlen("κόσμε"));
    expect_message(&res->ev[2], WS_OP_TEXT, "", 0);
    expect_message(&res->ev[3], WS_OP_BINARY, blob, 300);
    cr_assert_eq(res->ev[4].type, WS_EV_PONG);
    cr_assert_eq(res->ev[4].len, 0);
    expect_message(&res->ev[5], WS_OP_BINARY, blob, 70000);
    cr_assert_eq(res->ev[6].type, WS_EV_CLOSE);
    cr_assert_eq(res->ev[6].close_code, 1000);
    cr_assert_eq(res->ev[6].len, 4);
    cr_assert_arr_eq(res->ev[6].data, "done", 4);
}

Test(ws_reader, mixed_stream_any_chunking) {
    static uint8_t stream[MAX_STREAM_BYTES];
    size_t len = mixed_stream(stream);
    const size_t steps[] = { 0, 1, 2, 3, 7, 13, 100, 4096 };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        ws_reader r;
        server_reader(&r, 0, NULL);
        run_result res;
        run(&r, stream, len, steps[i], &res);
        check_mixed(&res);
        run_free(&res);
        ws_reader_free(&r);
    }
}

Test(ws_reader, every_split_point_of_a_small_stream) {
    uint8_t stream[256];
    size_t len = 0;
    len = put(stream, len, false, WS_OP_TEXT, false, "ab\xe2\x82", 4);
    len = put(stream, len, true, WS_OP_PING, false, "x", 1);
    len = put(stream, len, true, WS_OP_CONTINUATION, false, "\xac" "cd", 3);   /* "€" */
    len = put(stream, len, true, WS_OP_BINARY, false, "\x00\x01", 2);
    for (size_t split = 0; split <= len; split++) {
        uint8_t copy[256];
        memcpy(copy, stream, len);
        ws_reader r;
        server_reader(&r, 0, NULL);
        run_result res = { .count = 0 };
        size_t bounds[3] = { 0, split, len };
        for (int part = 0; part < 2; part++) {
            size_t pos = bounds[part];
            for (int guard = 0; guard < 16 && pos < bounds[part + 1]; guard++) {
                ws_event ev;
                pos += ws_reader_feed(&r, copy + pos, bounds[part + 1] - pos, &ev);
                if (ev.type != WS_EV_NONE)
                    record(&res, &ev);
            }
        }
        cr_assert_eq(res.count, 3, "split %zu", split);
        cr_assert_eq(res.ev[0].type, WS_EV_PING);
        expect_message(&res.ev[1], WS_OP_TEXT, "ab\xe2\x82\xac" "cd", 7);
        expect_message(&res.ev[2], WS_OP_BINARY, "\x00\x01", 2);
        run_free(&res);
        ws_reader_free(&r);
    }
}

static void expect_stream_error(const uint8_t *stream, size_t len, int err, uint16_t code) {
    const size_t steps[] = { 0, 1 };
    for (size_t i = 0; i < 2; i++) {
        ws_reader r;
        server_reader(&r, 0, NULL);
        run_result res;
        run(&r, stream, len, steps[i], &res);
        expect_error(&res, err, code);
        /* a failed reader repeats the error and consumes nothing */
        uint8_t more[2] = { 0x81, 0x80 };
        ws_event ev;
        cr_assert_eq(ws_reader_feed(&r, more, sizeof more, &ev), 0);
        cr_assert_eq(ev.type, WS_EV_ERROR);
        cr_assert_eq(ev.err, err);
        run_free(&res);
        ws_reader_free(&r);
    }
}

Test(ws_reader, unmasked_frame_is_1002) {
    const uint8_t stream[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
    expect_stream_error(stream, sizeof stream, WS_ERR_NOT_MASKED, 1002);
}

Test(ws_reader, continuation_without_start_is_1002) {
    uint8_t s[64];
    size_t n = put(s, 0, true, WS_OP_CONTINUATION, false, "x", 1);
    expect_stream_error(s, n, WS_ERR_CONTINUATION_WITHOUT_START, 1002);
}

Test(ws_reader, new_data_frame_inside_fragmented_message_is_1002) {
    uint8_t s[64];
    size_t n = put(s, 0, false, WS_OP_TEXT, false, "a", 1);
    n = put(s, n, true, WS_OP_BINARY, false, "b", 1);
    expect_stream_error(s, n, WS_ERR_DATA_INSIDE_FRAGMENTED, 1002);
    n = put(s, 0, false, WS_OP_BINARY, false, "a", 1);
    n = put(s, n, false, WS_OP_TEXT, false, "b", 1);
    expect_stream_error(s, n, WS_ERR_DATA_INSIDE_FRAGMENTED, 1002);
}

Test(ws_reader, rsv1_without_deflate_is_1002) {
    uint8_t s[64];
    size_t n = put(s, 0, true, WS_OP_TEXT, true, "a", 1);
    expect_stream_error(s, n, WS_ERR_RSV, 1002);
}

Test(ws_reader, control_rules_in_stream) {
    uint8_t s[300];
    uint8_t big[126] = { 0 };
    size_t n = put(s, 0, true, WS_OP_PING, false, big, sizeof big);
    expect_stream_error(s, n, WS_ERR_CONTROL_TOO_LONG, 1002);
    n = put(s, 0, false, WS_OP_PING, false, "a", 1);
    expect_stream_error(s, n, WS_ERR_CONTROL_FRAGMENTED, 1002);
    n = put(s, 0, true, 0x3, false, "a", 1);
    expect_stream_error(s, n, WS_ERR_OPCODE, 1002);
    n = put(s, 0, true, 0xb, false, "a", 1);
    expect_stream_error(s, n, WS_ERR_OPCODE, 1002);
}

Test(ws_reader, control_125_bytes_in_pieces) {
    uint8_t s[300], payload[125];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    size_t n = put(s, 0, true, WS_OP_PING, false, payload, sizeof payload);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 10, &res);
    cr_assert_eq(res.count, 1);
    cr_assert_eq(res.ev[0].type, WS_EV_PING);
    cr_assert_eq(res.ev[0].len, 125);
    cr_assert_arr_eq(res.ev[0].data, payload, 125);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, top_bit_length_is_1002) {
    const uint8_t s[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
    expect_stream_error(s, sizeof s, WS_ERR_LENGTH_TOP_BIT, 1002);
}

Test(ws_reader, invalid_utf8_fails_before_message_completes) {
    uint8_t s[64];
    size_t n = put(s, 0, false, WS_OP_TEXT, false, "ok\xc0\xaf", 4);   /* overlong */
    /* only the first fragment: no FIN anywhere, still 1007 */
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 0, &res);
    expect_error(&res, WS_ERR_TEXT_UTF8, 1007);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, invalid_utf8_fails_at_the_first_bad_byte) {
    uint8_t s[64];
    size_t n = put(s, 0, false, WS_OP_TEXT, false, "abc\xed\xa0\x80xyz", 9);
    cr_assert_eq(n, 6 + 9);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 1, &res);
    expect_error(&res, WS_ERR_TEXT_UTF8, 1007);
    /* header 6 bytes, then "abc", 0xed, 0xa0 <- rejected here */
    cr_assert_eq(res.consumed_at_error, 6 + 5);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, utf8_split_across_fragments) {
    uint8_t s[64];
    size_t n = put(s, 0, false, WS_OP_TEXT, false, "\xf0\x9f", 2);
    n = put(s, n, true, WS_OP_CONTINUATION, false, "\x98\x80", 2);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 0, &res);
    cr_assert_eq(res.count, 1);
    expect_message(&res.ev[0], WS_OP_TEXT, "\xf0\x9f\x98\x80", 4);
    run_free(&res);
    ws_reader_free(&r);

    n = put(s, 0, false, WS_OP_TEXT, false, "\xed", 1);
    n = put(s, n, true, WS_OP_CONTINUATION, false, "\xa0\x80", 2);
    expect_stream_error(s, n, WS_ERR_TEXT_UTF8, 1007);
}

Test(ws_reader, text_ending_mid_code_point_is_1007) {
    uint8_t s[64];
    size_t n = put(s, 0, true, WS_OP_TEXT, false, "ab\xe2\x82", 4);
    expect_stream_error(s, n, WS_ERR_TEXT_UTF8, 1007);
    n = put(s, 0, false, WS_OP_TEXT, false, "ab\xe2", 3);
    n = put(s, n, true, WS_OP_CONTINUATION, false, "\x82", 1);
    expect_stream_error(s, n, WS_ERR_TEXT_UTF8, 1007);
}

Test(ws_reader, binary_is_not_utf8_checked) {
    uint8_t s[64];
    size_t n = put(s, 0, true, WS_OP_BINARY, false, "\xff\xfe", 2);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 0, &res);
    expect_message(&res.ev[0], WS_OP_BINARY, "\xff\xfe", 2);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, oversize_frame_is_1009_without_allocating) {
    /* announces 2 MiB against the default 1 MiB limit: only the header is sent */
    uint8_t s[WS_MAX_HEADER_BYTES];
    const uint8_t mask[4] = { 1, 2, 3, 4 };
    size_t n = ws_encode_frame_header(s, true, WS_OP_BINARY, false, (size_t)2 << 20, mask);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 1, &res);
    expect_error(&res, WS_ERR_TOO_BIG, 1009);
    cr_assert_eq(r.buf_cap, 0);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, fragments_adding_up_past_the_limit_are_1009) {
    static uint8_t s[MAX_STREAM_BYTES];
    static uint8_t blob[600];
    size_t n = put(s, 0, false, WS_OP_BINARY, false, blob, 600);
    n = put(s, n, true, WS_OP_PING, false, "", 0);
    size_t ok_len = put(s, n, true, WS_OP_CONTINUATION, false, blob, 400);  /* 1000: at limit */
    n = put(s, n, true, WS_OP_CONTINUATION, false, blob, 401);              /* 1001: over */
    ws_reader r;
    server_reader(&r, 1000, NULL);
    run_result res;
    run(&r, s, n, 0, &res);
    cr_assert_eq(res.ev[0].type, WS_EV_PING);
    expect_error(&res, WS_ERR_TOO_BIG, 1009);
    cr_assert_leq(r.buf_cap, 1000);
    run_free(&res);
    ws_reader_free(&r);

    /* exactly at the limit is fine */
    static uint8_t s2[MAX_STREAM_BYTES];
    n = put(s2, 0, false, WS_OP_BINARY, false, blob, 600);
    n = put(s2, n, true, WS_OP_PING, false, "", 0);
    n = put(s2, n, true, WS_OP_CONTINUATION, false, blob, 400);
    cr_assert_eq(n, ok_len);
    server_reader(&r, 1000, NULL);
    run(&r, s2, n, 7, &res);
    cr_assert_eq(res.count, 2);
    cr_assert_eq(res.ev[1].type, WS_EV_MESSAGE);
    cr_assert_eq(res.ev[1].len, 1000);
    run_free(&res);
    ws_reader_free(&r);
}

static void close_result(const void *payload, size_t len, run_result *res) {
    uint8_t s[300];
    size_t n = put(s, 0, true, WS_OP_CLOSE, false, payload, len);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run(&r, s, n, 0, res);
    ws_reader_free(&r);
}

Test(ws_reader, close_without_payload_reports_1005) {
    run_result res;
    close_result(NULL, 0, &res);
    cr_assert_eq(res.count, 1);
    cr_assert_eq(res.ev[0].type, WS_EV_CLOSE);
    cr_assert_eq(res.ev[0].close_code, WS_CLOSE_NO_STATUS);
    cr_assert_eq(res.ev[0].len, 0);
    run_free(&res);
}

Test(ws_reader, close_one_byte_payload_is_1002) {
    run_result res;
    close_result("\x03", 1, &res);
    expect_error(&res, WS_ERR_CLOSE_ONE_BYTE, 1002);
    run_free(&res);
}

Test(ws_reader, close_codes_valid_and_invalid) {
    const uint16_t invalid[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        uint8_t p[2] = { (uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i] };
        run_result res;
        close_result(p, 2, &res);
        expect_error(&res, WS_ERR_CLOSE_CODE, 1002);
        run_free(&res);
    }
    const uint16_t valid[] = { 1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999 };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        uint8_t p[2] = { (uint8_t)(valid[i] >> 8), (uint8_t)valid[i] };
        run_result res;
        close_result(p, 2, &res);
        cr_assert_eq(res.ev[0].type, WS_EV_CLOSE);
        cr_assert_eq(res.ev[0].close_code, valid[i]);
        run_free(&res);
    }
}

Test(ws_reader, close_reason_must_be_utf8) {
    run_result res;
    close_result("\x03\xe8" "ok \xce\xba", 7, &res);
    cr_assert_eq(res.ev[0].type, WS_EV_CLOSE);
    cr_assert_eq(res.ev[0].len, 5);
    cr_assert_arr_eq(res.ev[0].data, "ok \xce\xba", 5);
    run_free(&res);
    close_result("\x03\xe8" "bad \xff", 7, &res);
    expect_error(&res, WS_ERR_CLOSE_REASON_UTF8, 1007);
    run_free(&res);
    close_result("\x03\xe8" "cut \xce", 7, &res);
    expect_error(&res, WS_ERR_CLOSE_REASON_UTF8, 1007);
    run_free(&res);
}

Test(ws_reader, input_after_close_is_discarded) {
    uint8_t s[64];
    size_t n = put(s, 0, true, WS_OP_CLOSE, false, "\x03\xe8", 2);
    n = put(s, n, true, WS_OP_TEXT, false, "late", 4);
    n = put(s, n, true, 0x3, false, "bad", 3);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 0, &res);
    cr_assert_eq(res.count, 1);
    cr_assert_eq(res.ev[0].type, WS_EV_CLOSE);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, close_interleaved_in_fragmented_message) {
    uint8_t s[64];
    size_t n = put(s, 0, false, WS_OP_TEXT, false, "par", 3);
    n = put(s, n, true, WS_OP_CLOSE, false, "\x03\xe9", 2);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 1, &res);
    cr_assert_eq(res.count, 1);
    cr_assert_eq(res.ev[0].type, WS_EV_CLOSE);
    cr_assert_eq(res.ev[0].close_code, 1001);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, big_buffer_released_at_next_message) {
    static uint8_t s[MAX_STREAM_BYTES];
    static uint8_t blob[40000];
    size_t n = put(s, 0, false, WS_OP_BINARY, false, blob, 20000);
    n = put(s, n, true, WS_OP_CONTINUATION, false, blob, 20000);
    n = put(s, n, false, WS_OP_BINARY, false, "a", 1);
    n = put(s, n, true, WS_OP_CONTINUATION, false, "b", 1);
    ws_reader r;
    server_reader(&r, 0, NULL);
    run_result res;
    run(&r, s, n, 0, &res);
    cr_assert_eq(res.count, 2);
    cr_assert_eq(res.ev[0].len, 40000);
    expect_message(&res.ev[1], WS_OP_BINARY, "ab", 2);
    cr_assert_leq(r.buf_cap, (size_t)16 << 10, "cap %zu", r.buf_cap);
    run_free(&res);
    ws_reader_free(&r);
}

/* A large message arriving in many receive completions of uneven sizes (as a
 * multishot receive into small provided buffers delivers it): reassembled
 * intact, unmasked with the right mask phase at every split, and the buffer
 * sized for the whole frame by the first piece (no regrowth). */
Test(ws_reader, large_message_across_many_uneven_pieces) {
    enum { PAYLOAD = 65536 + 13 };
    static uint8_t s[MAX_STREAM_BYTES], blob[PAYLOAD];
    for (size_t i = 0; i < PAYLOAD; i++)
        blob[i] = (uint8_t)(i * 131 + (i >> 8));
    size_t n = put(s, 0, true, WS_OP_BINARY, false, blob, PAYLOAD);
    n = put(s, n, true, WS_OP_TEXT, false, "after", 5);
    static const size_t sizes[] = { 5, 1, 3, 16384, 7, 4093, 31, 16384, 1, 2, 9000 };
    ws_reader r;
    server_reader(&r, 0, NULL);
    size_t off = 0, pieces = 0, cap_after_first = 0;
    int messages = 0;
    for (size_t k = 0; off < n && k < 10000; k++) {
        size_t want = sizes[k % (sizeof sizes / sizeof sizes[0])];
        size_t piece = n - off < want ? n - off : want;
        size_t pos = 0;
        while (pos < piece) {
            ws_event ev;
            pos += ws_reader_feed(&r, s + off + pos, piece - pos, &ev);
            cr_assert_neq(ev.type, WS_EV_ERROR, "%s", ev.reason);
            if (ev.type != WS_EV_MESSAGE)
                continue;
            if (messages++ == 0) {
                cr_assert_eq(ev.opcode, WS_OP_BINARY);
                cr_assert_eq(ev.len, PAYLOAD);
                cr_assert_arr_eq(ev.data, blob, PAYLOAD);
            } else {
                cr_assert_eq(ev.len, 5);
                cr_assert_arr_eq(ev.data, "after", 5);
            }
        }
        off += piece;
        pieces++;
        if (cap_after_first == 0 && r.buf_cap > 0)
            cr_assert_eq(cap_after_first = r.buf_cap, PAYLOAD, "the first piece reserves the whole frame");
        else if (messages == 0 && cap_after_first > 0)
            cr_assert_eq(r.buf_cap, cap_after_first, "no regrowth within the frame");
    }
    cr_assert_eq(messages, 2);
    cr_assert_gt(pieces, 10);
    ws_reader_free(&r);
}

/* A stream of large messages reuses one buffer; a small one gives it back. */
Test(ws_reader, large_buffer_kept_for_messages_of_similar_size) {
    static uint8_t s[MAX_STREAM_BYTES], blob[40000];
    memset(blob, 'x', sizeof blob);
    ws_reader r;
    server_reader(&r, 0, NULL);
    ws_reader_config rc = r.cfg;
    rc.retain_buffer_bytes = 4096;
    cr_assert_eq(ws_reader_init(&r, &rc), 0);
    const uint8_t *first_buf = NULL;
    for (size_t len = 40000; len >= 20000; len -= 10000) {
        size_t n = put(s, 0, true, WS_OP_BINARY, false, blob, len);
        run_result res;
        run(&r, s, n, 1000, &res);   /* in pieces: reassembled in r.buf */
        cr_assert_eq(res.count, 1);
        cr_assert_eq(res.ev[0].len, len);
        if (first_buf == NULL)
            first_buf = r.buf;
        cr_assert_eq(r.buf_cap, 40000, "len %zu: cap %zu", len, r.buf_cap);
        run_free(&res);
    }
    /* 15,000 needs less than half of 40,000: a fresh buffer of its size. */
    size_t n = put(s, 0, true, WS_OP_BINARY, false, blob, 15000);
    run_result res;
    run(&r, s, n, 1000, &res);
    cr_assert_eq(res.count, 1);
    cr_assert_eq(r.buf_cap, 15000);
    run_free(&res);
    ws_reader_free(&r);
}

Test(ws_reader, release_idle_frees_the_buffer_between_messages_only) {
    uint8_t stream[MAX_STREAM_BYTES];
    size_t n = put(stream, 0, false, WS_OP_TEXT, false, "Hel", 3);
    size_t first = n;
    n = put(stream, n, true, WS_OP_CONTINUATION, false, "lo", 2);
    ws_reader r;
    server_reader(&r, 0, NULL);
    ws_event ev;
    cr_assert_eq(ws_reader_feed(&r, stream, first, &ev), first);
    cr_assert_eq(ev.type, WS_EV_NONE);
    cr_assert_not_null(r.buf, "a fragment is reassembled");
    ws_reader_release_idle(&r);
    cr_assert_not_null(r.buf, "kept: a message is in progress");
    cr_assert_eq(ws_reader_feed(&r, stream + first, n - first, &ev), n - first);
    cr_assert_eq(ev.type, WS_EV_MESSAGE);
    cr_assert_arr_eq(ev.data, "Hello", 5);
    ws_reader_release_idle(&r);
    cr_assert_null(r.buf, "idle: given back");
    cr_assert_eq(r.buf_cap, 0);
    /* and the reader still works */
    n = put(stream, 0, false, WS_OP_BINARY, false, "ab", 2);
    n = put(stream, n, true, WS_OP_CONTINUATION, false, "c", 1);
    cr_assert_eq(ws_reader_feed(&r, stream, n, &ev), n);
    cr_assert_eq(ev.type, WS_EV_MESSAGE);
    cr_assert_arr_eq(ev.data, "abc", 3);
    ws_reader_free(&r);
}
