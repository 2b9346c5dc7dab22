/* deflate: permessage-deflate negotiation (RFC 7692 7.1), the inflater and
 * deflater, and compressed messages through ws_reader. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "ws/deflate.h"
#include "ws/ws.h"

static int negotiate(const char *offer, pmd_params *p) {
    pmd_config cfg = pmd_config_default();
    return pmd_negotiate(offer, strlen(offer), &cfg, p);
}

static void expect_response(const char *offer, const char *response) {
    pmd_params p;
    cr_assert_eq(negotiate(offer, &p), 1, "offer \"%s\" declined", offer);
    char out[128];
    cr_assert_gt(pmd_format_response(&p, out, sizeof out), 0);
    cr_assert_str_eq(out, response, "offer \"%s\"", offer);
}

static void expect_declined(const char *offer) {
    pmd_params p;
    cr_assert_eq(negotiate(offer, &p), 0, "offer \"%s\" accepted", offer);
}

Test(deflate, negotiate_browser_offers) {
    expect_response("permessage-deflate", "permessage-deflate");                  /* Firefox */
    expect_response("permessage-deflate; client_max_window_bits",                 /* Chrome */
                    "permessage-deflate; client_max_window_bits=15");
    expect_response("permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    expect_response("PerMessage-Deflate ;  server_max_window_bits=10",
                    "permessage-deflate; server_max_window_bits=10");
    expect_response("permessage-deflate; server_max_window_bits=\"12\"; client_max_window_bits=9",
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9");
}

Test(deflate, negotiate_invalid_params_decline_the_offer) {
    expect_declined("permessage-deflate; server_max_window_bits");      /* value required */
    expect_declined("permessage-deflate; server_max_window_bits=7");
    expect_declined("permessage-deflate; server_max_window_bits=16");
    expect_declined("permessage-deflate; server_max_window_bits=08");
    expect_declined("permessage-deflate; client_max_window_bits=0");
    expect_declined("permessage-deflate; client_max_window_bits=\"1 5\"");
    expect_declined("permessage-deflate; server_no_context_takeover=1");
    expect_declined("permessage-deflate; client_no_context_takeover; client_no_context_takeover");
    expect_declined("permessage-deflate; server_max_window_bits=9; server_max_window_bits=10");
    expect_declined("permessage-deflate; mystery");
    expect_declined("x-webkit-deflate-frame");
    expect_declined("");
    expect_declined("permessage-deflate;");                            /* malformed */
    expect_declined("permessage-deflate; server_max_window_bits=\"10");  /* unterminated */
}

Test(deflate, negotiate_first_acceptable_offer_wins) {
    expect_response("permessage-deflate; bogus, permessage-deflate; server_no_context_takeover",
                    "permessage-deflate; server_no_context_takeover");
    expect_response("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10, "
                    "permessage-deflate",
                    "permessage-deflate; client_max_window_bits=10");
}

Test(deflate, negotiate_honours_server_config) {
    pmd_config cfg = pmd_config_default();
    pmd_params p;
    const char *offer = "permessage-deflate; client_max_window_bits; server_max_window_bits=14";
    cfg.server_no_context_takeover = true;
    cfg.client_no_context_takeover = true;
    cfg.server_max_window_bits = 11;
    cfg.client_max_window_bits = 10;
    cr_assert_eq(pmd_negotiate(offer, strlen(offer), &cfg, &p), 1);
    char out[160];
    pmd_format_response(&p, out, sizeof out);
    cr_assert_str_eq(out, "permessage-deflate; server_no_context_takeover; "
                          "client_no_context_takeover; server_max_window_bits=11; "
                          "client_max_window_bits=10");
    cr_assert_eq(pmd_format_response(&p, out, 10), PMD_ERR_NOBUFS);
    cfg.enable = false;
    cr_assert_eq(pmd_negotiate(offer, strlen(offer), &cfg, &p), 0);
}

/* RFC 7692 7.2.3.1 / 7.2.3.2: "Hello" and "Hello" again with context takeover. */
static const uint8_t rfc_hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
static const uint8_t rfc_hello_again[] = { 0xf2, 0x00, 0x11, 0x00, 0x00 };

