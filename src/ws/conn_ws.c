#include "ws/conn_ws.h"
#include "base/token_bucket.h"

#include "base/log.h"
#include "ws/ws.h"
#include "http/router.h"
#include "ws/ws_handshake.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Reassembly memory a connection keeps between messages. */
#define CONN_WS_RETAIN_BUFFER_BYTES 4096u

/* permessage-deflate state, allocated only when negotiated (256 bytes of
 * structs; zlib's own memory comes lazily with the first message). */
typedef struct ws_pmd {
    pmd_inflater inflater;
    pmd_deflater deflater;
} ws_pmd;

typedef struct ws_session {
    ws_reader reader;
    ws_pmd *pmd;                 /* NULL without permessage-deflate */
    bool rate_warned;
    token_bucket rate;           /* --max-messages-per-sec */
    const conn_ws_app *app;      /* /ws: the document protocol (server_shared.ws_app) */
    void *app_session;           /* what app->open returned */
    uint8_t endpoint;            /* router_endpoint */
    bool ping_outstanding;       /* a ping went out and the peer said nothing since */
    bool close_sent;             /* our close frame is queued: nothing but the peer's close from now */
} ws_session;

static void ws_session_free(ws_session *s) {
    ws_reader_free(&s->reader);
    if (s->pmd != NULL) {
        pmd_inflater_free(&s->pmd->inflater);
        pmd_deflater_free(&s->pmd->deflater);
        free(s->pmd);
    }
    free(s);
}

/* The WebSocket handler's state (conn.handler_state while it is installed). */
static ws_session *ws_of(const conn *c) { return c->handler_state; }

void conn_ws_free(conn *c) {
    ws_session *s = ws_of(c);
    if (s == NULL) return;
    if (s->app_session != NULL) s->app->close(s->app_session);
    s->app_session = NULL;
    ws_session_free(s);
    c->handler_state = NULL;
}

static void send_head(conn *c, const char *bytes, size_t len, int status) {
    rbuf *b = rbuf_from(bytes, len);
    if (b == NULL) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    metrics_add(&c->w->m->http_responses_by_class[status / 100], 1);
    int rc = conn_send_control(c, b);
    rbuf_unref(b);
    if (rc != 0) conn_close(c, METRICS_CLOSE_IO_ERROR);
}

