#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/ring.h"
#include "store/store.h"
#include "store/store_faults.h"
#include "store/store_ring.h"

/* A worker with just a ring and counters: enough for store_ring's SQEs. */
static worker W;
static metrics_worker M;
static char path[64];
static int fd = -1;
static store_log *lg;

static void setup(void) {
    memset(&W, 0, sizeof W);
    memset(&M, 0, sizeof M);
    W.m = &M;
    cr_assert_eq(io_uring_queue_init(64, &W.ring, 0), 0);
    strcpy(path, "/tmp/ringpad-store-ring-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
}

static void teardown(void) {
    store_log_free(lg);
    lg = NULL;
    io_uring_queue_exit(&W.ring);
    close(fd);
    unlink(path);
}

static void append(uint64_t v) {
    char id[16];
    snprintf(id, sizeof id, "r:%llu", (unsigned long long)v);
    store_record rec = {.base_version = v, .id = id, .id_len = strlen(id), .author = "a", .author_len = 1,
                        .op_json = "[\"x\"]", .op_len = 5};
    cr_assert_eq(store_log_append(lg, &rec), 0);
}

/* Submits, waits for the flush's CQEs, returns the completion. */
static store_flush_result complete(store_ring_io *io, int expect_cqes) {
    cr_assert_eq(io_uring_submit(&W.ring), expect_cqes);
    store_flush_result r;
    memset(&r, 0, sizeof r);
    int done = 0;
    for (int i = 0; i < expect_cqes; i++) {
        struct io_uring_cqe *cqe;
        cr_assert_eq(io_uring_wait_cqe(&W.ring, &cqe), 0);
        cr_assert(store_ring_cqe_is_mine(io, cqe));
        done = store_ring_on_cqe(io, cqe, store_ring_cqe_is_fsync(io, cqe), 0, &r);
        io_uring_cqe_seen(&W.ring, cqe);
        if (i + 1 < expect_cqes) cr_assert_eq(done, 0, "the flush waits for its last CQE");
    }
    cr_assert_eq(done, 1);
    return r;
}

TestSuite(store_ring, .init = setup, .fini = teardown);

Test(store_ring, write_and_fsync_linked_group_commit) {
    store_log_config cfg = store_log_config_default();
    cr_assert_eq(store_log_new(&cfg, fd, 0, 0, &lg), 0);
    store_ring_io io __attribute__((aligned(16)));
    store_ring_io_init(&io, lg, NULL);
    store_flush_result failed;
    /* a new segment: its header is the first write */
    cr_assert_eq(store_ring_kick(&W, &io, 0, &failed), 1);
    store_flush_result h = complete(&io, 2);
    cr_assert_eq(h.error, 0);
    cr_assert_eq(h.newly_durable_to, h.newly_durable_from, "no op yet");
    cr_assert_eq(store_ring_kick(&W, &io, 0, &failed), 0, "nothing to write");
    for (uint64_t v = 0; v < 3; v++) append(v);
    cr_assert_eq(store_ring_kick(&W, &io, 0, &failed), 1);
    cr_assert(store_ring_busy(&io));
    cr_assert_eq(store_ring_kick(&W, &io, 0, &failed), 0, "one flush in flight at a time");
    append(3);   /* arrives while the flush is in flight: the next group */
    store_flush_result r = complete(&io, 2);
    cr_assert_eq(r.error, 0);
    cr_assert_eq(r.newly_durable_from, 0);
    cr_assert_eq(r.newly_durable_to, 3, "three ops shared one fsync");
    cr_assert_not(store_ring_busy(&io));
    cr_assert_eq(store_ring_kick(&W, &io, 0, &failed), 1);
    r = complete(&io, 2);
    cr_assert_eq(r.newly_durable_to, 4);
    cr_assert(store_log_idle(lg));
    /* the file holds the header and four records */
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size);
    cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, (size_t)st.st_size, NULL, NULL, &rep), 0);
    cr_assert_eq(rep.count_records, 4);
    free(buf);
}

Test(store_ring, failed_write_reports_the_ops_and_a_retry_succeeds) {
    store_log_config cfg = store_log_config_default();
    /* a read-only descriptor: the write fails with EBADF */
    int ro = open(path, O_RDONLY);
    cr_assert_geq(ro, 0);
    cr_assert_eq(store_log_new(&cfg, ro, 0, 0, &lg), 0);
    store_ring_io io __attribute__((aligned(16)));
    store_ring_io_init(&io, lg, NULL);
    append(0);
    append(1);
    store_flush_result failed;
    cr_assert_eq(store_ring_kick(&W, &io, 0, &failed), 1);
    store_flush_result r = complete(&io, 2);
    cr_assert_eq(r.error, -EBADF);
    cr_assert_eq(r.failed_from, 0);
    cr_assert_eq(r.failed_to, 2);
    cr_assert(store_log_failed(lg));
    cr_assert_eq(io.count_failures, 1);
    close(ro);
}

