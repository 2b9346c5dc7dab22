#include "io/conn.h"

#include "base/log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

/* One in-flight send: the msghdr and iovecs the kernel reads, and for a
 * zero-copy send the references that keep the bytes alive until the
 * notification CQE. */
typedef struct send_op {
    completion done;             /* the send's CQE (and a zero-copy NOTIF) */
    conn *c;
    struct msghdr msg;
    uint32_t count_iov;
    uint32_t count_held;
    bool zerocopy;
    bool result_seen;            /* zero-copy: the send CQE came; the NOTIF is next */
    struct iovec iov[RING_SEND_MAX_IOV];
    rbuf *held[RING_SEND_MAX_IOV];
} __attribute__((aligned(16))) send_op;

_Static_assert(sizeof(send_op) <= 2048, "send_op fits its pool block");
_Static_assert(sizeof(conn) <= 1024, "a connection stays small");

static void conn_op_done_free(conn *c);
static void on_send(worker *w, completion *self, const struct io_uring_cqe *cqe);

static void mark_dirty(conn *c) {
    if (c->dirty) return;
    c->dirty = true;
    c->dirty_next = c->w->dirty;
    c->w->dirty = c;
}

void conn_mark_dirty(conn *c) { mark_dirty(c); }

static void conn_list_push(conn_list *l, conn *c, uint64_t now_ms) {
    assert(c->list == NULL);
    c->list = l;
    c->list_since_ms = now_ms;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL) l->tail->next = c;
    else l->head = c;
    l->tail = c;
    l->count++;
}

static void conn_list_remove(conn_list *l, conn *c) {
    assert(c->list == l && l->count > 0);
    if (c->prev != NULL) c->prev->next = c->next;
    else l->head = c->next;
    if (c->next != NULL) c->next->prev = c->prev;
    else l->tail = c->prev;
    c->prev = c->next = NULL;
    c->list = NULL;
    l->count--;
}

static void move_to(conn *c, conn_list *l) {
    if (c->list != NULL) conn_list_remove(c->list, c);
    if (l != NULL) conn_list_push(l, c, c->w->now_ms);
}

/* The deadline list of an open conn: its handler's conn_wait. */
static conn_list *wait_list(conn *c) {
    assert(c->handler->wait == CONN_WAIT_INPUT || c->handler->wait == CONN_WAIT_SILENCE);
    return c->handler->wait == CONN_WAIT_SILENCE ? &c->w->silence_list : &c->w->input_list;
}

static uint32_t ip_slot_of(const struct sockaddr_storage *ss) {
    /* FNV-1a over the address bytes (not the port). */
    const uint8_t *p = NULL;
    size_t n = 0;
    if (ss->ss_family == AF_INET) {
        p = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ss)->sin_addr;
        n = 4;
    } else if (ss->ss_family == AF_INET6) {
        p = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
        n = 16;
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h % SERVER_IP_SLOTS;
}

static void on_op_done(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)cqe;
    conn *c = completion_owner(self, conn, op_done);
    (void)w;
    assert(c->w == w);
    conn_op_done(c);
}

static void on_recv(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    conn *c = completion_owner(self, conn, recv_done);
    assert(c->w == w && c->ops > 0);
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more) c->recv_armed = false;
    int res = cqe->res;
    if (res > 0) {
        metrics_add(&w->m->bytes_in, (uint64_t)res);
        uint8_t *data = c->recv_buf;
        rbuf *slot = NULL;
        if (cqe->flags & IORING_CQE_F_BUFFER) {
            slot = worker_recv_begin(w, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT), (uint32_t)res);
            data = slot->data;
        }
        if (c->state != CONN_DEAD && data != NULL) conn_on_data(c, data, (size_t)res);
        if (slot != NULL) worker_recv_done(w, slot);
        if (!more && c->state != CONN_DEAD) conn_arm_recv(c);
    } else if (res == -ENOBUFS) {
        worker_recv_no_buffers(w);
        if (!more && c->state != CONN_DEAD) conn_arm_recv(c);
    } else if (res != -ECANCELED && c->state != CONN_DEAD) {
        conn_on_recv_end(c, res);
    }
    if (!more) conn_op_done(c);
}

