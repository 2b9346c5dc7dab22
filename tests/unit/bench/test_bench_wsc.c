/* bench_wsc: the load generator's WebSocket client code, checked against the
 * server's own handshake and frame reader (src/ws/ws_handshake.c, src/ws/ws.c). */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "ws/ws.h"
#include "ws/ws_handshake.h"
#include "wsc.h"

static const uint8_t sample_nonce[17] = "the sample nonce"; /* 16 bytes used */

Test(bench_wsc, key_is_base64_of_16_bytes) {
    char key[LG_WSC_KEY_CHARS + 1];
    cr_assert_eq(lg_wsc_make_key(sample_nonce, key), 0);
    cr_assert_str_eq(key, "dGhlIHNhbXBsZSBub25jZQ=="); /* RFC 6455 1.3 */
}

/* Our request, parsed and accepted by the server's code; the server's 101
 * response accepted by ours. */
static int round_trip(const char *subprotocol, char *response, size_t cap, char *key) {
    cr_assert_eq(lg_wsc_make_key(sample_nonce, key), 0);
    char req_text[1024];
    int n = lg_wsc_write_request(req_text, sizeof req_text, "127.0.0.1", 8080, "/ws", key, subprotocol);
    cr_assert_gt(n, 0);
    http_limits limits = http_limits_default();
    http_request req;
    cr_assert_eq(http_parse_request(req_text, (size_t)n, &limits, &req), n);
    ws_handshake_config cfg = {0};
    ws_handshake_result res;
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), 0, "%s", res.reason);
    cr_assert_eq(res.subprotocol, subprotocol != NULL);
    cr_assert_not(res.deflate);
    return ws_handshake_write_response(&res, response, cap);
}

Test(bench_wsc, handshake_round_trip_with_server_code) {
    char resp[WS_HANDSHAKE_MAX_RESPONSE_BYTES], key[LG_WSC_KEY_CHARS + 1];
    int n = round_trip("ringpad.v1", resp, sizeof resp, key);
    cr_assert_gt(n, 0);
    int status = 0;
    cr_assert_eq(lg_wsc_parse_response(resp, (size_t)n, key, "ringpad.v1", &status), n);
    cr_assert_eq(status, 101);
    /* every strict prefix is "need more" */
    for (int i = 0; i < n; i++) cr_assert_eq(lg_wsc_parse_response(resp, (size_t)i, key, "ringpad.v1", NULL), 0);
}

Test(bench_wsc, handshake_without_subprotocol) {
    char resp[WS_HANDSHAKE_MAX_RESPONSE_BYTES], key[LG_WSC_KEY_CHARS + 1];
    int n = round_trip(NULL, resp, sizeof resp, key);
    cr_assert_eq(lg_wsc_parse_response(resp, (size_t)n, key, NULL, NULL), n);
    /* asking for ringpad.v1 and not getting it is an error */
    cr_assert_eq(lg_wsc_parse_response(resp, (size_t)n, key, "ringpad.v1", NULL), LG_WSC_ERR_PROTOCOL);
}

static const char *good =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: WebSocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

Test(bench_wsc, rfc_sample_accept_and_header_case) {
    cr_assert_eq(lg_wsc_parse_response(good, strlen(good), "dGhlIHNhbXBsZSBub25jZQ==", NULL, NULL),
                 (int)strlen(good));
    /* a different key: the accept no longer matches */
    cr_assert_eq(lg_wsc_parse_response(good, strlen(good), "AAAAAAAAAAAAAAAAAAAAAA==", NULL, NULL),
                 LG_WSC_ERR_ACCEPT);
}

Test(bench_wsc, refuses_bad_responses) {
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    struct { const char *text; int err; } cases[] = {
        {"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", LG_WSC_ERR_STATUS},
        {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", LG_WSC_ERR_UPGRADE},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", LG_WSC_ERR_CONNECTION},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
         LG_WSC_ERR_ACCEPT},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", LG_WSC_ERR_EXTENSION},
        {"HTTP/1.0 101 Switching Protocols\r\n\r\n", LG_WSC_ERR_STATUS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(lg_wsc_parse_response(cases[i].text, strlen(cases[i].text), key, NULL, NULL),
                     cases[i].err, "case %zu", i);
    int status = 0;
    lg_wsc_parse_response(cases[0].text, strlen(cases[0].text), key, NULL, &status);
    cr_assert_eq(status, 400);
    /* a head that never ends */
    size_t big = LG_WSC_MAX_RESPONSE_BYTES + 10;
    char *junk = malloc(big);
    memset(junk, 'x', big);
    cr_assert_eq(lg_wsc_parse_response(junk, big, key, NULL, NULL), LG_WSC_ERR_TOO_LONG);
    free(junk);
}

/* Our masked frames through the server's reader, fed in uneven pieces. */
static void server_reads(const uint8_t *frames, size_t len, size_t step, uint8_t want_opcode,
                         const uint8_t *want, size_t want_len) {
    ws_reader r;
    ws_reader_config cfg = {.max_message_bytes = 1u << 20, .expect_masked = true};
    cr_assert_eq(ws_reader_init(&r, &cfg), 0);
    uint8_t *copy = malloc(len);
    memcpy(copy, frames, len);
    size_t off = 0;
    bool got = false;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        size_t used = 0;
        while (used < n) {
            ws_event ev;
            used += ws_reader_feed(&r, copy + off + used, n - used, &ev);
            cr_assert_neq(ev.type, WS_EV_ERROR, "%s", ws_err_str(ev.err));
            if (ev.type == WS_EV_MESSAGE) {
                cr_assert_not(got);
                got = true;
                cr_assert_eq(ev.opcode, want_opcode);
                cr_assert_eq(ev.len, want_len);
                if (want_len) cr_assert_arr_eq(ev.data, want, want_len);
            }
            if (ev.type == WS_EV_NONE) break;
        }
        off += n;
    }
    cr_assert(got);
    ws_reader_free(&r);
    free(copy);
}