void conn_ws_upgrade(conn *c, const http_request *req, int endpoint) {
    worker *w = c->w;
    ws_handshake_result res;
    char out[WS_HANDSHAKE_MAX_RESPONSE_BYTES];
    if (ws_handshake_check(req, w->shared->handshake, &res) != 0) {
        int n = ws_handshake_write_error(&res, out, sizeof out);
        if (n > 0) send_head(c, out, (size_t)n, res.status);
        log_debug("worker %u: upgrade refused: %d %s", w->id, res.status, res.reason);
        conn_close_after_flush(c, METRICS_CLOSE_HTTP_ERROR);
        return;
    }
    ws_session *s = calloc(1, sizeof *s);
    if (s != NULL && res.deflate) {
        s->pmd = calloc(1, sizeof *s->pmd);
        if (s->pmd == NULL) {
            free(s);
            s = NULL;
        }
    }
    int n = s != NULL ? ws_handshake_write_response(&res, out, sizeof out) : -ENOMEM;
    if (n <= 0) {
        log_warn("worker %u: cannot write the 101 response (%d)", w->id, n);
        if (s != NULL) ws_session_free(s);
        metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    if (s->pmd != NULL)
        pmd_server_init(&res.deflate_params, &w->shared->handshake->deflate, &s->pmd->inflater, &s->pmd->deflater);
    ws_reader_config rc = {
        .max_message_bytes = (size_t)w->cfg->max_message_bytes,
        .retain_buffer_bytes = CONN_WS_RETAIN_BUFFER_BYTES,
        .expect_masked = true,
        .inflater = s->pmd != NULL ? &s->pmd->inflater : NULL,
    };
    if (ws_reader_init(&s->reader, &rc) != 0) {
        log_warn("worker %u: ws_reader_init failed", w->id);
        ws_session_free(s);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    if (endpoint == ROUTER_EP_WS) {
        s->app = w->shared->ws_app;
        assert(s->app != NULL);
        s->app_session = s->app->open(c);
        if (s->app_session == NULL) {
            ws_session_free(s);
            metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
            conn_close(c, METRICS_CLOSE_IO_ERROR);
            return;
        }
    }
    token_bucket_init(&s->rate, w->cfg->max_messages_per_sec, w->now_ms);
    assert(c->handler_state == NULL);   /* HTTP upgrades only with no REST call of its own */
    s->endpoint = (uint8_t)endpoint;
    c->handler_state = s;
    conn_set_handler(c, &conn_ws_handler);   /* the silence deadline from now */
    metrics_add(&w->m->ws_upgrades, 1);
    send_head(c, out, (size_t)n, 101);
}

/* A payload still in the receive buffer it arrived in (an echo) is sent from
 * there with the header written in front of it, no copy. Small frames are
 * copied into a pooled block instead: cheaper than holding a receive buffer
 * until the send completes. Returns the rbuf to send and the frame's offset
 * and length in it, or NULL. */
static rbuf *frame_in_place(conn *c, uint8_t opcode, const uint8_t *data, size_t len, uint32_t *off,
                            uint32_t *frame_len) {
    if (len + WS_MAX_HEADER_BYTES <= RING_FRAME_POOL_BLOCK_BYTES) return NULL;
    rbuf *b = worker_lend_recv_bytes(c->w, data, len);
    if (b == NULL) return NULL;
    size_t at = (size_t)(data - b->data);
    int hl = ws_encode_header_before(b->data + at, at, opcode, len);
    if (hl < 0) {
        rbuf_unref(b);
        return NULL;
    }
    *off = (uint32_t)(at - (size_t)hl);
    *frame_len = (uint32_t)((size_t)hl + len);
    return b;
}

/* A frame of `len` payload bytes with the header written in front of it. */
static int send_frame(conn *c, uint8_t opcode, const uint8_t *data, size_t len) {
    ws_session *s = ws_of(c);
    worker *w = c->w;
    rbuf *b = NULL;
    uint32_t off = 0, frame_len = 0;
    bool compress = s->pmd != NULL && pmd_should_compress(&s->pmd->deflater, len);
    if (!compress) b = frame_in_place(c, opcode, data, len, &off, &frame_len);
    if (compress) {
        size_t bound = pmd_deflate_bound(len);
        b = rbuf_new(WS_MAX_HEADER_BYTES + bound);
        if (b == NULL) return -ENOMEM;
        int64_t n = pmd_deflate_message(&s->pmd->deflater, data, len, b->data + WS_MAX_HEADER_BYTES, bound);
        if (n >= 0) {
            uint8_t head[WS_MAX_HEADER_BYTES];
            size_t hl = ws_encode_frame_header(head, true, opcode, true, (uint64_t)n, NULL);
            off = (uint32_t)(WS_MAX_HEADER_BYTES - hl);
            memcpy(b->data + off, head, hl);
            frame_len = (uint32_t)(hl + (size_t)n);
            b->len = WS_MAX_HEADER_BYTES + (uint32_t)n;
        } else if (n != PMD_ERR_NOBUFS) {
            rbuf_unref(b);
            return -EIO;
        } else {
            rbuf_unref(b);
            b = NULL;   /* incompressible: send it plain */
        }
    }
    if (b == NULL) {
        b = rbuf_pool_get(w->frame_pool, WS_MAX_HEADER_BYTES + len);
        if (b == NULL) return -ENOMEM;
        size_t hl = ws_encode_frame_header(b->data, true, opcode, false, len, NULL);
        if (len > 0) memcpy(b->data + hl, data, len);
        b->len = (uint32_t)(hl + len);
        frame_len = b->len;
    }
    int rc = conn_send(c, b, off, frame_len);
    rbuf_unref(b);
    if (rc == 0) {
        metrics_add(&w->m->frames_out, 1);
        if (opcode == WS_OP_TEXT || opcode == WS_OP_BINARY) metrics_add(&w->m->messages_out, 1);
    }
    return rc;
}

int conn_ws_send_frame(conn *c, rbuf *frame) {
    int rc = conn_send(c, frame, 0, frame->len);
    if (rc == 0) {
        metrics_add(&c->w->m->frames_out, 1);
        metrics_add(&c->w->m->messages_out, 1);
    }
    return rc;
}

static void send_control(conn *c, uint8_t opcode, const uint8_t *data, size_t len) {
    rbuf *b = rbuf_pool_get(c->w->frame_pool, 2 + WS_MAX_CONTROL_PAYLOAD_BYTES);
    if (b == NULL) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    int64_t n = ws_encode_frame(b->data, b->cap, true, opcode, false, data, len, NULL);
    if (n > 0) {
        b->len = (uint32_t)n;
        if (conn_send_control(c, b) == 0) metrics_add(&c->w->m->frames_out, 1);
    }
    rbuf_unref(b);
}

void conn_ws_send_ping(conn *c) {
    ws_session *s = ws_of(c);
    if (s == NULL) return;
    s->ping_outstanding = true;
    send_control(c, WS_OP_PING, NULL, 0);
    /* Silent for a ping interval: an idle connection gives its buffers back. */
    ws_reader_release_idle(&s->reader);
    if (s->pmd != NULL) {
        /* Dropping the compression context is always safe for the peer; the
         * receiving context only when the client resets it every message. */
        pmd_deflater_free(&s->pmd->deflater);
        if (s->pmd->inflater.no_context_takeover && !s->reader.in_message) pmd_inflater_free(&s->pmd->inflater);
    }
}

void conn_ws_send_close(conn *c, uint16_t code, const char *reason) {
    ws_session *s = ws_of(c);
    if (s == NULL || s->close_sent || c->state == CONN_DEAD) return;
    s->close_sent = true;
    rbuf *b = rbuf_new(2 + WS_MAX_CONTROL_PAYLOAD_BYTES);
    if (b == NULL) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    b->len = (uint32_t)ws_encode_close(code, reason, b->data);
    if (conn_send_control(c, b) == 0) {
        metrics_add(&c->w->m->frames_out, 1);
        metrics_count_ws_close(c->w->m, code, true);
    }
    rbuf_unref(b);
    if (c->state == CONN_OPEN) conn_set_closing(c);
}

/* Token bucket: burst and rate are both --max-messages-per-sec, spent by
 * messages, pings and pongs alike. Over the limit a message (or ping) is
 * dropped; the first time the client is told, and once its
 * debt reaches another second's worth of messages it is closed with 1008. */
static bool rate_allows(conn *c) {
    uint32_t rate = c->w->cfg->max_messages_per_sec;
    if (rate == 0) return true;
    ws_session *s = ws_of(c);
    int64_t cap = (int64_t)rate * 1000;
    int64_t balance = token_bucket_charge(&s->rate, rate, c->w->now_ms);
    if (balance >= 0) return true;
    if (balance <= -cap) {
        conn_ws_send_close(c, 1008, "rate limit exceeded");
        conn_close_after_flush(c, METRICS_CLOSE_RATE_LIMIT);
        return false;
    }
    if (!s->rate_warned) {
        s->rate_warned = true;
        send_frame(c, WS_OP_TEXT, (const uint8_t *)CONN_WS_RATE_LIMIT_TEXT, sizeof CONN_WS_RATE_LIMIT_TEXT - 1);
    }
    return false;
}

static void on_message(conn *c, const ws_event *ev) {
    metrics_add(&c->w->m->messages_in, 1);
    if (c->state != CONN_OPEN) return;   /* closing: data is ignored */
    if (!rate_allows(c)) return;
    if (ws_of(c)->endpoint == ROUTER_EP_WS) {
        if (ev->opcode != WS_OP_TEXT) {
            conn_ws_send_close(c, 1003, "ringpad.v1 messages are text");
            conn_close_after_flush(c, METRICS_CLOSE_WS_PROTOCOL);
            return;
        }
        ws_of(c)->app->on_text(ws_of(c)->app_session, ev->data, ev->len);
        return;
    }
    int rc = send_frame(c, ev->opcode, ev->data, ev->len);
    if (rc == -ENOMEM || rc == -EIO) {
        metrics_add(&c->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        conn_ws_send_close(c, 1011, "internal error");
        conn_close_after_flush(c, METRICS_CLOSE_IO_ERROR);
    }
}

void conn_ws_on_data(conn *c, uint8_t *data, size_t len) {
    ws_session *s = ws_of(c);
    worker *w = c->w;
    if (s == NULL) return;
    /* Heard from the peer: the ping is answered, the silence clock restarts. */
    s->ping_outstanding = false;
    conn_touch(c);
    /* Bounded: ws_reader_feed consumes bytes or yields an event each call. */
    while (len > 0 && (c->state == CONN_OPEN || c->state == CONN_CLOSING)) {
        ws_event ev;
        size_t used = ws_reader_feed(&s->reader, data, len, &ev);
        data += used;
        len -= used;
        if (ev.type != WS_EV_NONE) metrics_add(&w->m->frames_in, 1);
        switch (ev.type) {
        case WS_EV_NONE: break;
        case WS_EV_MESSAGE: on_message(c, &ev); break;
        /* Control frames spend the same tokens as messages: a ping flood
         * costs a pong each, so it is limited (and closed) like a message flood. */
        case WS_EV_PING:
            if (c->state == CONN_OPEN && !rate_allows(c)) break;
            if (!s->close_sent) send_control(c, WS_OP_PONG, ev.data, ev.len);
            break;
        case WS_EV_PONG:
            if (c->state == CONN_OPEN) rate_allows(c);
            break;
        case WS_EV_CLOSE:
            metrics_count_ws_close(w->m, ev.close_code, false);
            conn_ws_send_close(c, ev.close_code, NULL);
            conn_close_after_flush(c, METRICS_CLOSE_WS_CLOSED);
            return;
        case WS_EV_ERROR:
            metrics_add(&w->m->errors[METRICS_ERR_WS_PROTOCOL], 1);
            log_debug("worker %u: websocket error: %s", w->id, ws_err_str(ev.err));
            conn_ws_send_close(c, ev.close_code, ev.reason);
            conn_close_after_flush(c, METRICS_CLOSE_WS_PROTOCOL);
            return;
        }
        if (ev.type == WS_EV_NONE && used == 0) break;
    }
}

static void on_shutdown(conn *c) {
    if (c->state == CONN_OPEN) conn_ws_send_close(c, 1001, "server shutting down");
}

static void on_overflow(conn *c) {
    if (c->state == CONN_OPEN) conn_ws_send_close(c, 1008, "slow consumer");
}

/* Quiet past --ping-interval-ms: one ping at a time. */
static void on_silent(conn *c) {
    ws_session *s = ws_of(c);
    if (s != NULL && !s->ping_outstanding) conn_ws_send_ping(c);
}

const conn_handler conn_ws_handler = {
    .on_data = conn_ws_on_data,
    .on_close = conn_ws_free,
    .on_shutdown = on_shutdown,
    .on_silent = on_silent,
    .on_overflow = on_overflow,
    .wait = CONN_WAIT_SILENCE,
};
