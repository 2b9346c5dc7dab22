#include "io/ring.h"
#include "base/clock.h"

#include "base/log.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Bound on send descriptors kept for reuse. */
#define RING_SENDOPS_KEEP 1024u
/* After the grace period, users still busy get this long to finish. */
#define RING_FORCE_CLOSE_MS 1000u

struct io_uring_sqe *worker_get_sqe(worker *w) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    for (int tries = 0; sqe == NULL && tries < 8; tries++) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    if (sqe == NULL) metrics_add(&w->m->errors[METRICS_ERR_SQ_FULL], 1);
    return sqe;
}

static uint8_t *slot_mem(const worker *w, uint32_t bid) {
    return w->buf_base + (size_t)bid * (RING_RECV_SLOT_HEAD_BYTES + RING_RECV_BUF_BYTES);
}

/* The buffer's bytes start a cache line after the slot; its rbuf header ends there. */
static uint8_t *slot_data(const worker *w, uint32_t bid) { return slot_mem(w, bid) + RING_RECV_SLOT_HEAD_BYTES; }

static void *slot_head(const worker *w, uint32_t bid) { return slot_data(w, bid) - sizeof(rbuf); }

static void give_to_kernel(worker *w, uint32_t bid, int offset) {
    io_uring_buf_ring_add(w->br, slot_data(w, bid), RING_RECV_BUF_BYTES, (unsigned short)bid,
                          io_uring_buf_ring_mask(RING_RECV_BUF_COUNT), offset);
}

uint32_t worker_recv_posted(const worker *w) {
    assert(w->recv_out + w->recv_free_count <= RING_RECV_BUF_COUNT);
    return RING_RECV_BUF_COUNT - w->recv_out - w->recv_free_count;
}

void worker_recv_no_buffers(worker *w) {
    metrics_add(&w->m->errors[METRICS_ERR_NO_BUFFERS], 1);
    w->recv_short++;
}

rbuf *worker_recv_begin(worker *w, uint16_t bid, uint32_t len) {
    assert(bid < RING_RECV_BUF_COUNT && len <= RING_RECV_BUF_BYTES && w->recv_delivering == NULL);
    assert(worker_recv_posted(w) > 0);
    rbuf *slot = rbuf_pool_wrap(w->recv_pool, slot_head(w, bid));
    slot->len = len;
    assert(slot->data == slot_data(w, bid));
    w->recv_out++;
    w->recv_taken++;
    w->recv_delivering = slot;
    return slot;
}

void worker_recv_done(worker *w, rbuf *slot) {
    assert(w->recv_delivering == slot);
    w->recv_delivering = NULL;
    rbuf_unref(slot);
}

rbuf *worker_lend_recv_bytes(worker *w, const uint8_t *ptr, size_t len) {
    rbuf *slot = w->recv_delivering;
    if (slot == NULL || w->recv_out > RING_RECV_LEND_MAX) return NULL;
    /* Addresses, not pointer arithmetic: ptr may point into another object. */
    uintptr_t at = (uintptr_t)ptr, start = (uintptr_t)slot->data;
    if (at < start || len > slot->len || at - start > slot->len - len) return NULL;
    rbuf_ref(slot);
    return slot;
}

/* Twice the receives since the last reclaim, at once after a shortage and
 * at least doubled; otherwise down by one per reclaim, so a burst keeps its
 * buffers for a while. */
static void adapt_posted_target(worker *w) {
    uint32_t t = w->recv_posted_target;
    uint32_t want = 2 * w->recv_taken;
    if (w->recv_short > 0 && want < 2 * t) want = 2 * t;
    if (want > t) t = want;
    else if (t > RING_RECV_POSTED_MIN) t--;
    if (t < RING_RECV_POSTED_MIN) t = RING_RECV_POSTED_MIN;
    if (t > RING_RECV_BUF_COUNT) t = RING_RECV_BUF_COUNT;
    w->recv_posted_target = t;
    w->recv_taken = 0;
    w->recv_short = 0;
}

uint32_t worker_reclaim_recv_buffers(worker *w) {
    if (w->recv_pool == NULL) return 0;
    uint32_t back = 0;
    /* Bounded: each buffer is on the chain at most once. */
    for (rbuf *b = rbuf_pool_take_returned(w->recv_pool), *next; b != NULL; b = next) {
        next = rbuf_returned_next(b);
        size_t at = (size_t)((uint8_t *)b - w->buf_base);
        uint32_t bid = (uint32_t)(at / (RING_RECV_SLOT_HEAD_BYTES + RING_RECV_BUF_BYTES));
        assert(bid < RING_RECV_BUF_COUNT && (void *)b == slot_head(w, bid));
        assert(w->recv_free_count < RING_RECV_BUF_COUNT && back < w->recv_out);
        w->recv_free[w->recv_free_count++] = (uint16_t)bid;
        back++;
    }
    w->recv_out -= back;
    adapt_posted_target(w);
    uint32_t posted = worker_recv_posted(w);
    uint32_t count = 0;
    /* Bounded by the stack: the most recently used buffers go first. */
    while (posted + count < w->recv_posted_target && w->recv_free_count > 0) {
        give_to_kernel(w, w->recv_free[--w->recv_free_count], (int)count);
        count++;
    }
    if (count > 0) io_uring_buf_ring_advance(w->br, count);
    return back;
}

