#include "server/sse_conn.h"
#include "base/clock.h"

#include "collab/events.h"
#include "collab/rest.h"
#include "collab/rest_call.h"
#include "collab/rest_route.h"
#include "http/http_response.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sse_conn {
    conn *c;
    events_stream *ev;
    bool over;                      /* refused or ended: nothing more is sent */
} sse_conn;

/* Before the stream starts the conn waits like a request (sse_conn_handler);
 * once the head is sent it is a long-lived reader (stream_handler). */
static const conn_handler stream_handler;

static bool streaming(const conn *c) { return c->state == CONN_OPEN && c->handler == &stream_handler; }

static int send_bytes(conn *c, const char *bytes, size_t len, bool control) {
    rbuf *b = rbuf_new(len);
    if (b == NULL) return -1;
    memcpy(b->data, bytes, len);
    b->len = (uint32_t)len;
    int rc = control ? conn_send_control(c, b) : conn_send(c, b, 0, b->len);
    rbuf_unref(b);
    return rc;
}

static void on_refuse(void *ctx, const char *code, const char *message) {
    sse_conn *s = ctx;
    s->over = true;
    ot_buf b;
    ot_buf_init(&b);
    rest_response r;
    rest_error_response(&b, code, message, NULL, &r);
    /* the request's bytes after the head are not read: the connection ends */
    rest_respond(s->c, false, &r);
    ot_buf_free(&b);
}

static void on_start(void *ctx) {
    sse_conn *s = ctx;
    conn *c = s->c;
    char head[HTTP_RESPONSE_HEAD_MAX_BYTES];
    http_response_head h = {
        .status = 200,
        .content_type = "text/event-stream; charset=utf-8",
        .content_length = -1,   /* the stream ends with the connection */
        .keep_alive = false,
        .date_unix_s = clock_wall_s(),
        .extra_headers = "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n",
    };
    int n = http_response_write_head(&h, head, sizeof head);
    if (n < 0 || send_bytes(c, head, (size_t)n, true) != 0) {
        s->over = true;
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    /* on its way now: a first burst of events that overflows the queue drops
     * only what is pending, never the head */
    conn_flush(c);
    metrics_add(&c->w->m->http_responses_by_class[2], 1);
    /* a long-lived reader from now on: the silence deadline, like a WebSocket */
    if (c->state == CONN_OPEN) conn_set_handler(c, &stream_handler);
}

static int on_send(void *ctx, const char *bytes, size_t len) {
    sse_conn *s = ctx;
    if (s->over || !streaming(s->c)) return -1;
    return send_bytes(s->c, bytes, len, false);
}

static void on_end(void *ctx) {
    sse_conn *s = ctx;
    if (s->over) return;
    s->over = true;
    if (streaming(s->c)) conn_close_after_flush(s->c, METRICS_CLOSE_HTTP_DONE);
}

static const events_sink_ops sink = {.refuse = on_refuse, .start = on_start, .send = on_send, .end = on_end};

void sse_conn_begin(conn *c, const http_request *req) {
    sse_conn *s = calloc(1, sizeof *s);
    if (s == NULL) {
        rest_response oom = rest_no_memory_response();
        rest_respond(c, false, &oom);
        return;
    }
    s->c = c;
    assert(c->handler_state == NULL);   /* HTTP hands over only with no REST call of its own */
    c->handler_state = s;
    c->handler = &sse_conn_handler;   /* the same wait as HTTP: its deadline runs on */
    if (c->w->draining) {
        on_refuse(s, "storage_unavailable", "server shutting down; retry on another server or later");
        return;
    }
    s->ev = events_open(session_worker_of(c->w), req, &sink, s);   /* may refuse at once */
    if (s->ev == NULL && !s->over) on_refuse(s, "internal", "out of memory");
}

/* A reader sends nothing; bytes it sends anyway are ignored. */
static void on_data(conn *c, uint8_t *data, size_t len) {
    (void)c;
    (void)data;
    (void)len;
}

static void on_close(conn *c) {
    sse_conn *s = c->handler_state;
    if (s == NULL) return;
    c->handler_state = NULL;
    events_close(s->ev);
    free(s);
}

/* Quiet for --ping-interval-ms: a comment keeps proxies from timing the stream out. */
static void on_silent(conn *c) {
    static const char ping[] = ": ping\n\n";
    if (send_bytes(c, ping, sizeof ping - 1, false) == 0) conn_touch(c);
}

static void on_shutdown(conn *c) {
    static const char bye[] = "event: error\ndata: {\"type\":\"error\",\"code\":\"storage_unavailable\","
                              "\"message\":\"server shutting down; reconnect with Last-Event-ID\"}\n\n";
    sse_conn *s = c->handler_state;
    if (s == NULL || s->over || !streaming(c)) return;
    s->over = true;
    send_bytes(c, bye, sizeof bye - 1, true);
    conn_close_after_flush(c, METRICS_CLOSE_SHUTDOWN);
}

/* The backlog is dropped and the connection closes after this last event. */
static void on_overflow(conn *c) {
    static const char slow[] = "event: error\ndata: {\"type\":\"error\",\"code\":\"slow_consumer\","
                               "\"message\":\"the reader fell behind --max-send-queue-bytes; reconnect with Last-Event-ID\"}\n\n";
    sse_conn *s = c->handler_state;
    if (s == NULL || s->over) return;
    s->over = true;
    send_bytes(c, slow, sizeof slow - 1, true);
}

const conn_handler sse_conn_handler = {
    .on_data = on_data,
    .on_close = on_close,
    .on_shutdown = on_shutdown,
    .on_overflow = on_overflow,
    .wait = CONN_WAIT_INPUT,
};

static const conn_handler stream_handler = {
    .on_data = on_data,
    .on_close = on_close,
    .on_shutdown = on_shutdown,
    .on_silent = on_silent,
    .on_overflow = on_overflow,
    .wait = CONN_WAIT_SILENCE,
};
