/*
 * ringpad durable storage: a per-document append-only op log plus snapshots.
 *
 * Layout under the data directory (see docname.h for the name mapping):
 *
 *   <data-dir>/<file-name>/ckpt.<20-digit v>   checkpoint: the text at version v
 *   <data-dir>/<file-name>/ckpt.tmp            a checkpoint being written
 *   <data-dir>/<file-name>/snapshot            an older release's single checkpoint
 *                                              (renamed to ckpt.<v> at load)
 *   <data-dir>/<file-name>/log.<20-digit v>    log segment whose first record has base v
 *   <data-dir>/%deleted%<file-name>/           a document being deleted (never listed)
 *
 * Log segment = a 24-byte header (magic "RPLOG001", start version, CRC32C)
 * followed by records. Each record is framed as
 *
 *   u32 magic 0x31525052 ("RPR1") | u32 payload_len | u32 crc32c(len || payload) | payload
 *
 * and the payload holds: u8 kind (1 = op), u64 base_version, i64 time_ms,
 * u16 id_len + id, u16 author_len + author, u32 op_len + op (canonical JSON).
 * All integers little-endian.
 *
 * The layer never blocks a worker: appending only encodes into a buffer; the
 * worker's loop asks for what to submit (store_log_prepare_flush), submits a
 * write + fsync linked with IOSQE_IO_LINK, and reports completion
 * (store_log_flush_done). store_sync_flush drives the same protocol with
 * pwrite/fdatasync for tests and for blocking contexts (startup, tools).
 *
 * Errors: 0 or a negative errno (-EINVAL, -ENOBUFS, -EBUSY, -EIO, -ENOSPC, ...)
 * or a negative store_err for format faults; store_err_str() names both.
 */
#ifndef RINGPAD_STORE_H
#define RINGPAD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ringpad/ot.h"

/* Format errors live below errno's range so both fit in one int. */
typedef enum store_err {
    STORE_ERR_TORN = -1001,        /* the bytes end in the middle of a record */
    STORE_ERR_CRC = -1002,         /* checksum mismatch */
    STORE_ERR_MAGIC = -1003,       /* no record/segment/snapshot magic where one must be */
    STORE_ERR_MALFORMED = -1004,   /* CRC is right but the payload does not parse */
    STORE_ERR_TOO_LARGE = -1005,   /* a record beyond STORE_MAX_RECORD_BYTES */
    STORE_ERR_VERSION_GAP = -1006, /* records are not consecutive versions */
    STORE_ERR_CORRUPT = -1007,     /* a damaged record followed by valid data */
    STORE_ERR_REPLAY = -1008,      /* a valid record the OT engine refuses to apply */
    STORE_ERR_MISSING = -1009,     /* the log ends before a version the document is known to have reached */
} store_err;

const char *store_err_str(int err);

#define STORE_SEGMENT_HEADER_BYTES 24u
#define STORE_RECORD_HEADER_BYTES 12u
#define STORE_RECORD_FIXED_BYTES 25u      /* kind + base + time + 2 + 2 + 4 */
#define STORE_MAX_ID_BYTES 65535u
#define STORE_MAX_AUTHOR_BYTES 65535u
#define STORE_MAX_RECORD_BYTES (64u * 1024u * 1024u)
#define STORE_MAX_SNAPSHOT_TEXT_BYTES (1ull << 36)

/* ---- Records --------------------------------------------------------------- */

/* One logged op. Decoding fills the pointers with views into the input. */
typedef struct store_record {
    uint64_t base_version;   /* the op took the document from this version to +1 */
    int64_t time_ms;
    const char *id;
    size_t id_len;
    const char *author;
    size_t author_len;
    const char *op_json;     /* the op as applied, ot_op_to_json form */
    size_t op_len;
} store_record;

