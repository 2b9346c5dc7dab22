/* The HTTP side of a connection: request heads parsed (pipelining,
 * keep-alive), bodies skipped or given to a REST call, answers from the
 * router, the upgrade to a WebSocket. The handler every connection starts
 * with (server_shared.accept_handler). */
#include "server/http_conn.h"
#include "base/clock.h"

#include "collab/events.h"
#include "collab/rest.h"
#include "http/http.h"
#include "http/http_conn_state.h"
#include "http/router.h"
#include "server/cluster_api.h"
#include "server/sse_conn.h"
#include "ws/conn_ws.h"

#include <assert.h>
#include <string.h>
#include <time.h>

/* Bodies of routes outside /api are skipped; larger ones get 413. */
#define HTTP_CONN_MAX_REQUEST_BODY_BYTES (64u * 1024u)

int http_conn_send_response(conn *c, uint16_t status, rbuf *head, const uint8_t *body, size_t body_len) {
    if (status >= 100 && status < 600) metrics_add(&c->w->m->http_responses_by_class[status / 100], 1);
    return conn_send_head_body(c, head, body, body_len);
}

static void respond(conn *c, const router_reply *r) {
    if (http_conn_send_response(c, (uint16_t)r->status, r->head, r->body, r->body_len) != 0) return;
    if (r->close) conn_close_after_flush(c, r->status >= 400 ? METRICS_CLOSE_HTTP_ERROR : METRICS_CLOSE_HTTP_DONE);
}

static void respond_error(conn *c, int status, const char *message) {
    router_reply r;
    if (router_error(status, message, &r) != 0) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    respond(c, &r);
}

static int64_t unix_now_s(void) { return clock_wall_s(); }

