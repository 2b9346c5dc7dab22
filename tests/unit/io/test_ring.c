/* The worker loop without sockets: NOP SQEs complete into their records'
 * callbacks, hooks run in registration order once per iteration, the stop
 * request runs the stop hooks once, and the exit hooks run after the loop;
 * receive buffers lent to send queues go back to the kernel's ring only when
 * their last reference drops. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
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

Test(ring, a_lent_receive_buffer_goes_back_to_the_kernel_after_its_last_reference) {
    fixture f;
    setup_fixture(&f);
    cr_assert(f.w.pbuf, "provided buffers on this kernel");
    uint16_t tail = ring_tail(&f.w);
    rbuf *slot = worker_recv_begin(&f.w, 5, 20000);
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
    cr_assert_eq(ring_tail(&f.w), tail);
    cr_assert_eq(f.w.recv_out, 1);
    rbuf_unref(lent);               /* the send completed */
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), 1);
    cr_assert_eq((uint16_t)(ring_tail(&f.w) - tail), 1, "the kernel has it again");
    cr_assert_eq(f.w.recv_out, 0);
    uint32_t at = (uint16_t)(ring_tail(&f.w) - 1) & (RING_RECV_BUF_COUNT - 1);
    cr_assert_eq(f.w.br->bufs[at].bid, 5);
    cr_assert_eq(f.w.br->bufs[at].addr, (uint64_t)(uintptr_t)slot->data);
    cr_assert_eq(f.w.br->bufs[at].len, RING_RECV_BUF_BYTES);
    worker_destroy(&f.w);
}

Test(ring, lending_stops_at_half_the_receive_buffers) {
    fixture f;
    setup_fixture(&f);
    rbuf *lent[RING_RECV_BUF_COUNT];
    uint32_t count_lent = 0;
    for (uint16_t bid = 0; bid < RING_RECV_BUF_COUNT; bid++) {
        rbuf *slot = worker_recv_begin(&f.w, bid, 1000);
        rbuf *l = worker_lend_recv_bytes(&f.w, slot->data, 1000);
        if (l != NULL) lent[count_lent++] = l;
        worker_recv_done(&f.w, slot);
    }
    /* the buffer being delivered counts as out too: RING_RECV_LEND_MAX lent, then copies */
    cr_assert_eq(count_lent, RING_RECV_LEND_MAX);
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), RING_RECV_BUF_COUNT - RING_RECV_LEND_MAX);
    cr_assert_eq(f.w.recv_out, RING_RECV_LEND_MAX);
    rbuf *slot = worker_recv_begin(&f.w, RING_RECV_BUF_COUNT - 1, 1000);
    cr_assert_null(worker_lend_recv_bytes(&f.w, slot->data, 1000), "copy instead: receives keep their buffers");
    worker_recv_done(&f.w, slot);
    for (uint32_t i = 0; i < count_lent; i++) rbuf_unref(lent[i]);
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), RING_RECV_LEND_MAX + 1);
    cr_assert_eq(f.w.recv_out, 0);
    worker_destroy(&f.w);
}

/* Sizing: a 64 KiB message with its largest client header (14 bytes) fits one
 * receive buffer, so it is delivered in place; every buffer starts on a cache
 * line and its rbuf header never overlaps the previous buffer's bytes. */
Test(ring, receive_buffers_hold_a_64_KiB_message_with_its_header) {
    cr_assert_geq(RING_RECV_BUF_BYTES, 65536u + 14u);
    fixture f;
    setup_fixture(&f);
    uintptr_t prev_end = 0;
    for (uint16_t bid = 0; bid < RING_RECV_BUF_COUNT; bid++) {
        rbuf *slot = worker_recv_begin(&f.w, bid, RING_RECV_BUF_BYTES);
        cr_assert_eq(slot->cap, RING_RECV_BUF_BYTES);
        cr_assert_eq((uintptr_t)slot->data % 64, 0, "buffer %u", bid);
        cr_assert_geq((uintptr_t)slot, prev_end, "buffer %u's header overlaps the previous bytes", bid);
        prev_end = (uintptr_t)slot->data + RING_RECV_BUF_BYTES;
        memset(slot->data, 0xab, RING_RECV_BUF_BYTES);   /* all of it is ours to fill */
        worker_recv_done(&f.w, slot);
    }
    cr_assert_eq(worker_reclaim_recv_buffers(&f.w), RING_RECV_BUF_COUNT);
    worker_destroy(&f.w);
}
