/* The worker loop without sockets: NOP SQEs complete into their records'
 * callbacks, hooks run in registration order once per iteration, the stop
 * request runs the stop hooks once, and the exit hooks run after the loop;
 * receive buffers lent to send queues go back to the kernel's ring only when
 * their last reference drops. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/config.h"
#include "io/completion.h"
#include "io/ring.h"

#define TRACE_MAX 64

typedef struct fixture {
    worker w;                 /* first: hooks get &w and cast back */
    config cfg;
    metrics_worker metrics;
    server_shared shared;
    _Atomic uint64_t loop_ms[1];  /* when the loop last turned (watchdog) */
    char trace[TRACE_MAX];    /* one letter per hook run */
    size_t trace_len;
    uint32_t stop_after_iterations;
    uint32_t iterations;
} fixture;

_Static_assert(offsetof(fixture, w) == 0, "hooks cast the worker back to its fixture");

typedef struct record {
    completion done;
    fixture *f;
    int calls;
    int last_res;
    uint64_t last_user_data;
} record;

static fixture *fixture_of(worker *w) { return (fixture *)(void *)w; }

static void note(worker *w, char letter) {
    fixture *f = fixture_of(w);
    cr_assert_lt(f->trace_len, TRACE_MAX - 1);
    f->trace[f->trace_len++] = letter;
    f->trace[f->trace_len] = '\0';
}

static void hook_a(worker *w) { note(w, 'A'); }
static void hook_b(worker *w) {
    note(w, 'B');
    fixture *f = fixture_of(w);
    if (++f->iterations >= f->stop_after_iterations) w->stopped = true;
}
static void hook_stop(worker *w) {
    note(w, 'S');
    w->stopped = true;
}
static void hook_exit(worker *w) { note(w, 'X'); }

static void on_record(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    record *r = completion_owner(self, record, done);
    cr_assert_eq(w, &r->f->w);
    r->calls++;
    r->last_res = cqe->res;
    r->last_user_data = cqe->user_data;
}

static void setup_fixture(fixture *f) {
    memset(f, 0, sizeof *f);
    config_defaults(&f->cfg);
    f->cfg.max_connections = 16;
    f->shared.cfg = &f->cfg;
    f->shared.count_workers = 1;
    f->shared.metrics = &f->metrics;
    f->shared.loop_ms = f->loop_ms;
    f->w.shared = &f->shared;
    f->w.id = 0;
    f->w.listen_fd = -1;
    f->stop_after_iterations = UINT32_MAX;
    cr_assert_eq(worker_init(&f->w), 0);
}

static void queue_nop(fixture *f, completion *c) {
    struct io_uring_sqe *sqe = worker_get_sqe(&f->w);
    cr_assert_not_null(sqe);
    io_uring_prep_nop(sqe);
    completion_set(sqe, c);
}

/* Starts the loop with the main thread's stop request already written. */
static void run_with_stop_request(fixture *f) {
    cr_assert_eq(worker_start(&f->w), 0);
    uint64_t one = 1;
    cr_assert_eq(write(f->w.wake_fd, &one, sizeof one), (ssize_t)sizeof one);
    worker_run(&f->w);
}

Test(ring, nop_completions_call_their_records) {
    fixture f;
    setup_fixture(&f);
    record r1 = {.done.fn = on_record, .f = &f}, r2 = {.done.fn = on_record, .f = &f};
    queue_nop(&f, &r1.done);
    queue_nop(&f, &r2.done);
    queue_nop(&f, &r2.done);
    queue_nop(&f, NULL); /* ignored */
    f.stop_after_iterations = 1;
    cr_assert_eq(worker_add_hook(&f.w.before_sleep, hook_b), 0);
    cr_assert_eq(worker_start(&f.w), 0);
    worker_run(&f.w);
    cr_assert_eq(r1.calls, 1);
    cr_assert_eq(r2.calls, 2, "one record may serve several SQEs");
    cr_assert_eq(r1.last_res, 0);
    cr_assert_eq(completion_of(r1.last_user_data), &r1.done);
    cr_assert_eq(f.iterations, 1);
    worker_destroy(&f.w);
}