/* The request's body is not read: skip it before the next head. */
static bool skip_body(conn *c, uint64_t bytes) {
    if (bytes == 0) {
        http_conn_state *h = http_conn_state_of(c);
        if (h != NULL) h->body_skip_bytes = 0;
        return true;
    }
    http_conn_state *h = http_conn_state_get(c);
    if (h == NULL) {
        metrics_add(&c->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return false;
    }
    h->body_skip_bytes = bytes;
    return true;
}

/* Another handler takes the connection (WebSocket, event stream): the HTTP
 * state is detached first and freed once it is installed, since req may
 * point into its head. */
static void hand_over(conn *c, const http_request *req, int endpoint) {
    http_conn_state *h = http_conn_state_detach(c);
    assert(h == NULL || h->call == NULL);   /* no hand-over while a REST call of its own runs */
    if (endpoint < 0) sse_conn_begin(c, req);
    else conn_ws_upgrade(c, req, endpoint);
    http_conn_state_release(c, h);
}

static void handle_request(conn *c, const http_request *req) {
    worker *w = c->w;
    metrics_add(&w->m->http_requests, 1);
    if (c->over_limit) {
        respond_error(c, 503, "server at connection limit");
        return;
    }
    if (req->chunked) {
        respond_error(c, 400, "chunked request bodies are not accepted");
        return;
    }
    if (events_matches(req)) {
        /* a live stream: its own handler from here on */
        hand_over(c, req, -1);
        return;
    }
    if (cluster_api_matches(c, req)) {
        if (!skip_body(c, req->content_length)) return;
        cluster_api_answer(c, req);
        conn_touch(c);
        return;
    }
    if (rest_matches(req)) {
        /* asynchronous: answered from the document's owner, then closed; it
         * bounds its own bodies (--max-message-bytes) with a JSON 413 */
        rest_begin(c, req);
        return;
    }
    if (req->content_length > HTTP_CONN_MAX_REQUEST_BODY_BYTES) {
        respond_error(c, 413, NULL);
        return;
    }
    http_request last;
    if (w->draining) {
        /* every response during the grace period ends its connection */
        last = *req;
        last.keep_alive = false;
        req = &last;
    }
    router_ctx ctx = {.shared = w->shared, .now_unix_s = unix_now_s()};
    router_reply r;
    if (router_route(&ctx, req, &r) != 0) {
        metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        respond_error(c, 500, NULL);
        return;
    }
    if (r.action == ROUTER_UPGRADE) {
        if (w->draining) {
            respond_error(c, 503, "server shutting down");
            return;
        }
        hand_over(c, req, r.endpoint);
        return;
    }
    if (!skip_body(c, req->content_length)) {
        if (r.head != NULL) rbuf_unref(r.head);
        return;
    }
    respond(c, &r);
    /* keep-alive: the next request gets a fresh deadline */
    conn_touch(c);
}

/* Keeps the start of an incomplete head: false when the conn was answered
 * (no memory, or a head too large). */
static bool keep_head(conn *c, http_conn_state *h, const uint8_t *data, size_t len) {
    worker *w = c->w;
    if (h != NULL && h->head != NULL) {
        if (h->head_len == RING_INBUF_BYTES) respond_error(c, 431, NULL);
        return true;
    }
    if (h == NULL) h = http_conn_state_get(c);
    if (h != NULL) h->head = bufpool_get(&w->inbuf_pool);
    if (h == NULL || h->head == NULL) {
        metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        respond_error(c, 503, "server busy");
        return false;
    }
    if (len > RING_INBUF_BYTES) {
        respond_error(c, 431, NULL);
        return false;
    }
    memcpy(h->head, data, len);
    h->head_len = (uint32_t)len;
    return true;
}

static void http_on_data(conn *c, uint8_t *data, size_t len) {
    worker *w = c->w;
    http_limits limits = http_limits_default();
    /* Bounded: every pass consumes bytes or returns. */
    while (len > 0 && c->state == CONN_OPEN && c->handler == &http_conn_handler) {
        http_conn_state *h = http_conn_state_of(c);
        if (h != NULL && h->call != NULL) {   /* a REST call (rest.c) takes the bytes */
            rest_feed(c, data, len);
            return;
        }
        if (h != NULL && h->body_skip_bytes > 0) {
            size_t skip = h->body_skip_bytes < len ? (size_t)h->body_skip_bytes : len;
            h->body_skip_bytes -= skip;
            data += skip;
            len -= skip;
            continue;
        }
        const uint8_t *p = data;
        size_t plen = len;
        size_t appended = 0;
        bool from_head = h != NULL && h->head != NULL;
        if (from_head) {
            size_t room = RING_INBUF_BYTES - h->head_len;
            appended = len < room ? len : room;
            memcpy(h->head + h->head_len, data, appended);
            h->head_len += (uint32_t)appended;
            p = h->head;
            plen = h->head_len;
        }
        http_request req;
        int rc = http_parse_request((const char *)p, plen, &limits, &req);
        if (rc == HTTP_INCOMPLETE) {
            keep_head(c, h, data, len);
            return;
        }
        if (rc < 0) {
            metrics_add(&w->m->errors[METRICS_ERR_HTTP_PARSE], 1);
            int status = -rc;
            respond_error(c, status, NULL);
            return;
        }
        size_t used_from_data = (size_t)rc;
        if (from_head) {
            /* the head ends inside the bytes appended in this pass */
            size_t leftover = h->head_len - (size_t)rc;
            used_from_data = appended - leftover;
        }
        handle_request(c, &req);
        /* the state again: the request may have closed the conn or handed it over */
        h = c->handler == &http_conn_handler ? http_conn_state_of(c) : NULL;
        if (h != NULL) http_conn_state_drop_head(c, h);
        data += used_from_data;
        len -= used_from_data;
    }
    /* an upgrade swapped the handler: the bytes after the head are its */
    if (len > 0 && c->state == CONN_OPEN && c->handler != &http_conn_handler) c->handler->on_data(c, data, len);
}

/* Closing: the REST call waiting for its body or answer ends, the state goes. */
static void http_on_close(conn *c) {
    rest_abort(c);
    http_conn_state_release(c, http_conn_state_detach(c));
}

const conn_handler http_conn_handler = {
    .on_data = http_on_data,
    .on_close = http_on_close,
    .wait = CONN_WAIT_INPUT,
};