/* Framed size of a record (header + payload), or 0 when a field is too long. */
size_t store_record_size(const store_record *rec);
/* Encodes one framed record into out (cap bytes); *written gets its size. */
int store_record_encode(const store_record *rec, uint8_t *out, size_t cap, size_t *written);
/* Decodes the framed record at the start of buf. *consumed gets its size.
 * STORE_ERR_TORN when buf ends inside it. */
int store_record_decode(const uint8_t *buf, size_t len, store_record *out, size_t *consumed);

/* Segment header. */
void store_segment_header_encode(uint64_t start_version, uint8_t out[STORE_SEGMENT_HEADER_BYTES]);
int store_segment_header_decode(const uint8_t *buf, size_t len, uint64_t *start_version);

/* ---- Scanning a segment's bytes ---------------------------------------------- */

/* The outcome of checking one segment image. */
typedef struct store_scan_report {
    uint64_t start_version;     /* from the header */
    uint64_t next_version;      /* base of the record that would come next */
    uint64_t count_records;
    size_t valid_len_bytes;     /* bytes up to the end of the last good record */
    bool torn_tail;             /* bytes after valid_len_bytes are a torn write */
    int error;                  /* 0, or why the segment is unusable */
    size_t error_offset_bytes;  /* where the fault is (when error != 0) */
} store_scan_report;

typedef int (*store_record_fn)(void *ctx, const store_record *rec, size_t offset_bytes);

/* Checks every record of one segment image and calls fn (may be NULL) for each
 * good one in order; fn returning non-zero stops the scan with that value.
 * A damaged record (torn, bad CRC, bad magic) is a torn tail only when no
 * valid record follows it anywhere in the image; otherwise STORE_ERR_CORRUPT at
 * its offset. A record whose base is not the previous one + 1 (the first: the
 * header's start version) is STORE_ERR_VERSION_GAP. An empty image is a valid,
 * empty segment; a short header is a torn tail at offset 0. */
int store_scan_segment(const uint8_t *buf, size_t len, store_record_fn fn, void *ctx,
                       store_scan_report *report);

/* ---- Snapshots --------------------------------------------------------------- */
/* "RPSNAP01" | u64 version | u64 text_len | text | u32 crc32c(all before it). */

#define STORE_SNAPSHOT_OVERHEAD_BYTES 28u

/* Size of the snapshot image of a text of text_len bytes. */
size_t store_snapshot_size(size_t text_len);
/* Writes the snapshot image into out (cap >= store_snapshot_size). */
int store_snapshot_encode(uint64_t version, const char *text, size_t text_len, uint8_t *out,
                          size_t cap, size_t *written);
/* Validates a snapshot image; *text points into buf. */
int store_snapshot_decode(const uint8_t *buf, size_t len, uint64_t *version, const char **text,
                          size_t *text_len);

/* ---- The append log: group commit through any I/O engine ----------------------- */

typedef enum store_fsync_policy {
    STORE_FSYNC_ALWAYS = 0,   /* acks wait for fsync; every write is linked to an fsync */
    STORE_FSYNC_INTERVAL = 1, /* acks after write; fsync at most every fsync_interval_ms, in a
                                 flush of its own (linked only once writes kept it waiting) */
} store_fsync_policy;

typedef struct store_log_config {
    store_fsync_policy fsync_policy;
    uint32_t fsync_interval_ms;      /* STORE_FSYNC_INTERVAL only */
    size_t max_pending_bytes;        /* buffered bytes past which store_log_accepting says no */
} store_log_config;

/* always, 1000 ms, 8 MiB. */
store_log_config store_log_config_default(void);

typedef struct store_log store_log;

/* A log appending to `fd` (a segment file, owned by the caller: the log never
 * closes it) at end_offset_bytes. The next record must have base next_version.
 * When end_offset_bytes == 0 the segment header (start = next_version) is
 * written first. */
int store_log_new(const store_log_config *config, int fd, uint64_t end_offset_bytes,
                  uint64_t next_version, store_log **out);
void store_log_free(store_log *log);