Test(deflate, deflate_rfc_hello_with_and_without_takeover) {
    pmd_deflater d;
    uint8_t out[64];
    pmd_deflater_init(&d, 15, 6, 8, false, 0);
    cr_assert_eq(pmd_deflate_message(&d, (const uint8_t *)"Hello", 5, out, sizeof out), 7);
    cr_assert_arr_eq(out, rfc_hello, 7);
    cr_assert_eq(pmd_deflate_message(&d, (const uint8_t *)"Hello", 5, out, sizeof out), 5);
    cr_assert_arr_eq(out, rfc_hello_again, 5);
    pmd_deflater_free(&d);

    pmd_deflater_init(&d, 15, 6, 8, true, 0);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pmd_deflate_message(&d, (const uint8_t *)"Hello", 5, out, sizeof out), 7);
        cr_assert_arr_eq(out, rfc_hello, 7);
    }
    pmd_deflater_free(&d);
}

static int inflate_all(pmd_inflater *inf, const uint8_t *in, size_t len, uint8_t **out,
                       size_t *out_len, size_t *cap, size_t max) {
    *out_len = 0;
    return pmd_inflate(inf, in, len, true, out, out_len, cap, max);
}

Test(deflate, inflate_rfc_examples) {
    pmd_inflater inf;
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    pmd_inflater_init(&inf, 15, false);
    cr_assert_eq(inflate_all(&inf, rfc_hello, sizeof rfc_hello, &out, &len, &cap, 1000), 0);
    cr_assert_eq(len, 5);
    cr_assert_arr_eq(out, "Hello", 5);
    cr_assert_eq(inflate_all(&inf, rfc_hello_again, sizeof rfc_hello_again, &out, &len, &cap,
                             1000), 0);
    cr_assert_arr_eq(out, "Hello", 5);
    /* 7.2.3.3: a stored (uncompressed) block */
    const uint8_t stored[] = { 0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o', 0x00 };
    cr_assert_eq(inflate_all(&inf, stored, sizeof stored, &out, &len, &cap, 1000), 0);
    cr_assert_eq(len, 5);
    cr_assert_arr_eq(out, "Hello", 5);
    /* 7.2.3.4: BFINAL set; the appended tail is ignored, the next message is a new stream */
    const uint8_t final[] = { 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
    cr_assert_eq(inflate_all(&inf, final, sizeof final, &out, &len, &cap, 1000), 0);
    cr_assert_eq(len, 5);
    cr_assert_arr_eq(out, "Hello", 5);
    cr_assert_eq(inflate_all(&inf, rfc_hello, sizeof rfc_hello, &out, &len, &cap, 1000), 0);
    cr_assert_arr_eq(out, "Hello", 5);
    pmd_inflater_free(&inf);

    /* without context takeover the back-reference of "Hello again" is invalid */
    pmd_inflater_init(&inf, 15, true);
    cr_assert_eq(inflate_all(&inf, rfc_hello, sizeof rfc_hello, &out, &len, &cap, 1000), 0);
    cr_assert_eq(inflate_all(&inf, rfc_hello_again, sizeof rfc_hello_again, &out, &len, &cap,
                             1000), PMD_ERR_DATA);
    pmd_inflater_free(&inf);
    free(out);
}

Test(deflate, inflate_corrupt_data) {
    pmd_inflater inf;
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    pmd_inflater_init(&inf, 15, false);
    const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff };
    cr_assert_eq(inflate_all(&inf, bad, sizeof bad, &out, &len, &cap, 1000), PMD_ERR_DATA);
    pmd_inflater_free(&inf);
    free(out);
    cr_assert_str_eq(pmd_err_str(PMD_ERR_DATA), "corrupt compressed data");
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed) {
    /* repeats at varying distances, so back-references span the window */
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (i > 300 && (seed >> 16) % 4 != 0) ? p[i - 1 - (seed >> 20) % 300]
                                                   : (uint8_t)(seed >> 24);
    }
}

Test(deflate, roundtrip_every_window_size_and_takeover) {
    static uint8_t msg[20000], comp[20000 + 1024];
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    for (int bits = 8; bits <= 15; bits++) {
        for (int takeover = 0; takeover < 2; takeover++) {
            pmd_deflater d;
            pmd_inflater inf;
            /* 8: deflated with zlib's 9, inflated with a true 256-byte window */
            pmd_deflater_init(&d, bits, 6, 8, !takeover, 0);
            pmd_inflater_init(&inf, bits, !takeover);
            for (unsigned m = 0; m < 4; m++) {
                size_t n = 1000 + m * 4000;
                fill_pattern(msg, n, m % 2);         /* repeated messages reuse context */
                int64_t c = pmd_deflate_message(&d, msg, n, comp, pmd_deflate_bound(n));
                cr_assert_gt(c, 0);
                cr_assert_eq(inflate_all(&inf, comp, (size_t)c, &out, &len, &cap, 1 << 20), 0,
                             "bits %d takeover %d msg %u", bits, takeover, m);
                cr_assert_eq(len, n);
                cr_assert_arr_eq(out, msg, n);
            }
            pmd_deflater_free(&d);
            pmd_inflater_free(&inf);
        }
    }
    free(out);
}

