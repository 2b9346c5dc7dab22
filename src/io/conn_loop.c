/* A worker's connections as the loop sees them: the listener, the timer
 * lists, the per-iteration flush, the drain at shutdown. Registered with the
 * worker by conn_loop_init; the loop itself knows none of it. */
#include "io/conn_loop.h"

#include "base/log.h"
#include "io/conn.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Bound on connections kept for reuse per worker pool. */
#define CONN_LOOP_CONNS_KEEP 4096u

static void arm_accept(worker *w) {
    if (w->listen_fd < 0 || w->accepting) return;
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) return;
    io_uring_prep_multishot_accept(sqe, w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    completion_set(sqe, &w->accept_done);
    w->accepting = true;
}

static void on_accept(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)self;
    assert(self == &w->accept_done);
    if (!(cqe->flags & IORING_CQE_F_MORE)) w->accepting = false;
    if (cqe->res >= 0) {
        if (w->stopped) {
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
    if (!w->accepting && !w->stopped && (cqe->res >= 0 || cqe->res == -ECANCELED)) arm_accept(w);
}

/* Stop request: every open conn's handler hears on_shutdown (a WebSocket
 * sends close 1001). The listener stays open through the grace period: the
 * handlers refuse new work (HTTP: health checks and upgrades get 503),
 * rather than a refused connection that a load balancer cannot tell from a
 * crash. It closes when the worker stops (close_listener). */
static void begin_drain(worker *w) {
    assert(w->draining);
    conn_list *lists[] = {&w->input_list, &w->silence_list};
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
    if (w->count_conns == w->input_list.count) {
        /* only conns waiting for input left (idle keep-alives or half-sent
         * requests): nothing to wait for */
        for (conn *c = w->input_list.head, *next; c != NULL; c = next) {
            next = c->next;
            conn_close(c, METRICS_CLOSE_SHUTDOWN);
        }
    }
    if (w->count_conns == 0) {
        w->stopped = true;
        return;
    }
    if (w->now_ms >= w->drain_deadline_ms) {
        conn_list *lists[] = {&w->input_list, &w->silence_list, &w->closing_list};
        for (size_t i = 0; i < 3; i++) {
            for (conn *c = lists[i]->head, *next; c != NULL; c = next) {
                next = c->next;
                w->cut_conns++;
                conn_close(c, METRICS_CLOSE_SHUTDOWN);
            }
        }
    }
}

/* At exit: new connections go to the workers still draining, or are
 * refused; the armed accept holds the socket until it is cancelled. */
static void close_listener(worker *w) {
    if (w->listen_fd >= 0) {
        struct io_uring_sqe *sqe = worker_get_sqe(w);
        if (sqe != NULL) {
            io_uring_prep_cancel_fd(sqe, w->listen_fd, IORING_ASYNC_CANCEL_ALL);
            completion_set(sqe, NULL);
        }
        io_uring_submit(&w->ring);
        close(w->listen_fd);
        w->listen_fd = -1;
    }
}

static void tick(worker *w) {
    conn_tick(w);
    if (!w->accepting && !w->stopped) arm_accept(w);
    drain_check(w);
}

/* Cork: one send per dirty connection per iteration. The list is a stack:
 * the connection given bytes last this iteration goes first, so after a
 * publish (the broadcast, then the author's ack) the ack leaves before the
 * round of broadcasts. Connections join it when bytes are queued, not when
 * a send finishes (conn.c on_send), so the order is the same every time. */
static void flush_dirty(worker *w) {
    while (w->dirty != NULL) {
        conn *c = w->dirty;
        w->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        conn_flush(c);
    }
    drain_check(w);
}

int conn_loop_init(worker *w) {
    bufpool_init(&w->conn_pool, sizeof(conn), w->cfg->max_connections + w->cfg->max_connections / 8 + 64,
                 CONN_LOOP_CONNS_KEEP);
    w->accept_done.fn = on_accept;
    int rc = worker_add_hook(&w->before_sleep, flush_dirty);
    if (rc == 0) rc = worker_add_hook(&w->on_tick, tick);
    if (rc == 0) rc = worker_add_hook(&w->on_stop, begin_drain);
    if (rc == 0) rc = worker_add_hook(&w->on_exit, close_listener);
    if (rc != 0) return rc;
    arm_accept(w);
    return 0;
}
