/*
 * Drives a store_log's flushes through a worker's io_uring: the write and
 * the fdatasync are submitted together, linked (IOSQE_IO_LINK), so group
 * commit costs one round trip: every op appended since the last flush shares
 * the fsync. One flush per log is in flight at a time (store_log's rule).
 *
 * A write with no fsync (the interval policy acks ops once they are written)
 * is a pwrite on the worker instead: page cache only, it costs less than the
 * ring's hand-off of a file write to an io-wq thread. Its completion is
 * reported at once, inside store_ring_kick, through the same on_cqe path and
 * with the same CQE a ring write would give: the owner must accept being
 * called from within its own kick (and must not kick again from there).
 *
 * The CQEs complete into the io's own records (write_done, fsync_done), which
 * call the owner's on_cqe; the io must stay alive until store_ring_busy is false.
 */
#ifndef RINGPAD_STORE_RING_H
#define RINGPAD_STORE_RING_H

#include "io/completion.h"
#include "store/store.h"

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct worker;
typedef struct store_ring_io store_ring_io;

/* One of a flush's CQEs on a worker's ring: the owner calls store_ring_on_cqe. */
typedef void (*store_ring_cqe_fn)(struct worker *w, store_ring_io *io, const struct io_uring_cqe *cqe,
                                  bool fsync_cqe);

struct store_ring_io {
    completion write_done;
    completion fsync_done;
    store_ring_cqe_fn on_cqe;
    store_log *log;
    uint8_t pending_cqes;          /* CQEs still to come for the flush in flight */
    bool has_write;
    bool has_fsync;
    int64_t write_result;
    int fsync_result;
    bool reporting;                /* an inline write's completion is being reported */
    uint64_t count_flushes;
    uint64_t count_inline_writes;  /* flushes written with pwrite on the worker */
    uint64_t count_failures;
};

void store_ring_io_init(store_ring_io *io, store_log *log, store_ring_cqe_fn on_cqe);

/* Which flush CQE this is, on a ring that is not a worker's (tests). */
bool store_ring_cqe_is_fsync(const store_ring_io *io, const struct io_uring_cqe *cqe);
bool store_ring_cqe_is_mine(const store_ring_io *io, const struct io_uring_cqe *cqe);
/* A CQE of some io's flush (a worker draining its ring at exit). */
bool store_ring_cqe_is_flush(const struct io_uring_cqe *cqe);

/* A flush is in flight: the log (and its owner) must not be freed. */
bool store_ring_busy(const store_ring_io *io);

/* Submits the log's next flush if it has one and none is in flight.
 * Returns 1 when SQEs were queued, 2 when the flush was a write done inline
 * and already reported through on_cqe, 0 when there was nothing to do, or
 * -EAGAIN when no SQE was free: the flush is then reported failed at once in
 * *failed (report it to the document like a completion). */
int store_ring_kick(struct worker *w, store_ring_io *io, int64_t now_ms, store_flush_result *failed);

/* One of the flush's CQEs. Returns 1 when the flush is complete and *result
 * is filled (report it to the document), 0 while a CQE is still to come. */
int store_ring_on_cqe(store_ring_io *io, const struct io_uring_cqe *cqe, bool fsync_cqe, int64_t now_ms,
                      store_flush_result *result);

/* Blocking: waits for the flush in flight (processing only this io's CQEs is
 * not possible on a shared ring, so callers use it after the loop stopped),
 * then flushes what is pending with pwrite + fdatasync. Shutdown only. */
int store_ring_drain_sync(store_log *log, int64_t now_ms);

#endif /* RINGPAD_STORE_RING_H */