size_t worker_recv_area_bytes(void) {
    size_t bytes = (size_t)RING_RECV_BUF_COUNT * (RING_RECV_SLOT_HEAD_BYTES + RING_RECV_BUF_BYTES);
    return (bytes + RING_RECV_HUGE_PAGE_BYTES - 1) / RING_RECV_HUGE_PAGE_BYTES * RING_RECV_HUGE_PAGE_BYTES;
}

/* The receive buffers on huge pages: every receive, unmask and send touches
 * a few pages of an area far larger than the TLB covers in 4 KiB pages, and
 * each miss is a page walk inside the kernel's copy. The area is aligned to
 * a huge page so the kernel can back it with them; where it will not (THP
 * off), it stays plain pages. */
static void *map_recv_area(void) {
    size_t bytes = worker_recv_area_bytes();
    size_t over = bytes + RING_RECV_HUGE_PAGE_BYTES;
    uint8_t *raw = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uintptr_t at = ((uintptr_t)raw + RING_RECV_HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(RING_RECV_HUGE_PAGE_BYTES - 1);
    size_t head = at - (uintptr_t)raw;
    if (head > 0) munmap(raw, head);
    if (over - head > bytes) munmap((uint8_t *)at + bytes, over - head - bytes);
    (void)madvise((void *)at, bytes, MADV_HUGEPAGE);   /* advice: refused is fine */
    return (void *)at;
}

/* liburing 2.3 has no io_uring_setup_buf_ring: map and register by hand. */
static int setup_buf_ring(worker *w) {
    w->br_bytes = RING_RECV_BUF_COUNT * sizeof(struct io_uring_buf);
    void *ring_mem = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) return -errno;
    size_t data_bytes = worker_recv_area_bytes();
    void *data = map_recv_area();
    if (data == NULL) {
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
    w->recv_pool = rbuf_pool_new_lent(RING_RECV_BUF_BYTES);
    if (w->recv_pool == NULL) {
        io_uring_unregister_buf_ring(&w->ring, RING_BUF_GROUP);
        munmap(ring_mem, w->br_bytes);
        munmap(data, data_bytes);
        return -ENOMEM;
    }
    w->br = ring_mem;
    w->buf_base = data;
    io_uring_buf_ring_init(w->br);
    /* every buffer free, bid 0 on top; the minimum goes to the kernel now */
    for (uint32_t i = 0; i < RING_RECV_BUF_COUNT; i++) w->recv_free[i] = (uint16_t)(RING_RECV_BUF_COUNT - 1 - i);
    w->recv_free_count = RING_RECV_BUF_COUNT;
    w->recv_posted_target = RING_RECV_POSTED_MIN;
    for (uint32_t i = 0; i < RING_RECV_POSTED_MIN; i++) give_to_kernel(w, w->recv_free[--w->recv_free_count], (int)i);
    io_uring_buf_ring_advance(w->br, RING_RECV_POSTED_MIN);
    return 0;
}

static void arm_wake(worker *w) {
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) return;
    io_uring_prep_read(sqe, w->wake_fd, &w->wake_value, sizeof w->wake_value, 0);
    completion_set(sqe, &w->wake_done);
}

static void arm_tick(worker *w) {
    struct io_uring_sqe *sqe = worker_get_sqe(w);
    if (sqe == NULL) return;
    io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
    completion_set(sqe, &w->tick_done);
}

static void on_wake(worker *w, completion *self, const struct io_uring_cqe *cqe);
static void on_tick(worker *w, completion *self, const struct io_uring_cqe *cqe);

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

    bufpool_init(&w->inbuf_pool, RING_INBUF_BYTES, w->cfg->max_connections, 256);
    bufpool_init(&w->recvbuf_pool, RING_PLAIN_RECV_BUF_BYTES, w->cfg->max_connections + 64, 256);
    bufpool_init(&w->sendop_pool, 2048, UINT32_MAX, RING_SENDOPS_KEEP);
    bufpool_init(&w->sendq_ring_pool, SENDQ_POOL_BLOCK_BYTES, UINT32_MAX, RING_SENDQ_RINGS_KEEP);
    w->frame_pool = rbuf_pool_new(RING_FRAME_POOL_BLOCK_BYTES, RING_FRAME_POOL_KEEP);
    if (w->frame_pool == NULL) return -ENOMEM;

    w->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (w->wake_fd < 0) return -errno;
    w->tick_ms = tick_interval_ms(w->cfg);
    w->tick_ts.tv_sec = w->tick_ms / 1000;
    w->tick_ts.tv_nsec = (long long)(w->tick_ms % 1000) * 1000000;
    w->now_ms = clock_mono_ms();
    atomic_store_explicit(&w->shared->loop_ms[w->id], w->now_ms, memory_order_relaxed);
    w->wake_done.fn = on_wake;
    w->tick_done.fn = on_tick;
    return 0;
}

