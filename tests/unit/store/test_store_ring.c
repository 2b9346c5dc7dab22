#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/ring.h"
#include "store/store.h"
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
