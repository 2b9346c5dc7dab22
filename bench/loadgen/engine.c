/* The load generator: one connection's life (connect, upgrade, TLS, traffic) and
 * the completions of a worker's ring. The run's phases are in run.c. */
#include "worker.h"

#include "tls/tls.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline uint64_t ud(uint32_t idx, int kind) { return ((uint64_t)idx << 8) | (uint64_t)kind; }

static struct io_uring_sqe *get_sqe(worker *w) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (sqe == NULL) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

static void recycle(worker *w, uint16_t bid) {
    io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * RECV_BUF_BYTES, RECV_BUF_BYTES, bid,
                          io_uring_buf_ring_mask(RECV_BUF_COUNT), 0);
    io_uring_buf_ring_advance(w->br, 1);
}

void lg_conn_arm_recv(worker *w, conn *c) {
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        c->want_rearm = true;
        return;
    }
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_RECV));
    c->recv_armed = true;
}

static void mark_dirty(worker *w, conn *c) {
    if (c->dirty) return;
    c->dirty = true;
    w->dirty[w->ndirty++] = c->idx;
}

/* A load connection that will not get ready; a writer's failure also lets
 * readers that wait for the writers go on (spread.h). */
static void note_failed(worker *w, const conn *c) {
    w->nfailed++;
    if (c->role == R_EDITOR) atomic_fetch_add(&w->sh->editors_settled, 1);
}

static bool outstanding(const conn *c) { return c->recv_armed || c->send_busy || c->connect_busy; }

/* Releases what the connection owns once no request refers to it any more. */
static void conn_release(worker *w, conn *c) {
    if (c->fd >= 0) {
        if (cycling(c)) {
            struct linger lg = {1, 0};   /* RST: no TIME_WAIT eating the ephemeral ports */
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd);
        c->fd = -1;
    }
    free(c->hs);
    c->hs = NULL;
    if (c->rd_init) ws_reader_free(&c->rd);
    c->rd_init = false;
    c->tx[0].len = c->tx[1].len = 0;
    c->tx_off = 0;
    c->state = CS_DEAD;
    (void)w;
}

static void conn_kill(worker *w, conn *c) {
    if (c->state == CS_DEAD || c->state == CS_FREE || c->state == CS_CLOSING) return;
    bool was_ready = c->ready;
    c->state = CS_CLOSING;
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
    if (!outstanding(c)) conn_release(w, c);
    if (!was_ready && !cycling(c) && c->role != R_VERIFIER && w->phase <= PH_WAIT_START) note_failed(w, c);
}

/* Appends one masked frame to the collecting buffer. */
static int conn_queue(worker *w, conn *c, uint8_t opcode, const void *payload, size_t len) {
    if (c->state != CS_OPEN && c->state != CS_HANDSHAKE && c->state != CS_CONNECTING) return -EPIPE;
    txb *t = &c->tx[c->cur ^ 1];
    size_t need = t->len + len + LG_WSC_MAX_FRAME_HEADER_BYTES;
    if (need > t->cap) {
        if (need > MAX_SEND_BUFFER_BYTES) return -ENOBUFS;
        size_t cap = t->cap ? t->cap : 256;
        while (cap < need) cap *= 2;
        uint8_t *p = realloc(t->p, cap);
        if (p == NULL) return -ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    uint64_t r = lg_rand(&w->rng);
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
    size_t h = lg_wsc_encode_header(t->p + t->len, true, opcode, len, mask);
    if (len) memcpy(t->p + t->len + h, payload, len);
    lg_wsc_mask_payload(t->p + t->len + h, len, mask);
    t->len += h + len;
    if (w->measuring) {
        w->st.frames_tx++;
        w->st.bytes_tx += h + len;
    }
    mark_dirty(w, c);
    return 0;
}

static int conn_queue_raw(worker *w, conn *c, const void *bytes, size_t len) {
    txb *t = &c->tx[c->cur ^ 1];
    if (t->len + len > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + len) cap *= 2;
        uint8_t *p = realloc(t->p, cap);
        if (p == NULL) return -ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, bytes, len);
    t->len += len;
    mark_dirty(w, c);
    return 0;
}