int worker_add_hook(worker_hooks *hooks, worker_hook_fn fn) {
    assert(fn != NULL);
    if (hooks->count == RING_MAX_HOOKS) return -ENOSPC;
    hooks->fn[hooks->count++] = fn;
    return 0;
}

int worker_start(worker *w) {
    assert(w->wake_done.fn == on_wake && w->tick_done.fn == on_tick);
    arm_wake(w);
    arm_tick(w);
    int rc = io_uring_submit(&w->ring);
    return rc < 0 ? rc : 0;
}

static void run_hooks(worker *w, const worker_hooks *hooks) {
    assert(hooks->count <= RING_MAX_HOOKS);
    for (uint32_t i = 0; i < hooks->count; i++) hooks->fn[i](w);
}

/* After the grace period its users get RING_FORCE_CLOSE_MS more to finish. */
static void check_force_stop(worker *w) {
    if (w->draining && !w->stopped && w->now_ms >= w->drain_deadline_ms + RING_FORCE_CLOSE_MS) {
        log_warn("worker %u: still busy %u ms after the grace period; exiting", w->id, RING_FORCE_CLOSE_MS);
        w->stopped = true;
    }
}

static void on_wake(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)self;
    assert(self == &w->wake_done);
    if (cqe->res != (int)sizeof w->wake_value) {
        if (!w->draining) arm_wake(w);
        return;
    }
    if (w->draining) return;
    w->draining = true;
    w->drain_deadline_ms = w->now_ms + w->cfg->shutdown_grace_ms;
    run_hooks(w, &w->on_stop);
}

static void on_tick(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)cqe;
    (void)self;
    assert(self == &w->tick_done);
    /* the timer runs on the loop: its turn proves the loop turns (watchdog),
     * at a tick's cost rather than a shared cache line per iteration */
    atomic_store_explicit(&w->shared->loop_ms[w->id], w->now_ms, memory_order_relaxed);
    run_hooks(w, &w->on_tick);
    if (w->id == 0) sdnotify_watchdog_tick(w->shared->notify, w->now_ms, w->shared->loop_ms, w->shared->count_workers);
    check_force_stop(w);
    if (!w->stopped) arm_tick(w);
}

void worker_dispatch(worker *w, const struct io_uring_cqe *cqe) {
    completion *c = completion_of(cqe->user_data);
    if (c != NULL) c->fn(w, c, cqe);
}

/* While receive buffers are lent (large echoes sent from them), submits what
 * this iteration queued without waiting. Sends to a socket with room
 * complete inside the submit; true when completions are ready, so the next
 * iteration takes them (freeing the receive buffers those sends held)
 * before it waits, rather than after the next batch of receives has run
 * short of buffers. Nothing lent: the wait submits, one system call. */
static bool submit_queued(worker *w) {
    if (w->recv_out == 0 || io_uring_sq_ready(&w->ring) == 0) return false;
    int rc = io_uring_submit(&w->ring);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return false;   /* the wait submits again */
    return io_uring_cq_ready(&w->ring) > 0;
}

void worker_run(worker *w) {
    bool completions_ready = false;
    while (!w->stopped) {
        int rc = completions_ready ? 0 : io_uring_submit_and_wait(&w->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
            log_error("worker %u: io_uring_submit_and_wait: %s", w->id, strerror(-rc));
            break;
        }
        w->now_ms = clock_mono_ms();
        uint32_t count = 0;
        /* Bounded by the CQ size: the batch is what the kernel posted so far. */
        for (;;) {
            struct io_uring_cqe *cqe;
            unsigned head;
            unsigned seen = 0;
            io_uring_for_each_cqe(&w->ring, head, cqe) {
                worker_dispatch(w, cqe);
                seen++;
                if (seen >= RING_CQ_ENTRIES) break;
            }
            if (seen == 0) break;
            io_uring_cq_advance(&w->ring, seen);
            count += seen;
            if (count >= RING_CQ_ENTRIES) break;
        }
        /* Registration order: documents before the connections' flush, so
         * this iteration's frames go out now. */
        run_hooks(w, &w->before_sleep);
        /* At most one iteration between waits: the wait also runs the
         * deferred work (receives, timers), which must not starve. */
        completions_ready = !completions_ready && submit_queued(w);
        worker_reclaim_recv_buffers(w);
        metrics_count_iteration(w->m, count);
        check_force_stop(w);
    }
    io_uring_submit(&w->ring);
    run_hooks(w, &w->on_exit);   /* on this thread: the ring is single-issuer */
}

void worker_destroy(worker *w) {
    worker_reclaim_recv_buffers(w);
    if (w->ring.ring_fd > 0) io_uring_queue_exit(&w->ring);
    if (w->br != NULL) munmap(w->br, w->br_bytes);
    /* Buffers still lent belong to connections cut at exit; the process ends. */
    if (w->buf_base != NULL && w->recv_out == 0) {
        munmap(w->buf_base, worker_recv_area_bytes());
        rbuf_pool_release(w->recv_pool);
        w->recv_pool = NULL;
    }
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