Test(ring, hooks_run_in_order_once_per_iteration) {
    fixture f;
    setup_fixture(&f);
    f.stop_after_iterations = 3;
    cr_assert_eq(worker_add_hook(&f.w.before_sleep, hook_a), 0);
    cr_assert_eq(worker_add_hook(&f.w.before_sleep, hook_b), 0);
    cr_assert_eq(worker_add_hook(&f.w.on_exit, hook_exit), 0);
    cr_assert_eq(worker_start(&f.w), 0);
    record r = {.done.fn = on_record, .f = &f};
    queue_nop(&f, &r.done); /* the first iteration has a CQE at once; ticks wake the rest */
    worker_run(&f.w);
    cr_assert_str_eq(f.trace, "ABABABX");
    cr_assert_eq(atomic_load(&f.metrics.loop_iterations), 3, "one iteration per before-sleep run");
    worker_destroy(&f.w);
}

Test(ring, stop_request_runs_stop_hooks_once) {
    fixture f;
    setup_fixture(&f);
    cr_assert_eq(worker_add_hook(&f.w.on_stop, hook_stop), 0);
    cr_assert_eq(worker_add_hook(&f.w.on_exit, hook_exit), 0);
    run_with_stop_request(&f);
    cr_assert(f.w.draining);
    cr_assert_str_eq(f.trace, "SX");
    worker_destroy(&f.w);
}

Test(ring, a_stop_no_user_finishes_is_forced_after_the_grace_period) {
    fixture f;
    setup_fixture(&f);
    f.cfg.shutdown_grace_ms = 0;
    cr_assert_eq(worker_add_hook(&f.w.on_stop, hook_a), 0);
    uint64_t started_ms = atomic_load(&f.loop_ms[0]);
    run_with_stop_request(&f); /* returns: the tick forces the stop */
    cr_assert(f.w.stopped);
    cr_assert_str_eq(f.trace, "A");
    /* the tick that forced the stop also told the watchdog the loop turned */
    cr_assert_eq(atomic_load(&f.loop_ms[0]), f.w.now_ms);
    cr_assert_geq(f.w.now_ms, started_ms);
    worker_destroy(&f.w);
}

Test(ring, hooks_are_bounded) {
    fixture f;
    setup_fixture(&f);
    for (uint32_t i = 0; i < RING_MAX_HOOKS; i++) cr_assert_eq(worker_add_hook(&f.w.on_tick, hook_a), 0);
    cr_assert_eq(worker_add_hook(&f.w.on_tick, hook_a), -ENOSPC);
    cr_assert_eq(f.w.on_tick.count, RING_MAX_HOOKS);
    worker_destroy(&f.w);
}

Test(ring, user_data_carries_a_record_and_sixteen_spare_bits) {
    record r = {.done.fn = on_record};
    uint64_t ud = completion_ud(&r.done, 0xBEEF);
    cr_assert_eq(completion_of(ud), &r.done);
    cr_assert_eq(completion_high(ud), 0xBEEF);
    cr_assert_eq(completion_owner(completion_of(ud), record, done), &r);
    cr_assert_null(completion_of(completion_ud(NULL, 7)));
}


static uint16_t ring_tail(const worker *w) { return io_uring_smp_load_acquire(&w->br->tail); }

/* Plays the kernel: takes the oldest posted buffer (the tests' own head index;
 * no receive runs, so the real kernel never does). */
typedef struct kernel_sim {
    uint16_t head;
} kernel_sim;

static uint16_t kernel_take(fixture *f, kernel_sim *k) {
    cr_assert_gt(worker_recv_posted(&f->w), 0, "the ring is not empty");
    cr_assert_neq(k->head, ring_tail(&f->w));
    uint16_t bid = f->w.br->bufs[k->head & (RING_RECV_BUF_COUNT - 1)].bid;
    k->head++;
    return bid;
}

