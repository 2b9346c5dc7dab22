/* ws: frame header parse/encode, masking, close codes and close frames. */
#include <criterion/criterion.h>

#include <string.h>

#include "ws/ws.h"

static const ws_header_rules server_rules = { .expect_masked = true, .allow_rsv1 = false };
static const ws_header_rules client_rules = { .expect_masked = false, .allow_rsv1 = false };

/* RFC 6455 5.7: a single-frame masked text message "Hello". */
static const uint8_t rfc_masked_hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                            0x9f, 0x4d, 0x51, 0x58 };

Test(ws, parse_rfc_masked_hello) {
    ws_frame_header h;
    cr_assert_eq(ws_parse_frame_header(rfc_masked_hello, sizeof rfc_masked_hello,
                                       &server_rules, &h), 6);
    cr_assert(h.fin);
    cr_assert_eq(h.opcode, WS_OP_TEXT);
    cr_assert(h.masked);
    cr_assert_eq(h.payload_len, 5);
    uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    cr_assert_arr_eq(h.mask, mask, 4);
    uint8_t payload[5];
    memcpy(payload, rfc_masked_hello + 6, 5);
    ws_mask(payload, 5, h.mask, 0);
    cr_assert_arr_eq(payload, "Hello", 5);
}

Test(ws, encode_rfc_masked_hello_exact_bytes) {
    uint8_t out[32];
    const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    int64_t n = ws_encode_frame(out, sizeof out, true, WS_OP_TEXT, false,
                                (const uint8_t *)"Hello", 5, mask);
    cr_assert_eq(n, (int64_t)sizeof rfc_masked_hello);
    cr_assert_arr_eq(out, rfc_masked_hello, sizeof rfc_masked_hello);
}

Test(ws, encode_rfc_unmasked_examples) {
    uint8_t out[16];
    /* unmasked "Hello": 0x81 0x05 ...; ping "Hello": 0x89 0x05 ... */
    cr_assert_eq(ws_encode_frame(out, sizeof out, true, WS_OP_TEXT, false,
                                 (const uint8_t *)"Hello", 5, NULL), 7);
    cr_assert_arr_eq(out, "\x81\x05Hello", 7);
    cr_assert_eq(ws_encode_frame(out, sizeof out, true, WS_OP_PING, false,
                                 (const uint8_t *)"Hello", 5, NULL), 7);
    cr_assert_arr_eq(out, "\x89\x05Hello", 7);
    /* fragments "Hel" + "lo" */
    cr_assert_eq(ws_encode_frame_header(out, false, WS_OP_TEXT, false, 3, NULL), 2);
    cr_assert_arr_eq(out, "\x01\x03", 2);
    cr_assert_eq(ws_encode_frame_header(out, true, WS_OP_CONTINUATION, false, 2, NULL), 2);
    cr_assert_arr_eq(out, "\x80\x02", 2);
}

Test(ws, encode_length_forms_and_rsv1) {
    uint8_t out[WS_MAX_HEADER_BYTES];
    cr_assert_eq(ws_encode_frame_header(out, true, WS_OP_BINARY, false, 125, NULL), 2);
    cr_assert_eq(out[1], 125);
    cr_assert_eq(ws_encode_frame_header(out, true, WS_OP_BINARY, false, 256, NULL), 4);
    cr_assert_arr_eq(out, "\x82\x7e\x01\x00", 4);           /* RFC: 256 bytes binary */
    cr_assert_eq(ws_encode_frame_header(out, true, WS_OP_BINARY, false, 65535, NULL), 4);
    cr_assert_eq(ws_encode_frame_header(out, true, WS_OP_BINARY, false, 65536, NULL), 10);
    cr_assert_arr_eq(out, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);  /* RFC: 64 KiB */
    const uint8_t mask[4] = { 1, 2, 3, 4 };
    cr_assert_eq(ws_encode_frame_header(out, true, WS_OP_TEXT, true, 70000, mask), 14);
    cr_assert_eq(out[0], 0xc1);
    cr_assert_eq(out[1], 0xff);
    cr_assert_arr_eq(out + 10, mask, 4);
}

Test(ws, encode_frame_nobufs) {
    uint8_t out[8];
    cr_assert_eq(ws_encode_frame(out, sizeof out, true, WS_OP_TEXT, false,
                                 (const uint8_t *)"Hello!!", 7, NULL), WS_ERR_NOBUFS);
    cr_assert_eq(ws_encode_frame(out, 1, true, WS_OP_TEXT, false, NULL, 0, NULL),
                 WS_ERR_NOBUFS);
}