/* Call before submitting an op to the OT engine: false while the log is failed
 * (answer storage_unavailable) or while max_pending_bytes are waiting to be
 * written (back-pressure). Checking first keeps the document and the log in
 * step: once an op is applied, its append must not be refused. */
bool store_log_accepting(const store_log *log);

/* Encodes a record into the pending buffer (nothing is written yet). Only
 * -EINVAL (base_version is not the next version, or a field is too long) or
 * -ENOMEM; max_pending_bytes is enforced by store_log_accepting, not here. */
int store_log_append(store_log *log, const store_record *rec);

/* What the loop should submit. When iov.iov_len > 0: write iov at offset to fd;
 * when fsync: an fsync (fdatasync) of fd, linked after the write (IOSQE_IO_LINK)
 * if there is one. No fsync is a write the acks wait for alone. */
typedef struct store_flush {
    int fd;
    struct iovec iov;
    uint64_t offset_bytes;
    bool fsync;
} store_flush;

/* 1 and *out filled when there is something to submit, 0 when there is not (or
 * a flush is already in flight: only one at a time). now_ms drives the
 * interval policy. While the log is failed, the unwritten records are offered
 * again (same bytes, same offset), so retrying is just calling this again. */
int store_log_prepare_flush(store_log *log, int64_t now_ms, store_flush *out);

/* Versions whose durability changed in one completion. */
typedef struct store_flush_result {
    uint64_t durable_version;  /* ackable watermark after this completion */
    uint64_t newly_durable_from, newly_durable_to; /* [from, to): may be acked now */
    uint64_t failed_from, failed_to;  /* [from, to): must get storage_unavailable */
    int error;                         /* 0 or the negative errno that failed */
} store_flush_result;

/* Reports the completion of the flush from store_log_prepare_flush.
 * write_result: bytes written or -errno (ignored when nothing was written);
 * fsync_result: 0 or -errno (ignored when no fsync was asked or the write was
 * short; on the ring a broken link gives -ECANCELED). Returns -EINVAL when no
 * flush was prepared; the I/O outcome is in *result.
 *
 * A short write keeps the remainder for the next flush (not a failure). A
 * failed write or fsync puts the log in the failed state: every record not yet
 * ackable is reported in [failed_from, failed_to) exactly once: answer
 * storage_unavailable, never ack them. They are NOT dropped (they are applied
 * in the document): they stay buffered and are retried at the same offset, so
 * once a retry succeeds they are in the log, and a client resending the same
 * op id gets the duplicate ack. Reported-failed records never appear in a
 * later newly_durable range. After a failed fsync under `always` the whole
 * write is redone (the kernel may have dropped the dirty pages). Under
 * `interval` the already-acked unsynced bytes are not rewritten: that policy
 * accepts losing up to an interval of acked ops anyway. The first flush that
 * fully succeeds clears the failed state. */
int store_log_flush_done(store_log *log, int64_t now_ms, int64_t write_result,
                         int fsync_result, store_flush_result *result);

/* Every op with base < this is ackable under the policy (written + fsynced for
 * always; written for interval). */
uint64_t store_log_durable_version(const store_log *log);
/* Every op with base < this has been fsynced. */
uint64_t store_log_synced_version(const store_log *log);
/* Base version the next appended record must have. */
uint64_t store_log_next_version(const store_log *log);
/* The last flush failed and no flush succeeded since (refuse ops: storage_unavailable). */
bool store_log_failed(const store_log *log);
/* The errno of the failure (negative), 0 when healthy. */
int store_log_last_error(const store_log *log);
/* Interval policy: the next flush fsyncs whatever the clock says (shutdown,
 * compaction). No effect under always, where every write is fsynced. */
void store_log_request_fsync(store_log *log);
/* When the interval policy wants the loop to call store_log_prepare_flush
 * for an fsync (a time in the now_ms clock), or -1 when nothing waits for one. */