Test(ring, a_lent_receive_buffer_goes_back_to_the_kernel_after_its_last_reference) {
    fixture f;
    setup_fixture(&f);
    cr_assert(f.w.pbuf, "provided buffers on this kernel");
    kernel_sim k = {0};
    cr_assert_eq(worker_recv_posted(&f.w), RING_RECV_POSTED_MIN, "the minimum is posted at start");
    uint16_t bid = kernel_take(&f, &k);
    rbuf *slot = worker_recv_begin(&f.w, bid, 20000);
    cr_assert_eq(slot->len, 20000);
    cr_assert_eq(((uintptr_t)slot->data) % 64, 0, "bytes start on a cache line");
    cr_assert_eq(f.w.recv_out, 1);
    /* bytes inside what was received are lendable; outside, or a copy elsewhere, are not */
    rbuf *lent = worker_lend_recv_bytes(&f.w, slot->data + 14, 16384);
    cr_assert_eq(lent, slot);
    cr_assert_eq(atomic_load(&slot->refs), 2);
    cr_assert_null(worker_lend_recv_bytes(&f.w, slot->data + 19990, 11), "past the received bytes");
    uint8_t elsewhere[32];
    cr_assert_null(worker_lend_recv_bytes(&f.w, elsewhere, sizeof elsewhere), "TLS plaintext, say");
    worker_recv_done(&f.w, slot);
    cr_assert_null(worker_lend_recv_bytes(&f.w, slot->data + 14, 16), "only while delivering");
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), 0, "still lent");
    cr_assert_eq(f.w.recv_out, 1);
    cr_assert_eq(worker_recv_posted(&f.w), RING_RECV_POSTED_MIN, "a fresh buffer took its place");
    uint16_t tail = ring_tail(&f.w);
    rbuf_unref(lent);               /* the send completed */
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), 1);
    cr_assert_eq(f.w.recv_out, 0);
    cr_assert_eq(f.w.recv_free[f.w.recv_free_count - 1], bid, "on top of the free stack: used first");
    cr_assert_eq(ring_tail(&f.w), tail, "the ring is full to its target");
    /* the next receive makes room: the buffer back most recently goes in, not a cold one */
    uint16_t other_bid = kernel_take(&f, &k);
    worker_recv_done(&f.w, worker_recv_begin(&f.w, other_bid, 100));
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), 1);
    uint32_t at = (uint16_t)(ring_tail(&f.w) - 1) & (RING_RECV_BUF_COUNT - 1);
    cr_assert_eq(f.w.br->bufs[at].bid, other_bid);
    cr_assert_eq(f.w.recv_free[f.w.recv_free_count - 1], bid, "next in line");
    cr_assert_eq(f.w.br->bufs[at].len, RING_RECV_BUF_BYTES);
    worker_destroy(&f.w);
}

/* Steady receives, one at a time, cycle through about the posted target,
 * not the whole area: the kernel writes into buffers touched a moment ago. */
Test(ring, steady_receives_reuse_a_few_buffers_not_the_whole_ring) {
    fixture f;
    setup_fixture(&f);
    kernel_sim k = {0};
    bool used[RING_RECV_BUF_COUNT] = {false};
    uint32_t distinct = 0;
    for (int i = 0; i < 10 * (int)RING_RECV_BUF_COUNT; i++) {
        uint16_t bid = kernel_take(&f, &k);
        if (!used[bid]) distinct++;
        used[bid] = true;
        rbuf *slot = worker_recv_begin(&f.w, bid, 16384);
        rbuf *lent = worker_lend_recv_bytes(&f.w, slot->data, 16384);
        worker_recv_done(&f.w, slot);
        cr_assert_eq(worker_reclaim_recv_buffers(&f.w), 0, "lent until its send completes");
        rbuf_unref(lent);
        cr_assert_eq(worker_reclaim_recv_buffers(&f.w), 1);
    }
    cr_assert_leq(distinct, RING_RECV_POSTED_MIN + 2, "%u buffers in rotation", distinct);
    cr_assert_eq(f.w.recv_posted_target, RING_RECV_POSTED_MIN);
    worker_destroy(&f.w);
}

