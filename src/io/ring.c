#include "io/ring.h"

#include "io/conn.h"
#include "base/log.h"
#include "io/mailbox.h"
#include "collab/session.h"
#include "io/ud.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Bound on send descriptors kept for reuse and on connections per worker pool. */
#define RING_SENDOPS_KEEP 1024u
#define RING_CONNS_KEEP 4096u
/* After the grace period, connections still closing get this long to finish. */
#define RING_FORCE_CLOSE_MS 1000u

static uint64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void conn_list_push(conn_list *l, conn *c, uint64_t now_ms) {
    c->list = l;
    c->list_since_ms = now_ms;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail != NULL) l->tail->next = c;
    else l->head = c;
    l->tail = c;
    l->count++;
}

void conn_list_remove(conn_list *l, conn *c) {
    if (c->prev != NULL) c->prev->next = c->next;
    else l->head = c->next;
    if (c->next != NULL) c->next->prev = c->prev;
    else l->tail = c->prev;
    c->prev = c->next = NULL;
    c->list = NULL;
    l->count--;
}

struct io_uring_sqe *worker_get_sqe(worker *w) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    for (int tries = 0; sqe == NULL && tries < 8; tries++) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    if (sqe == NULL) metrics_add(&w->m->errors[METRICS_ERR_SQ_FULL], 1);
    return sqe;
}

void worker_recycle_buffer(worker *w, uint16_t bid) {
    io_uring_buf_ring_add(w->br, w->buf_base + (size_t)bid * RING_RECV_BUF_BYTES, RING_RECV_BUF_BYTES, bid,
                          io_uring_buf_ring_mask(RING_RECV_BUF_COUNT), 0);
    io_uring_buf_ring_advance(w->br, 1);
}

/* liburing 2.3 has no io_uring_setup_buf_ring: map and register by hand. */
static int setup_buf_ring(worker *w) {
    w->br_bytes = RING_RECV_BUF_COUNT * sizeof(struct io_uring_buf);
    void *ring_mem = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) return -errno;
    size_t data_bytes = (size_t)RING_RECV_BUF_COUNT * RING_RECV_BUF_BYTES;
    void *data = mmap(NULL, data_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (data == MAP_FAILED) {
        int e = -errno;
        munmap(ring_mem, w->br_bytes);
        return e;
    }
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)ring_mem,
        .ring_entries = RING_RECV_BUF_COUNT,
        .bgid = RING_BUF_GROUP,
    };
    int rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (rc < 0) {
        munmap(ring_mem, w->br_bytes);
        munmap(data, data_bytes);
        return rc;
    }
    w->br = ring_mem;
    w->buf_base = data;
    io_uring_buf_ring_init(w->br);
    for (uint32_t i = 0; i < RING_RECV_BUF_COUNT; i++)
        io_uring_buf_ring_add(w->br, w->buf_base + (size_t)i * RING_RECV_BUF_BYTES, RING_RECV_BUF_BYTES,
                              (unsigned short)i, io_uring_buf_ring_mask(RING_RECV_BUF_COUNT), (int)i);
    io_uring_buf_ring_advance(w->br, RING_RECV_BUF_COUNT);
    return 0;
}

static void arm_accept(worker *w) {
    if (w->listen_fd < 0 || w->accepting) return;
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) return;
    io_uring_prep_multishot_accept(sqe, w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_pack(w, UD_TAG_ACCEPT));
    w->accepting = true;
}

static void arm_wake(worker *w) {
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) return;
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_value, sizeof w->wake_value, 0);
    io_uring_sqe_set_data64(sqe, ud_pack(w, UD_TAG_SHUTDOWN));
}

static void arm_tick(worker *w) {
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) return;
    io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, ud_pack(w, UD_TAG_TICK));
}

