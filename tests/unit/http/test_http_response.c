/* Unit tests for response heads (src/http/http_response.c) and HTTP dates (src/http/http_date.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_date.h"
#include "http/http_response.h"

#define RFC_EXAMPLE_UNIX_S 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

Test(http_response, full_head_exact) {
    http_response_head h = {
        .status = 200,
        .content_type = "text/html; charset=utf-8",
        .content_length = 1234,
        .keep_alive = true,
        .date_unix_s = RFC_EXAMPLE_UNIX_S,
        .extra_headers = "ETag: \"x\"\r\n",
    };
    char buf[512];
    int n = http_response_write_head(&h, buf, sizeof buf);
    const char *want = "HTTP/1.1 200 OK\r\n"
                       "Server: ringpad\r\n"
                       "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                       "Content-Type: text/html; charset=utf-8\r\n"
                       "Content-Length: 1234\r\n"
                       "Connection: keep-alive\r\n"
                       "ETag: \"x\"\r\n"
                       "\r\n";
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_eq(memcmp(buf, want, (size_t)n), 0, "%.*s", n, buf);
}

Test(http_response, minimal_head) {
    http_response_head h = {.status = 304, .content_length = -1, .date_unix_s = -1};
    char buf[256];
    int n = http_response_write_head(&h, buf, sizeof buf);
    const char *want = "HTTP/1.1 304 Not Modified\r\nServer: ringpad\r\nConnection: close\r\n\r\n";
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_eq(memcmp(buf, want, (size_t)n), 0);

    h.status = 101;
    h.omit_connection = true;
    h.extra_headers = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    n = http_response_write_head(&h, buf, sizeof buf);
    want = "HTTP/1.1 101 Switching Protocols\r\nServer: ringpad\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_eq(memcmp(buf, want, (size_t)n), 0);
}

Test(http_response, zero_content_length_written) {
    http_response_head h = {.status = 200, .content_length = 0, .date_unix_s = -1, .keep_alive = true};
    char buf[256];
    int n = http_response_write_head(&h, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert_not_null(memmem(buf, (size_t)n, "Content-Length: 0\r\n", 19));
}

Test(http_response, enospc_never_partial) {
    http_response_head h = {
        .status = 200,
        .content_type = "text/plain",
        .content_length = 5,
        .date_unix_s = RFC_EXAMPLE_UNIX_S,
    };
    char full[256];
    int n = http_response_write_head(&h, full, sizeof full);
    cr_assert_gt(n, 0);
    for (size_t cap = 0; cap < (size_t)n; cap++) {
        char buf[256];
        cr_assert_eq(http_response_write_head(&h, buf, cap), -ENOSPC, "cap %zu", cap);
    }
    char exact[256];
    cr_assert_eq(http_response_write_head(&h, exact, (size_t)n), n);
}

Test(http_response, rejects_bad_status_and_injection) {
    char buf[256];
    http_response_head h = {.status = 99, .content_length = -1, .date_unix_s = -1};
    cr_assert_eq(http_response_write_head(&h, buf, sizeof buf), -EINVAL);
    h.status = 600;
    cr_assert_eq(http_response_write_head(&h, buf, sizeof buf), -EINVAL);
    h.status = 200;
    static const char *const bad_extra[] = {
        "X: y",                     /* no CRLF */
        "X: y\n",                   /* bare LF */
        "X: y\r\nZ",                /* unterminated second line */
        "X: a\r\nSet-Cookie: b\rc\r\n", /* stray CR */
        ": y\r\n",                  /* empty name */
        "X Y: z\r\n",               /* name not a token */
        "\r\n",                     /* an early blank line would end the head */
        "X: a\x01\r\n",             /* control byte */
    };
    for (size_t i = 0; i < sizeof bad_extra / sizeof bad_extra[0]; i++) {
        h.extra_headers = bad_extra[i];
        cr_assert_eq(http_response_write_head(&h, buf, sizeof buf), -EINVAL, "case %zu", i);
    }
    h.extra_headers = NULL;
    h.content_type = "text/plain\r\nX-Injected: 1";
    cr_assert_eq(http_response_write_head(&h, buf, sizeof buf), -EINVAL);
    h.content_type = NULL;
    h.extra_headers = "";
    cr_assert_gt(http_response_write_head(&h, buf, sizeof buf), 0);
}

/* Splits a response into head and body and checks the framing. */
static void check_error_response(const char *buf, int n, int status, const char *body) {
    cr_assert_gt(n, 0);
    char status_line[64];
    snprintf(status_line, sizeof status_line, "HTTP/1.1 %d ", status);
    cr_assert_eq(strncmp(buf, status_line, strlen(status_line)), 0, "%.*s", n, buf);
    const char *end = memmem(buf, (size_t)n, "\r\n\r\n", 4);
    cr_assert_not_null(end);
    size_t head_len = (size_t)(end - buf) + 4;
    cr_assert_not_null(memmem(buf, head_len, "\r\nConnection: close\r\n", 21));
    cr_assert_not_null(memmem(buf, head_len, "\r\nContent-Type: text/plain; charset=utf-8\r\n", 43));
    char cl[64];
    snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", strlen(body));
    cr_assert_not_null(memmem(buf, head_len, cl, strlen(cl)), "%.*s", n, buf);
    cr_assert_eq((size_t)n - head_len, strlen(body));
    cr_assert_eq(memcmp(buf + head_len, body, strlen(body)), 0);
}

