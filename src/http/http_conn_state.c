#include "http/http_conn_state.h"

#include "io/ring.h"

#include <assert.h>
#include <stdlib.h>

http_conn_state *http_conn_state_get(conn *c) {
    if (c->handler_state != NULL) return c->handler_state;
    http_conn_state *h = calloc(1, sizeof *h);
    c->handler_state = h;
    return h;
}

void http_conn_state_drop_head(conn *c, http_conn_state *h) {
    if (h->head == NULL) return;
    bufpool_put(&c->w->inbuf_pool, h->head);
    h->head = NULL;
    h->head_len = 0;
}

http_conn_state *http_conn_state_detach(conn *c) {
    http_conn_state *h = c->handler_state;
    c->handler_state = NULL;
    return h;
}

void http_conn_state_release(conn *c, http_conn_state *h) {
    if (h == NULL) return;
    assert(h->call == NULL);
    http_conn_state_drop_head(c, h);
    free(h);
}