int64_t store_log_fsync_due_ms(const store_log *log);
/* Nothing pending, nothing in flight, everything fsynced. */
bool store_log_idle(const store_log *log);
/* File bytes that are written (the next write's offset). */
uint64_t store_log_end_offset(const store_log *log);
/* Switches to a new, empty segment file (for compaction), created while the
 * log went on appending (the worker held its flushes): every op before
 * start_version is written and fsynced in the old segment, every op from it on is still pending and goes
 * to the new one, after its header. -EBUSY while a flush is out or the log
 * is failed, -EINVAL when the log is not exactly at that seam. */
int store_log_switch_segment_pending(store_log *log, int fd, uint64_t start_version);
int store_log_fd(const store_log *log);

/* ---- A synchronous driver (tests, startup, tools) ---------------------------- */

/* Fault injection for the synchronous driver: the next fail_*_count writes /
 * fsyncs fail with -fail_*_errno (after short_write_bytes of a failing write,
 * if set, really were written: a partial write). */
typedef struct store_sync_faults {
    int fail_write_errno;
    uint32_t fail_write_count;
    size_t short_write_bytes;
    int fail_fsync_errno;
    uint32_t fail_fsync_count;
} store_sync_faults;

/* One prepare -> pwrite (+ fdatasync) -> done round. Returns 0 when there was
 * nothing to do or it succeeded, else the negative errno (also in *result).
 * faults and result may be NULL. */
int store_sync_flush(store_log *log, int64_t now_ms, store_sync_faults *faults,
                     store_flush_result *result);

/* ---- Recovery ------------------------------------------------------------------ */

/* One segment image to recover from, in version order. */
typedef struct store_segment_image {
    const char *name;          /* for messages (a path) */
    const uint8_t *bytes;
    size_t len_bytes;
} store_segment_image;

typedef struct store_recovery {
    uint64_t snapshot_version;  /* 0 and empty text when there was no snapshot */
    uint64_t version;           /* the recovered document's version */
    uint64_t count_replayed;    /* records applied on top of the snapshot */
    bool torn_tail;             /* the last segment ends in a torn record ... */
    size_t torn_segment;        /* ... in this segment (index) ... */
    size_t valid_len_bytes;     /* ... whose good bytes end here: truncate to it */
    size_t torn_bytes;          /* bytes past it */
    int error;                  /* 0 or why recovery refused */
    char message[512];          /* a sentence naming the file and byte offset */
    char fallback[512];         /* non-empty: a damaged checkpoint was skipped (log it) */
    /* store_doc_open: ops [lost_from, lost_to) are known to have existed but
     * are in no file (lost_to > lost_from only with STORE_OPEN_ACCEPT_LOSS;
     * message then says what was lost). */
    uint64_t lost_from, lost_to;
} store_recovery;

/* Rebuilds a document from a snapshot image (NULL, or 0 bytes, for none:
 * version 0, empty text) and the segment images in version order: ot_doc_new
 * at the snapshot, then every record with base >= the snapshot version
 * submitted with base == current version, so op ids are known again for
 * duplicate detection. A torn tail in the last segment is reported (not an
 * error: truncate that segment to report->valid_len_bytes); anything else
 * damaged refuses with report->message naming the image and byte offset. */
int store_recover_images(const ot_limits *limits, const store_segment_image *snapshot,
                         const store_segment_image *segments, size_t count_segments,
                         ot_doc **out_doc, store_recovery *report);

/* ---- Files: open, list, delete, compact ---------------------------------------- */

typedef struct store_doc_files {
    int dir_fd;                /* the document's directory */
    int log_fd;                /* the active segment, open for writing */
    uint64_t log_start_version;
    uint64_t log_end_offset;   /* after truncating a torn tail: pass to store_log_new */
    uint64_t snapshot_version; /* of the newest checkpoint on disk (0 when none) */
    uint64_t oldest_version;   /* the oldest version whose text the files can rebuild */
} store_doc_files;

/* store_doc_open flags (true, as a bool, is STORE_OPEN_CREATE). */
#define STORE_OPEN_CREATE 1u       /* create the document when it has no directory */
#define STORE_OPEN_ACCEPT_LOSS 2u  /* start without ops known to be missing (logged) */