Test(http_response, error_statuses) {
    static const struct {
        int status;
        const char *body;
    } cases[] = {
        {400, "Bad Request\n"},          {404, "Not Found\n"},
        {405, "Method Not Allowed\n"},   {413, "Content Too Large\n"},
        {414, "URI Too Long\n"},         {426, "Upgrade Required\n"},
        {431, "Request Header Fields Too Large\n"},
        {501, "Not Implemented\n"},      {503, "Service Unavailable\n"},
        {505, "HTTP Version Not Supported\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[1024];
        int n = http_error_response(cases[i].status, NULL, NULL, buf, sizeof buf);
        check_error_response(buf, n, cases[i].status, cases[i].body);
        bool has_ws = memmem(buf, (size_t)n, "\r\nSec-WebSocket-Version: 13\r\n", 29) != NULL;
        cr_assert_eq(has_ws, cases[i].status == 426, "status %d", cases[i].status);
    }
}

Test(http_response, error_with_message_and_extra) {
    char buf[1024];
    int n = http_error_response(405, "use GET", "Allow: GET, HEAD\r\n", buf, sizeof buf);
    check_error_response(buf, n, 405, "use GET\n");
    cr_assert_not_null(memmem(buf, (size_t)n, "\r\nAllow: GET, HEAD\r\n", 20));

    n = http_error_response(426, NULL, "X-A: b\r\n", buf, sizeof buf);
    check_error_response(buf, n, 426, "Upgrade Required\n");
    cr_assert_not_null(memmem(buf, (size_t)n, "\r\nSec-WebSocket-Version: 13\r\nX-A: b\r\n", 37));
}

Test(http_response, error_rejects) {
    char buf[1024];
    cr_assert_eq(http_error_response(200, NULL, NULL, buf, sizeof buf), -EINVAL);
    cr_assert_eq(http_error_response(399, NULL, NULL, buf, sizeof buf), -EINVAL);
    cr_assert_eq(http_error_response(400, NULL, "bad", buf, sizeof buf), -EINVAL);
    int n = http_error_response(400, NULL, NULL, buf, sizeof buf);
    cr_assert_gt(n, 0);
    for (size_t cap = 0; cap < (size_t)n; cap++)
        cr_assert_eq(http_error_response(400, NULL, NULL, buf, cap), -ENOSPC, "cap %zu", cap);
    cr_assert_eq(http_error_response(400, NULL, NULL, buf, (size_t)n), n);
}

Test(http_date, format) {
    char out[HTTP_DATE_BYTES];
    cr_assert_eq(http_date_format(RFC_EXAMPLE_UNIX_S, out), 29);
    cr_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    cr_assert_eq(http_date_format(0, out), 29);
    cr_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    cr_assert_eq(http_date_format(-1, out), -EINVAL);
    cr_assert_eq(http_date_format(253402300800LL, out), -EINVAL);
    cr_assert_eq(http_date_format(253402300799LL, out), 29);
    cr_assert_str_eq(out, "Fri, 31 Dec 9999 23:59:59 GMT");
}

static int parse_date(const char *s, int64_t *t) {
    return http_date_parse(s, strlen(s), t);
}

Test(http_date, parse_three_formats) {
    int64_t t = 0;
    cr_assert_eq(parse_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    cr_assert_eq(t, RFC_EXAMPLE_UNIX_S);
    t = 0;
    cr_assert_eq(parse_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    cr_assert_eq(t, RFC_EXAMPLE_UNIX_S);
    t = 0;
    cr_assert_eq(parse_date("Sun Nov  6 08:49:37 1994", &t), 0);
    cr_assert_eq(t, RFC_EXAMPLE_UNIX_S);
    cr_assert_eq(parse_date("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
    cr_assert_eq(t, 0);
    cr_assert_eq(parse_date("Wednesday, 01-Jan-25 00:00:00 GMT", &t), 0);
    cr_assert_eq(t, 1735689600);
}

Test(http_date, roundtrip) {
    for (int64_t s = 0; s < 4000000000LL; s += 123456789) {
        char out[HTTP_DATE_BYTES];
        cr_assert_eq(http_date_format(s, out), 29);
        int64_t back = -1;
        cr_assert_eq(http_date_parse(out, 29, &back), 0, "%s", out);
        cr_assert_eq(back, s);
    }
}

Test(http_date, parse_rejects) {
    static const char *const bad[] = {
        "",
        "garbage",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 19a4 08:49:37 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994 ",
        "Sun Nov  6 08:49:37 94",
        "1994-11-06T08:49:37Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        cr_assert_eq(parse_date(bad[i], &t), -EINVAL, "case %zu: %s", i, bad[i]);
        cr_assert_eq(t, 42);
    }
}