/* A shortage doubles the posted target at once; a burst raises it to twice
 * its receives; quiet reclaims bring it back down one by one. */
Test(ring, the_posted_target_follows_the_receives) {
    fixture f;
    setup_fixture(&f);
    kernel_sim k = {0};
    worker_recv_no_buffers(&f.w);
    cr_assert_eq(atomic_load(&f.metrics.errors[METRICS_ERR_NO_BUFFERS]), 1);
    worker_reclaim_recv_buffers(&f.w);
    cr_assert_eq(f.w.recv_posted_target, 2 * RING_RECV_POSTED_MIN);
    cr_assert_eq(worker_recv_posted(&f.w), 2 * RING_RECV_POSTED_MIN);
    for (int i = 0; i < 50; i++) worker_recv_done(&f.w, worker_recv_begin(&f.w, kernel_take(&f, &k), 10));
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), 50);
    cr_assert_eq(f.w.recv_posted_target, 100);
    cr_assert_eq(worker_recv_posted(&f.w), 100);
    for (int i = 0; i < 10; i++) worker_reclaim_recv_buffers(&f.w);
    cr_assert_eq(f.w.recv_posted_target, 90, "down by one per quiet reclaim");
    for (int i = 0; i < 1000; i++) worker_reclaim_recv_buffers(&f.w);
    cr_assert_eq(f.w.recv_posted_target, RING_RECV_POSTED_MIN);
    for (int i = 0; i < 4; i++) {
        worker_recv_no_buffers(&f.w);
        worker_reclaim_recv_buffers(&f.w);
    }
    cr_assert_eq(f.w.recv_posted_target, RING_RECV_BUF_COUNT, "never past the ring");
    cr_assert_eq(worker_recv_posted(&f.w), RING_RECV_BUF_COUNT, "every buffer in the kernel's hands");
    worker_destroy(&f.w);
}

Test(ring, lending_stops_at_half_the_receive_buffers) {
    fixture f;
    setup_fixture(&f);
    kernel_sim k = {0};
    rbuf *lent[RING_RECV_BUF_COUNT];
    uint32_t count_lent = 0, copied = 0;
    for (uint32_t i = 0; i < RING_RECV_BUF_COUNT; i++) {
        if (worker_recv_posted(&f.w) == 0) {
            worker_recv_no_buffers(&f.w);   /* the kernel would end the receive */
            worker_reclaim_recv_buffers(&f.w);
        }
        rbuf *slot = worker_recv_begin(&f.w, kernel_take(&f, &k), 1000);
        rbuf *l = worker_lend_recv_bytes(&f.w, slot->data, 1000);
        if (l != NULL) lent[count_lent++] = l;
        else copied++;
        worker_recv_done(&f.w, slot);
    }
    /* the buffer being delivered counts as out too: RING_RECV_LEND_MAX lent, then copies */
    cr_assert_eq(count_lent, RING_RECV_LEND_MAX);
    cr_assert_eq(copied, RING_RECV_BUF_COUNT - RING_RECV_LEND_MAX);
    worker_reclaim_recv_buffers(&f.w);
    cr_assert_eq(f.w.recv_out, RING_RECV_LEND_MAX);
    rbuf *slot = worker_recv_begin(&f.w, kernel_take(&f, &k), 1000);
    cr_assert_null(worker_lend_recv_bytes(&f.w, slot->data, 1000), "copy instead: receives keep their buffers");
    worker_recv_done(&f.w, slot);
    for (uint32_t i = 0; i < count_lent; i++) rbuf_unref(lent[i]);
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), RING_RECV_LEND_MAX + 1);
    cr_assert_eq(f.w.recv_out, 0);
    cr_assert_eq(worker_recv_posted(&f.w) + f.w.recv_free_count, RING_RECV_BUF_COUNT, "every buffer accounted for");
    worker_destroy(&f.w);
}

