#include "store/store_ring.h"

#include "io/ring.h"

#include <assert.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

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

/* A write nobody fsyncs before the ack lands in the page cache in a few
 * microseconds: done here, on the worker, rather than as an SQE the kernel
 * would hand to an io-wq thread (a wake-up and a context switch that cost
 * far more than the copy). The outcome is reported as the ring's CQE would
 * be, through the same completion record, so the owner (and its fault
 * injection) cannot tell the two apart. */
static int write_inline(worker *w, store_ring_io *io, const store_flush *f) {
    assert(f->iov.iov_len > 0 && f->iov.iov_len <= INT32_MAX && io->on_cqe != NULL);
    ssize_t n = -1;
    /* bounded: a regular file's pwrite is interrupted only by a signal */
    for (int i = 0; i < 4; i++) {
        n = pwrite(f->fd, f->iov.iov_base, f->iov.iov_len, (off_t)f->offset_bytes);
        if (n >= 0 || errno != EINTR) break;
    }
    struct io_uring_cqe cqe;
    memset(&cqe, 0, sizeof cqe);
    cqe.user_data = completion_ud(&io->write_done, 0);
    cqe.res = n >= 0 ? (int32_t)n : -errno;
    io->pending_cqes = 1;
    io->count_flushes++;
    io->count_inline_writes++;
    io->reporting = true;
    io->write_done.fn(w, &io->write_done, &cqe);
    io->reporting = false;
    /* the owner completed the flush (store_ring_on_cqe) before returning */
    assert(io->pending_cqes == 0);
    return 2;
}

int store_ring_kick(worker *w, store_ring_io *io, int64_t now_ms, store_flush_result *failed) {
    /* the owner must not start a flush while it is told of one */
    assert(!io->reporting);
    if (io->pending_cqes > 0 || io->log == NULL) return 0;
    store_flush f;
    if (store_log_prepare_flush(io->log, now_ms, &f) <= 0) return 0;
    io->has_write = f.iov.iov_len > 0;
    io->has_fsync = f.fsync;
    io->write_result = 0;
    io->fsync_result = 0;
    if (!f.fsync) return write_inline(w, io, &f);
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