conn *conn_open(worker *w, int fd) {
    server_shared *s = w->shared;
    uint32_t max = w->cfg->max_connections;
    uint32_t open = atomic_fetch_add_explicit(&s->open_connections, 1, memory_order_relaxed) + 1;
    /* Past the soft limit a conn still opens, marked over_limit so its handler
     * refuses it politely (HTTP: a 503); past the hard one, nothing. */
    if (open > max + max / 8 + 64) {
        atomic_fetch_sub_explicit(&s->open_connections, 1, memory_order_relaxed);
        return NULL;
    }
    conn *c = bufpool_get(&w->conn_pool);
    if (c == NULL) {
        atomic_fetch_sub_explicit(&s->open_connections, 1, memory_order_relaxed);
        metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->filter = s->filter;
    if (c->filter != NULL && c->filter->open(c, s) != 0) {
        bufpool_put(&w->conn_pool, c);
        atomic_fetch_sub_explicit(&s->open_connections, 1, memory_order_relaxed);
        metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        return NULL;
    }
    c->w = w;
    c->fd = fd;
    c->handler = s->accept_handler;
    assert(c->handler != NULL && c->handler->on_data != NULL);
    c->recv_done.fn = on_recv;
    c->op_done.fn = on_op_done;
    c->state = CONN_OPEN;
    c->close_reason = METRICS_CLOSE_PEER_EOF;
    sendq_init_pooled(&c->q, w->cfg->max_send_queue_bytes, &w->sendq_ring_pool);
    c->over_limit = open > max;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s->ip_counts != NULL) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
            c->ip_slot = ip_slot_of(&ss);
            c->counted_ip = true;
            uint32_t n = atomic_fetch_add_explicit(&s->ip_counts[c->ip_slot], 1, memory_order_relaxed) + 1;
            if (n > w->cfg->max_connections_per_ip) c->over_limit = true;
        }
    }
    w->count_conns++;
    move_to(c, wait_list(c));
    conn_arm_recv(c);
    return c;
}

void conn_arm_recv(conn *c) {
    worker *w = c->w;
    if (c->recv_armed || c->state == CONN_DEAD) return;
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    if (w->pbuf) {
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = RING_BUF_GROUP;
    } else {
        if (c->recv_buf == NULL) c->recv_buf = bufpool_get(&w->recvbuf_pool);
        if (c->recv_buf == NULL) {
            /* the SQE is already taken: make it a no-op */
            io_uring_prep_nop(sqe);
            completion_set(sqe, NULL);
            metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
            conn_close(c, METRICS_CLOSE_IO_ERROR);
            return;
        }
        io_uring_prep_recv(sqe, c->fd, c->recv_buf, RING_PLAIN_RECV_BUF_BYTES, 0);
    }
    completion_set(sqe, &c->recv_done);
    c->recv_armed = true;
    c->ops++;
}

/* ---- sending ------------------------------------------------------------------ */

void conn_account_queue(conn *c, uint64_t before) {
    metrics_worker *m = c->w->m;
    if (c->q.bytes > before) metrics_add(&m->send_queue_bytes, c->q.bytes - before);
    else metrics_sub(&m->send_queue_bytes, before - c->q.bytes);
}

static void drop_backlog(conn *c) {
    uint64_t before = c->q.bytes;
    sendq_drop_pending(&c->q);
    conn_account_queue(c, before);
}