/* Blocking (startup, or a document's first open): recovers `name` from
 * data_dir_fd, truncating a torn tail (reported in *report), creates the
 * document when it has no directory and STORE_OPEN_CREATE is set (-ENOENT
 * otherwise), opens the active segment and returns the doc and the files. On
 * corruption returns the error with report->message naming the file and
 * offset.
 *
 * A log that ends before a version the document is known to have reached is
 * STORE_ERR_MISSING (the message names the range and the evidence): known
 * from the newest segment's name (segments are named for their first
 * version and created only once every older op is durable) and from the
 * meta file's version (written only at durable versions: at load, unload
 * and startup). So an emptied or deleted active segment, or every segment
 * deleted, is refused rather than silently rolled back. With
 * STORE_OPEN_ACCEPT_LOSS the document opens at the version its files reach
 * and report->lost_from/lost_to say what is gone. */
int store_doc_open(int data_dir_fd, const char *name, size_t name_len, unsigned flags,
                   const ot_limits *limits, ot_doc **out_doc, store_doc_files *files,
                   store_recovery *report);
void store_doc_files_close(store_doc_files *files);

/* Removes a document's files and directory (blocking). -ENOENT when absent. */
int store_doc_delete(int data_dir_fd, const char *name, size_t name_len);

typedef int (*store_name_fn)(void *ctx, const char *name, size_t name_len);
/* Calls fn for every document name in the data dir (order unspecified);
 * entries that are not document directories are skipped. */
int store_list(int data_dir_fd, store_name_fn fn, void *ctx);

/* Checkpointing, never blocking a worker, in three steps:
 *   1. on the worker, when store_log_idle: a helper thread creates the
 *      segment file named store_segment_file_name(version) in the doc dir and
 *      fsyncs the dir (store_segment_create), while the worker goes on
 *      appending without flushing; then store_log_switch_segment_pending;
 *   2. on the worker: store_compact_snapshot_image (memory only);
 *   3. anywhere (a helper thread): store_checkpoint_write, then store_prune,
 *      which touch only checkpoint files and segments older than the
 *      newest checkpoint, never the active segment, so they may run while
 *      the worker keeps appending.
 * Old segments stay: the log keeps every op unless a retention policy
 * (store_retention) lets store_prune drop the oldest ones. */

/* Creates the empty segment file for start_version in the document's
 * directory and makes its entry durable (directory fsync). Returns the fd
 * (open for writing) or -errno; -EEXIST when it exists. */
int store_segment_create(int doc_dir_fd, uint64_t start_version);

#define STORE_SEGMENT_NAME_BYTES 32u
/* "log.%020llu": a segment's file name inside the document's directory. */
void store_segment_file_name(uint64_t start_version, char out[STORE_SEGMENT_NAME_BYTES]);
/* "ckpt.%020llu": a checkpoint's file name (a snapshot image of the text at
 * that version). */
void store_checkpoint_file_name(uint64_t version, char out[STORE_SEGMENT_NAME_BYTES]);

/* The checkpoint to write: the text at `at` (clamped to the oldest version
 * the document's history holds, and never below current_snapshot_version)
 * and its image, malloc'ed (free() it). *image is NULL and 0 is returned when
 * the newest checkpoint (current_snapshot_version) is already that recent. */
int store_compact_snapshot_image(const ot_doc *doc, uint64_t at, uint64_t current_snapshot_version,
                                 uint64_t *snapshot_version, uint8_t **image, size_t *image_len);

struct store_fault_plan;

/* Blocking: writes a checkpoint image atomically (ckpt.tmp, fdatasync,
 * rename to its name, fsync dir). faults may be NULL (tests: the snapshot
 * and checkpoint points). */
int store_checkpoint_write(int doc_dir_fd, uint64_t version, const uint8_t *image, size_t image_len,
                           struct store_fault_plan *faults);