Test(store_ring, drain_sync_writes_what_is_pending) {
    store_log_config cfg = store_log_config_default();
    cfg.fsync_policy = STORE_FSYNC_INTERVAL;
    cr_assert_eq(store_log_new(&cfg, fd, 0, 0, &lg), 0);
    append(0);
    cr_assert_not(store_log_idle(lg));
    cr_assert_eq(store_ring_drain_sync(lg, 0), 0);
    cr_assert(store_log_idle(lg));
    cr_assert_eq(store_log_synced_version(lg), 1);
}

/* The owner's side of an inline write: what its on_cqe saw, and the flush's
 * result (as docs does: the CQE may be rewritten by the fault plan first). */
typedef struct owner {
    store_ring_io io;
    store_fault_plan *faults;
    int calls;
    int32_t res;
    uint64_t user_data;
    bool fsync_cqe;
    int done;
    store_flush_result result;
} owner;

static void owner_on_cqe(worker *w, store_ring_io *io, const struct io_uring_cqe *cqe, bool fsync_cqe) {
    cr_assert_eq(w, &W);
    owner *o = (owner *)(void *)((char *)io - offsetof(owner, io));
    cr_assert(store_ring_busy(io), "reported while the flush is still in flight");
    struct io_uring_cqe c = *cqe;
    if (o->faults != NULL) {
        int f = store_fault_hit(o->faults, fsync_cqe ? STORE_POINT_LOG_FSYNC : STORE_POINT_LOG_WRITE);
        if (f == STORE_FAULT_SHORT && c.res > 1) c.res /= 2;
        else if (f < 0 && c.res >= 0) c.res = f;
    }
    o->calls++;
    o->res = c.res;
    o->user_data = c.user_data;
    o->fsync_cqe = fsync_cqe;
    o->done = store_ring_on_cqe(io, &c, fsync_cqe, 0, &o->result);
}

static owner O __attribute__((aligned(16)));

/* A new log on log_fd under the policy, owned by O (with the fault plan). */
static owner *own(store_fsync_policy policy, int log_fd, store_fault_plan *plan) {
    store_log_free(lg);
    lg = NULL;
    store_log_config cfg = store_log_config_default();
    cfg.fsync_policy = policy;
    cfg.fsync_interval_ms = 1000;
    cr_assert_eq(store_log_new(&cfg, log_fd, 0, 0, &lg), 0);
    memset(&O, 0, sizeof O);
    O.faults = plan;
    store_ring_io_init(&O.io, lg, owner_on_cqe);
    return &O;
}

Test(store_ring, a_write_without_fsync_is_done_and_reported_before_kick_returns) {
    owner *o = own(STORE_FSYNC_INTERVAL, fd, NULL);
    append(0);
    append(1);
    store_flush_result failed;
    /* t=0: no fsync due, so the write alone */
    cr_assert_eq(store_ring_kick(&W, &o->io, 0, &failed), 2);
    cr_assert_eq(io_uring_sq_ready(&W.ring), 0, "nothing went to the ring");
    cr_assert_eq(o->calls, 1);
    cr_assert_not(o->fsync_cqe);
    cr_assert(store_ring_cqe_is_mine(&o->io, &(struct io_uring_cqe){.user_data = o->user_data}),
              "the CQE names the io's write record, as a ring CQE would");
    cr_assert_eq(o->done, 1);
    cr_assert_eq(o->result.error, 0);
    cr_assert_eq(o->result.newly_durable_from, 0);
    cr_assert_eq(o->result.newly_durable_to, 2, "acked once written");
    cr_assert_not(store_ring_busy(&o->io));
    cr_assert_eq(o->io.count_inline_writes, 1);
    cr_assert_eq(o->io.write_result, o->res);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((int64_t)st.st_size, (int64_t)o->res, "the header and both records are in the file");
    cr_assert_eq(store_log_synced_version(lg), 0);

    /* the interval's fsync still goes through the ring, alone */
    cr_assert_eq(store_ring_kick(&W, &o->io, 1000, &failed), 1);
    cr_assert(store_ring_busy(&o->io));
    cr_assert_eq(io_uring_submit(&W.ring), 1);
    struct io_uring_cqe *cqe;
    cr_assert_eq(io_uring_wait_cqe(&W.ring, &cqe), 0);
    cr_assert(store_ring_cqe_is_fsync(&o->io, cqe));
    store_flush_result r;
    cr_assert_eq(store_ring_on_cqe(&o->io, cqe, true, 1000, &r), 1);
    io_uring_cqe_seen(&W.ring, cqe);
    cr_assert_eq(r.error, 0);
    cr_assert_eq(store_log_synced_version(lg), 2);
    cr_assert_eq(o->calls, 1, "a ring flush is reported when its CQE is reaped, not in kick");
}