int conn_send(conn *c, rbuf *b, uint32_t off, uint32_t len) {
    if (c->state == CONN_DEAD) return -EPIPE;
    uint64_t before = c->q.bytes;
    int rc = sendq_push(&c->q, b, b->data + off, len);
    conn_account_queue(c, before);
    if (rc == -ENOBUFS) {
        /* A reader that does not keep up loses its backlog, not our memory. */
        drop_backlog(c);
        if (c->handler->on_overflow != NULL) c->handler->on_overflow(c);
        conn_close_after_flush(c, METRICS_CLOSE_SLOW_CONSUMER);
        return rc;
    }
    if (rc != 0) {
        metrics_add(&c->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return rc;
    }
    mark_dirty(c);
    return 0;
}

/* Control frames and the last words of a connection bypass the byte limit. */
static int send_forced(conn *c, rbuf *b, const uint8_t *ptr, uint32_t len) {
    uint64_t before = c->q.bytes;
    int rc = sendq_push_force(&c->q, b, ptr, len);
    conn_account_queue(c, before);
    if (rc != 0) return rc;
    mark_dirty(c);
    return 0;
}

int conn_send_control(conn *c, rbuf *b) { return send_forced(c, b, b->data, b->len); }

static void start_linger(conn *c) {
    worker *w = c->w;
    if (c->peer_eof) {
        conn_close(c, (metrics_close_reason)c->close_reason);
        return;
    }
    c->state = CONN_LINGER;
    /* Half-close so the peer sees the end of our bytes, then read until it
     * closes too: closing with unread input would reset the connection and
     * could destroy the response in flight. */
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) {
        conn_close(c, (metrics_close_reason)c->close_reason);
        return;
    }
    io_uring_prep_shutdown(sqe, c->fd, SHUT_WR);
    completion_set(sqe, &c->op_done);
    c->ops++;
    conn_arm_recv(c);
}

/* Several small entries (a busy document's frames of one iteration) go out
 * as one buffer: copying a few hundred bytes costs less than the kernel's
 * sendmsg importing the msghdr and iovecs and appending each piece to the
 * skb on its own. The copy is held by the send_op like a zero-copy owner and
 * released with it; the queue still accounts the entries, so a partial send
 * completes them by bytes as before. NULL (gather instead) without a block. */
static rbuf *join(worker *w, send_op *op, uint64_t total) {
    assert(op->count_held == 0 && total <= RING_SEND_JOIN_MAX_BYTES);
    rbuf *b = rbuf_pool_get(w->frame_pool, (size_t)total);
    if (b == NULL) return NULL;
    uint32_t at = 0;
    for (uint32_t i = 0; i < op->count_iov; i++) {
        memcpy(b->data + at, op->iov[i].iov_base, op->iov[i].iov_len);
        at += (uint32_t)op->iov[i].iov_len;
    }
    assert(at == total);
    b->len = at;
    op->held[op->count_held++] = b;
    metrics_add(&w->m->joined_sends, 1);
    return b;
}