/* How much history the log keeps. */
typedef enum store_keep {
    STORE_KEEP_ALL = 0,     /* every op, for ever (the default) */
    STORE_KEEP_OPS = 1,     /* at least the last `ops` ops */
    STORE_KEEP_AGE = 2,     /* at least the ops younger than age_ms */
} store_keep;

typedef struct store_retention {
    uint8_t keep;           /* store_keep */
    uint64_t ops;
    int64_t age_ms;
} store_retention;

/* Blocking: drops what the retention policy lets go. The cut is the newest
 * checkpoint at or below every bound: version - ops (STORE_KEEP_OPS), the
 * start of the oldest segment modified within age_ms of now_ms
 * (STORE_KEEP_AGE), and keep_from (the oldest version a client may still
 * catch up from). Checkpoints older than the cut go first, then every
 * segment whose successor starts at or before it; the active segment, the
 * cut's checkpoint and everything after are never touched, so a crash at
 * any point leaves a loadable document. *oldest_version (may be NULL) gets
 * the oldest version whose text can still be rebuilt. */
int store_prune(int doc_dir_fd, const store_retention *retention, uint64_t version, uint64_t keep_from,
                int64_t now_ms, struct store_fault_plan *faults, uint64_t *oldest_version);

/* The oldest version whose text the files can rebuild (blocking; the oldest
 * checkpoint, or 0 when the log starts at 0). */
int store_oldest_version(int doc_dir_fd, uint64_t *oldest_version);

/* Blocking: the text at version v from the files: the newest sound
 * checkpoint at or below v, then the logged ops up to v (at most the ops
 * between two checkpoints). -ERANGE when v is older than every checkpoint
 * or past the log's end; -ENOENT when the document does not exist. When
 * *ckpt_version is not NULL it gets the checkpoint used. */
int store_text_at(int data_dir_fd, const char *name, size_t name_len, uint64_t v, ot_buf *out,
                  uint64_t *ckpt_version);

/* ---- Listing metadata (store_meta.c) --------------------------------------------- */

/* What GET /api/docs shows for a document that is not loaded. A cache: valid
 * only while the segment starting at log_start_version is log_end_offset
 * bytes long (written at unload and after startup recovery, removed at load). */
typedef struct store_meta {
    uint64_t version;
    uint64_t count_codepoints;
    uint64_t count_bytes;
    uint64_t log_start_version;  /* the active segment when it was written */
    uint64_t log_end_offset;     /* its size then */
} store_meta;

/* Writes the doc dir's meta file (tmp + rename, no fsync: a cache). */
int store_meta_write(int doc_dir_fd, const store_meta *m);
/* Removes it (absent is fine). */
int store_meta_remove(int doc_dir_fd);
/* log_end_offset of a meta file that is only a version floor (a loaded
 * document: never a valid cache, since no segment has this size). */
#define STORE_META_NOT_A_CACHE UINT64_MAX
/* The version recorded in the doc dir's meta file, stale or not (a version
 * the document is known to have reached durably): 0 and *version, or
 * -ENOENT / a negative store_err when there is none or it is damaged. */
int store_meta_version(int doc_dir_fd, uint64_t *version);
/* Blocking, small: -ENOENT when the document does not exist, -ESTALE when the
 * meta file is missing, damaged or stale (load the document instead). */
int store_meta_read(int data_dir_fd, const char *name, size_t name_len, store_meta *out);
/* Decodes a meta image (tests). 0, STORE_ERR_MAGIC or STORE_ERR_CRC. */
int store_meta_decode(const uint8_t *buf, size_t len, store_meta *out);

/* Reads the logged ops with base in [from, to) in version order, calling fn
 * (blocking; for /ops when the range left the in-memory history). */
int store_read_ops(int data_dir_fd, const char *name, size_t name_len, uint64_t from,
                   uint64_t to, store_record_fn fn, void *ctx);

#endif /* RINGPAD_STORE_H */
