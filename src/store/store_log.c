/*
 * The append log's state machine: group commit without doing any I/O itself.
 *
 * Records are encoded into `pending`. A flush moves pending to `flight` (the
 * bytes handed to the loop) so appends can continue while the write is in the
 * kernel; one flush is in flight at a time. Bytes leave `flight` only when
 * they are known written (and, under the always policy, fsynced): a failed
 * write or fsync keeps them for a retry at the same file offset, so nothing
 * already applied to the document is ever dropped from the log.
 */
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Buffers up to this size are kept across flushes (enough for a busy
 * document's batches of small ops); larger ones are freed when written. */
#define STORE_LOG_KEEP_BUFFER_BYTES (256u * 1024u)

typedef struct store_bytes {
    uint8_t *data;
    size_t len;
    size_t cap;
} store_bytes;

struct store_log {
    store_log_config config;
    int fd;
    uint64_t end_offset;        /* file offset where the next write goes */
    uint64_t next_version;      /* base of the next appended record */

    store_bytes pending;        /* appended, not yet handed out */
    uint64_t pending_from;      /* base of pending's first record */

    store_bytes flight;         /* handed out (or waiting for a retry) */
    size_t flight_written;      /* bytes of flight already in the file */
    uint64_t flight_offset;     /* file offset of flight's first byte */
    uint64_t flight_from, flight_to; /* records [from, to) in flight */

    bool in_flight;             /* a prepared flush awaits flush_done */
    size_t submitted_write_len; /* of that flush */
    bool submitted_fsync;
    uint64_t submitted_sync_to; /* versions the fsync covers if it succeeds */

    uint64_t written_version;   /* bases < this are in the file */
    uint64_t synced_version;    /* bases < this are fsynced */
    uint64_t failed_reported_to;/* bases < this were reported failed (never ack them) */
    bool failed;
    bool fsync_requested;       /* interval policy: fsync at the next flush */
    bool fsync_deferred;        /* interval policy: a due fsync let a write go first */
    int last_error;
    int64_t last_fsync_ms;
};

store_log_config store_log_config_default(void) {
    return (store_log_config){
        .fsync_policy = STORE_FSYNC_ALWAYS,
        .fsync_interval_ms = 1000,
        .max_pending_bytes = 8u * 1024u * 1024u,
    };
}

static int store_bytes_reserve(store_bytes *b, size_t extra) {
    if (b->cap - b->len >= extra)
        return 0;
    size_t cap = b->cap == 0 ? 4096 : b->cap;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    /* A large record gets the room it needs (in 64 KiB steps), not twice it. */
    if (cap > STORE_LOG_KEEP_BUFFER_BYTES && extra > b->cap) {
        size_t need = b->len + extra;
        if (need > SIZE_MAX - 65535)
            return -ENOMEM;
        cap = (need + 65535) & ~(size_t)65535;
    }
    uint8_t *data = realloc(b->data, cap);
    if (data == NULL)
        return -ENOMEM;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int store_log_put_header(store_log *log) {
    int rc = store_bytes_reserve(&log->pending, STORE_SEGMENT_HEADER_BYTES);
    if (rc != 0)
        return rc;
    store_segment_header_encode(log->next_version, log->pending.data + log->pending.len);
    log->pending.len += STORE_SEGMENT_HEADER_BYTES;
    return 0;
}

int store_log_new(const store_log_config *config, int fd, uint64_t end_offset_bytes,
                  uint64_t next_version, store_log **out) {
    if (fd < 0 || config == NULL || out == NULL)
        return -EINVAL;
    if (config->fsync_policy != STORE_FSYNC_ALWAYS && config->fsync_policy != STORE_FSYNC_INTERVAL)
        return -EINVAL;
    store_log *log = calloc(1, sizeof *log);
    if (log == NULL)
        return -ENOMEM;
    log->config = *config;
    log->fd = fd;
    log->end_offset = end_offset_bytes;
    log->next_version = next_version;
    log->pending_from = next_version;
    log->written_version = next_version;
    log->synced_version = next_version;
    log->failed_reported_to = next_version;
    if (end_offset_bytes == 0) {
        int rc = store_log_put_header(log);
        if (rc != 0) {
            free(log);
            return rc;
        }
    }
    *out = log;
    return 0;
}

void store_log_free(store_log *log) {
    if (log == NULL)
        return;
    free(log->pending.data);
    free(log->flight.data);
    free(log);
}

bool store_log_accepting(const store_log *log) {
    return !log->failed && log->pending.len < log->config.max_pending_bytes;
}

int store_log_append(store_log *log, const store_record *rec) {
    if (rec->base_version != log->next_version)
        return -EINVAL;
    size_t size = store_record_size(rec);
    if (size == 0)
        return -EINVAL;
    int rc = store_bytes_reserve(&log->pending, size);
    if (rc != 0)
        return rc;
    size_t written = 0;
    rc = store_record_encode(rec, log->pending.data + log->pending.len, size, &written);
    assert(rc == 0 && written == size);
    log->pending.len += written;
    log->next_version++;
    return 0;
}

/* The log's books after every step of a flush: synced <= written <= appended
 * (next_version), and while bytes are in flight the file offset is where
 * they started plus what of them reached the file. */
static void check_books(const store_log *log) {
    assert(log->synced_version <= log->written_version);
    assert(log->written_version <= log->next_version);
    assert(log->pending_from <= log->next_version);
    assert(log->failed_reported_to <= log->next_version);
    assert(log->flight_written <= log->flight.len);
    if (log->flight.len > 0) {
        assert(log->flight_from <= log->flight_to && log->flight_to == log->pending_from);
        assert(log->end_offset == log->flight_offset + log->flight_written);
    }
}

static uint64_t store_log_ackable(const store_log *log) {
    return log->config.fsync_policy == STORE_FSYNC_ALWAYS ? log->synced_version
                                                          : log->written_version;
}

void store_log_request_fsync(store_log *log) {
    log->fsync_requested = true;
}

int64_t store_log_fsync_due_ms(const store_log *log) {
    if (log->config.fsync_policy != STORE_FSYNC_INTERVAL)
        return -1;
    bool unsynced = log->synced_version < log->written_version || log->pending.len > 0 ||
                    log->flight.len > 0;
    if (!unsynced)
        return -1;
    if (log->fsync_requested || log->failed)
        return log->last_fsync_ms;
    return log->last_fsync_ms + (int64_t)log->config.fsync_interval_ms;
}

int store_log_prepare_flush(store_log *log, int64_t now_ms, store_flush *out) {
    if (log->in_flight)
        return 0;
    if (log->flight.len == 0 && log->pending.len > 0) {
        store_bytes swap = log->flight;
        log->flight = log->pending;
        log->pending = swap;
        log->pending.len = 0;
        log->flight_written = 0;
        log->flight_offset = log->end_offset;
        log->flight_from = log->pending_from;
        log->flight_to = log->next_version;
        log->pending_from = log->next_version;
    }
    size_t write_len = log->flight.len - log->flight_written;
    /* What an fsync submitted now would make durable. */
    uint64_t sync_to = write_len > 0 ? log->flight_to : log->written_version;
    bool fsync;
    if (log->config.fsync_policy == STORE_FSYNC_ALWAYS) {
        fsync = write_len > 0 || log->synced_version < log->written_version;
    } else {
        bool due = log->failed || log->fsync_requested ||
                   now_ms - log->last_fsync_ms >= (int64_t)log->config.fsync_interval_ms;
        fsync = due && log->synced_version < sync_to;
        /* The write is what acks wait for; linked, it would complete only
         * with the fdatasync. So the fsync follows it as a flush of its own,
         * unless writes already kept it waiting once: then it rides along,
         * so a steady stream of writes cannot postpone it for ever. */
        if (fsync && write_len > 0 && !log->fsync_deferred) {
            log->fsync_deferred = true;
            fsync = false;
        }
    }
    if (fsync)
        log->fsync_deferred = false;
    if (write_len == 0 && !fsync)
        return 0;
    out->fd = log->fd;
    out->iov.iov_base = log->flight.data + log->flight_written;
    out->iov.iov_len = write_len;
    out->offset_bytes = log->end_offset;
    out->fsync = fsync;
    log->in_flight = true;
    log->submitted_write_len = write_len;
    log->submitted_fsync = fsync;
    log->submitted_sync_to = sync_to;
    check_books(log);
    return 1;
}

static void store_log_fail(store_log *log, int err, store_flush_result *result) {
    log->failed = true;
    log->last_error = err;
    result->error = err;
    /* Everything not yet ackable, and not reported before, is reported failed:
     * the session answers storage_unavailable and never acks it. */
    uint64_t from = store_log_ackable(log);
    if (from < log->failed_reported_to)
        from = log->failed_reported_to;
    if (from < log->next_version) {
        result->failed_from = from;
        result->failed_to = log->next_version;
        log->failed_reported_to = log->next_version;
    }
}

static void store_log_flight_done(store_log *log) {
    log->written_version = log->flight_to;
    log->flight.len = 0;
    /* A flush of large ops leaves a large buffer: not kept for the next one
     * (a document's memory is what it holds, not its largest flush). */
    if (log->flight.cap > STORE_LOG_KEEP_BUFFER_BYTES) {
        free(log->flight.data);
        log->flight = (store_bytes){ 0 };
    }
    log->flight_written = 0;
    log->flight_from = log->flight_to;
}

/* 0, or the negative errno this completion failed with. */
static int store_log_complete(store_log *log, int64_t now_ms, int64_t write_result,
                              int fsync_result) {
    if (log->submitted_write_len > 0) {
        if (write_result < 0)
            return (int)write_result;
        /* No progress on a regular file (or a nonsense count) is EIO, so a
         * retry loop cannot spin. */
        if (write_result == 0 || (uint64_t)write_result > log->submitted_write_len)
            return -EIO;
        log->flight_written += (size_t)write_result;
        log->end_offset += (uint64_t)write_result;
        /* A short write breaks the link: the fsync did not run. The rest is
         * offered by the next flush; this is not a failure. */
        if ((size_t)write_result < log->submitted_write_len)
            return 0;
    }
    if (!log->submitted_fsync) {
        store_log_flight_done(log);
        return 0;
    }
    if (fsync_result < 0) {
        if (log->config.fsync_policy == STORE_FSYNC_ALWAYS && log->flight.len > 0) {
            /* After a failed fsync the kernel may have dropped the dirty pages:
             * write the same bytes again rather than trust them. */
            log->flight_written = 0;
            log->end_offset = log->flight_offset;
        } else if (log->submitted_write_len > 0) {
            store_log_flight_done(log);
        }
        return fsync_result;
    }
    if (log->submitted_write_len > 0)
        store_log_flight_done(log);
    if (log->synced_version < log->submitted_sync_to)
        log->synced_version = log->submitted_sync_to;
    log->last_fsync_ms = now_ms;
    if (log->synced_version == log->next_version)
        log->fsync_requested = false;
    return 0;
}

int store_log_flush_done(store_log *log, int64_t now_ms, int64_t write_result,
                         int fsync_result, store_flush_result *result) {
    store_flush_result local;
    if (result == NULL)
        result = &local;
    memset(result, 0, sizeof *result);
    if (!log->in_flight)
        return -EINVAL;
    log->in_flight = false;
    uint64_t before = store_log_ackable(log);
    int err = store_log_complete(log, now_ms, write_result, fsync_result);
    if (err != 0) {
        store_log_fail(log, err, result);
    } else if (log->flight.len == 0 && (log->config.fsync_policy == STORE_FSYNC_INTERVAL ||
                                        log->synced_version >= log->written_version)) {
        /* Everything offered reached the file (and the disk, for always). */
        log->failed = false;
        log->last_error = 0;
    }
    uint64_t after = store_log_ackable(log);
    uint64_t from = before < log->failed_reported_to ? log->failed_reported_to : before;
    result->newly_durable_from = from < after ? from : after;
    result->newly_durable_to = after;
    result->durable_version = after;
    assert(after >= before);   /* what was durable stays durable */
    check_books(log);
    return 0;
}

uint64_t store_log_durable_version(const store_log *log) {
    return store_log_ackable(log);
}

uint64_t store_log_synced_version(const store_log *log) {
    return log->synced_version;
}

uint64_t store_log_next_version(const store_log *log) {
    return log->next_version;
}

bool store_log_failed(const store_log *log) {
    return log->failed;
}

int store_log_last_error(const store_log *log) {
    return log->last_error;
}

bool store_log_idle(const store_log *log) {
    return !log->in_flight && log->pending.len == 0 && log->flight.len == 0 &&
           log->synced_version == log->next_version && !log->failed;
}

uint64_t store_log_end_offset(const store_log *log) {
    return log->end_offset;
}

int store_log_fd(const store_log *log) {
    return log->fd;
}

int store_log_switch_segment_pending(store_log *log, int fd, uint64_t start_version) {
    if (fd < 0)
        return -EINVAL;
    if (log->in_flight || log->flight.len > 0 || log->failed)
        return -EBUSY;
    /* Everything before start_version is in the old segment and fsynced;
     * everything from it on is still pending: it goes to the new one. */
    if (log->written_version != start_version || log->synced_version != start_version ||
        log->pending_from != start_version)
        return -EINVAL;
    int rc = store_bytes_reserve(&log->pending, STORE_SEGMENT_HEADER_BYTES);
    if (rc != 0)
        return rc;
    if (log->pending.len > 0)
        memmove(log->pending.data + STORE_SEGMENT_HEADER_BYTES, log->pending.data, log->pending.len);
    store_segment_header_encode(start_version, log->pending.data);
    log->pending.len += STORE_SEGMENT_HEADER_BYTES;
    log->fd = fd;
    log->end_offset = 0;
    return 0;
}