Test(ws, parse_roundtrips_every_length_form) {
    const uint64_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, UINT64_C(1) << 40,
                              (UINT64_C(1) << 63) - 1 };
    const uint8_t mask[4] = { 9, 8, 7, 6 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t out[WS_MAX_HEADER_BYTES];
        size_t n = ws_encode_frame_header(out, true, WS_OP_BINARY, false, lens[i], mask);
        ws_frame_header h;
        /* every strict prefix is "need more" */
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(ws_parse_frame_header(out, k, &server_rules, &h), 0, "len %zu", k);
        cr_assert_eq(ws_parse_frame_header(out, n, &server_rules, &h), (int)n);
        cr_assert_eq(h.payload_len, lens[i]);
        cr_assert_eq(h.header_len, n);
        cr_assert_arr_eq(h.mask, mask, 4);
    }
}

Test(ws, mask_in_pieces_equals_whole_and_is_an_involution) {
    uint8_t whole[67], pieces[67], orig[67];
    for (size_t i = 0; i < sizeof orig; i++)
        orig[i] = (uint8_t)(i * 7 + 3);
    const uint8_t mask[4] = { 0xde, 0xad, 0xbe, 0xef };
    memcpy(whole, orig, sizeof orig);
    ws_mask(whole, sizeof whole, mask, 0);
    for (size_t i = 0; i < sizeof orig; i++)
        cr_assert_eq(whole[i], orig[i] ^ mask[i & 3]);
    for (size_t step = 1; step <= 13; step++) {
        memcpy(pieces, orig, sizeof orig);
        for (size_t off = 0; off < sizeof pieces; off += step) {
            size_t n = sizeof pieces - off < step ? sizeof pieces - off : step;
            ws_mask(pieces + off, n, mask, off);
        }
        cr_assert_arr_eq(pieces, whole, sizeof whole, "step %zu", step);
    }
    ws_mask(whole, sizeof whole, mask, 0);
    cr_assert_arr_eq(whole, orig, sizeof orig);
}

