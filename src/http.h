/*
 * HTTP/1.1 request head parser: strict, bounded, no allocation.
 * Pointers in the parsed request point into the caller's receive buffer
 * (picohttpparser style), so the buffer must outlive the request struct.
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

/* Negative results of http_parse_request; each maps to one status code. */
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