static void tls_flush(worker *w, conn *c);

void lg_conn_flush(worker *w, conn *c) {
    c->dirty = false;
    if (c->send_busy || c->fd < 0 || c->state == CS_CLOSING || c->state == CS_DEAD) return;
    if (c->state == CS_CONNECTING) return;   /* sent once connected */
    if (c->tls) {
        tls_flush(w, c);
        return;
    }
    if (c->tx[c->cur ^ 1].len == 0) return;
    c->cur ^= 1;
    c->tx_off = 0;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        c->cur ^= 1;
        mark_dirty(w, c);
        return;
    }
    io_uring_prep_send(sqe, c->fd, c->tx[c->cur].p, c->tx[c->cur].len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_SEND));
    c->send_busy = true;
}

static void send_text(worker *w, conn *c, const ot_buf *m) {
    if (conn_queue(w, c, WS_OP_TEXT, m->data, m->len) != 0) {
        w->st.client_errors++;
        conn_kill(w, c);
    }
}

/* ---- connecting ------------------------------------------------------------ */

void lg_conn_start(worker *w, conn *c) {
    const lg_config *cfg = w->cfg;
    const struct sockaddr_storage *to = &cfg->addrs[c->server];
    c->fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    c->recv_armed = c->send_busy = c->connect_busy = c->dirty = c->ready = false;
    c->cur = 0;
    c->tx[0].len = c->tx[1].len = 0;
    if (c->fd < 0) {
        w->st.connect_failed++;
        c->state = CS_DEAD;
        if (!cycling(c) && c->role != R_VERIFIER) note_failed(w, c);
        return;
    }
    if (w->sh->tls) {
        lg_tls_free(c->tls);
        c->tls = lg_tls_new(w->sh->tls, w->tls_session);
        if (c->tls == NULL) {
            w->st.client_errors++;
            close(c->fd);
            c->fd = -1;
            c->state = CS_DEAD;
            if (!cycling(c) && c->role != R_VERIFIER) note_failed(w, c);
            return;
        }
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CS_CONNECTING;
    c->t_start_us = now_us();
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        w->st.connect_failed++;
        conn_kill(w, c);
        return;
    }
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)to, cfg->addr_len);
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_CONNECT));
    c->connect_busy = true;
}

static void tls_on_connected(worker *w, conn *c);

static void on_connected(worker *w, conn *c) {
    if (c->tls) tls_on_connected(w, c);
    if (c->role == R_TLS) return;   /* a handshake only: no upgrade */
    uint8_t rnd[16];
    uint64_t a = lg_rand(&w->rng), b = lg_rand(&w->rng);
    memcpy(rnd, &a, 8);
    memcpy(rnd + 8, &b, 8);
    char req[LG_HOST_MAX_BYTES + LG_PATH_MAX_BYTES + 256];
    int n = lg_wsc_make_key(rnd, c->key);
    if (n == 0)
        n = lg_wsc_write_request(req, sizeof req, w->cfg->host, w->cfg->ports[c->server], w->cfg->path, c->key,
                                 c->cl ? "ringpad.v1" : NULL);
    c->hs = malloc(LG_WSC_MAX_RESPONSE_BYTES + 1);
    if (n < 0 || c->hs == NULL || conn_queue_raw(w, c, req, (size_t)n) != 0) {
        w->st.handshake_failed++;
        conn_kill(w, c);
        return;
    }
    c->hs_len = 0;
    c->state = CS_HANDSHAKE;
    lg_conn_arm_recv(w, c);
}

static void make_ready(worker *w, conn *c) {
    if (c->ready) return;
    c->ready = true;
    if (c->role == R_VERIFIER || cycling(c)) return;
    if (w->phase <= PH_WAIT_START) {
        w->nready++;
        if (c->role == R_EDITOR) atomic_fetch_add(&w->sh->editors_settled, 1);
    }
}