static uint32_t tick_interval_ms(const config *cfg) {
    uint32_t shortest = cfg->handshake_timeout_ms;
    if (cfg->close_timeout_ms < shortest) shortest = cfg->close_timeout_ms;
    if (cfg->ping_interval_ms != 0 && cfg->ping_interval_ms < shortest) shortest = cfg->ping_interval_ms;
    if (cfg->idle_timeout_ms != 0 && cfg->idle_timeout_ms < shortest) shortest = cfg->idle_timeout_ms;
    if (cfg->shutdown_grace_ms != 0 && cfg->shutdown_grace_ms < shortest) shortest = cfg->shutdown_grace_ms;
    uint32_t t = shortest / 4;
    return t < RING_TICK_MIN_MS ? RING_TICK_MIN_MS : t > RING_TICK_MAX_MS ? RING_TICK_MAX_MS : t;
}

int worker_init(worker *w) {
    w->cfg = w->shared->cfg;
    w->m = &w->shared->metrics[w->id];
    w->wake_fd = -1;
    /* DEFER_TASKRUN + SINGLE_ISSUER: completions are run only when this thread
     * asks for them, so there are no task-work interrupts mid-iteration.
     * Fall back step by step on older kernels. */
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        struct io_uring_params p = {.flags = flag_sets[i] | IORING_SETUP_CQSIZE, .cq_entries = RING_CQ_ENTRIES};
        rc = io_uring_queue_init_params(RING_SQ_ENTRIES, &w->ring, &p);
        if (rc == 0) break;
    }
    if (rc < 0) return rc;
    w->shared->targets[w->id].ring_fd = w->ring.ring_fd;

    rc = setup_buf_ring(w);
    if (rc == 0) {
        w->pbuf = true;
        atomic_store(&w->shared->provided_buffers, true);
    } else {
        log_warn("worker %u: provided-buffer ring unavailable (%s); using plain recv", w->id, strerror(-rc));
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&w->ring);
    w->zerocopy = w->cfg->zerocopy_min_bytes > 0 && probe != NULL &&
                  io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
    if (probe != NULL) io_uring_free_probe(probe);
    if (w->zerocopy) atomic_store(&w->shared->zerocopy, true);

    bufpool_init(&w->conn_pool, sizeof(conn), w->cfg->max_connections + w->cfg->max_connections / 8 + 64,
                 RING_CONNS_KEEP);
    bufpool_init(&w->inbuf_pool, RING_INBUF_BYTES, w->cfg->max_connections, 256);
    bufpool_init(&w->recvbuf_pool, RING_RECV_BUF_BYTES, w->cfg->max_connections + 64, 256);
    bufpool_init(&w->sendop_pool, 2048, UINT32_MAX, RING_SENDOPS_KEEP);
    bufpool_init(&w->sendq_ring_pool, SENDQ_POOL_BLOCK_BYTES, UINT32_MAX, RING_SENDQ_RINGS_KEEP);
    w->frame_pool = rbuf_pool_new(RING_FRAME_POOL_BLOCK_BYTES, RING_FRAME_POOL_KEEP);
    if (w->frame_pool == NULL) return -ENOMEM;

    w->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (w->wake_fd < 0) return -errno;
    w->tick_ms = tick_interval_ms(w->cfg);
    w->tick_ts.tv_sec = w->tick_ms / 1000;
    w->tick_ts.tv_nsec = (long long)(w->tick_ms % 1000) * 1000000;
    w->now_ms = monotonic_ms();
    rc = session_worker_init(w);
    if (rc != 0) return rc;
    arm_accept(w);
    arm_wake(w);
    arm_tick(w);
    rc = io_uring_submit(&w->ring);
    return rc < 0 ? rc : 0;
}

