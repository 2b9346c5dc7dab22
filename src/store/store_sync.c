/*
 * The synchronous driver of the append log: the same prepare -> I/O -> done
 * protocol the worker's io_uring follows, with pwrite and fdatasync. Used by
 * tests (with fault injection), at startup and by compaction.
 */
#include "store/store.h"

#include <errno.h>
#include <unistd.h>

/* Writes all of iov (looping over partial pwrites, as the ring would resubmit). */
static int64_t store_sync_pwrite(const store_flush *f, store_sync_faults *faults) {
    const uint8_t *p = f->iov.iov_base;
    size_t len = f->iov.iov_len;
    if (faults != NULL && faults->fail_write_count > 0) {
        faults->fail_write_count--;
        if (faults->short_write_bytes > 0 && faults->short_write_bytes < len) {
            ssize_t n = pwrite(f->fd, p, faults->short_write_bytes, (off_t)f->offset_bytes);
            if (n < 0)
                return -errno;
            if (faults->fail_write_errno == 0)
                return n; /* a plain short write */
        }
        return -(int64_t)faults->fail_write_errno;
    }
    size_t done = 0;
    /* Bounded: every round writes at least one byte or returns. */
    while (done < len) {
        ssize_t n = pwrite(f->fd, p + done, len - done, (off_t)(f->offset_bytes + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return done > 0 ? (int64_t)done : -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

int store_sync_flush(store_log *log, int64_t now_ms, store_sync_faults *faults,
                     store_flush_result *result) {
    store_flush_result local;
    if (result == NULL)
        result = &local;
    store_flush f;
    int rc = store_log_prepare_flush(log, now_ms, &f);
    if (rc <= 0) {
        if (rc == 0) {
            *result = (store_flush_result){0};
            result->durable_version = store_log_durable_version(log);
        }
        return rc;
    }
    int64_t wres = 0;
    int fres = 0;
    if (f.iov.iov_len > 0)
        wres = store_sync_pwrite(&f, faults);
    bool write_ok = f.iov.iov_len == 0 || wres == (int64_t)f.iov.iov_len;
    if (f.fsync) {
        if (!write_ok) {
            fres = -ECANCELED; /* the link is broken, as on the ring */
        } else if (faults != NULL && faults->fail_fsync_count > 0) {
            faults->fail_fsync_count--;
            fres = -faults->fail_fsync_errno;
        } else if (fdatasync(f.fd) != 0) {
            fres = -errno;
        }
    }
    rc = store_log_flush_done(log, now_ms, wres, fres, result);
    if (rc != 0)
        return rc;
    return result->error;
}
