#include "conn_fixture.h"

#include <criterion/criterion.h>

#include "io/conn_loop.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static conn_fixture *fixture_of(const conn *c) { return (conn_fixture *)(void *)c->w; }

_Static_assert(offsetof(conn_fixture, w) == 0, "the handler casts the worker back to its fixture");

static void rec_data(conn *c, uint8_t *data, size_t len) {
    conn_fixture *f = fixture_of(c);
    cr_assert_leq(f->got_len + len, sizeof f->got);
    memcpy(f->got + f->got_len, data, len);
    f->got_len += len;
    f->data_calls++;
    if (f->close_on_data) conn_close(c, METRICS_CLOSE_HTTP_ERROR);
}

static void rec_close(conn *c) { fixture_of(c)->closes++; }
static void rec_shutdown(conn *c) { fixture_of(c)->shutdowns++; }

/* What the WebSocket handler does: one ping outstanding until the peer speaks. */
static void rec_silent(conn *c) {
    conn_fixture *f = fixture_of(c);
    if (f->ping_outstanding) return;
    f->silents++;
    f->ping_outstanding = true;
}

static void rec_live_data(conn *c, uint8_t *data, size_t len) {
    fixture_of(c)->ping_outstanding = false;
    conn_touch(c);
    rec_data(c, data, len);
}

static void rec_overflow(conn *c) { fixture_of(c)->overflows++; }

void conn_fixture_init(conn_fixture *f, void (*tune)(config *cfg)) {
    memset(f, 0, sizeof *f);
    config_defaults(&f->cfg);
    f->cfg.max_connections = 16;
    if (tune != NULL) tune(&f->cfg);
    f->handler = (conn_handler){.on_data = rec_data, .on_close = rec_close, .on_shutdown = rec_shutdown,
                                .on_silent = rec_silent, .on_overflow = rec_overflow, .wait = CONN_WAIT_INPUT};
    f->live_handler = f->handler;
    f->live_handler.on_data = rec_live_data;
    f->live_handler.wait = CONN_WAIT_SILENCE;
    f->shared.cfg = &f->cfg;
    f->shared.count_workers = 1;
    f->shared.metrics = &f->metrics;
    f->shared.loop_ms = f->loop_ms;
    f->shared.accept_handler = &f->handler;
    f->w.shared = &f->shared;
    f->w.listen_fd = -1;
    cr_assert_eq(worker_init(&f->w), 0);
    cr_assert_eq(conn_loop_init(&f->w), 0);
    f->w.now_ms = 1000000;
}

void conn_fixture_fini(conn_fixture *f) {
    for (size_t i = 0; i < f->count_fds; i++) {
        if (f->fds[i] >= 0) close(f->fds[i]);
    }
    worker_destroy(&f->w);
}

size_t conn_fixture_take(conn_fixture *f) {
    struct io_uring_sq *sq = &f->w.ring.sq;
    size_t n = 0;
    for (unsigned i = sq->sqe_head; i != sq->sqe_tail; i++) {
        cr_assert_lt(n, CONN_FIXTURE_MAX_SQES);
        f->sqes[n++] = sq->sqes[i & *sq->kring_mask];
    }
    sq->sqe_tail = sq->sqe_head;   /* never submitted: the kernel sees none of them */
    f->count_sqes = n;
    return n;
}

const struct io_uring_sqe *conn_fixture_find(const conn_fixture *f, uint8_t opcode) {
    for (size_t i = 0; i < f->count_sqes; i++) {
        if (f->sqes[i].opcode == opcode) return &f->sqes[i];
    }
    return NULL;
}

conn *conn_fixture_try_open(conn_fixture *f) {
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_leq(f->count_fds + 2, CONN_FIXTURE_MAX_FDS);
    f->fds[f->count_fds++] = sv[0];
    f->fds[f->count_fds++] = sv[1];
    conn *c = conn_open(&f->w, sv[0]);
    conn_fixture_take(f);
    return c;
}

conn *conn_fixture_open(conn_fixture *f) {
    conn *c = conn_fixture_try_open(f);
    cr_assert_not_null(c);
    return c;
}