static void begin_drain(worker *w) {
    if (w->draining) return;
    w->draining = true;
    w->drain_deadline_ms = w->now_ms + w->cfg->shutdown_grace_ms;
    if (w->listen_fd >= 0) {
        struct io_uring_sqe *sqe = worker_get_sqe(w);
        if (sqe != NULL) {
            io_uring_prep_cancel_fd(sqe, w->listen_fd, IORING_ASYNC_CANCEL_ALL);
            io_uring_sqe_set_data64(sqe, ud_pack(NULL, UD_TAG_NONE));
        }
        io_uring_submit(&w->ring);
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    conn_list *lists[] = {&w->http_list, &w->ws_list};
    for (size_t i = 0; i < 2; i++) {
        /* bounded: every conn moves off these lists or closes */
        for (conn *c = lists[i]->head, *next; c != NULL; c = next) {
            next = c->next;
            conn_begin_shutdown(c);
        }
    }
}

static void drain_check(worker *w) {
    if (!w->draining) return;
    if (w->count_conns == w->http_list.count) {
        /* only HTTP connections left (idle keep-alives or half-sent
         * requests): nothing to wait for */
        for (conn *c = w->http_list.head, *next; c != NULL; c = next) {
            next = c->next;
            conn_close(c, METRICS_CLOSE_SHUTDOWN);
        }
    }
    if (w->count_conns == 0) {
        w->stopped = true;
        return;
    }
    if (w->now_ms >= w->drain_deadline_ms) {
        conn_list *lists[] = {&w->http_list, &w->ws_list, &w->closing_list};
        for (size_t i = 0; i < 3; i++) {
            for (conn *c = lists[i]->head, *next; c != NULL; c = next) {
                next = c->next;
                w->cut_conns++;
                conn_close(c, METRICS_CLOSE_SHUTDOWN);
            }
        }
        if (w->now_ms >= w->drain_deadline_ms + RING_FORCE_CLOSE_MS) {
            log_warn("worker %u: %u connections still closing after the grace period; exiting", w->id,
                     w->count_conns);
            w->stopped = true;
        }
    }
}

static void on_accept(worker *w, const struct io_uring_cqe *cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) w->accepting = false;
    if (cqe->res >= 0) {
        if (w->draining) {
            close(cqe->res);
            return;
        }
        metrics_add(&w->m->accepted, 1);
        if (conn_open(w, cqe->res) == NULL) {
            metrics_count_close(w->m, METRICS_CLOSE_LIMIT);
            close(cqe->res);
        }
    } else if (cqe->res != -ECANCELED) {
        metrics_add(&w->m->errors[METRICS_ERR_ACCEPT], 1);
        log_debug("worker %u: accept: %s", w->id, strerror(-cqe->res));
    }
    /* Re-arming after EMFILE-like errors happens on the next tick, not in a spin. */
    if (!w->accepting && !w->draining && (cqe->res >= 0 || cqe->res == -ECANCELED)) arm_accept(w);
}

static void on_recv(worker *w, const struct io_uring_cqe *cqe) {
    conn *c = ud_get_ptr(cqe->user_data);
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more) c->recv_armed = false;
    int res = cqe->res;
    if (res > 0) {
        metrics_add(&w->m->bytes_in, (uint64_t)res);
        uint8_t *data = c->recv_buf;
        bool pbuf = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (pbuf) data = w->buf_base + (size_t)bid * RING_RECV_BUF_BYTES;
        if (c->state != CONN_DEAD && data != NULL) conn_on_data(c, data, (size_t)res);
        if (pbuf) worker_recycle_buffer(w, bid);
        if (!more && c->state != CONN_DEAD) conn_arm_recv(c);
    } else if (res == -ENOBUFS) {
        metrics_add(&w->m->errors[METRICS_ERR_NO_BUFFERS], 1);
        if (!more && c->state != CONN_DEAD) conn_arm_recv(c);
    } else if (res != -ECANCELED && c->state != CONN_DEAD) {
        conn_on_recv_end(c, res);
    }
    if (!more) conn_op_done(c);
}

