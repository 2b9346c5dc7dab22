/* Unit tests for the HTTP/1.1 request head parser (src/http/http.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static int parse_with(const char *s, const http_limits *limits, http_request *req) {
    return http_parse_request(s, strlen(s), limits, req);
}

static int parse(const char *s, http_request *req) {
    http_limits limits = http_limits_default();
    return parse_with(s, &limits, req);
}

static bool span_is(const char *p, size_t n, const char *lit) {
    return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

Test(http, limits_default) {
    http_limits l = http_limits_default();
    cr_assert_eq(l.max_request_line_bytes, 8192);
    cr_assert_eq(l.max_header_bytes, 16384);
    cr_assert_eq(l.max_header_count, HTTP_MAX_HEADERS);
}

Test(http, simple_get) {
    const char *s = "GET /index.html?x=1 HTTP/1.1\r\nHost: example\r\nUser-Agent:  t/1 \t\r\n\r\n";
    http_request req;
    int rc = parse(s, &req);
    cr_assert_eq(rc, (int)strlen(s));
    cr_assert_eq(req.head_len_bytes, strlen(s));
    cr_assert(span_is(req.method, req.method_len, "GET"));
    cr_assert(span_is(req.target, req.target_len, "/index.html?x=1"));
    cr_assert_eq(req.minor_version, 1);
    cr_assert_eq(req.count_headers, 2);
    cr_assert(span_is(req.headers[0].name, req.headers[0].name_len, "Host"));
    cr_assert(span_is(req.headers[0].value, req.headers[0].value_len, "example"));
    cr_assert(span_is(req.headers[1].value, req.headers[1].value_len, "t/1"));
    cr_assert(req.keep_alive);
    cr_assert_not(req.has_content_length);
    cr_assert_eq(req.content_length, 0);
    cr_assert_not(req.chunked);
    /* Pointers point into the caller's buffer. */
    cr_assert(req.method == s);
    cr_assert(req.target == s + 4);
}

Test(http, empty_header_value) {
    http_request req;
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Sp:   \r\n\r\n", &req), 0);
    const http_header *h = http_find_header(&req, "x-empty");
    cr_assert_not_null(h);
    cr_assert_eq(h->value_len, 0);
    h = http_find_header(&req, "X-SP");
    cr_assert_not_null(h);
    cr_assert_eq(h->value_len, 0);
}

Test(http, obs_text_in_value_allowed) {
    http_request req;
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9\r\n\r\n", &req), 0);
}

