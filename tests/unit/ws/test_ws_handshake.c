/* ws_handshake: upgrade validation, Sec-WebSocket-Accept, the 101 and error responses.
 * Requests are built by hand as http_request structs (as the parser would fill them). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "ws/ws_handshake.h"

static bool starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void req_init(http_request *req, const char *method) {
    memset(req, 0, sizeof *req);
    req->method = method;
    req->method_len = strlen(method);
    req->target = "/ws";
    req->target_len = 3;
    req->minor_version = 1;
    req->keep_alive = true;
}

static void add(http_request *req, const char *name, const char *value) {
    cr_assert_lt(req->count_headers, HTTP_MAX_HEADERS);
    http_header *h = &req->headers[req->count_headers++];
    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

/* RFC 6455 1.3 sample handshake. */
static void valid_request(http_request *req) {
    req_init(req, "GET");
    add(req, "Host", "server.example.com");
    add(req, "Upgrade", "websocket");
    add(req, "Connection", "Upgrade");
    add(req, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    add(req, "Origin", "http://example.com");
    add(req, "Sec-WebSocket-Version", "13");
}

static ws_handshake_config no_deflate(void) {
    ws_handshake_config cfg = { .deflate = pmd_config_default() };
    cfg.deflate.enable = false;
    return cfg;
}

static int check(const http_request *req, ws_handshake_result *res) {
    ws_handshake_config cfg = no_deflate();
    return ws_handshake_check(req, &cfg, res);
}

Test(ws_handshake, rfc_accept_key) {
    char accept[WS_ACCEPT_CHARS + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    cr_assert_eq(ws_handshake_accept_key(key, strlen(key), accept), 0);
    cr_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

Test(ws_handshake, rfc_sample_request_gets_exact_101) {
    http_request req;
    valid_request(&req);
    ws_handshake_result res;
    cr_assert_eq(check(&req, &res), 0);
    cr_assert_eq(res.status, 101);
    cr_assert(!res.subprotocol);
    cr_assert(!res.deflate);
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    int n = ws_handshake_write_response(&res, out, sizeof out);
    const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                       "\r\n";
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_str_eq(out, want);
    cr_assert_eq(ws_handshake_write_response(&res, out, 20), -ENOBUFS);
}

Test(ws_handshake, tokens_are_case_insensitive_and_listed) {
    http_request req;
    req_init(&req, "GET");
    add(&req, "host", "x");
    add(&req, "UPGRADE", "WebSocket");
    add(&req, "connection", "keep-alive");
    add(&req, "Connection", "keep-alive, Upgrade");
    add(&req, "sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA==");
    add(&req, "sec-websocket-version", "13");
    ws_handshake_result res;
    cr_assert_eq(check(&req, &res), 0);
}

static void expect_status(http_request *req, int status) {
    ws_handshake_result res;
    cr_assert_eq(check(req, &res), -status, "want %d, got %d (%s)", status, res.status,
                 res.reason ? res.reason : "");
    cr_assert_eq(res.status, status);
    cr_assert_not_null(res.reason);
}

/* A valid request with header `name` replaced by `value` (NULL: removed). */
static void with_header(http_request *req, const char *name, const char *value) {
    valid_request(req);
    size_t w = 0;
    for (size_t i = 0; i < req->count_headers; i++)
        if (strcasecmp(req->headers[i].name, name) != 0)
            req->headers[w++] = req->headers[i];
    req->count_headers = w;
    if (value)
        add(req, name, value);
}

Test(ws_handshake, method_and_version_rules) {
    http_request req;
    valid_request(&req);
    req.method = "POST";
    req.method_len = 4;
    expect_status(&req, 405);
    valid_request(&req);
    req.minor_version = 0;
    expect_status(&req, 400);
    valid_request(&req);
    req.has_content_length = true;
    req.content_length = 5;
    expect_status(&req, 400);
    valid_request(&req);
    req.chunked = true;
    expect_status(&req, 400);
}

Test(ws_handshake, required_headers) {
    http_request req;
    with_header(&req, "Host", NULL);
    expect_status(&req, 400);
    with_header(&req, "Upgrade", NULL);
    expect_status(&req, 400);
    with_header(&req, "Upgrade", "h2c");
    expect_status(&req, 400);
    with_header(&req, "Connection", NULL);
    expect_status(&req, 400);
    with_header(&req, "Connection", "keep-alive");
    expect_status(&req, 400);
    with_header(&req, "Connection", "upgrades");
    expect_status(&req, 400);
}

Test(ws_handshake, version_other_than_13_is_426_with_header) {
    http_request req;
    with_header(&req, "Sec-WebSocket-Version", "8");
    expect_status(&req, 426);
    with_header(&req, "Sec-WebSocket-Version", NULL);
    expect_status(&req, 426);
    with_header(&req, "Sec-WebSocket-Version", "13");
    add(&req, "Sec-WebSocket-Version", "13");
    expect_status(&req, 426);

    with_header(&req, "Sec-WebSocket-Version", "7, 8");
    ws_handshake_result res;
    check(&req, &res);
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    int n = ws_handshake_write_error(&res, out, sizeof out);
    cr_assert_gt(n, 0);
    cr_assert(starts_with(out, "HTTP/1.1 426 Upgrade Required\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
    cr_assert_not_null(strstr(out, "\r\nConnection: close\r\n"));
    cr_assert_eq(ws_handshake_write_error(&res, out, 30), -ENOBUFS);
}

Test(ws_handshake, error_responses_per_status) {
    http_request req;
    valid_request(&req);
    req.method = "PUT";
    req.method_len = 3;
    ws_handshake_result res;
    check(&req, &res);
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    cr_assert_gt(ws_handshake_write_error(&res, out, sizeof out), 0);
    cr_assert(starts_with(out, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"), "%s", out);
    with_header(&req, "Host", NULL);
    check(&req, &res);
    int n = ws_handshake_write_error(&res, out, sizeof out);
    cr_assert(starts_with(out, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"), "%s", out);
    /* the body is the reason and Content-Length matches it */
    const char *body = strstr(out, "\r\n\r\n") + 4;
    char want_len[64];
    snprintf(want_len, sizeof want_len, "Content-Length: %zu\r\n", strlen(body));
    cr_assert_not_null(strstr(out, want_len));
    cr_assert_eq((size_t)n, (size_t)(body - out) + strlen(body));
}

Test(ws_handshake, key_must_be_base64_of_16_bytes) {
    const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ",          /* no padding */
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25j",            /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZQ==AAAA",    /* 19 bytes */
        "dGhlIHNhbXBsZSBub25j!Q==",        /* bad char */
        "dGhlIHNhbXBsZSBub2 jZQ==",
    };
    http_request req;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        with_header(&req, "Sec-WebSocket-Key", bad[i]);
        expect_status(&req, 400);
    }
    with_header(&req, "Sec-WebSocket-Key", NULL);
    expect_status(&req, 400);
    valid_request(&req);
    add(&req, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==");
    expect_status(&req, 400);                  /* two keys */
}

Test(ws_handshake, origin_allow_list) {
    const char *allowed[] = { "https://ringpad.example", "http://localhost:8080" };
    ws_handshake_config cfg = no_deflate();
    cfg.allowed_origins = allowed;
    cfg.count_allowed_origins = 2;
    http_request req;
    ws_handshake_result res;
    with_header(&req, "Origin", "http://localhost:8080");
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), 0);
    with_header(&req, "Origin", "http://evil.example");
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), -403);
    cr_assert_eq(res.status, 403);
    with_header(&req, "Origin", "http://localhost:8080/");   /* exact match only */
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), -403);
    with_header(&req, "Origin", NULL);   /* no Origin: refused while a list is set */
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), -403);
    cr_assert_str_eq(res.reason, "an Origin header is required (--allowed-origins is set)");
    with_header(&req, "Origin", "http://localhost:8080");
    add(&req, "Origin", "http://localhost:8080");
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), -400);
    /* without a list every origin is fine */
    cfg.count_allowed_origins = 0;
    with_header(&req, "Origin", "http://evil.example");
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), 0);
    with_header(&req, "Origin", NULL);
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), 0);
}