Test(deflate, empty_message_and_one_byte_pieces) {
    pmd_deflater d;
    pmd_inflater inf;
    uint8_t comp[64];
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    pmd_deflater_init(&d, 15, 6, 8, false, 0);
    pmd_inflater_init(&inf, 15, false);
    int64_t c = pmd_deflate_message(&d, (const uint8_t *)"", 0, comp, sizeof comp);
    cr_assert_geq(c, 0);
    cr_assert_eq(inflate_all(&inf, comp, (size_t)c, &out, &len, &cap, 100), 0);
    cr_assert_eq(len, 0);
    const char *text = "the same text, the same text, the same text";
    c = pmd_deflate_message(&d, (const uint8_t *)text, strlen(text), comp, sizeof comp);
    cr_assert_gt(c, 0);
    len = 0;
    for (int64_t i = 0; i < c; i++)
        cr_assert_eq(pmd_inflate(&inf, comp + i, 1, false, &out, &len, &cap, 100), 0);
    cr_assert_eq(pmd_inflate(&inf, NULL, 0, true, &out, &len, &cap, 100), 0);
    cr_assert_eq(len, strlen(text));
    cr_assert_arr_eq(out, text, len);
    pmd_deflater_free(&d);
    pmd_inflater_free(&inf);
    free(out);
}

Test(deflate, zip_bomb_stops_at_the_limit) {
    const size_t huge = (size_t)16 << 20;          /* 16 MiB of zeros */
    uint8_t *zeros = calloc(1, huge);
    size_t comp_cap = pmd_deflate_bound(huge);
    uint8_t *comp = malloc(comp_cap);
    pmd_deflater d;
    pmd_deflater_init(&d, 15, 9, 9, true, 0);
    int64_t c = pmd_deflate_message(&d, zeros, huge, comp, comp_cap);
    cr_assert_gt(c, 0);
    cr_assert_lt(c, 64 << 10, "compressed to %lld", (long long)c);
    pmd_deflater_free(&d);
    free(zeros);

    pmd_inflater inf;
    pmd_inflater_init(&inf, 15, false);
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    const size_t limit = (size_t)1 << 20;
    cr_assert_eq(inflate_all(&inf, comp, (size_t)c, &out, &len, &cap, limit), PMD_ERR_TOO_BIG);
    cr_assert_leq(cap, limit + 1, "buffer grew to %zu", cap);
    pmd_inflater_free(&inf);
    free(out);
    free(comp);
}

Test(deflate, exactly_at_limit_is_fine) {
    uint8_t msg[1000], comp[2000];
    memset(msg, 'x', sizeof msg);
    pmd_deflater d;
    pmd_deflater_init(&d, 15, 6, 8, false, 0);
    int64_t c = pmd_deflate_message(&d, msg, sizeof msg, comp, sizeof comp);
    pmd_inflater inf;
    pmd_inflater_init(&inf, 15, false);
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    cr_assert_eq(inflate_all(&inf, comp, (size_t)c, &out, &len, &cap, 1000), 0);
    cr_assert_eq(len, 1000);
    pmd_inflater_free(&inf);
    pmd_inflater_init(&inf, 15, false);
    cr_assert_eq(inflate_all(&inf, comp, (size_t)c, &out, &len, &cap, 999), PMD_ERR_TOO_BIG);
    pmd_inflater_free(&inf);
    pmd_deflater_free(&d);
    free(out);
}

