/*
 * The HTTP handler of a connection (requests, REST calls, the upgrade to a
 * WebSocket). Installed on every accepted connection by the server.
 */
#ifndef RINGPAD_HTTP_CONN_H
#define RINGPAD_HTTP_CONN_H

#include "io/conn.h"

extern const conn_handler http_conn_handler;

/* Queues an HTTP response: the head (its reference is taken) past the byte
 * limit, then the body (borrowed, kept alive by the caller) within it, and
 * counts the status class. On -ENOBUFS the conn closes as a slow consumer
 * after what is queued; on another error it is closed. */
int http_conn_send_response(conn *c, uint16_t status, rbuf *head, const uint8_t *body, size_t body_len);

#endif /* RINGPAD_HTTP_CONN_H */