Test(ws_handshake, subprotocol_echoed_when_offered) {
    http_request req;
    ws_handshake_result res;
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    with_header(&req, "Sec-WebSocket-Protocol", "chat, ringpad.v1");
    cr_assert_eq(check(&req, &res), 0);
    cr_assert(res.subprotocol);
    ws_handshake_write_response(&res, out, sizeof out);
    cr_assert_not_null(strstr(out, "\r\nSec-WebSocket-Protocol: ringpad.v1\r\n"));

    with_header(&req, "Sec-WebSocket-Protocol", "chat");
    add(&req, "Sec-WebSocket-Protocol", "ringpad.v1");
    cr_assert_eq(check(&req, &res), 0);
    cr_assert(res.subprotocol);

    with_header(&req, "Sec-WebSocket-Protocol", "chat, Ringpad.v1, ringpad.v2");
    cr_assert_eq(check(&req, &res), 0);
    cr_assert(!res.subprotocol);
    ws_handshake_write_response(&res, out, sizeof out);
    cr_assert_null(strstr(out, "Sec-WebSocket-Protocol"));
}

Test(ws_handshake, deflate_negotiated_only_when_enabled) {
    http_request req;
    ws_handshake_result res;
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    with_header(&req, "Sec-WebSocket-Extensions", "x-foo");
    add(&req, "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
    ws_handshake_config cfg = { .deflate = pmd_config_default() };
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), 0);
    cr_assert(res.deflate);
    cr_assert_eq(res.deflate_params.client_max_window_bits, 15);
    ws_handshake_write_response(&res, out, sizeof out);
    cr_assert_not_null(strstr(out, "\r\nSec-WebSocket-Extensions: permessage-deflate; "
                                   "client_max_window_bits=15\r\n"), "%s", out);
    cr_assert_eq(check(&req, &res), 0);        /* deflate.enable = false */
    cr_assert(!res.deflate);
    ws_handshake_write_response(&res, out, sizeof out);
    cr_assert_null(strstr(out, "Sec-WebSocket-Extensions"));
}