static void forget_fd(conn_fixture *f, int fd) {
    for (size_t i = 0; i < f->count_fds; i++) {
        if (f->fds[i] == fd) f->fds[i] = -1;
    }
}

void conn_fixture_complete(conn_fixture *f, const struct io_uring_sqe *sqe, int res, uint32_t flags) {
    cr_assert_not_null(sqe);
    if (sqe->opcode == IORING_OP_CLOSE) {
        cr_assert_eq(close(sqe->fd), 0);
        forget_fd(f, sqe->fd);
    }
    struct io_uring_cqe cqe = {.user_data = sqe->user_data, .res = res, .flags = flags};
    worker_dispatch(&f->w, &cqe);
}

void conn_fixture_receive(conn_fixture *f, conn *c, const struct io_uring_sqe *recv, const void *bytes, size_t len,
                          bool more) {
    cr_assert_not_null(recv);
    cr_assert_eq(recv->opcode, IORING_OP_RECV);
    uint32_t flags = more ? IORING_CQE_F_MORE : 0;
    if (f->w.pbuf) {
        cr_assert_leq(len, RING_RECV_BUF_BYTES);
        uint16_t bid = f->next_bid;
        f->next_bid = (uint16_t)((bid + 1) % RING_RECV_BUF_COUNT);
        uint8_t *data = f->w.buf_base + (size_t)bid * (RING_RECV_SLOT_HEAD_BYTES + RING_RECV_BUF_BYTES) +
                        RING_RECV_SLOT_HEAD_BYTES;
        memcpy(data, bytes, len);
        flags |= IORING_CQE_F_BUFFER | ((uint32_t)bid << IORING_CQE_BUFFER_SHIFT);
    } else {
        cr_assert_leq(len, recv->len);
        cr_assert_eq(recv->addr, (uint64_t)(uintptr_t)c->recv_buf);
        memcpy(c->recv_buf, bytes, len);
    }
    conn_fixture_complete(f, recv, (int)len, flags);
    worker_reclaim_recv_buffers(&f->w);
}

static void run_hooks(worker *w, const worker_hooks *hooks) {
    for (uint32_t i = 0; i < hooks->count; i++) hooks->fn[i](w);
}

size_t conn_fixture_flush(conn_fixture *f) {
    run_hooks(&f->w, &f->w.before_sleep);
    return conn_fixture_take(f);
}

size_t conn_fixture_tick_at(conn_fixture *f, uint64_t now_ms) {
    f->w.now_ms = now_ms;
    run_hooks(&f->w, &f->w.on_tick);
    return conn_fixture_take(f);
}

void conn_fixture_finish_close(conn_fixture *f) {
    const struct io_uring_sqe *cl = conn_fixture_find(f, IORING_OP_CLOSE);
    cr_assert_not_null(cl, "the socket is closed through the ring");
    struct io_uring_sqe copy = *cl;
    uint32_t before = f->w.count_conns;
    conn_fixture_complete(f, &copy, 0, 0);
    conn_fixture_flush(f);   /* a conn still on the dirty list is freed there */
    cr_assert_eq(f->w.count_conns, before - 1);
}

void conn_fixture_close(conn_fixture *f, conn *c, const struct io_uring_sqe *recv) {
    if (c->state != CONN_DEAD) conn_close(c, METRICS_CLOSE_SHUTDOWN);
    conn_fixture_take(f);
    if (c->recv_armed) {
        conn_fixture_complete(f, recv, -ECANCELED, 0);
        conn_fixture_take(f);
    }
    conn_fixture_finish_close(f);
}

int conn_fixture_send(conn *c, const char *text) {
    rbuf *b = rbuf_from(text, strlen(text));
    cr_assert_not_null(b);
    int rc = conn_send(c, b, 0, (uint32_t)b->len);
    rbuf_unref(b);
    return rc;
}

uint64_t conn_fixture_closed(const conn_fixture *f, metrics_close_reason reason) {
    return atomic_load(&f->metrics.closed_by_reason[reason]);
}

uint64_t conn_fixture_gauge(const conn_fixture *f) { return atomic_load(&f->metrics.send_queue_bytes); }
