#include "tls/conn_tls.h"

#include "base/log.h"
#include "tls/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Plaintext entries passed to one tls_conn_write (each call may end a record early). */
#define CONN_TLS_SEAL_BATCH_ENTRIES 64u

int conn_tls_open(conn *c, const server_shared *s) {
    if (s->tls == NULL) return 0;
    c->filter_state = tls_conn_new(s->tls);
    return c->filter_state != NULL ? 0 : -ENOMEM;
}

void conn_tls_free(conn *c) {
    tls_conn_free(c->filter_state);
    c->filter_state = NULL;
    rbuf_unref(c->filter_held);
    c->filter_held = NULL;
}

typedef struct input_ctx {
    conn *c;
    bool counted;   /* the handshake was new in this input and is counted */
} input_ctx;

static void count_handshake(conn *c) {
    worker *w = c->w;
    tls_conn *t = c->filter_state;
    metrics_add(&w->m->tls_handshakes, 1);
    bool resumed = tls_conn_session_reused(t);
    if (resumed) metrics_add(&w->m->tls_resumed, 1);
    log_debug("worker %u: conn fd %d: %s %s%s%s", w->id, c->fd, tls_conn_version_str(t), tls_conn_cipher_str(t),
              resumed ? " resumed" : "", tls_conn_alpn(t) != NULL ? " alpn http/1.1" : "");
}

static int plain_sink(void *arg, uint8_t *plain, size_t len) {
    input_ctx *in = arg;
    conn *c = in->c;
    /* Counted before the first request it carries, so /metrics sees itself. */
    if (!in->counted) {
        in->counted = true;
        count_handshake(c);
    }
    conn_on_plain_data(c, plain, len);
    return c->state == CONN_DEAD;
}

/* A plaintext HTTP request on the TLS port: answer 400 in plaintext and close. */
static void reject_plaintext(conn *c) {
    conn_tls_free(c);   /* from here on the connection is plaintext */
    c->filter = NULL;
    char reply[256];
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof CONN_TLS_PLAINTEXT_BODY - 1, CONN_TLS_PLAINTEXT_BODY);
    rbuf *b = n > 0 && (size_t)n < sizeof reply ? rbuf_from(reply, (size_t)n) : NULL;
    if (b == NULL || conn_send_control(c, b) != 0) {
        rbuf_unref(b);
        conn_close(c, METRICS_CLOSE_TLS_ERROR);
        return;
    }
    rbuf_unref(b);
    metrics_add(&c->w->m->http_responses_by_class[4], 1);
    conn_close_after_flush(c, METRICS_CLOSE_TLS_ERROR);
}

static bool looks_like_http(const uint8_t *data, size_t len) {
    /* A TLS connection opens with a handshake record (0x16); HTTP with a method token. */
    return len > 0 && data[0] >= 'A' && data[0] <= 'Z';
}

void conn_tls_on_data(conn *c, const uint8_t *data, size_t len) {
    tls_conn *t = c->filter_state;
    worker *w = c->w;
    switch ((conn_state)c->state) {
    case CONN_DRAIN:
    case CONN_LINGER:
    case CONN_DEAD: return;   /* closing: input is discarded, like plaintext */
    default: break;
    }
    bool was_done = tls_conn_handshake_done(t);
    input_ctx in = {.c = c, .counted = was_done};
    int rc = tls_conn_input(t, data, len, plain_sink, &in);
    if (c->state == CONN_DEAD) return;
    if (!in.counted && tls_conn_handshake_done(t)) count_handshake(c);
    if (tls_conn_output_bytes(t) > 0) conn_mark_dirty(c);
    if (rc == TLS_OK) return;
    if (rc == TLS_PEER_CLOSED) {
        conn_on_recv_end(c, 0);   /* close_notify: the peer's end of data, like a FIN */
        return;
    }
    if (!was_done) {
        metrics_add(&w->m->errors[METRICS_ERR_TLS_HANDSHAKE], 1);
        if (looks_like_http(data, len)) {
            log_info("worker %u: conn fd %d: plaintext HTTP on the TLS port; answering 400", w->id, c->fd);
            reject_plaintext(c);
            return;
        }
        log_info("worker %u: conn fd %d: TLS handshake failed: %s", w->id, c->fd, tls_conn_error_str(t));
    } else {
        log_info("worker %u: conn fd %d: TLS error: %s", w->id, c->fd, tls_conn_error_str(t));
    }
    /* An alert may be waiting in the output: send it, then close. */
    conn_close_after_flush(c, METRICS_CLOSE_TLS_ERROR);
}

/* The owner of the queue's head entry (the queue is not empty). */
static const rbuf *head_owner(const sendq *q) { return q->ring[q->head & (q->cap - 1)].buf; }

int conn_tls_seal(conn *c) {
    sendq *q = &c->q;
    tls_conn *t = c->filter_state;
    if (c->filter_held != NULL) {
        /* The previous ciphertext is still partly unsent: it goes first. */
        if (q->count > 0 && head_owner(q) == c->filter_held) return 0;
        rbuf_unref(c->filter_held);
        c->filter_held = NULL;
    }
    uint64_t before = q->bytes;
    bool usable = tls_conn_handshake_done(t) && !tls_conn_failed(t);
    if (!usable) {
        sendq_drop_pending(q);   /* no plaintext can be queued before the handshake; none after a failure */
    }
    /* Bounded: every pass removes up to a batch of entries. */
    while (usable && q->count > 0) {
        struct iovec iov[CONN_TLS_SEAL_BATCH_ENTRIES];
        tls_piece pieces[CONN_TLS_SEAL_BATCH_ENTRIES];
        uint64_t total = 0;
        size_t n = sendq_start(q, iov, CONN_TLS_SEAL_BATCH_ENTRIES, &total);
        for (size_t i = 0; i < n; i++) pieces[i] = (tls_piece){iov[i].iov_base, iov[i].iov_len};
        int rc = tls_conn_write(t, pieces, n);
        sendq_complete(q, total);   /* the plaintext is consumed either way */
        if (rc != TLS_OK) {
            conn_account_queue(c, before);
            log_info("worker %u: conn fd %d: TLS write failed: %s (%s)", c->w->id, c->fd, tls_status_str(rc),
                     tls_conn_error_str(t));
            conn_close(c, rc == TLS_ERR_OUTPUT_FULL ? METRICS_CLOSE_SLOW_CONSUMER : METRICS_CLOSE_TLS_ERROR);
            return -1;
        }
    }
    if (c->state == CONN_DRAIN && usable) tls_conn_shutdown(t);   /* close_notify before our FIN */
    rbuf *out = tls_conn_take_output(t);
    if (out != NULL) {
        int rc = sendq_push_force(q, out, out->data, out->len);
        if (rc != 0) {
            rbuf_unref(out);
            conn_account_queue(c, before);
            metrics_add(&c->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
            conn_close(c, METRICS_CLOSE_IO_ERROR);
            return -1;
        }
        c->filter_held = out;   /* our reference: identifies the head entry until it is sent */
    }
    conn_account_queue(c, before);
    return 0;
}

const conn_filter conn_tls_filter = {
    .open = conn_tls_open,
    .on_data = conn_tls_on_data,
    .seal = conn_tls_seal,
    .free = conn_tls_free,
};