Test(http, keep_alive_rules) {
    http_request req;
    cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
    cr_assert_eq(req.minor_version, 0);
    cr_assert_not(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req), 0);
    cr_assert(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", &req), 0);
    cr_assert_not(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, CLOSE\r\n\r\n", &req), 0);
    cr_assert_not(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", &req), 0);
    cr_assert_not(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n", &req), 0);
    cr_assert(req.keep_alive);
    /* "closed" is not "close". */
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", &req), 0);
    cr_assert(req.keep_alive);
}

Test(http, line_endings_strict) {
    http_request req;
    cr_assert_eq(parse("GET / HTTP/1.1\nHost: h\r\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: h\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: h\r\n\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_eq(parse("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
}

Test(http, leading_empty_lines) {
    http_request req;
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    cr_assert_eq(parse(s, &req), (int)strlen(s));
    cr_assert(span_is(req.method, req.method_len, "GET"));
    cr_assert_eq(parse("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_eq(parse("\r\n", &req), HTTP_INCOMPLETE);
    cr_assert_eq(parse("\r", &req), HTTP_INCOMPLETE);
}

Test(http, request_line_errors) {
    http_request req;
    static const char *const bad[] = {
        "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n",        /* method not a token */
        " / HTTP/1.1\r\nHost: h\r\n\r\n",            /* empty method */
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",        /* two spaces */
        "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",        /* trailing space */
        "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n",        /* tab separator */
        "GET x HTTP/1.1\r\nHost: h\r\n\r\n",         /* not origin-form */
        "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", /* absolute-form */
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",     /* asterisk-form */
        "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",      /* fragment */
        "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", /* raw non-ASCII */
        "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",     /* control */
        "GET / \r\nHost: h\r\n\r\n",                 /* no version */
        "GET /\r\nHost: h\r\n\r\n",                  /* HTTP/0.9 style */
        "GET / HTTX/1.1\r\nHost: h\r\n\r\n",
        "GET / http/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.10\r\nHost: h\r\n\r\n",
        "GET / HTTP/1\r\nHost: h\r\n\r\n",
        "GET / HTTP/a.1\r\nHost: h\r\n\r\n",
        "\r\n\r\n\r\nGET\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], &req), HTTP_ERR_BAD_REQUEST, "case %zu", i);
}

Test(http, unsupported_versions_505) {
    http_request req;
    cr_assert_eq(parse("GET / HTTP/2.0\r\n\r\n", &req), HTTP_ERR_VERSION);
    cr_assert_eq(parse("GET / HTTP/1.2\r\n\r\n", &req), HTTP_ERR_VERSION);
    cr_assert_eq(parse("GET / HTTP/0.9\r\n\r\n", &req), HTTP_ERR_VERSION);
    cr_assert_eq(parse("GET / HTTP/9.9\r\nHost: h\r\n\r\n", &req), HTTP_ERR_VERSION);
}

Test(http, header_errors) {
    http_request req;
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",          /* space before colon */
        "GET / HTTP/1.1\r\nHost\r\n\r\n",              /* no colon */
        "GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n",    /* empty name */
        "GET / HTTP/1.1\r\nHo(st: h\r\n\r\n",          /* name not a token */
        "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",  /* obs-fold */
        "GET / HTTP/1.1\r\nHost: h\r\n\tfolded\r\n\r\n", /* obs-fold, tab */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", /* DEL */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", /* control */
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b\r\n\r\n", /* escape */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], &req), HTTP_ERR_BAD_REQUEST, "case %zu", i);
}

Test(http, nul_in_header_is_400) {
    static const char s[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    http_limits limits = http_limits_default();
    http_request req;
    cr_assert_eq(http_parse_request(s, sizeof s - 1, &limits, &req), HTTP_ERR_BAD_REQUEST);
    /* Found as soon as the partial line holds it. */
    cr_assert_eq(http_parse_request(s, 31, &limits, &req), HTTP_ERR_BAD_REQUEST);
}

Test(http, host_rules) {
    http_request req;
    cr_assert_eq(parse("GET / HTTP/1.1\r\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_eq(parse("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", &req), HTTP_ERR_BAD_REQUEST);
    cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", &req), 0);
}

Test(http, content_length) {
    http_request req;
    cr_assert_gt(parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n", &req), 0);
    cr_assert(req.has_content_length);
    cr_assert_eq(req.content_length, 42);
    cr_assert_gt(parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &req), 0);
    cr_assert(req.has_content_length);
    cr_assert_eq(req.content_length, 0);
    cr_assert_gt(parse("POST /x HTTP/1.1\r\nHost: h\r\ncontent-length: 18446744073709551615\r\n\r\n", &req), 0);
    cr_assert_eq(req.content_length, UINT64_MAX);
    cr_assert_gt(parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", &req), 0);
    cr_assert_eq(req.content_length, 7);

    static const char *const bad[] = {
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], &req), HTTP_ERR_BAD_REQUEST, "case %zu", i);
}

Test(http, transfer_encoding) {
    http_request req;
    cr_assert_gt(parse("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &req), 0);
    cr_assert(req.chunked);
    cr_assert_gt(parse("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", &req), 0);
    cr_assert(req.chunked);
    cr_assert_gt(parse("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", &req), 0);
    cr_assert(req.chunked);

    static const char *const bad[] = {
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
        "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], &req), HTTP_ERR_BAD_REQUEST, "case %zu", i);
}

/* "GET /aaa...a HTTP/1.1" with a request line of exactly `line_bytes`. */
static char *request_with_line(size_t line_bytes, const char *rest) {
    size_t fixed = strlen("GET / HTTP/1.1");
    cr_assert_geq(line_bytes, fixed);
    size_t n = line_bytes + 2 + strlen(rest);
    char *s = malloc(n + 1);
    cr_assert_not_null(s);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', line_bytes - fixed);
    memcpy(s + 5 + (line_bytes - fixed), " HTTP/1.1\r\n", 11);
    strcpy(s + line_bytes + 2, rest);
    return s;
}

Test(http, request_line_limit_414) {
    http_limits limits = http_limits_default();
    limits.max_request_line_bytes = 100;
    http_request req;
    char *ok = request_with_line(100, "Host: h\r\n\r\n");
    cr_assert_eq(parse_with(ok, &limits, &req), (int)strlen(ok));
    char *bad = request_with_line(101, "Host: h\r\n\r\n");
    cr_assert_eq(parse_with(bad, &limits, &req), HTTP_ERR_URI_TOO_LONG);
    /* Incomplete: fails as soon as 101 bytes of line are present... */
    cr_assert_eq(http_parse_request(bad, 101, &limits, &req), HTTP_ERR_URI_TOO_LONG);
    /* ...but not at 100 bytes, nor with the CR of the CRLF after 100 bytes. */
    cr_assert_eq(http_parse_request(ok, 100, &limits, &req), HTTP_INCOMPLETE);
    cr_assert_eq(http_parse_request(ok, 101, &limits, &req), HTTP_INCOMPLETE);
    free(ok);
    free(bad);
}

Test(http, header_bytes_limit_431) {
    http_limits limits = http_limits_default();
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: 0123456789\r\n\r\n";
    size_t n = strlen(s);
    http_request req;
    limits.max_header_bytes = n;
    cr_assert_eq(parse_with(s, &limits, &req), (int)n);
    limits.max_header_bytes = n - 1;
    cr_assert_eq(parse_with(s, &limits, &req), HTTP_ERR_HEADERS_TOO_LARGE);
    /* Incomplete head already past the limit: error without waiting. */
    limits.max_header_bytes = 30;
    cr_assert_eq(http_parse_request(s, 31, &limits, &req), HTTP_ERR_HEADERS_TOO_LARGE);
    cr_assert_eq(http_parse_request(s, 30, &limits, &req), HTTP_INCOMPLETE);
    /* An endless header line fails at once too. */
    limits = http_limits_default();
    size_t big = limits.max_header_bytes + 10;
    char *buf = malloc(big);
    cr_assert_not_null(buf);
    memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
    memset(buf + 19, 'v', big - 19);
    cr_assert_eq(http_parse_request(buf, big, &limits, &req), HTTP_ERR_HEADERS_TOO_LARGE);
    free(buf);
}

Test(http, leading_empty_lines_count_toward_limit) {
    http_limits limits = http_limits_default();
    limits.max_header_bytes = 8;
    http_request req;
    cr_assert_eq(parse_with("\r\n\r\n\r\n\r\n\r\n", &limits, &req), HTTP_ERR_HEADERS_TOO_LARGE);
}

/* A head with `count` headers (Host first). */
static char *request_with_headers(size_t count) {
    size_t cap = 64 + count * 32;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    size_t n = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (size_t i = 1; i < count; i++)
        n += (size_t)snprintf(s + n, cap - n, "X-H%zu: v\r\n", i);
    snprintf(s + n, cap - n, "\r\n");
    return s;
}

Test(http, header_count_limit_431) {
    http_limits limits = http_limits_default();
    limits.max_header_count = 5;
    http_request req;
    char *ok = request_with_headers(5);
    cr_assert_eq(parse_with(ok, &limits, &req), (int)strlen(ok));
    cr_assert_eq(req.count_headers, 5);
    char *bad = request_with_headers(6);
    cr_assert_eq(parse_with(bad, &limits, &req), HTTP_ERR_HEADERS_TOO_LARGE);
    /* The sixth header has only begun: already an error. */
    const char *sixth = strstr(bad, "X-H5");
    cr_assert_eq(http_parse_request(bad, (size_t)(sixth - bad) + 1, &limits, &req),
                 HTTP_ERR_HEADERS_TOO_LARGE);
    /* ...while a CR there may start the blank line. */
    cr_assert_eq(http_parse_request(ok, strlen(ok) - 1, &limits, &req), HTTP_INCOMPLETE);
    free(ok);
    free(bad);

    /* Counts above HTTP_MAX_HEADERS are clamped to the array size. */
    limits.max_header_count = 1000;
    char *many = request_with_headers(HTTP_MAX_HEADERS + 1);
    cr_assert_eq(parse_with(many, &limits, &req), HTTP_ERR_HEADERS_TOO_LARGE);
    free(many);
    many = request_with_headers(HTTP_MAX_HEADERS);
    cr_assert_eq(parse_with(many, &limits, &req), (int)strlen(many));
    free(many);
}

Test(http, incremental_byte_by_byte) {
    const char *s = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n";
    http_limits limits = http_limits_default();
    http_request req;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(http_parse_request(s, i, &limits, &req), HTTP_INCOMPLETE, "prefix %zu", i);
    cr_assert_eq(http_parse_request(s, n, &limits, &req), (int)n);
    cr_assert_eq(req.count_headers, 5);
}

Test(http, pipelined_heads) {
    const char *s = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                    "HEAD /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                    "GET /c";
    http_limits limits = http_limits_default();
    http_request req;
    size_t n = strlen(s);
    int first = http_parse_request(s, n, &limits, &req);
    cr_assert_eq(first, (int)strlen("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
    cr_assert(span_is(req.target, req.target_len, "/a"));
    cr_assert(req.keep_alive);
    int second = http_parse_request(s + first, n - (size_t)first, &limits, &req);
    cr_assert_gt(second, 0);
    cr_assert(span_is(req.method, req.method_len, "HEAD"));
    cr_assert(span_is(req.target, req.target_len, "/b"));
    cr_assert_not(req.keep_alive);
    cr_assert_eq(http_parse_request(s + first + second, n - (size_t)(first + second), &limits, &req),
                 HTTP_INCOMPLETE);
}

Test(http, body_bytes_not_consumed) {
    const char *s = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    http_request req;
    int rc = parse(s, &req);
    cr_assert_eq(rc, (int)strlen(s) - 5);
    cr_assert_eq(req.content_length, 5);
}

Test(http, find_header) {
    http_request req;
    cr_assert_gt(parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n", &req), 0);
    const http_header *h = http_find_header(&req, "X-a");
    cr_assert_not_null(h);
    cr_assert(span_is(h->value, h->value_len, "1"), "first match wins");
    cr_assert_null(http_find_header(&req, "X-B"));
    cr_assert_null(http_find_header(&req, "X-"));
    cr_assert_null(http_find_header(&req, "X-AA"));
}

Test(http, value_has_token) {
    const char *v = "keep-alive, Upgrade";
    cr_assert(http_value_has_token(v, strlen(v), "upgrade"));
    cr_assert(http_value_has_token(v, strlen(v), "KEEP-ALIVE"));
    cr_assert_not(http_value_has_token(v, strlen(v), "close"));
    cr_assert_not(http_value_has_token(v, strlen(v), "upgrad"));
    cr_assert_not(http_value_has_token(v, strlen(v), "keep"));
    v = " ,, upgrade ,\t";
    cr_assert(http_value_has_token(v, strlen(v), "upgrade"));
    cr_assert_not(http_value_has_token("", 0, "upgrade"));
    /* value_len bounds the scan. */
    cr_assert_not(http_value_has_token("a, upgrade", 3, "upgrade"));
    cr_assert_not(http_value_has_token("upgrade-x", 9, "upgrade"));
}

Test(http, status_reason) {
    cr_assert_str_eq(http_status_reason(200), "OK");
    cr_assert_str_eq(http_status_reason(101), "Switching Protocols");
    cr_assert_str_eq(http_status_reason(304), "Not Modified");
    cr_assert_str_eq(http_status_reason(400), "Bad Request");
    cr_assert_str_eq(http_status_reason(404), "Not Found");
    cr_assert_str_eq(http_status_reason(405), "Method Not Allowed");
    cr_assert_str_eq(http_status_reason(413), "Content Too Large");
    cr_assert_str_eq(http_status_reason(414), "URI Too Long");
    cr_assert_str_eq(http_status_reason(426), "Upgrade Required");
    cr_assert_str_eq(http_status_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(http_status_reason(501), "Not Implemented");
    cr_assert_str_eq(http_status_reason(503), "Service Unavailable");
    cr_assert_str_eq(http_status_reason(505), "HTTP Version Not Supported");
    cr_assert_str_eq(http_status_reason(299), "Unknown");
    cr_assert_str_eq(http_status_reason(-1), "Unknown");
}
