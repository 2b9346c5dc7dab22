/*
 * HTTP/1.1 request head parser: strict, bounded, no allocation.
 * Pointers in the parsed request point into the caller's receive buffer
 * (picohttpparser style), so the buffer must outlive the request struct.
 *
 * Rules (decisions that a lenient parser would make differently):
 *  - Lines end in CRLF only. A bare LF or a stray CR anywhere is 400: lenient
 *    line endings are a request-smuggling vector and every real client sends CRLF.
 *  - Empty lines (CRLF) before the request line are skipped (RFC 9112 2.2);
 *    they count toward head_len_bytes and max_header_bytes.
 *  - Request line: token SP origin-form SP "HTTP/" DIGIT "." DIGIT, single spaces.
 *    The target must start with '/' and hold visible ASCII without '#'
 *    (absolute-form and "*" are 400). A well-formed version other than 1.0/1.1
 *    is 505; a malformed one is 400.
 *  - Header names are tokens with the colon right after them; values are
 *    VCHAR / obs-text / SP / HTAB (NUL, CR, other controls, DEL: 400);
 *    obs-fold (continuation lines) is 400.
 *  - HTTP/1.1 needs exactly one Host header; two Host headers are 400 in any version.
 *  - Content-Length: 1*DIGIT without overflow; repeated lines must agree.
 *  - Transfer-Encoding: its final coding must be "chunked", given once; with
 *    Content-Length, or in HTTP/1.0, it is 400. `chunked` is set when present.
 *  - keep_alive: HTTP/1.1 on unless Connection has "close"; HTTP/1.0 on only
 *    with "keep-alive"; "close" wins over "keep-alive".
 *  - Limits: an incomplete head fails at once when the bytes present already
 *    exceed a limit or break a character rule; the parser never asks for more
 *    bytes of a head that cannot succeed.
 * The parser keeps no state between calls: call it again with the grown buffer.
 * Only the head is parsed; a body (Content-Length / chunked) is the caller's.
 */
#ifndef RINGPAD_HTTP_H
#define RINGPAD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64

typedef struct http_limits {
    size_t max_request_line_bytes;   /* > this: HTTP_ERR_URI_TOO_LONG (414) */
    size_t max_header_bytes;         /* whole head incl. request line: HTTP_ERR_HEADERS_TOO_LARGE (431) */
    size_t max_header_count;         /* <= HTTP_MAX_HEADERS; beyond: HTTP_ERR_HEADERS_TOO_LARGE (431) */
} http_limits;

/* 8 KiB request line, 16 KiB head, 64 headers. */
http_limits http_limits_default(void);

typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value;               /* leading/trailing whitespace trimmed */
    size_t value_len;
} http_header;

typedef struct http_request {
    const char *method;
    size_t method_len;
    const char *target;              /* raw request-target, e.g. "/d/x?y=1" */
    size_t target_len;
    int minor_version;               /* 0 or 1 (HTTP/1.0 or HTTP/1.1) */
    http_header headers[HTTP_MAX_HEADERS];
    size_t count_headers;
    size_t head_len_bytes;           /* bytes of the head, through the blank line */
    uint64_t content_length;         /* 0 when absent */
    bool has_content_length;
    bool chunked;                    /* Transfer-Encoding: chunked was given */
    bool keep_alive;                 /* per version default and Connection header */
} http_request;

/* Negative results of http_parse_request; each is minus its status code
 * (answer with http_error_response(-rc, ...) and close). */
typedef enum http_err {
    HTTP_INCOMPLETE = 0,                  /* need more bytes (not an error) */
    HTTP_ERR_BAD_REQUEST = -400,          /* malformed request line or header */
    HTTP_ERR_URI_TOO_LONG = -414,
    HTTP_ERR_HEADERS_TOO_LARGE = -431,
    HTTP_ERR_VERSION = -505,              /* not HTTP/1.0 or HTTP/1.1 */
} http_err;

/* Returns head_len_bytes (> 0) once the whole head is in `buf`, HTTP_INCOMPLETE
 * while it is not (and no limit is exceeded yet), or a negative http_err. */
int http_parse_request(const char *buf, size_t len, const http_limits *limits,
                       http_request *req);

/* Case-insensitive header lookup; NULL when absent. */
const http_header *http_find_header(const http_request *req, const char *name);

/* True when a comma-separated header value contains `token` (case-insensitive),
 * e.g. Connection: "keep-alive, Upgrade" has "upgrade". */
bool http_value_has_token(const char *value, size_t value_len, const char *token);

/* "Not Found" for 404, ...; "Unknown" otherwise. */
const char *http_status_reason(int status);

#endif /* RINGPAD_HTTP_H */