Test(deflate, nobufs_resets_and_peer_stays_in_sync) {
    uint8_t msg[4000], comp[8000], tiny[16];
    fill_pattern(msg, sizeof msg, 7);
    pmd_deflater d;
    pmd_inflater inf;
    pmd_deflater_init(&d, 15, 6, 8, false, 0);
    pmd_inflater_init(&inf, 15, false);
    uint8_t *out = NULL;
    size_t len = 0, cap = 0;
    int64_t c = pmd_deflate_message(&d, msg, sizeof msg, comp, sizeof comp);
    cr_assert_eq(inflate_all(&inf, comp, (size_t)c, &out, &len, &cap, 1 << 20), 0);
    /* does not fit: the message goes uncompressed, the peer never sees this output */
    cr_assert_eq(pmd_deflate_message(&d, msg, sizeof msg, tiny, sizeof tiny), PMD_ERR_NOBUFS);
    c = pmd_deflate_message(&d, msg, sizeof msg, comp, sizeof comp);
    cr_assert_gt(c, 0);
    cr_assert_eq(inflate_all(&inf, comp, (size_t)c, &out, &len, &cap, 1 << 20), 0);
    cr_assert_arr_eq(out, msg, sizeof msg);
    pmd_deflater_free(&d);
    pmd_inflater_free(&inf);
    free(out);
}

Test(deflate, compress_threshold) {
    pmd_deflater d;
    pmd_deflater_init(&d, 15, 1, 8, false, 128);
    cr_assert(!pmd_should_compress(&d, 127));
    cr_assert(pmd_should_compress(&d, 128));
    pmd_deflater_free(&d);
}

/* ---- compressed messages through the reader ---------------------------------------- */

static size_t put(uint8_t *out, size_t cap, bool fin, uint8_t opcode, bool rsv1,
                  const void *payload, size_t len) {
    static const uint8_t mask[4] = { 0xa1, 0xb2, 0xc3, 0xd4 };
    int64_t n = ws_encode_frame(out, cap, fin, opcode, rsv1, payload, len, mask);
    cr_assert_gt(n, 0);
    return (size_t)n;
}

typedef struct one {
    ws_event_type type;
    int err;
    uint16_t code;
    bool compressed;
    size_t len;
    uint8_t data[64];
} one;

/* Feeds `s` `step` bytes at a time, returns the events (up to 4). */
static size_t feed(ws_reader *r, uint8_t *s, size_t n, size_t step, one *evs) {
    size_t count = 0, off = 0;
    while (off < n && count < 4) {
        size_t piece = n - off < step ? n - off : step;
        ws_event ev;
        size_t used = ws_reader_feed(r, s + off, piece, &ev);
        off += used;
        if (ev.type != WS_EV_NONE) {
            one *o = &evs[count++];
            o->type = ev.type;
            o->err = ev.err;
            o->code = ev.close_code;
            o->compressed = ev.compressed;
            o->len = ev.len;
            if (ev.data)
                memcpy(o->data, ev.data, ev.len < 64 ? ev.len : 64);
            if (ev.type == WS_EV_ERROR)
                break;
        }
    }
    return count;
}

Test(deflate, reader_rfc_hello_compressed_fragmented_bytewise) {
    for (size_t step = 1; step <= 64; step *= 4) {
        pmd_inflater inf;
        pmd_inflater_init(&inf, 15, false);
        ws_reader r;
        ws_reader_config cfg = { .expect_masked = true, .inflater = &inf };
        ws_reader_init(&r, &cfg);
        uint8_t s[128];
        size_t n = put(s, sizeof s, true, WS_OP_TEXT, true, rfc_hello, sizeof rfc_hello);
        /* RFC 7692 7.2.3.1 fragmented: "f2 48 cd" + "c9 c9 07 00" */
        n += put(s + n, sizeof s - n, false, WS_OP_TEXT, true, rfc_hello, 3);
        n += put(s + n, sizeof s - n, true, WS_OP_PING, false, "hi", 2);
        n += put(s + n, sizeof s - n, true, WS_OP_CONTINUATION, false, rfc_hello + 3, 4);
        one evs[4];
        cr_assert_eq(feed(&r, s, n, step, evs), 3);
        cr_assert_eq(evs[0].type, WS_EV_MESSAGE);
        cr_assert(evs[0].compressed);
        cr_assert_eq(evs[0].len, 5);
        cr_assert_arr_eq(evs[0].data, "Hello", 5);
        cr_assert_eq(evs[1].type, WS_EV_PING);
        cr_assert_eq(evs[2].type, WS_EV_MESSAGE);
        cr_assert_arr_eq(evs[2].data, "Hello", 5);
        ws_reader_free(&r);
        pmd_inflater_free(&inf);
    }
}