/* Every parameter with a value: the longest answer must still fit. */
Test(ws_handshake, deflate_answer_with_every_parameter_fits) {
    http_request req;
    ws_handshake_result res;
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    with_header(&req, "Sec-WebSocket-Extensions",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                "server_max_window_bits=10; client_max_window_bits=11");
    ws_handshake_config cfg = { .deflate = pmd_config_default() };
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), 0);
    cr_assert(res.deflate);
    int n = ws_handshake_write_response(&res, out, sizeof out);
    cr_assert_gt(n, 0, "write_response failed: %d", n);
    cr_assert_not_null(strstr(out, "server_no_context_takeover"), "%s", out);
    cr_assert_not_null(strstr(out, "client_no_context_takeover"), "%s", out);
    cr_assert_not_null(strstr(out, "server_max_window_bits=10"), "%s", out);
    cr_assert_not_null(strstr(out, "client_max_window_bits=11"), "%s", out);
}

/* End to end with the real request parser (src/http/http.c). */
Test(ws_handshake, parsed_rfc_request) {
    const char raw[] = "GET /chat HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: keep-alive, Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Origin: http://example.com\r\n"
                       "Sec-WebSocket-Protocol: chat, ringpad.v1\r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "\r\n";
    http_limits limits = http_limits_default();
    http_request req;
    cr_assert_eq(http_parse_request(raw, sizeof raw - 1, &limits, &req), (int)(sizeof raw - 1));
    ws_handshake_config cfg = { .deflate = pmd_config_default() };
    ws_handshake_result res;
    cr_assert_eq(ws_handshake_check(&req, &cfg, &res), 0, "%s", res.reason);
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    cr_assert_gt(ws_handshake_write_response(&res, out, sizeof out), 0);
    cr_assert_str_eq(out, "HTTP/1.1 101 Switching Protocols\r\n"
                          "Upgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                          "Sec-WebSocket-Protocol: ringpad.v1\r\n"
                          "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n"
                          "\r\n");
}
