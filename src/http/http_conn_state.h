/*
 * The HTTP handler's per-connection state (conn.handler_state while the HTTP
 * handler is installed): a partial request head, the body bytes still to
 * skip, and a REST call waiting for its body or answer. Allocated when first
 * needed, so a connection that upgrades at once never has one; freed by the
 * handler's on_close, or when the connection is handed to another handler.
 */
#ifndef RINGPAD_HTTP_CONN_STATE_H
#define RINGPAD_HTTP_CONN_STATE_H

#include "io/conn.h"

#include <stdint.h>

typedef struct http_conn_state {
    uint8_t *head;                  /* partial request head (worker inbuf_pool), NULL when none */
    uint32_t head_len;
    uint64_t body_skip_bytes;       /* request body bytes still to discard */
    void *call;                     /* a REST call (collab/rest.c), NULL when none */
} http_conn_state;

/* c's state, or NULL when it has none (c must speak HTTP). */
static inline http_conn_state *http_conn_state_of(const conn *c) { return c->handler_state; }

/* c's state, made when it has none; NULL when out of memory. */
http_conn_state *http_conn_state_get(conn *c);

/* Gives the partial head back to the worker's pool. */
void http_conn_state_drop_head(conn *c, http_conn_state *h);

/* Detaches c's state (c->handler_state becomes NULL) and returns it (NULL
 * when none), for a hand-over to another handler. */
http_conn_state *http_conn_state_detach(conn *c);

/* Frees a detached state and its head (h may be NULL). The REST call, if
 * any, has ended. */
void http_conn_state_release(conn *c, http_conn_state *h);

#endif /* RINGPAD_HTTP_CONN_STATE_H */
