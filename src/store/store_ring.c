#include "store/store_ring.h"

#include "io/ring.h"

#include <assert.h>

#include <errno.h>
#include <string.h>

static void on_write(struct worker *w, completion *self, const struct io_uring_cqe *cqe) {
    store_ring_io *io = completion_owner(self, store_ring_io, write_done);
    io->on_cqe(w, io, cqe, false);
}

static void on_fsync(struct worker *w, completion *self, const struct io_uring_cqe *cqe) {
    store_ring_io *io = completion_owner(self, store_ring_io, fsync_done);
    io->on_cqe(w, io, cqe, true);
}

void store_ring_io_init(store_ring_io *io, store_log *log, store_ring_cqe_fn on_cqe) {
    memset(io, 0, sizeof *io);
    io->write_done.fn = on_write;
    io->fsync_done.fn = on_fsync;
    io->on_cqe = on_cqe;
    io->log = log;
}

bool store_ring_cqe_is_fsync(const store_ring_io *io, const struct io_uring_cqe *cqe) {
    return completion_of(cqe->user_data) == &io->fsync_done;
}

bool store_ring_cqe_is_flush(const struct io_uring_cqe *cqe) {
    const completion *c = completion_of(cqe->user_data);
    return c != NULL && (c->fn == on_write || c->fn == on_fsync);
}

bool store_ring_cqe_is_mine(const store_ring_io *io, const struct io_uring_cqe *cqe) {
    const completion *c = completion_of(cqe->user_data);
    return c == &io->write_done || c == &io->fsync_done;
}

bool store_ring_busy(const store_ring_io *io) { return io->pending_cqes > 0; }

int store_ring_kick(worker *w, store_ring_io *io, int64_t now_ms, store_flush_result *failed) {
    if (io->pending_cqes > 0 || io->log == NULL) return 0;
    store_flush f;
    if (store_log_prepare_flush(io->log, now_ms, &f) <= 0) return 0;
    io->has_write = f.iov.iov_len > 0;
    io->has_fsync = f.fsync;
    io->write_result = 0;
    io->fsync_result = 0;
    struct io_uring_sqe *wsqe = NULL, *fsqe = NULL;
    if (io->has_write) wsqe = worker_get_sqe(w);
    if (io->has_fsync && (!io->has_write || wsqe != NULL)) fsqe = worker_get_sqe(w);
    if ((io->has_write && wsqe == NULL) || (io->has_fsync && fsqe == NULL)) {
        /* An SQE already taken becomes a no-op; the flush fails like an I/O error. */
        if (wsqe != NULL) {
            io_uring_prep_nop(wsqe);
            completion_set(wsqe, NULL);
        }
        memset(failed, 0, sizeof *failed);
        store_log_flush_done(io->log, now_ms, io->has_write ? -EAGAIN : 0, io->has_write ? -ECANCELED : -EAGAIN,
                             failed);
        io->count_failures++;
        return -EAGAIN;
    }
    if (wsqe != NULL) {
        io_uring_prep_write(wsqe, f.fd, f.iov.iov_base, (unsigned)f.iov.iov_len, f.offset_bytes);
        completion_set(wsqe, &io->write_done);
        if (fsqe != NULL) wsqe->flags |= IOSQE_IO_LINK;
        io->pending_cqes++;
    }
    if (fsqe != NULL) {
        io_uring_prep_fsync(fsqe, f.fd, IORING_FSYNC_DATASYNC);
        completion_set(fsqe, &io->fsync_done);
        io->pending_cqes++;
    }
    io->count_flushes++;
    return 1;
}

int store_ring_on_cqe(store_ring_io *io, const struct io_uring_cqe *cqe, bool fsync_cqe, int64_t now_ms,
                      store_flush_result *result) {
    assert(io->pending_cqes > 0 && io->pending_cqes <= 2);
    if (fsync_cqe) io->fsync_result = cqe->res;
    else io->write_result = cqe->res;
    io->pending_cqes--;
    if (io->pending_cqes > 0) return 0;
    memset(result, 0, sizeof *result);
    store_log_flush_done(io->log, now_ms, io->write_result, io->fsync_result, result);
    if (result->error != 0) io->count_failures++;
    return 1;
}

int store_ring_drain_sync(store_log *log, int64_t now_ms) {
    store_log_request_fsync(log);
    int rc = 0;
    /* bounded: each round writes the pending bytes or fails */
    for (int i = 0; i < 4 && !store_log_idle(log); i++) {
        rc = store_sync_flush(log, now_ms, NULL, NULL);
        if (rc != 0) break;
    }
    return rc;
}