Test(store_ring, fsync_always_keeps_the_write_linked_on_the_ring) {
    owner *o = own(STORE_FSYNC_ALWAYS, fd, NULL);
    append(0);
    store_flush_result failed;
    cr_assert_eq(store_ring_kick(&W, &o->io, 0, &failed), 1);
    cr_assert_eq(o->calls, 0);
    cr_assert_eq(o->io.count_inline_writes, 0);
    store_flush_result r = complete(&o->io, 2);
    cr_assert_eq(r.newly_durable_to, 1);
}

/* Runs one flush of ops [from, to) under the plan, inline or on the ring. */
static store_flush_result flush_under(store_fault_plan *plan, bool interval, uint64_t from, uint64_t to) {
    cr_assert_eq(ftruncate(fd, 0), 0);
    own(interval ? STORE_FSYNC_INTERVAL : STORE_FSYNC_ALWAYS, fd, plan);
    for (uint64_t v = from; v < to; v++) append(v);
    store_flush_result failed;
    int rc = store_ring_kick(&W, &O.io, 0, &failed);
    if (rc == 1) {
        cr_assert_eq(io_uring_submit(&W.ring), 2);
        for (int i = 0; i < 2; i++) {
            struct io_uring_cqe *cqe;
            cr_assert_eq(io_uring_wait_cqe(&W.ring, &cqe), 0);
            struct io_uring_cqe c = *cqe;
            io_uring_cqe_seen(&W.ring, cqe);
            owner_on_cqe(&W, &O.io, &c, store_ring_cqe_is_fsync(&O.io, &c));
        }
    } else {
        cr_assert_eq(rc, 2);
    }
    cr_assert_eq(O.done, 1);
    cr_assert_not(store_ring_busy(&O.io));
    cr_assert_eq(O.io.count_failures, O.result.error != 0 ? 1u : 0u);
    return O.result;
}

Test(store_ring, a_failed_inline_write_is_reported_like_the_rings) {
    char err[128];
    store_fault_plan plan;
    cr_assert_eq(store_fault_plan_parse("fail=log-write:ENOSPC:1:1", &plan, err, sizeof err), 0, "%s", err);
    store_flush_result inl = flush_under(&plan, true, 0, 3);
    cr_assert_eq(plan.passes[STORE_POINT_LOG_WRITE], 1, "the plan saw the inline write");
    cr_assert_eq(store_fault_plan_parse("fail=log-write:ENOSPC:1:1", &plan, err, sizeof err), 0, "%s", err);
    store_flush_result ring = flush_under(&plan, false, 0, 3);
    cr_assert_eq(inl.error, -ENOSPC);
    cr_assert_eq(ring.error, -ENOSPC);
    cr_assert_eq(inl.failed_from, ring.failed_from);
    cr_assert_eq(inl.failed_to, ring.failed_to);
    cr_assert_eq(inl.failed_to, 3, "every op not yet ackable is refused");
    cr_assert_eq(inl.newly_durable_to, inl.newly_durable_from);
}

Test(store_ring, a_short_inline_write_leaves_the_rest_for_the_next_flush) {
    char err[128];
    store_fault_plan plan;
    cr_assert_eq(store_fault_plan_parse("fail=log-write:SHORT:1:1", &plan, err, sizeof err), 0, "%s", err);
    store_flush_result r = flush_under(&plan, true, 0, 2);
    cr_assert_eq(r.error, 0);
    cr_assert_eq(r.newly_durable_to, 0, "nothing ackable from half a write");
    cr_assert_not(store_log_failed(lg));
    /* the rest goes at the next kick, inline too */
    int32_t first = O.res;
    store_flush_result failed;
    cr_assert_eq(store_ring_kick(&W, &O.io, 0, &failed), 2);
    cr_assert_eq(O.calls, 2);
    cr_assert_eq(O.result.error, 0);
    cr_assert_eq(O.result.newly_durable_to, 2);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((int64_t)st.st_size, (int64_t)first + O.res, "the rest went right after the half");
}

Test(store_ring, an_inline_write_that_the_kernel_refuses_fails_the_flush) {
    /* a read-only descriptor: pwrite fails with EBADF, as the ring's write did */
    int ro = open(path, O_RDONLY);
    cr_assert_geq(ro, 0);
    owner *o = own(STORE_FSYNC_INTERVAL, ro, NULL);
    append(0);
    store_flush_result failed;
    cr_assert_eq(store_ring_kick(&W, &o->io, 0, &failed), 2);
    cr_assert_eq(o->res, -EBADF);
    cr_assert_eq(o->result.error, -EBADF);
    cr_assert_eq(o->result.failed_from, 0);
    cr_assert_eq(o->result.failed_to, 1);
    cr_assert(store_log_failed(lg));
    close(ro);
}