/* Sizing: a 64 KiB message with its largest client header (14 bytes) fits one
 * receive buffer, so it is delivered in place; every buffer starts on a cache
 * line and its rbuf header never overlaps the previous buffer's bytes. */
Test(ring, receive_buffers_hold_a_64_KiB_message_with_its_header) {
    cr_assert_geq(RING_RECV_BUF_BYTES, 65536u + 14u);
    fixture f;
    setup_fixture(&f);
    kernel_sim k = {0};
    rbuf *held[RING_RECV_BUF_COUNT] = {NULL};
    /* a burst that holds every buffer: shortages raise the target until all are posted */
    for (uint32_t i = 0; i < RING_RECV_BUF_COUNT; i++) {
        if (worker_recv_posted(&f.w) == 0) {
            worker_recv_no_buffers(&f.w);
            worker_reclaim_recv_buffers(&f.w);
        }
        uint16_t bid = kernel_take(&f, &k);
        cr_assert_null(held[bid], "buffer %u handed out twice", bid);
        rbuf *slot = worker_recv_begin(&f.w, bid, RING_RECV_BUF_BYTES);
        cr_assert_eq(slot->cap, RING_RECV_BUF_BYTES);
        cr_assert_eq((uintptr_t)slot->data % 64, 0, "buffer %u", bid);
        memset(slot->data, 0xab, RING_RECV_BUF_BYTES);   /* all of it is ours to fill */
        rbuf_ref(slot);
        held[bid] = slot;
        worker_recv_done(&f.w, slot);
    }
    uintptr_t prev_end = 0;
    for (uint32_t bid = 0; bid < RING_RECV_BUF_COUNT; bid++) {
        cr_assert_not_null(held[bid]);
        cr_assert_geq((uintptr_t)held[bid], prev_end, "buffer %u's header overlaps the previous bytes", bid);
        prev_end = (uintptr_t)held[bid]->data + RING_RECV_BUF_BYTES;
        cr_assert_eq(held[bid]->data[RING_RECV_BUF_BYTES - 1], 0xab, "no neighbour wrote into buffer %u", bid);
        rbuf_unref(held[bid]);
    }
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), RING_RECV_BUF_COUNT);
    worker_destroy(&f.w);
}

/* The area is mapped so that the kernel can back it with 2 MiB pages. */
Test(ring, receive_area_is_aligned_for_huge_pages) {
    fixture f;
    setup_fixture(&f);
    cr_assert(f.w.pbuf, "provided buffers on this kernel");
    size_t bytes = worker_recv_area_bytes();
    cr_assert_eq(bytes % RING_RECV_HUGE_PAGE_BYTES, 0);
    cr_assert_geq(bytes, (size_t)RING_RECV_BUF_COUNT * (RING_RECV_SLOT_HEAD_BYTES + RING_RECV_BUF_BYTES));
    cr_assert_lt(bytes - (size_t)RING_RECV_BUF_COUNT * (RING_RECV_SLOT_HEAD_BYTES + RING_RECV_BUF_BYTES),
                 RING_RECV_HUGE_PAGE_BYTES, "rounded up by less than one huge page");
    cr_assert_eq((uintptr_t)f.w.buf_base % RING_RECV_HUGE_PAGE_BYTES, 0);
    memset(f.w.buf_base + bytes - 64, 0xcd, 64);   /* the whole area is ours */
    worker_destroy(&f.w);
}

/* Which iteration each completion was dispatched in, for the wait order test. */
typedef struct wait_probe {
    fixture f;                /* first: hooks cast the worker back */
    int sv[2];                /* socketpair: the receive waits on sv[0] */
    uint8_t buf[16];
    record nop0, nop1, nop2, recv;
    uint32_t seen_in[4];      /* nop0, nop1, nop2, recv: iteration + 1, 0 = not yet */
    rbuf *lent;               /* a receive buffer held by nop1, as a send holds it */
    uint32_t out_at_recv;     /* receive buffers out when the receive completed */
} wait_probe;