void lg_editor_edit(worker *w, conn *c, uint64_t now);
void lg_echo_send(worker *w, conn *c, uint64_t now);

static void on_upgraded(worker *w, conn *c, uint64_t now) {
    uint64_t dt = now - c->t_start_us;
    if (c->role == R_STORM) {
        if (w->measuring) {
            lg_hist_record(&w->st.connect, dt);
            w->st.connections_opened++;
        }
        conn_kill(w, c);   /* and start again once its requests have ended */
        return;
    }
    if (c->role != R_VERIFIER) {
        lg_hist_record(&w->st.connect, dt);
        w->st.connections_opened++;
    }
    if (c->cl) {
        if (lg_client_write_hello(c->cl, &w->msg) == 0) send_text(w, c, &w->msg);
        if (lg_client_write_open(c->cl, &w->msg) == 0) send_text(w, c, &w->msg);
        return;
    }
    make_ready(w, c);
    if (c->role == R_ECHO && w->phase == PH_RUN && !w->stop_edits) lg_echo_send(w, c, now);
}

/* ---- traffic -------------------------------------------------------------- */

void lg_editor_edit(worker *w, conn *c, uint64_t now) {
    lg_client *cl = c->cl;
    if (cl == NULL || cl->phase != LG_PHASE_LIVE || c->state != CS_OPEN) return;
    uint32_t ins = w->insert_bytes ? w->insert_bytes : 1 + (uint32_t)(lg_rand(&w->rng) % 8);
    if (lg_edit_random(&w->rng, lg_client_len(cl), ins, w->cfg->target_doc_codepoints, &w->edit) != 0) {
        w->st.client_errors++;
        return;
    }
    int rc = lg_client_local_edit(cl, &w->edit, now, &w->msg);
    if (rc < 0) {
        w->st.client_errors++;
        return;
    }
    if (w->measuring) w->st.edits++;
    if (rc == 1) {
        if (w->measuring) w->st.ops_sent++;
        send_text(w, c, &w->msg);
    }
}

void lg_echo_send(worker *w, conn *c, uint64_t now) {
    c->t_start_us = now;
    if (conn_queue(w, c, WS_OP_BINARY, w->echo_payload, w->cfg->message_bytes) != 0) {
        w->st.client_errors++;
        conn_kill(w, c);
    }
}

static int err_index(const char *code, size_t len) {
    for (int i = 0; i < LG_ERR_CODES - 1; i++)
        if (strlen(lg_err_code_names[i]) == len && memcmp(lg_err_code_names[i], code, len) == 0) return i;
    return LG_ERR_CODES - 1;
}

static void on_message(worker *w, conn *c, const ws_event *ev, uint64_t now) {
    if (w->measuring) w->st.messages_rx++;
    if (c->role == R_ECHO) {
        if (ev->len != w->cfg->message_bytes || memcmp(ev->data, w->echo_payload, ev->len) != 0)
            w->st.echo_mismatch++;
        if (w->measuring) {
            lg_hist_record(&w->st.echo, now - c->t_start_us);
            w->st.echoes++;
        }
        if (w->phase == PH_RUN && !w->stop_edits) lg_echo_send(w, c, now);
        return;
    }
    if (c->cl == NULL) return;
    lg_event e;
    const lg_msg *pm;
    uint64_t hits = w->msgs.hits;
    int rc = lg_msgcache_get(&w->msgs, (const char *)ev->data, ev->len, &pm);
    if (w->measuring) {
        if (w->msgs.hits != hits) w->st.parses_shared++;
        else w->st.parses++;
    }
    if (rc == 0) rc = lg_client_on_msg(c->cl, pm, now, &e, &w->msg);
    else memset(&e, 0, sizeof e);
    if (rc < 0) {
        w->st.client_errors++;
        return;
    }
    switch (e.kind) {
    case LG_EV_SNAPSHOT:
        make_ready(w, c);
        if (c->role == R_EDITOR && w->phase == PH_RUN && !w->stop_edits && w->cfg->rate_ops_s <= 0)
            lg_editor_edit(w, c, now);
        break;
    case LG_EV_ACK:
        if (w->measuring) {
            lg_hist_record(&w->st.ack, e.latency_us);
            w->st.acks++;
        }
        break;
    case LG_EV_REMOTE_OP:
        if (w->measuring) {
            w->st.remote_ops++;
            if (e.has_latency) lg_hist_record(&w->st.delivery, e.latency_us);
            if (e.has_latency && w->cfg->nservers > 1)
                lg_hist_record(&w->st.delivery_by_server[c->server], e.latency_us);
        }
        break;
    case LG_EV_ERROR:
        w->st.err_by_code[err_index(e.code ? e.code : "", e.code_len)]++;
        break;
    default: break;
    }
    if (rc == 1) {
        if (w->measuring) w->st.ops_sent++;
        send_text(w, c, &w->msg);
    } else if (e.kind == LG_EV_ACK && c->role == R_EDITOR && w->cfg->rate_ops_s <= 0 &&
               w->phase == PH_RUN && !w->stop_edits && lg_client_synchronized(c->cl)) {
        lg_editor_edit(w, c, now);   /* closed loop: the next edit as soon as the ack is in */
    }
}

