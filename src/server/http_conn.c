/* The HTTP side of a connection: request heads parsed (pipelining,
 * keep-alive), bodies skipped or given to a REST call, answers from the
 * router, the upgrade to a WebSocket. The handler every connection starts
 * with (server_shared.accept_handler). */
#include "server/http_conn.h"
#include "base/clock.h"

#include "collab/events.h"
#include "collab/rest.h"
#include "http/http.h"
#include "http/router.h"
#include "server/cluster_api.h"
#include "server/sse_conn.h"
#include "ws/conn_ws.h"

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
        sse_conn_begin(c, req);
        return;
    }
    if (cluster_api_matches(c, req)) {
        c->body_skip_bytes = req->content_length;
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
        conn_ws_upgrade(c, req, r.endpoint);
        return;
    }
    c->body_skip_bytes = req->content_length;
    respond(c, &r);
    /* keep-alive: the next request gets a fresh deadline */
    conn_touch(c);
}

static void http_on_data(conn *c, uint8_t *data, size_t len) {
    worker *w = c->w;
    http_limits limits = http_limits_default();
    /* Bounded: every pass consumes bytes or returns. */
    while (len > 0 && c->state == CONN_OPEN && c->handler == &http_conn_handler) {
        if (c->handler_state != NULL) {   /* the HTTP handler's state: a REST call (rest.c) */
            rest_feed(c, data, len);
            return;
        }
        if (c->body_skip_bytes > 0) {
            size_t skip = c->body_skip_bytes < len ? (size_t)c->body_skip_bytes : len;
            c->body_skip_bytes -= skip;
            data += skip;
            len -= skip;
            continue;
        }
        const uint8_t *p = data;
        size_t plen = len;
        size_t appended = 0;
        if (c->in != NULL) {
            size_t room = RING_INBUF_BYTES - c->in_len;
            appended = len < room ? len : room;
            memcpy(c->in + c->in_len, data, appended);
            c->in_len += (uint32_t)appended;
            p = c->in;
            plen = c->in_len;
        }
        http_request req;
        int rc = http_parse_request((const char *)p, plen, &limits, &req);
        if (rc == HTTP_INCOMPLETE) {
            if (c->in == NULL) {
                c->in = bufpool_get(&w->inbuf_pool);
                if (c->in == NULL) {
                    metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
                    respond_error(c, 503, "server busy");
                    return;
                }
                if (len > RING_INBUF_BYTES) {
                    respond_error(c, 431, NULL);
                    return;
                }
                memcpy(c->in, data, len);
                c->in_len = (uint32_t)len;
            } else if (c->in_len == RING_INBUF_BYTES) {
                respond_error(c, 431, NULL);
            }
            return;
        }
        if (rc < 0) {
            metrics_add(&w->m->errors[METRICS_ERR_HTTP_PARSE], 1);
            int status = -rc;
            respond_error(c, status, NULL);
            return;
        }
        size_t used_from_data = (size_t)rc;
        if (c->in != NULL) {
            /* the head ends inside the bytes appended in this pass */
            size_t leftover = c->in_len - (size_t)rc;
            used_from_data = appended - leftover;
        }
        handle_request(c, &req);
        if (c->in != NULL) {
            bufpool_put(&w->inbuf_pool, c->in);
            c->in = NULL;
            c->in_len = 0;
        }
        data += used_from_data;
        len -= used_from_data;
    }
    /* an upgrade swapped the handler: the bytes after the head are its */
    if (len > 0 && c->state == CONN_OPEN && c->handler != &http_conn_handler) c->handler->on_data(c, data, len);
}

const conn_handler http_conn_handler = {
    .on_data = http_on_data,
    .on_close = rest_abort,   /* a REST call waiting for its body or answer */
    .wait = CONN_WAIT_INPUT,
};