static void handle_cqe(worker *w, const struct io_uring_cqe *cqe) {
    uint64_t ud = cqe->user_data;
    switch (ud_get_tag(ud)) {
    case UD_TAG_NONE: break;
    case UD_TAG_ACCEPT: on_accept(w, cqe); break;
    case UD_TAG_RECV: on_recv(w, cqe); break;
    case UD_TAG_SEND: conn_on_send_cqe(w, ud_get_ptr(ud), cqe, false); break;
    case UD_TAG_SEND_ZC: conn_on_send_cqe(w, ud_get_ptr(ud), cqe, true); break;
    case UD_TAG_TICK:
        conn_tick(w);
        session_worker_tick(w);
        if (!w->accepting && !w->draining) arm_accept(w);
        drain_check(w);
        if (!w->stopped) arm_tick(w);
        break;
    case UD_TAG_SHUTDOWN:
        if (cqe->res == (int)sizeof w->wake_value) begin_drain(w);
        else if (!w->draining) arm_wake(w);
        break;
    case UD_TAG_MAILBOX_IN: {
        mailbox_msg *msg = mailbox_on_receive_cqe(w->shared->targets, w->id, cqe);
        metrics_add(&w->m->mailbox_received, 1);
        session_worker_on_mailbox(w, msg);
        mailbox_msg_unref(msg);
        break;
    }
    case UD_TAG_MAILBOX_SENT: session_worker_on_sent_cqe(w, cqe); break;
    case UD_TAG_CLOSE: conn_op_done(ud_get_ptr(ud)); break;
    case UD_TAG_STORE_WRITE:
    case UD_TAG_STORE_FSYNC: session_worker_on_store_cqe(w, cqe); break;
    }
}

void worker_run(worker *w) {
    while (!w->stopped) {
        int rc = io_uring_submit_and_wait(&w->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
            log_error("worker %u: io_uring_submit_and_wait: %s", w->id, strerror(-rc));
            break;
        }
        w->now_ms = monotonic_ms();
        uint32_t count = 0;
        /* Bounded by the CQ size: the batch is what the kernel posted so far. */
        for (;;) {
            struct io_uring_cqe *cqe;
            unsigned head;
            unsigned seen = 0;
            io_uring_for_each_cqe(&w->ring, head, cqe) {
                handle_cqe(w, cqe);
                seen++;
                if (seen >= RING_CQ_ENTRIES) break;
            }
            if (seen == 0) break;
            io_uring_cq_advance(&w->ring, seen);
            count += seen;
            if (count >= RING_CQ_ENTRIES) break;
        }
        /* Document requests, log flushes and cross-worker frames of this
         * iteration, before the sends so their frames go out now. */
        session_worker_flush(w);
        /* Cork: one send per dirty connection per iteration. */
        while (w->dirty != NULL) {
            conn *c = w->dirty;
            w->dirty = c->dirty_next;
            c->dirty_next = NULL;
            c->dirty = false;
            conn_flush(c);
        }
        metrics_count_iteration(w->m, count);
        drain_check(w);
    }
    io_uring_submit(&w->ring);
    session_worker_destroy(w);   /* on this thread: the ring is single-issuer */
}

void worker_destroy(worker *w) {
    if (w->ring.ring_fd > 0) io_uring_queue_exit(&w->ring);
    if (w->br != NULL) munmap(w->br, w->br_bytes);
    if (w->buf_base != NULL) munmap(w->buf_base, (size_t)RING_RECV_BUF_COUNT * RING_RECV_BUF_BYTES);
    if (w->wake_fd >= 0) close(w->wake_fd);
    if (w->listen_fd >= 0) close(w->listen_fd);
    /* Blocks still out belong to connections cut at exit; the process ends. */
    if (w->conn_pool.blocks_out == 0) bufpool_destroy(&w->conn_pool);
    if (w->inbuf_pool.blocks_out == 0) bufpool_destroy(&w->inbuf_pool);
    if (w->recvbuf_pool.blocks_out == 0) bufpool_destroy(&w->recvbuf_pool);
    if (w->sendop_pool.blocks_out == 0) bufpool_destroy(&w->sendop_pool);
    if (w->sendq_ring_pool.blocks_out == 0) bufpool_destroy(&w->sendq_ring_pool);
    /* frames still referenced elsewhere come back later; the pool goes with the last */
    rbuf_pool_release(w->frame_pool);
    w->frame_pool = NULL;
}