static void on_probe(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    wait_probe *p = (wait_probe *)(void *)w;
    record *r = completion_owner(self, record, done);
    r->calls++;
    r->last_res = cqe->res;
    record *order[4] = {&p->nop0, &p->nop1, &p->nop2, &p->recv};
    for (int i = 0; i < 4; i++)
        if (order[i] == r) p->seen_in[i] = p->f.iterations + 1;
    if (r == &p->nop1) {
        rbuf_unref(p->lent);   /* the send completed */
        p->lent = NULL;
    }
    if (r == &p->recv) p->out_at_recv = w->recv_out;
}

static void probe_hook(worker *w) {
    wait_probe *p = (wait_probe *)(void *)w;
    uint32_t it = ++p->f.iterations;
    if (it == 1) {
        /* the receive's data arrives now: it completes in deferred work, run by a wait */
        cr_assert_eq(write(p->sv[1], "x", 1), 1);
        /* an echo sent from its receive buffer: the send (nop1) holds the buffer */
        kernel_sim k = {0};
        rbuf *slot = worker_recv_begin(w, kernel_take(&p->f, &k), 100);
        p->lent = worker_lend_recv_bytes(w, slot->data, 100);
        cr_assert_not_null(p->lent);
        worker_recv_done(w, slot);
        queue_nop(&p->f, &p->nop1.done);   /* completes inside the submit */
    } else if (it == 2) {
        queue_nop(&p->f, &p->nop2.done);   /* every iteration has work: the wait must still come */
    } else if (it >= 3 && p->recv.calls > 0) {
        w->stopped = true;
    }
    if (it > 8) w->stopped = true;
}

/* While receive buffers are lent, completions posted by the submit at the
 * end of an iteration (sends to a socket with room) are taken by the next
 * iteration before it waits, so the receive buffers they held are back
 * before the wait runs the next receives; at most one iteration goes without
 * a wait, so deferred work never starves. */
Test(ring, inline_completions_are_taken_before_the_next_wait) {
    static wait_probe p;
    memset(&p, 0, sizeof p);
    _Static_assert(offsetof(wait_probe, f) == 0, "hooks cast the worker back");
    setup_fixture(&p.f);
    if (!(p.f.w.ring.flags & IORING_SETUP_DEFER_TASKRUN)) cr_skip_test("needs IORING_SETUP_DEFER_TASKRUN");
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p.sv), 0);
    record *rs[4] = {&p.nop0, &p.nop1, &p.nop2, &p.recv};
    for (int i = 0; i < 4; i++) {
        rs[i]->done.fn = on_probe;
        rs[i]->f = &p.f;
    }
    cr_assert_eq(worker_add_hook(&p.f.w.before_sleep, probe_hook), 0);
    struct io_uring_sqe *sqe = worker_get_sqe(&p.f.w);
    cr_assert_not_null(sqe);
    io_uring_prep_recv(sqe, p.sv[0], p.buf, sizeof p.buf, 0);
    completion_set(sqe, &p.recv.done);
    queue_nop(&p.f, &p.nop0.done);
    cr_assert_eq(worker_start(&p.f.w), 0);   /* the receive is armed, no data yet */
    worker_run(&p.f.w);
    cr_assert_eq(p.seen_in[0], 1);
    cr_assert_eq(p.seen_in[1], 2, "taken in the next iteration");
    cr_assert_eq(p.seen_in[3], 3, "the receive only with the wait after it");
    cr_assert_eq(p.seen_in[2], 3, "no second iteration without a wait");
    cr_assert_eq(p.recv.last_res, 1);
    cr_assert_eq(p.out_at_recv, 0, "the lent buffer was back before the receives ran");
    close(p.sv[0]);
    close(p.sv[1]);
    worker_destroy(&p.f.w);
}
