#include "collab/session_ws.h"

#include "collab/session.h"
#include "io/conn.h"
#include "io/ring.h"
#include "ws/conn_ws.h"

#include <errno.h>

/* A connection past its close frame (or gone) takes no more frames. */
static int ws_send(void *ctx, rbuf *frame) {
    conn *c = ctx;
    if (c->state != CONN_OPEN || c->handler != &conn_ws_handler) return -EPIPE;
    return conn_ws_send_frame(c, frame);
}

static void ws_close(void *ctx, uint16_t code, const char *reason) {
    conn *c = ctx;
    if (c->state != CONN_OPEN || c->handler != &conn_ws_handler) return;
    conn_ws_send_close(c, code, reason);
    /* unauthorized is the peer's fault; a lost message is the server's */
    conn_close_after_flush(c, code == SESSION_CLOSE_UNAUTHORIZED ? METRICS_CLOSE_WS_PROTOCOL : METRICS_CLOSE_IO_ERROR);
}

static const session_sink_ops ws_sink_ops = {.send = ws_send, .close = ws_close};

static void *app_open(conn *c) { return session_open(session_worker_of(c->w), (session_sink){.ops = &ws_sink_ops, .ctx = c}); }
static void app_on_text(void *session, const uint8_t *data, size_t len) { session_on_text(session, data, len); }
static void app_close(void *session) { session_close(session); }

const conn_ws_app session_ws_app = {.open = app_open, .on_text = app_on_text, .close = app_close};