void conn_flush(conn *c) {
    worker *w = c->w;
    if (c->state == CONN_DEAD) {
        if (c->ops == 0) conn_op_done_free(c);
        return;
    }
    if (sendq_in_flight(&c->q)) return;
    /* TLS: the queued plaintext becomes one ciphertext entry at the head. */
    if (c->filter != NULL && c->filter->seal(c) != 0) return;
    if (!sendq_has_pending(&c->q)) {
        if (c->state == CONN_DRAIN) start_linger(c);
        return;
    }
    send_op *op = bufpool_get(&w->sendop_pool);
    if (op == NULL) {
        metrics_add(&w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    uint64_t total = 0;
    op->done.fn = on_send;
    op->c = c;
    /* With TLS only the sealed head entry goes out; plaintext behind it waits. */
    op->count_iov = (uint32_t)sendq_start(&c->q, op->iov, c->filter != NULL ? 1 : RING_SEND_MAX_IOV, &total);
    op->count_held = 0;
    op->result_seen = false;
    /* Per-connection ciphertext is written once and sent once: nothing to share. */
    op->zerocopy = w->zerocopy && !c->zc_copies && c->filter == NULL && total >= w->cfg->zerocopy_min_bytes;
    memset(&op->msg, 0, sizeof op->msg);
    op->msg.msg_iov = op->iov;
    op->msg.msg_iovlen = op->count_iov;
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) {
        sendq_complete(&c->q, 0);
        bufpool_put(&w->sendop_pool, op);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    if (op->zerocopy) {
        for (uint32_t i = 0; i < op->count_iov; i++) {
            rbuf *owner = sendq_inflight_owner(&c->q, i);
            if (owner == NULL) continue;
            rbuf_ref(owner);
            op->held[op->count_held++] = owner;
        }
        io_uring_prep_sendmsg_zc(sqe, c->fd, &op->msg, MSG_NOSIGNAL);
        sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
        completion_set(sqe, &op->done);
        metrics_add(&w->m->zerocopy_sends, 1);
    } else {
        rbuf *joined = op->count_iov > 1 && total <= RING_SEND_JOIN_MAX_BYTES ? join(w, op, total) : NULL;
        if (joined != NULL) io_uring_prep_send(sqe, c->fd, joined->data, joined->len, MSG_NOSIGNAL);
        else if (op->count_iov == 1) io_uring_prep_send(sqe, c->fd, op->iov[0].iov_base, op->iov[0].iov_len, MSG_NOSIGNAL);
        else io_uring_prep_sendmsg(sqe, c->fd, &op->msg, MSG_NOSIGNAL);
        completion_set(sqe, &op->done);
        metrics_add(&w->m->sends, 1);
    }
    c->ops++;
}

static void send_op_release(worker *w, send_op *op) {
    for (uint32_t i = 0; i < op->count_held; i++) rbuf_unref(op->held[i]);
    conn *c = op->c;
    bufpool_put(&w->sendop_pool, op);
    conn_op_done(c);
}

static void on_send(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    send_op *op = completion_owner(self, send_op, done);
    conn *c = op->c;
    assert(c->w == w && c->ops > 0);
    bool zerocopy = op->zerocopy;
    if (zerocopy && (cqe->flags & IORING_CQE_F_NOTIF)) {
        if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED) {
            /* The route copies anyway (loopback, a device without scatter-gather):
             * pinning pages and waiting for the notification only adds to the copy. */
            metrics_add(&w->m->zerocopy_copied, 1);
            c->zc_copies = true;
        }
        send_op_release(w, op);
        return;
    }
    int res = cqe->res;
    uint64_t before = c->q.bytes;
    sendq_complete(&c->q, res > 0 ? (uint64_t)res : 0);
    /* Before a close, which drops the rest and counts it out itself. */
    conn_account_queue(c, before);
    if (zerocopy && (res == -EOPNOTSUPP || res == -EINVAL)) {
        /* This socket or kernel refuses zero-copy: plain sends from now on. */
        w->zerocopy = false;
        log_info("worker %u: zero-copy send refused (%s); using plain sends", w->id, strerror(-res));
        if (c->state != CONN_DEAD) mark_dirty(c);
    } else if (res < 0) {
        if (res != -ECANCELED) metrics_add(&w->m->errors[METRICS_ERR_SEND], 1);
        if (c->state != CONN_DEAD) conn_close(c, METRICS_CLOSE_IO_ERROR);
    } else {
        metrics_add(&w->m->bytes_out, (uint64_t)res);
        /* Back on the flush list only with a reason: more queued (or the rest
         * of a partial send), a drain that lingers once the queue is empty,
         * or a TLS session whose output may have grown meanwhile. Marking
         * every finished send put the connections on the list in completion
         * order, so the next flush ran in the reverse of the last one: under
         * load the author's ack, sent first, went out last every other time,
         * after a full round of broadcasts. */
        if (c->state != CONN_DEAD && (sendq_has_pending(&c->q) || c->state == CONN_DRAIN || c->filter != NULL))
            mark_dirty(c);
    }
    if (zerocopy && (cqe->flags & IORING_CQE_F_MORE)) {
        op->result_seen = true;   /* keep the bytes until the NOTIF */
        return;
    }
    send_op_release(w, op);
}

/* ---- closing ------------------------------------------------------------------- */

void conn_close(conn *c, metrics_close_reason reason) {
    if (c->state == CONN_DEAD) return;
    worker *w = c->w;
    if (!c->close_counted) metrics_count_close(w->m, reason);
    c->close_counted = true;
    log_debug("worker %u: conn fd %d closed (%s)", w->id, c->fd, metrics_close_reason_str(reason));
    c->state = CONN_DEAD;
    move_to(c, NULL);
    drop_backlog(c);
    server_shared *s = w->shared;
    atomic_fetch_sub_explicit(&s->open_connections, 1, memory_order_relaxed);
    if (c->counted_ip) atomic_fetch_sub_explicit(&s->ip_counts[c->ip_slot], 1, memory_order_relaxed);
    c->counted_ip = false;
    if (c->handler->on_close != NULL) c->handler->on_close(c);
    if (c->ops > 0) {
        struct io_uring_sqe *sqe = worker_get_sqe(w);
        if (sqe != NULL) {
            io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
            completion_set(sqe, NULL);
        }
        return; /* the last op to finish closes the socket */
    }
    c->ops++;
    conn_op_done(c);
}

void conn_set_handler(conn *c, const conn_handler *h) {
    assert(h != NULL && h->on_data != NULL);
    c->handler = h;
    if (c->state == CONN_OPEN) move_to(c, wait_list(c));
}

void conn_close_after_flush(conn *c, metrics_close_reason reason) {
    assert(c->handler != NULL);
    if (c->state == CONN_DEAD || c->state == CONN_DRAIN || c->state == CONN_LINGER) return;
    c->close_reason = (uint8_t)reason;
    /* Counted when decided: a peer that never reads the close frame nor
     * closes its end would otherwise keep the reason out of /metrics until
     * --close-timeout-ms, and the close itself may end as something else. */
    if (!c->close_counted) metrics_count_close(c->w->m, reason);
    c->close_counted = true;
    c->state = CONN_DRAIN;
    move_to(c, &c->w->closing_list);
    mark_dirty(c);
}

static void conn_op_done_free(conn *c) {
    worker *w = c->w;
    assert(c->state == CONN_DEAD && c->ops == 0);
    if (c->fd >= 0) {
        /* Close through the ring; its CQE (op_done) comes back here. */
        struct io_uring_sqe *sqe = worker_get_sqe(w);
        if (sqe != NULL) {
            io_uring_prep_close(sqe, c->fd);
            completion_set(sqe, &c->op_done);
            c->fd = -1;
            c->ops++;
            return;
        }
        close(c->fd);
        c->fd = -1;
    }
    if (c->dirty) return; /* the flush loop still holds it; it calls back here */
    if (c->recv_buf != NULL) bufpool_put(&w->recvbuf_pool, c->recv_buf);
    /* What was in flight at the close and not sent leaves the gauge here. */
    uint64_t before = c->q.bytes;
    sendq_free(&c->q);
    conn_account_queue(c, before);
    if (c->filter != NULL) c->filter->free(c);
    bufpool_put(&w->conn_pool, c);
    assert(w->count_conns > 0);
    w->count_conns--;
}

void conn_op_done(conn *c) {
    assert(c->ops > 0 && c->w != NULL);
    c->ops--;
    if (c->ops == 0 && c->state == CONN_DEAD) conn_op_done_free(c);
}

void conn_on_recv_end(conn *c, int res) {
    if (res < 0) {
        metrics_add(&c->w->m->errors[METRICS_ERR_RECV], 1);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    c->peer_eof = true;
    switch ((conn_state)c->state) {
    case CONN_LINGER: conn_close(c, (metrics_close_reason)c->close_reason); break;
    case CONN_DRAIN: break; /* start_linger sees peer_eof */
    case CONN_OPEN:
        if (c->handler->wait == CONN_WAIT_INPUT && (sendq_in_flight(&c->q) || sendq_has_pending(&c->q)))
            conn_close_after_flush(c, METRICS_CLOSE_PEER_EOF);
        else conn_close(c, METRICS_CLOSE_PEER_EOF);
        break;
    case CONN_CLOSING: conn_close(c, METRICS_CLOSE_PEER_EOF); break;
    case CONN_DEAD: break;
    }
}

int conn_send_head_body(conn *c, rbuf *head, const uint8_t *body, size_t body_len) {
    uint64_t before = c->q.bytes;
    int rc = sendq_push_force(&c->q, head, head->data, head->len);
    if (rc == 0 && body != NULL && body_len > 0) {
        /* bodies obey the queue limit: pipelined downloads of a client that
         * does not read are a slow consumer like any other */
        rc = sendq_push(&c->q, NULL, body, (uint32_t)body_len);
    }
    conn_account_queue(c, before);
    rbuf_unref(head);
    if (rc == -ENOBUFS) {
        drop_backlog(c);
        conn_close_after_flush(c, METRICS_CLOSE_SLOW_CONSUMER);
        return rc;
    }
    if (rc != 0) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return rc;
    }
    mark_dirty(c);
    return 0;
}

void conn_on_data(conn *c, uint8_t *data, size_t len) {
    if (c->filter != NULL) {
        c->filter->on_data(c, data, len);   /* decrypts, then conn_on_plain_data */
        return;
    }
    conn_on_plain_data(c, data, len);
}

void conn_on_plain_data(conn *c, uint8_t *data, size_t len) {
    switch ((conn_state)c->state) {
    case CONN_OPEN:
    case CONN_CLOSING: c->handler->on_data(c, data, len); break;
    case CONN_DRAIN:
    case CONN_LINGER:
    case CONN_DEAD: break; /* discarded: we are closing */
    }
}

/* ---- deadlines and shutdown --------------------------------------------------- */

void conn_tick(worker *w) {
    const config *cfg = w->cfg;
    uint64_t now = w->now_ms;
    /* Each list is ordered by entry time, so the walks stop at the first conn
     * that is not due; silent conns already told (pinged) are the only ones
     * passed over. */
    for (conn *c = w->input_list.head, *next; c != NULL; c = next) {
        next = c->next;
        if (now - c->list_since_ms < cfg->handshake_timeout_ms) break;
        if (sendq_in_flight(&c->q) || sendq_has_pending(&c->q)) {
            move_to(c, &w->input_list);   /* still sending a response: not idle */
            continue;
        }
        conn_close(c, METRICS_CLOSE_HANDSHAKE_TIMEOUT);
    }
    for (conn *c = w->silence_list.head, *next; c != NULL; c = next) {
        next = c->next;
        uint64_t silent = now - c->list_since_ms;
        if (cfg->idle_timeout_ms != 0 && silent >= cfg->idle_timeout_ms) {
            /* A peer that answers nothing will not answer a close frame either:
             * drop TCP (the client reports 1006). */
            conn_close(c, METRICS_CLOSE_IDLE);
            continue;
        }
        if (cfg->ping_interval_ms != 0 && silent >= cfg->ping_interval_ms) {
            /* the handler keeps its own state of what it asked (one ping outstanding) */
            if (c->handler->on_silent != NULL) c->handler->on_silent(c);
            continue;
        }
        break;
    }
    for (conn *c = w->closing_list.head, *next; c != NULL; c = next) {
        next = c->next;
        if (now - c->list_since_ms < cfg->close_timeout_ms) break;
        conn_close(c, c->state == CONN_CLOSING ? METRICS_CLOSE_CLOSE_TIMEOUT : (metrics_close_reason)c->close_reason);
    }
}

void conn_touch(conn *c) {
    /* To the back of its deadline-ordered list. */
    if (c->state == CONN_OPEN) move_to(c, wait_list(c));
}

void conn_set_closing(conn *c) {
    assert(c->state == CONN_OPEN);
    c->state = CONN_CLOSING;
    move_to(c, &c->w->closing_list);
}

void conn_begin_shutdown(conn *c) {
    /* Conns waiting for input stay while long-lived ones say goodbye, so
     * health checks on them see 503 (with Connection: close); the worker
     * closes them once only they remain. */
    if (c->handler->on_shutdown != NULL) c->handler->on_shutdown(c);
}
