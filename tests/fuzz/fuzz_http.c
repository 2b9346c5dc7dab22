// fuzz-sources: src/http/http.c src/http/path.c
/*
 * libFuzzer target: the HTTP request head parser and request-target decoding.
 * Any violated invariant calls __builtin_trap(), which libFuzzer reports.
 *
 * Invariants:
 *  - the result is <= len; a head's pointers lie inside buf[0, result);
 *  - a parsed head is well-formed (token method, origin-form target, version
 *    1.0/1.1, no CR/LF/NUL in names or values, count within the limit);
 *  - determinism across feeding: every strict prefix of a complete head is
 *    INCOMPLETE, the head alone parses to the same length; prefixes of an
 *    incomplete buffer are incomplete; prefixes of an error never succeed;
 *  - a decoded path never holds "." / ".." segments, '\\', NUL or control
 *    bytes, never starts with or doubles '/', and fits its bound.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/http.h"
#include "http/path.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int in_buf(const char *p, size_t n, const char *buf, size_t len) {
    return p >= buf && p + n <= buf + len;
}

static void check_decoded(const char *out, size_t len) {
    CHECK(len <= PATH_MAX_DECODED_BYTES);
    CHECK(strlen(out) == len);
    if (len == 0)
        return;
    CHECK(out[0] != '/' && out[len - 1] != '/');
    size_t seg = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || out[i] == '/') {
            size_t n = i - seg;
            CHECK(n > 0);
            CHECK(!(n == 1 && out[seg] == '.'));
            CHECK(!(n == 2 && out[seg] == '.' && out[seg + 1] == '.'));
            seg = i + 1;
            continue;
        }
        unsigned char c = (unsigned char)out[i];
        CHECK(c >= 0x20 && c != 0x7f && c != '\\');
    }
}

static void fuzz_path(const char *s, size_t n) {
    char out[PATH_MAX_DECODED_BYTES + 1];
    size_t len = 0;
    int rc = path_decode(s, n, out, sizeof out, &len);
    CHECK(rc <= 0 && rc >= PATH_ERR_NO_SPACE);
    CHECK(rc != PATH_ERR_NO_SPACE); /* the buffer is always large enough */
    if (rc == PATH_OK)
        check_decoded(out, len);
    else
        CHECK(out[0] == '\0');

    char small[8];
    rc = path_decode(s, n, small, sizeof small, &len);
    if (rc == PATH_OK)
        check_decoded(small, len);

    char value[16];
    int q = path_query_param(s, n, "v", value, sizeof value);
    CHECK(q == -ENOENT || q == -EINVAL || q == -ENOSPC || (q >= 0 && (size_t)q < sizeof value));
    if (q >= 0)
        CHECK(strlen(value) == (size_t)q);
}

static void check_head(const char *buf, int rc, const http_request *req, const http_limits *limits) {
    size_t len = (size_t)rc;
    CHECK(req->head_len_bytes == len);
    CHECK(len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
    CHECK(len <= limits->max_header_bytes);
    CHECK(in_buf(req->method, req->method_len, buf, len) && req->method_len > 0);
    CHECK(in_buf(req->target, req->target_len, buf, len) && req->target_len > 0);
    CHECK(req->target[0] == '/');
    CHECK(req->minor_version == 0 || req->minor_version == 1);
    CHECK(req->count_headers <= limits->max_header_count && req->count_headers <= HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->count_headers; i++) {
        const http_header *h = &req->headers[i];
        CHECK(in_buf(h->name, h->name_len, buf, len) && h->name_len > 0);
        CHECK(in_buf(h->value, h->value_len, buf, len));
        for (size_t k = 0; k < h->name_len; k++)
            CHECK(h->name[k] > 0x20 && h->name[k] < 0x7f && h->name[k] != ':');
        for (size_t k = 0; k < h->value_len; k++)
            CHECK(h->value[k] != '\r' && h->value[k] != '\n' && h->value[k] != '\0');
        if (h->value_len > 0) {
            CHECK(h->value[0] != ' ' && h->value[0] != '\t');
            CHECK(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
        }
    }
    CHECK(!(req->chunked && req->has_content_length));
    if (!req->has_content_length)
        CHECK(req->content_length == 0);
}

static void fuzz_parser(const char *buf, size_t size, const http_limits *limits) {
    http_request req;
    int rc = http_parse_request(buf, size, limits, &req);
    CHECK(rc == HTTP_INCOMPLETE || rc == HTTP_ERR_BAD_REQUEST || rc == HTTP_ERR_URI_TOO_LONG ||
          rc == HTTP_ERR_HEADERS_TOO_LARGE || rc == HTTP_ERR_VERSION || rc > 0);
    CHECK(rc < 0 || (size_t)rc <= size);

    http_request again;
    if (rc > 0) {
        check_head(buf, rc, &req, limits);
        CHECK(http_parse_request(buf, (size_t)rc, limits, &again) == rc);
        CHECK(http_parse_request(buf, (size_t)rc - 1, limits, &again) == HTTP_INCOMPLETE);
        CHECK(http_parse_request(buf, (size_t)rc / 2, limits, &again) == HTTP_INCOMPLETE);
        fuzz_path(req.target, req.target_len);
    } else if (rc == HTTP_INCOMPLETE) {
        if (size > 0)
            CHECK(http_parse_request(buf, size - 1, limits, &again) == HTTP_INCOMPLETE);
        CHECK(http_parse_request(buf, size / 2, limits, &again) == HTTP_INCOMPLETE);
    } else if (size > 0) {
        CHECK(http_parse_request(buf, size - 1, limits, &again) <= 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    http_limits limits = http_limits_default();
    fuzz_parser(buf, size, &limits);
    /* Tight limits reach the limit paths with short inputs. */
    http_limits tight = {.max_request_line_bytes = 48, .max_header_bytes = 160, .max_header_count = 4};
    fuzz_parser(buf, size, &tight);
    fuzz_path(buf, size);
    return 0;
}