Test(bench_wsc, masked_frames_accepted_by_server_reader) {
    static const size_t sizes[] = {0, 1, 125, 126, 1024, 65535, 65536, 200000};
    uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        uint8_t *payload = malloc(n + 1);
        for (size_t j = 0; j < n; j++) payload[j] = (uint8_t)('a' + j % 26);
        uint8_t *out = malloc(n + LG_WSC_MAX_FRAME_HEADER_BYTES);
        int64_t len = lg_wsc_encode(out, n + LG_WSC_MAX_FRAME_HEADER_BYTES, WS_OP_TEXT, payload, n, mask);
        cr_assert_gt(len, (int64_t)n);
        cr_assert(out[1] & 0x80, "mask bit");
        if (n > 4) cr_assert(memcmp(out + len - (int64_t)n, payload, n) != 0, "payload masked on the wire");
        server_reads(out, (size_t)len, 7, WS_OP_TEXT, payload, n);
        server_reads(out, (size_t)len, (size_t)len, WS_OP_TEXT, payload, n);
        /* header + in-place masking builds the same bytes */
        uint8_t *out2 = malloc(n + LG_WSC_MAX_FRAME_HEADER_BYTES);
        size_t h = lg_wsc_encode_header(out2, true, WS_OP_TEXT, n, mask);
        if (n) memcpy(out2 + h, payload, n);
        lg_wsc_mask_payload(out2 + h, n, mask);
        cr_assert_eq((int64_t)(h + n), len);
        cr_assert_arr_eq(out2, out, (size_t)len);
        free(out2);
        free(out);
        free(payload);
    }
    uint8_t small[8];
    cr_assert_eq(lg_wsc_encode(small, sizeof small, WS_OP_BINARY, "0123456789", 10, mask), LG_WSC_ERR_NOBUFS);
}

/* Server frames (unmasked), fragmented with a ping between the fragments,
 * through the client-role reader, one byte at a time. */
Test(bench_wsc, client_reader_reassembles_fragments_and_sees_ping) {
    uint8_t wire[256];
    size_t len = 0;
    const char *parts[] = {"{\"type\":\"ack\",", "\"doc\":\"d\",\"id\":\"x:1:5\",", "\"v\":3}"};
    len += (size_t)ws_encode_frame(wire + len, sizeof wire - len, false, WS_OP_TEXT, false,
                                   (const uint8_t *)parts[0], strlen(parts[0]), NULL);
    len += (size_t)ws_encode_frame(wire + len, sizeof wire - len, true, WS_OP_PING, false,
                                   (const uint8_t *)"hi", 2, NULL);
    len += (size_t)ws_encode_frame(wire + len, sizeof wire - len, false, WS_OP_CONTINUATION, false,
                                   (const uint8_t *)parts[1], strlen(parts[1]), NULL);
    len += (size_t)ws_encode_frame(wire + len, sizeof wire - len, true, WS_OP_CONTINUATION, false,
                                   (const uint8_t *)parts[2], strlen(parts[2]), NULL);
    ws_reader r;
    ws_reader_config cfg = {.max_message_bytes = 4096, .expect_masked = false};
    cr_assert_eq(ws_reader_init(&r, &cfg), 0);
    int pings = 0, messages = 0;
    for (size_t i = 0; i < len; i++) {
        ws_event ev;
        size_t used = ws_reader_feed(&r, wire + i, 1, &ev);
        cr_assert_eq(used, 1);
        cr_assert_neq(ev.type, WS_EV_ERROR);
        if (ev.type == WS_EV_PING) {
            pings++;
            cr_assert_eq(messages, 0, "the ping comes before the message completes");
            cr_assert_eq(ev.len, 2);
            cr_assert_arr_eq(ev.data, "hi", 2);
        }
        if (ev.type == WS_EV_MESSAGE) {
            messages++;
            const char *want = "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"x:1:5\",\"v\":3}";
            cr_assert_eq(ev.len, strlen(want));
            cr_assert_arr_eq(ev.data, want, ev.len);
        }
    }
    cr_assert_eq(pings, 1);
    cr_assert_eq(messages, 1);
    ws_reader_free(&r);
}

Test(bench_wsc, client_reader_refuses_masked_server_frame) {
    uint8_t mask[4] = {1, 2, 3, 4}, wire[32];
    int64_t n = lg_wsc_encode(wire, sizeof wire, WS_OP_TEXT, "{}", 2, mask);
    ws_reader r;
    ws_reader_config cfg = {.expect_masked = false};
    cr_assert_eq(ws_reader_init(&r, &cfg), 0);
    ws_event ev;
    ws_reader_feed(&r, wire, (size_t)n, &ev);
    cr_assert_eq(ev.type, WS_EV_ERROR);
    cr_assert_eq(ev.err, WS_ERR_MASKED);
    ws_reader_free(&r);
}