static void feed(worker *w, conn *c, uint8_t *data, size_t len, uint64_t now) {
    size_t off = 0;
    while (off < len && c->state == CS_OPEN) {
        ws_event ev;
        size_t n = ws_reader_feed(&c->rd, data + off, len - off, &ev);
        off += n;
        switch (ev.type) {
        case WS_EV_NONE: return;
        case WS_EV_MESSAGE:
            if (w->measuring) w->st.frames_rx++;
            on_message(w, c, &ev, now);
            break;
        case WS_EV_PING:
            if (conn_queue(w, c, WS_OP_PONG, ev.data, ev.len) != 0) conn_kill(w, c);
            break;
        case WS_EV_PONG: break;
        case WS_EV_CLOSE: {
            w->st.closed_by_peer++;
            uint8_t p[2] = {(uint8_t)(ev.close_code >> 8), (uint8_t)ev.close_code};
            conn_queue(w, c, WS_OP_CLOSE, p, ev.close_code == WS_CLOSE_NO_STATUS ? 0 : 2);
            lg_conn_flush(w, c);
            conn_kill(w, c);
            return;
        }
        case WS_EV_ERROR:
            w->st.ws_protocol_errors++;
            conn_kill(w, c);
            return;
        }
    }
}

static void on_bytes(worker *w, conn *c, uint8_t *data, size_t len, uint64_t now) {
    if (w->measuring) w->st.bytes_rx += len;
    if (c->state == CS_HANDSHAKE) {
        size_t room = LG_WSC_MAX_RESPONSE_BYTES - c->hs_len;
        size_t take = len < room ? len : room;
        memcpy(c->hs + c->hs_len, data, take);
        c->hs_len += take;
        int rc = lg_wsc_parse_response(c->hs, c->hs_len, c->key, c->cl ? "ringpad.v1" : NULL, NULL);
        if (rc == 0 && take == len) return;
        if (rc <= 0) {
            w->st.handshake_failed++;
            if (!w->cfg->quiet && w->st.handshake_failed == 1)
                fprintf(stderr, "ringpad-bench: handshake failed: %s\n", lg_wsc_err_str(rc ? rc : LG_WSC_ERR_TOO_LONG));
            conn_kill(w, c);
            return;
        }
        ws_reader_config rc_cfg = {.max_message_bytes = REPLY_MAX_MESSAGE_BYTES,
                                   .retain_buffer_bytes = 4096,
                                   .expect_masked = false};
        if (ws_reader_init(&c->rd, &rc_cfg) != 0) {
            conn_kill(w, c);
            return;
        }
        c->rd_init = true;
        c->state = CS_OPEN;
        /* bytes after the head: in hs (what was copied) and in data (the rest) */
        size_t extra_hs = c->hs_len - (size_t)rc;
        uint8_t *hs = (uint8_t *)c->hs;
        c->hs = NULL;
        on_upgraded(w, c, now);
        if (extra_hs) feed(w, c, hs + rc, extra_hs, now);
        free(hs);
        if (take < len) feed(w, c, data + take, len - take, now);
        return;
    }
    feed(w, c, data, len, now);
}