static one reader_error(const uint8_t *payload, size_t len, uint8_t opcode, bool cont_rsv1,
                        size_t max) {
    pmd_inflater inf;
    pmd_inflater_init(&inf, 15, false);
    ws_reader r;
    ws_reader_config cfg = { .expect_masked = true, .inflater = &inf, .max_message_bytes = max };
    ws_reader_init(&r, &cfg);
    size_t cap = len + 64;
    uint8_t *s = malloc(cap);
    size_t n;
    if (cont_rsv1) {
        n = put(s, cap, false, opcode, true, payload, len);
        n += put(s + n, cap - n, true, WS_OP_CONTINUATION, true, "", 0);
    } else {
        n = put(s, cap, true, opcode, true, payload, len);
    }
    one evs[4] = { 0 };
    size_t count = feed(&r, s, n, 4096, evs);
    cr_assert_geq(count, 1);
    cr_assert_leq(r.buf_cap, max + 1);
    ws_reader_free(&r);
    pmd_inflater_free(&inf);
    free(s);
    return evs[count - 1];
}

Test(deflate, reader_rsv1_on_continuation_is_1002) {
    one e = reader_error(rfc_hello, sizeof rfc_hello, WS_OP_TEXT, true, 1000);
    cr_assert_eq(e.type, WS_EV_ERROR);
    cr_assert_eq(e.err, WS_ERR_RSV);
    cr_assert_eq(e.code, 1002);
}

Test(deflate, reader_corrupt_and_invalid_text_are_1007) {
    const uint8_t bad[] = { 0xff, 0xff, 0xff };
    one e = reader_error(bad, sizeof bad, WS_OP_BINARY, false, 1000);
    cr_assert_eq(e.err, WS_ERR_INFLATE);
    cr_assert_eq(e.code, 1007);
    uint8_t comp[64];
    pmd_deflater d;
    pmd_deflater_init(&d, 15, 6, 8, true, 0);
    int64_t c = pmd_deflate_message(&d, (const uint8_t *)"ok\xed\xa0\x80", 5, comp, sizeof comp);
    pmd_deflater_free(&d);
    e = reader_error(comp, (size_t)c, WS_OP_TEXT, false, 1000);
    cr_assert_eq(e.err, WS_ERR_TEXT_UTF8);
    cr_assert_eq(e.code, 1007);
}

Test(deflate, reader_zip_bomb_is_1009) {
    const size_t huge = (size_t)8 << 20;
    uint8_t *zeros = calloc(1, huge);
    size_t comp_cap = pmd_deflate_bound(huge);
    uint8_t *comp = malloc(comp_cap);
    pmd_deflater d;
    pmd_deflater_init(&d, 15, 9, 9, true, 0);
    int64_t c = pmd_deflate_message(&d, zeros, huge, comp, comp_cap);
    pmd_deflater_free(&d);
    free(zeros);
    one e = reader_error(comp, (size_t)c, WS_OP_BINARY, false, (size_t)1 << 20);
    cr_assert_eq(e.type, WS_EV_ERROR);
    cr_assert_eq(e.err, WS_ERR_TOO_BIG);
    cr_assert_eq(e.code, 1009);
    free(comp);
}

/* Regression (found by fuzz_ws): an empty compressed text message. */
Test(deflate, reader_empty_compressed_text) {
    const uint8_t payloads[2][1] = { { 0 }, { 0x00 } };
    for (size_t len = 0; len < 2; len++) {
        pmd_inflater inf;
        pmd_inflater_init(&inf, 15, false);
        ws_reader r;
        ws_reader_config cfg = { .expect_masked = true, .inflater = &inf };
        ws_reader_init(&r, &cfg);
        uint8_t s[32];
        size_t n = put(s, sizeof s, true, WS_OP_TEXT, true, payloads[len], len);
        one evs[4];
        cr_assert_eq(feed(&r, s, n, 64, evs), 1);
        cr_assert_eq(evs[0].type, WS_EV_MESSAGE, "payload of %zu bytes", len);
        cr_assert_eq(evs[0].len, 0);
        ws_reader_free(&r);
        pmd_inflater_free(&inf);
    }
}