/* A fixed xorshift so a failure reproduces; the test prints the failing case. */
static uint32_t next_rand(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* ws_mask_copy and ws_mask (block-wise) against the byte-wise definition of
 * RFC 6455 5.3 on random lengths, buffer alignments and mask offsets. */
Test(ws, mask_copy_matches_bytewise_reference_on_random_shapes) {
    enum { MAX_LEN = 300, ALIGN = 32 };
    static uint8_t src[MAX_LEN + ALIGN], dst[MAX_LEN + ALIGN], want[MAX_LEN], inplace[MAX_LEN + ALIGN];
    uint32_t seed = 0x9e3779b9u;
    for (int round = 0; round < 3000; round++) {
        size_t len = next_rand(&seed) % (MAX_LEN + 1);
        size_t src_align = next_rand(&seed) % ALIGN, dst_align = next_rand(&seed) % ALIGN;
        uint64_t offset = next_rand(&seed) % 1000;
        uint8_t mask[4];
        for (int i = 0; i < 4; i++)
            mask[i] = (uint8_t)next_rand(&seed);
        for (size_t i = 0; i < len; i++)
            src[src_align + i] = (uint8_t)next_rand(&seed);
        for (size_t i = 0; i < len; i++)
            want[i] = src[src_align + i] ^ mask[(offset + i) % 4];
        memset(dst, 0xa5, sizeof dst);
        ws_mask_copy(dst + dst_align, src + src_align, len, mask, offset);
        cr_assert_arr_eq(dst + dst_align, want, len, "copy: round %d len %zu align %zu/%zu offset %llu", round, len,
                         src_align, dst_align, (unsigned long long)offset);
        cr_assert_eq(dst[dst_align + len], 0xa5, "wrote past the end (len %zu)", len);
        if (dst_align > 0)
            cr_assert_eq(dst[dst_align - 1], 0xa5, "wrote before the start");
        memcpy(inplace + dst_align, src + src_align, len);
        ws_mask(inplace + dst_align, len, mask, offset);
        cr_assert_arr_eq(inplace + dst_align, want, len, "in place: round %d len %zu offset %llu", round, len,
                         (unsigned long long)offset);
    }
}

static int parse2(uint8_t b0, uint8_t b1, const ws_header_rules *rules) {
    uint8_t buf[WS_MAX_HEADER_BYTES] = { b0, b1, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0 };
    ws_frame_header h;
    return ws_parse_frame_header(buf, sizeof buf, rules, &h);
}

Test(ws, unmasked_client_frame_is_1002) {
    int rc = parse2(0x81, 0x05, &server_rules);
    cr_assert_eq(rc, WS_ERR_NOT_MASKED);
    cr_assert_eq(ws_err_close_code(rc), 1002);
}

Test(ws, masked_server_frame_rejected_by_client) {
    cr_assert_eq(parse2(0x81, 0x85, &client_rules), WS_ERR_MASKED);
    cr_assert_eq(parse2(0x81, 0x05, &client_rules), 2);
}

Test(ws, rsv_bits_without_extension_are_1002) {
    cr_assert_eq(parse2(0xc1, 0x80, &server_rules), WS_ERR_RSV);   /* RSV1 */
    cr_assert_eq(parse2(0xa1, 0x80, &server_rules), WS_ERR_RSV);   /* RSV2 */
    cr_assert_eq(parse2(0x91, 0x80, &server_rules), WS_ERR_RSV);   /* RSV3 */
    ws_header_rules deflate = { .expect_masked = true, .allow_rsv1 = true };
    cr_assert_eq(parse2(0xc1, 0x80, &deflate), 6);
    cr_assert_eq(parse2(0xa1, 0x80, &deflate), WS_ERR_RSV);        /* RSV2 still not */
    cr_assert_eq(parse2(0xc9, 0x80, &deflate), WS_ERR_RSV);        /* never on control */
    cr_assert_eq(ws_err_close_code(WS_ERR_RSV), 1002);
}

Test(ws, reserved_opcodes_are_1002_after_one_byte) {
    const uint8_t reserved[] = { 3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf };
    for (size_t i = 0; i < sizeof reserved; i++) {
        uint8_t b0 = (uint8_t)(0x80 | reserved[i]);
        ws_frame_header h;
        cr_assert_eq(ws_parse_frame_header(&b0, 1, &server_rules, &h), WS_ERR_OPCODE,
                     "opcode %x", reserved[i]);
    }
}

Test(ws, control_frame_rules) {
    cr_assert_eq(parse2(0x89, 0x80 | 125, &server_rules), 6);
    cr_assert_eq(parse2(0x89, 0x80 | 126, &server_rules), WS_ERR_CONTROL_TOO_LONG);
    cr_assert_eq(parse2(0x88, 0x80 | 127, &server_rules), WS_ERR_CONTROL_TOO_LONG);
    cr_assert_eq(parse2(0x09, 0x80, &server_rules), WS_ERR_CONTROL_FRAGMENTED);
    cr_assert_eq(parse2(0x0a, 0x80, &server_rules), WS_ERR_CONTROL_FRAGMENTED);
    cr_assert_eq(parse2(0x08, 0x80, &server_rules), WS_ERR_CONTROL_FRAGMENTED);
    cr_assert_eq(ws_err_close_code(WS_ERR_CONTROL_TOO_LONG), 1002);
    cr_assert_eq(ws_err_close_code(WS_ERR_CONTROL_FRAGMENTED), 1002);
}

Test(ws, length_top_bit_fails_on_third_byte) {
    const uint8_t buf[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1 };
    ws_frame_header h;
    cr_assert_eq(ws_parse_frame_header(buf, 2, &server_rules, &h), 0);
    cr_assert_eq(ws_parse_frame_header(buf, 3, &server_rules, &h), WS_ERR_LENGTH_TOP_BIT);
    cr_assert_eq(ws_err_close_code(WS_ERR_LENGTH_TOP_BIT), 1002);
}

Test(ws, non_minimal_lengths_are_1002) {
    const uint8_t len16[] = { 0x82, 0xfe, 0x00, 0x7d, 1, 2, 3, 4 };       /* 125 in 16 bits */
    const uint8_t len64[] = { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };
    const uint8_t ok16[] = { 0x82, 0xfe, 0x00, 0x7e, 1, 2, 3, 4 };        /* 126: minimal */
    ws_frame_header h;
    cr_assert_eq(ws_parse_frame_header(len16, sizeof len16, &server_rules, &h),
                 WS_ERR_LENGTH_NOT_MINIMAL);
    cr_assert_eq(ws_parse_frame_header(len64, sizeof len64, &server_rules, &h),
                 WS_ERR_LENGTH_NOT_MINIMAL);
    cr_assert_eq(ws_parse_frame_header(ok16, sizeof ok16, &server_rules, &h), 8);
    cr_assert_eq(h.payload_len, 126);
    cr_assert_eq(ws_err_close_code(WS_ERR_LENGTH_NOT_MINIMAL), 1002);
}

Test(ws, close_code_validity) {
    const uint16_t valid[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                               1013, 1014, 3000, 3999, 4000, 4999 };
    const uint16_t invalid[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                                 5000, 65535 };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        cr_expect(ws_close_code_is_valid(valid[i]), "%u", valid[i]);
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        cr_expect(!ws_close_code_is_valid(invalid[i]), "%u", invalid[i]);
    size_t count_valid = 0;
    for (uint32_t c = 0; c <= 65535; c++)
        count_valid += ws_close_code_is_valid((uint16_t)c);
    cr_assert_eq(count_valid, 4 + 8 + 2000);
}

Test(ws, encode_close_frames) {
    uint8_t out[2 + WS_MAX_CONTROL_PAYLOAD_BYTES];
    cr_assert_eq(ws_encode_close(1000, "bye", out), 7);
    cr_assert_arr_eq(out, "\x88\x05\x03\xe8" "bye", 7);
    cr_assert_eq(ws_encode_close(1009, NULL, out), 4);
    cr_assert_arr_eq(out, "\x88\x02\x03\xf1", 4);
    cr_assert_eq(ws_encode_close(WS_CLOSE_NO_STATUS, "ignored", out), 2);
    cr_assert_arr_eq(out, "\x88\x00", 2);
}

Test(ws, encode_close_cuts_long_reason_at_utf8_boundary) {
    char reason[200];
    memset(reason, 'a', 122);
    memcpy(reason + 122, "\xc3\xa9" "tail", 7);          /* 'é' straddles byte 123 */
    uint8_t out[2 + WS_MAX_CONTROL_PAYLOAD_BYTES];
    size_t n = ws_encode_close(1001, reason, out);
    cr_assert_eq(n, 2 + 2 + 122);
    cr_assert_eq(out[1], 124);
    memset(reason, 'b', 150);
    reason[150] = '\0';
    n = ws_encode_close(1001, reason, out);
    cr_assert_eq(n, 2 + 125);
    cr_assert_eq(out[1], 125);
}

Test(ws, every_error_has_text_and_code) {
    for (int e = WS_ERR_NOBUFS; e <= WS_ERR_NOT_MASKED; e++) {
        cr_expect_str_neq(ws_err_str(e), "unknown websocket error", "%d", e);
        uint16_t code = ws_err_close_code(e);
        cr_expect(code == 1002 || code == 1007 || code == 1009 || code == 1011, "%d", e);
    }
    cr_assert_eq(ws_err_close_code(WS_ERR_TEXT_UTF8), 1007);
    cr_assert_eq(ws_err_close_code(WS_ERR_CLOSE_REASON_UTF8), 1007);
    cr_assert_eq(ws_err_close_code(WS_ERR_INFLATE), 1007);
    cr_assert_eq(ws_err_close_code(WS_ERR_TOO_BIG), 1009);
    cr_assert_eq(ws_err_close_code(WS_ERR_NOMEM), 1011);
    cr_assert_str_eq(ws_err_str(-999), "unknown websocket error");
}

static const ws_header_rules server_frame_rules = { .expect_masked = false, .allow_rsv1 = false };

/* A client's masked message unmasked in place always leaves room for the
 * server's header in front of it: the echo is sent from the same bytes. */
Test(ws, server_header_fits_before_a_payload_unmasked_in_place) {
    static const size_t lens[] = { 0, 125, 126, 2030, 16384, 65535, 65536, 100000 };
    static uint8_t buf[100000 + WS_MAX_HEADER_BYTES];
    const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t len = lens[i];
        size_t hl_client = ws_encode_frame_header(buf, true, WS_OP_BINARY, false, len, mask);
        for (size_t k = 0; k < len; k++) buf[hl_client + k] = (uint8_t)(k * 7) ^ mask[k & 3];
        ws_reader r;
        ws_reader_config cfg = { .max_message_bytes = 1u << 20, .expect_masked = true };
        cr_assert_eq(ws_reader_init(&r, &cfg), 0);
        ws_event ev;
        cr_assert_eq(ws_reader_feed(&r, buf, hl_client + len, &ev), hl_client + len);
        cr_assert_eq(ev.type, WS_EV_MESSAGE);
        cr_assert_eq(ev.data, buf + hl_client, "delivered in place (len %zu)", len);
        int hl = ws_encode_header_before(buf + hl_client, hl_client, WS_OP_BINARY, len);
        cr_assert_eq(hl, (int)hl_client - 4, "the server's header is the client's without the mask");
        ws_frame_header h;
        cr_assert_eq(ws_parse_frame_header(buf + hl_client - (size_t)hl, (size_t)hl, &server_frame_rules, &h), hl);
        cr_assert(h.fin && !h.masked);
        cr_assert_eq(h.opcode, WS_OP_BINARY);
        cr_assert_eq(h.payload_len, len);
        for (size_t k = 0; k < len; k++) cr_assert_eq(buf[hl_client + k], (uint8_t)(k * 7), "byte %zu", k);
        ws_reader_free(&r);
    }
}

Test(ws, header_before_without_room_writes_nothing) {
    uint8_t buf[16];
    memset(buf, 0xee, sizeof buf);
    cr_assert_eq(ws_encode_header_before(buf + 3, 3, WS_OP_TEXT, 200), WS_ERR_NOBUFS, "needs 4 bytes");
    for (size_t k = 0; k < sizeof buf; k++) cr_assert_eq(buf[k], 0xee);
    cr_assert_eq(ws_encode_header_before(buf + 4, 4, WS_OP_TEXT, 200), 4);
    uint8_t want[4] = { 0x81, 126, 0, 200 };
    cr_assert_arr_eq(buf, want, 4);
}