/* ---- TLS (--tls, --scenario tls) ----------------------------------------------
 * The session sits between the socket and everything above: received
 * ciphertext goes through lg_tls_input and its plaintext to on_bytes; what
 * conn_queue collected as plaintext is encrypted at flush time (after the
 * handshake: the upgrade request waits for it) and the session's output is
 * what the ring sends. */

typedef struct tls_feed {
    worker *w;
    conn *c;
    uint64_t now;
} tls_feed;

static bool live(const conn *c) { return c->state == CS_HANDSHAKE || c->state == CS_OPEN; }

static void tls_flush(worker *w, conn *c) {
    txb *t = &c->tx[c->cur ^ 1];
    if (t->len && lg_tls_handshake_done(c->tls)) {
        if (lg_tls_write(c->tls, t->p, t->len) != LG_TLS_OK) {
            w->st.client_errors++;
            conn_kill(w, c);
            return;
        }
        t->len = 0;
    }
    const uint8_t *p;
    size_t n = lg_tls_flight(c->tls, &p);
    if (n == 0) return;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        mark_dirty(w, c);
        return;
    }
    io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_SEND));
    c->send_busy = true;
}

static void tls_failed(worker *w, conn *c, int rc) {
    w->st.tls_failed++;
    if (!w->cfg->quiet && w->st.tls_failed == 1)
        fprintf(stderr, "ringpad-bench: TLS: %s: %s\n", lg_tls_status_str(rc), lg_tls_error_str(c->tls));
    conn_kill(w, c);
}

static void tls_on_connected(worker *w, conn *c) {
    int rc = lg_tls_start(c->tls);
    if (rc != LG_TLS_OK) {
        tls_failed(w, c, rc);
        return;
    }
    mark_dirty(w, c);
    if (c->role == R_TLS) {
        c->state = CS_HANDSHAKE;
        lg_conn_arm_recv(w, c);
    }
}

/* The tls scenario's connection once its handshake is done: close_notify as
 * soon as the thread holds a session to resume from (the first connections
 * wait for the server's ticket), then the server's close ends it. */
static void tls_finish(worker *w, conn *c) {
    if (w->cfg->tls_resume && w->tls_session == NULL) return;
    if (lg_tls_shutdown(c->tls) != LG_TLS_OK) conn_kill(w, c);
    mark_dirty(w, c);
}

static int tls_sink(void *arg, uint8_t *plain, size_t len) {
    tls_feed *f = arg;
    if (!live(f->c)) return 1;
    if (f->c->role == R_TLS) return 0;   /* a handshake-only connection expects no data */
    on_bytes(f->w, f->c, plain, len, f->now);
    return !live(f->c);
}

static void tls_on_cipher(worker *w, conn *c, uint8_t *data, size_t len, uint64_t now) {
    bool was_done = lg_tls_handshake_done(c->tls);
    tls_feed f = {w, c, now};
    int rc = lg_tls_input(c->tls, data, len, tls_sink, &f);
    if (!live(c)) return;   /* closed by what the plaintext said */
    bool done = lg_tls_handshake_done(c->tls);
    if (done && !was_done && (c->role != R_TLS || w->measuring)) {
        lg_hist_record(&w->st.tls_handshake, now - c->t_start_us);
        w->st.tls_handshakes++;
        if (lg_tls_session_reused(c->tls)) w->st.tls_resumed++;
    }
    if (done && w->cfg->tls_resume && w->tls_session == NULL) w->tls_session = lg_tls_get_session(c->tls);
    if (rc == LG_TLS_PEER_CLOSED) {
        if (!cycling(c)) w->st.closed_by_peer++;
        conn_kill(w, c);
        return;
    }
    if (rc < 0) {
        tls_failed(w, c, rc);
        return;
    }
    if (done && c->role == R_TLS) tls_finish(w, c);
    if (lg_tls_unsent_bytes(c->tls) || (done && c->tx[c->cur ^ 1].len)) mark_dirty(w, c);
}

