#include "collab/rest.h"
#include "base/clock.h"

#include "collab/rest_call.h"
#include "http/http_conn_state.h"
#include "http/http_response.h"
#include "io/conn.h"
#include "io/ring.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A REST call on an HTTP connection: keep-alive, and the bytes of pipelined
 * requests that wait (up to REST_MAX_PIPELINED_BYTES) to be parsed after the
 * response, so responses keep the request order. */
typedef struct rest_conn {
    conn *c;
    rest_call *call;                /* NULL once the call is over */
    bool keep_alive;
    uint64_t body_remaining;        /* request body bytes not yet received */
    uint8_t *stash;
    size_t stash_len;
    bool stash_overflow;            /* more than REST_MAX_PIPELINED_BYTES: close after the response */
} rest_conn;

bool rest_matches(const http_request *req) {
    /* everything under /api answers JSON, an unknown route a JSON 404 */
    return req->target_len >= 4 && memcmp(req->target, "/api", 4) == 0 &&
           (req->target_len == 4 || req->target[4] == '/' || req->target[4] == '?');
}

/* Sends a complete response; closes the connection after it unless keep_alive. */
void rest_respond(conn *c, bool keep_alive, const rest_response *r) {
    int status = r->status;
    const char *json = r->body;
    size_t len = r->len_bytes;
    char extra[96];
    snprintf(extra, sizeof extra, "Cache-Control: no-store\r\n%s%s%s", r->allow != NULL ? "Allow: " : "",
             r->allow != NULL ? r->allow : "", r->allow != NULL ? "\r\n" : "");
    rbuf *b = rbuf_new(HTTP_RESPONSE_HEAD_MAX_BYTES + len);
    if (b == NULL) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    http_response_head h = {
        .status = status,
        .content_type = r->content_type,
        .content_length = (int64_t)len,
        .keep_alive = keep_alive,
        .date_unix_s = clock_wall_s(),
        .extra_headers = extra,
    };
    int n = http_response_write_head(&h, (char *)b->data, b->cap);
    if (n < 0) {
        rbuf_unref(b);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    memcpy(b->data + n, json, len);
    b->len = (uint32_t)n + (uint32_t)len;
    if (status >= 100 && status < 600) metrics_add(&c->w->m->http_responses_by_class[status / 100], 1);
    int rc = conn_send(c, b, 0, b->len);
    rbuf_unref(b);
    if (rc == 0 && !keep_alive)
        conn_close_after_flush(c, status >= 400 ? METRICS_CLOSE_HTTP_ERROR : METRICS_CLOSE_HTTP_DONE);
}

static void on_respond(void *ctx, const rest_response *r) {
    rest_conn *rc = ctx;
    conn *c = rc->c;
    bool keeps = rc->keep_alive && !rc->stash_overflow && !c->w->draining;
    /* A response that cannot be allocated closes the connection, and closing
     * it aborts its call (rest_abort): while answering, the call is detached,
     * so it stays the caller's to finish. */
    http_conn_state *h = http_conn_state_of(c);
    if (h != NULL) h->call = NULL;
    rest_respond(c, keeps, r);
    h = http_conn_state_of(c);   /* gone if the response closed the conn */
    if (h != NULL) h->call = rc;
}

/* The call is over: the connection no longer points at it. On a kept
 * connection the rest of the body is skipped and the pipelined bytes that
 * waited are parsed now, in order. */
static void on_done(void *ctx) {
    rest_conn *rc = ctx;
    conn *c = rc->c;
    uint8_t *stash = NULL;
    size_t stash_len = 0;
    http_conn_state *h = http_conn_state_of(c);   /* NULL once the conn closed */
    if (h != NULL) h->call = NULL;
    if (h != NULL && c->state == CONN_OPEN) {
        h->body_skip_bytes = rc->body_remaining;
        stash = rc->stash;
        stash_len = rc->stash_len;
        rc->stash = NULL;
        conn_touch(c);   /* keep-alive: the next request gets a fresh deadline */
    }
    free(rc->stash);
    free(rc);
    if (stash_len > 0 && c->state == CONN_OPEN) conn_on_plain_data(c, stash, stash_len);   /* already decrypted */
    free(stash);
}

static const rest_reply_ops conn_reply = {.respond = on_respond, .done = on_done};

void rest_begin(conn *c, const http_request *req) {
    http_conn_state *h = http_conn_state_get(c);
    rest_conn *rc = h != NULL ? calloc(1, sizeof *rc) : NULL;
    rest_call *k = rc != NULL ? rest_call_new(session_worker_of(c->w), &conn_reply, rc) : NULL;
    if (k == NULL) {
        free(rc);
        metrics_add(&c->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        rest_response oom = rest_no_memory_response();
        rest_respond(c, false, &oom);
        return;
    }
    rc->c = c;
    rc->call = k;
    rc->keep_alive = req->keep_alive;
    rc->body_remaining = req->content_length;
    assert(h->call == NULL);   /* one call at a time: pipelined requests wait */
    h->call = rc;
    rest_call_begin(k, req);   /* may end the call: rc is then gone */
}

size_t rest_feed(conn *c, const uint8_t *data, size_t len) {
    http_conn_state *h = http_conn_state_of(c);
    rest_conn *rc = h != NULL ? h->call : NULL;
    if (rc == NULL) return len;
    size_t used = 0;
    if (rc->body_remaining > 0) {
        size_t take = rc->body_remaining < len ? (size_t)rc->body_remaining : len;
        rest_call_feed(rc->call, data, take);
        rc->body_remaining -= take;
        used = take;
    }
    if (used < len) {
        /* a pipelined request: it waits for this call's answer (bounded) */
        size_t more = len - used;
        if (rc->stash_overflow || rc->stash_len + more > REST_MAX_PIPELINED_BYTES) {
            rc->stash_overflow = true;
        } else {
            uint8_t *g = realloc(rc->stash, rc->stash_len + more);
            if (g == NULL) {
                rc->stash_overflow = true;
            } else {
                memcpy(g + rc->stash_len, data + used, more);
                rc->stash = g;
                rc->stash_len += more;
            }
        }
    }
    rest_call_continue(rc->call);   /* may end the call: rc is then gone */
    return len;
}

void rest_abort(conn *c) {
    http_conn_state *h = http_conn_state_of(c);
    rest_conn *rc = h != NULL ? h->call : NULL;
    if (rc == NULL) return;
    h->call = NULL;
    rest_call_abort(rc->call);
    free(rc->stash);
    free(rc);
}