/* Empty stored blocks inflate to nothing: the compressed size is bounded too. */
Test(deflate, reader_compressed_wire_bytes_bounded) {
    pmd_inflater inf;
    pmd_inflater_init(&inf, 15, false);
    ws_reader r;
    ws_reader_config cfg = { .expect_masked = true, .inflater = &inf, .max_message_bytes = 1000 };
    ws_reader_init(&r, &cfg);
    static uint8_t blocks[1100], s[1300];
    for (size_t i = 0; i + 5 <= sizeof blocks; i += 5)
        memcpy(blocks + i, "\x00\x00\x00\xff\xff", 5);           /* empty stored blocks */
    size_t n = put(s, sizeof s, false, WS_OP_BINARY, true, blocks, 500);
    n += put(s + n, sizeof s - n, true, WS_OP_CONTINUATION, false, blocks, 600);
    one evs[4];
    size_t count = feed(&r, s, n, 4096, evs);
    cr_assert_eq(count, 1);
    cr_assert_eq(evs[0].type, WS_EV_ERROR);
    cr_assert_eq(evs[0].err, WS_ERR_TOO_BIG);
    ws_reader_free(&r);
    pmd_inflater_free(&inf);
    /* the same blocks within the bound inflate to an empty message */
    pmd_inflater_init(&inf, 15, false);
    ws_reader_init(&r, &cfg);
    n = put(s, sizeof s, true, WS_OP_BINARY, true, blocks, 1000);
    cr_assert_eq(feed(&r, s, n, 4096, evs), 1);
    cr_assert_eq(evs[0].type, WS_EV_MESSAGE);
    cr_assert_eq(evs[0].len, 0);
    ws_reader_free(&r);
    pmd_inflater_free(&inf);
}

/* Server encoder -> client-role reader: compression on and off, context kept. */
Test(deflate, encode_message_roundtrip_through_client_reader) {
    pmd_deflater def;
    pmd_inflater inf;
    pmd_deflater_init(&def, 15, 1, 8, false, 32);
    pmd_inflater_init(&inf, 15, false);
    ws_reader r;
    ws_reader_config cfg = { .expect_masked = false, .inflater = &inf };
    ws_reader_init(&r, &cfg);
    const char *texts[] = {
        "short",                                                   /* under the threshold */
        "{\"op\":\"insert\",\"pos\":1,\"text\":\"hello hello hello hello hello\"}",
        "{\"op\":\"insert\",\"pos\":2,\"text\":\"hello hello hello hello hello\"}",
        "\x01\x7f\x33\x90\x11\xaa\x52\xe1\x09\x44\xbc\x6d\x28\xf3\x81\x17\x5a\xc4\x3e\x02"
        "\x99\x61\xd7\x0b\x4f\xa8\x36\xee\x13\x85\x7c\x20\xb1\x58\xca\x0e\x93\x47\xfd\x6a"
        "\x24\xdb\x70\x19\x8e\x35\xf6\x62\xad\x03\x97\x4c\xe8\x21\xbe\x55\x0a\xc7\x7e\x14"
        "\x83\x3b\xf0\x68",                                        /* incompressible: plain */
        "{\"op\":\"insert\",\"pos\":3,\"text\":\"hello hello hello hello hello\"}",
    };
    const bool want_compressed[] = { false, true, true, false, true };
    for (size_t i = 0; i < 5; i++) {
        size_t len = strlen(texts[i]);
        uint8_t frame[256];
        cr_assert_leq(ws_message_bound(len), sizeof frame);
        uint8_t op = i == 3 ? WS_OP_BINARY : WS_OP_TEXT;
        int64_t n = ws_encode_message(frame, sizeof frame, op, (const uint8_t *)texts[i], len,
                                      &def);
        cr_assert_gt(n, 0);
        one evs[4];
        cr_assert_eq(feed(&r, frame, (size_t)n, 1, evs), 1, "message %zu", i);
        cr_assert_eq(evs[0].type, WS_EV_MESSAGE, "message %zu: %s", i, ws_err_str(evs[0].err));
        cr_assert_eq(evs[0].compressed, want_compressed[i], "message %zu", i);
        cr_assert_eq(evs[0].len, len);
        cr_assert_arr_eq(evs[0].data, texts[i], len);
    }
    /* without a deflater it is a plain frame */
    uint8_t frame[32];
    cr_assert_eq(ws_encode_message(frame, sizeof frame, WS_OP_TEXT, (const uint8_t *)"hi", 2,
                                   NULL), 4);
    cr_assert_arr_eq(frame, "\x81\x02hi", 4);
    cr_assert_eq(ws_encode_message(frame, 3, WS_OP_TEXT, (const uint8_t *)"hi", 2, NULL),
                 WS_ERR_NOBUFS);
    ws_reader_free(&r);
    pmd_inflater_free(&inf);
    pmd_deflater_free(&def);
}
