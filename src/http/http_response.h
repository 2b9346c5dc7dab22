/*
 * HTTP/1.1 response heads written into a caller's buffer: no allocation, and
 * never a partial head (either the whole head fits or -ENOSPC).
 */
#ifndef RINGPAD_HTTP_RESPONSE_H
#define RINGPAD_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough for any head this server writes with a few extra headers. */
#define HTTP_RESPONSE_HEAD_MAX_BYTES 1024

typedef struct http_response_head {
    int status;                   /* 100..599; the reason comes from http_status_reason */
    const char *content_type;     /* NULL: no Content-Type */
    int64_t content_length;       /* < 0: no Content-Length (101, 204, 304) */
    bool keep_alive;              /* Connection: keep-alive, else Connection: close */
    bool omit_connection;         /* no Connection header at all (101 writes its own) */
    int64_t date_unix_s;          /* < 0: no Date header */
    const char *extra_headers;    /* NULL or complete "Name: value\r\n" lines */
} http_response_head;

/*
 * Writes "HTTP/1.1 <status> <reason>", Server: ringpad, Date, Content-Type,
 * Content-Length, Connection, the extra headers and the blank line into buf.
 * Returns the bytes written (no NUL is added), -ENOSPC when buf is too small,
 * or -EINVAL for a status outside 100..599 or extra_headers that are not
 * well-formed lines (token name, colon, no CR/LF/NUL inside, CRLF at the end):
 * a response head never carries an injected header.
 */
int http_response_write_head(const http_response_head *head, char *buf, size_t cap);

/*
 * A complete error response: head plus a text/plain body "<message>\n"
 * (message NULL: the reason phrase), always `Connection: close`.
 * 426 always carries `Sec-WebSocket-Version: 13`; other headers (405's
 * "Allow: GET, HEAD\r\n") come in extra_headers (NULL for none).
 * Returns the total bytes written, -ENOSPC or -EINVAL as above; the status
 * must be 4xx or 5xx.
 */
int http_error_response(int status, const char *message, const char *extra_headers, char *buf,
                        size_t cap);

#endif /* RINGPAD_HTTP_RESPONSE_H */
