/*
 * A small blocking HTTP/1.1 client for outgoing notifications (webhooks):
 * one POST per connection (Connection: close), bounded by a timeout on
 * connect, send and receive. Plain http:// only. For a thread of its own:
 * it never runs on a worker.
 */
#ifndef RINGPAD_HTTP_POST_H
#define RINGPAD_HTTP_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_URL_MAX_HOST_BYTES 256
#define HTTP_URL_MAX_PATH_BYTES 1024

typedef struct http_url {
    char host[HTTP_URL_MAX_HOST_BYTES];     /* without brackets for IPv6 */
    char port[8];
    char path[HTTP_URL_MAX_PATH_BYTES];     /* origin-form, "/" at least */
} http_url;

/* Parses "http://host[:port][/path]". 0, or -EINVAL with *why naming the problem. */
int http_url_parse(const char *url, http_url *out, const char **why);

/* POSTs body with Content-Type application/json and extra_headers (NULL or
 * complete "Name: value\r\n" lines). The answer's status in *status (the
 * body is not read). 0, or a negative errno (-ETIMEDOUT, -ECONNREFUSED,
 * -EPROTO for an answer that is not HTTP, -ECANCELED once *cancel is set:
 * it is looked at every HTTP_POST_CANCEL_CHECK_MS while waiting). */
int http_post(const http_url *u, const char *extra_headers, const char *body, size_t len_bytes, uint32_t timeout_ms,
              const _Atomic bool *cancel, int *status);

#define HTTP_POST_CANCEL_CHECK_MS 50

#endif /* RINGPAD_HTTP_POST_H */