/* ---- completions ------------------------------------------------------------ */

static void conn_after_request(worker *w, conn *c) {
    if ((c->state == CS_CLOSING || c->state == CS_DEAD) && !outstanding(c)) {
        if (c->state == CS_CLOSING) conn_release(w, c);
        if (cycling(c) && w->phase == PH_RUN && !w->stop_edits) lg_conn_start(w, c);
    }
}

void lg_on_cqe(worker *w, struct io_uring_cqe *cqe, uint64_t now) {
    uint64_t data = io_uring_cqe_get_data64(cqe);
    int kind = (int)(data & 0xff);
    uint32_t idx = (uint32_t)(data >> 8);
    int res = cqe->res;
    if (idx >= w->cap_conns) return;
    conn *c = &w->conns[idx];
    switch (kind) {
    case K_CONNECT:
        c->connect_busy = false;
        if (c->state != CS_CONNECTING) break;
        if (res < 0) {
            w->st.connect_failed++;
            if (!w->cfg->quiet && w->st.connect_failed == 1)
                fprintf(stderr, "ringpad-bench: connect: %s\n", strerror(-res));
            conn_kill(w, c);
        } else {
            on_connected(w, c);
        }
        break;
    case K_SEND:
        c->send_busy = false;
        if (c->state == CS_CLOSING || c->state == CS_DEAD) break;
        if (res < 0) {
            conn_kill(w, c);
            break;
        }
        if (c->tls) {
            lg_tls_sent(c->tls, (size_t)res);
            if (lg_tls_unsent_bytes(c->tls) || c->tx[c->cur ^ 1].len) mark_dirty(w, c);
            break;
        }
        c->tx_off += (size_t)res;
        if (c->tx_off < c->tx[c->cur].len) {
            struct io_uring_sqe *sqe = get_sqe(w);
            if (sqe == NULL) {
                conn_kill(w, c);
                break;
            }
            io_uring_prep_send(sqe, c->fd, c->tx[c->cur].p + c->tx_off, c->tx[c->cur].len - c->tx_off,
                               MSG_NOSIGNAL);
            io_uring_sqe_set_data64(sqe, ud(c->idx, K_SEND));
            c->send_busy = true;
            break;
        }
        c->tx[c->cur].len = 0;
        if (c->tx[c->cur ^ 1].len) mark_dirty(w, c);
        break;
    case K_RECV: {
        bool has_buf = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (!(cqe->flags & IORING_CQE_F_MORE)) c->recv_armed = false;
        if (c->state == CS_HANDSHAKE || c->state == CS_OPEN) {
            if (res == -ENOBUFS) {
                if (!c->recv_armed && !c->want_rearm) {
                    c->want_rearm = true;
                    w->rearm[w->nrearm++] = c->idx;
                }
            } else if (res <= 0) {
                if (c->tls && !lg_tls_handshake_done(c->tls)) w->st.tls_failed++;
                if (res < 0 || !cycling(c)) w->st.closed_by_peer++;
                conn_kill(w, c);
            } else if (has_buf) {
                if (c->tls) tls_on_cipher(w, c, w->bufs + (size_t)bid * RECV_BUF_BYTES, (size_t)res, now);
                else on_bytes(w, c, w->bufs + (size_t)bid * RECV_BUF_BYTES, (size_t)res, now);
                if (!c->recv_armed && (c->state == CS_HANDSHAKE || c->state == CS_OPEN) && !c->want_rearm) {
                    c->want_rearm = true;
                    w->rearm[w->nrearm++] = c->idx;
                }
            }
        }
        if (has_buf) recycle(w, bid);
        break;
    }
    default: break;
    }
    conn_after_request(w, c);
}

