/*
 * A worker's disk helper: one thread that runs the blocking file work of the
 * worker's documents (first load = recovery, delete, compaction's snapshot
 * and segment removal, listing metadata) so that no other connection of the
 * worker waits for it.
 *
 * A job is a mailbox message: the worker fills it and submits it; the helper
 * runs the jobs one at a time in submission order (so a delete, a compaction
 * and a reload of one document never overlap) and posts each finished job
 * back to its worker through the mailbox (IORING_OP_MSG_RING from a small
 * ring of its own), where docs_on_disk_done takes the result. Nothing of a
 * document is shared: a job carries copies (name, snapshot image, a dup of
 * the directory fd) and returns what it built (the recovered ot_doc, files).
 *
 * The queue between worker and helper is the only lock, and it guards only
 * the queue.
 */
#ifndef RINGPAD_DOCS_DISK_H
#define RINGPAD_DOCS_DISK_H

#include "collab/fanout.h"
#include "io/mailbox.h"
#include "ringpad/ot.h"
#include "store/store.h"
#include "store/store_faults.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Jobs waiting for the helper; beyond it docs_disk_submit says -EAGAIN. */
#define DOCS_DISK_MAX_QUEUED_JOBS 4096u

typedef enum docs_job_kind {
    DOCS_JOB_LOAD = 1,      /* store_doc_open (+ remove the meta file) */
    DOCS_JOB_DELETE = 2,    /* store_doc_delete */
    DOCS_JOB_COMPACT = 3,   /* store_checkpoint_write, then store_prune */
    DOCS_JOB_META = 4,      /* store_meta_write */
    DOCS_JOB_READ_OPS = 5,  /* store_read_ops, rendered as JSON items */
    DOCS_JOB_SEGMENT = 6,   /* store_segment_create (compaction's new active segment) */
    DOCS_JOB_TEXT_AT = 7,   /* store_text_at: the text at `from` */
    DOCS_JOB_HISTORY = 8,   /* the ops [from, to) summed into sessions (doc_history.h) */
    DOCS_JOB_AUTHORS = 9,   /* who wrote each span of the text at `to` (doc_history.h) */
    DOCS_JOB_META_READ = 10, /* store_meta_read: a listed document that is not loaded */
} docs_job_kind;

/* The mailbox kind of a finished job, from the helper back to its worker. */
#define DOCS_MSG_DISK_DONE 0x5205u

typedef struct docs_job {
    mailbox_msg hdr;                    /* kind DOCS_MSG_DISK_DONE */
    struct docs_job *next;              /* helper queue */
    uint32_t kind;                      /* docs_job_kind */
    int data_dir_fd;                    /* borrowed: the table outlives its helper */
    char name[DOCNAME_MAX_BYTES + 1];
    size_t name_len;
    /* LOAD */
    bool create;
    bool created;                       /* LOAD result: there was no document, this load made it */
    ot_limits limits;
    /* COMPACT, META: a dup of the document's directory fd, closed with the job */
    int doc_dir_fd;
    uint64_t snapshot_version;
    uint8_t *image;                     /* malloc'ed snapshot image (NULL: only drop segments) */
    size_t image_len;
    store_meta meta;                    /* META: what to write; META_READ: what was read */
    uint64_t start_version;             /* SEGMENT; COMPACT: the document's version */
    store_retention retention;          /* COMPACT */
    uint64_t oldest_version;            /* COMPACT result: the oldest version the files can rebuild */
    uint32_t gap_ms;                    /* HISTORY: a pause that starts a new session (0: DOC_HISTORY_GAP_MS) */
    int segment_fd;                     /* SEGMENT result: closed with the job unless taken (-1) */
    /* READ_OPS: ops with base in [from, to), at most max_count (HISTORY: sessions);
     * COMPACT: from is the oldest version a client may catch up from */
    uint64_t from;
    uint64_t to;
    uint32_t max_count;
    mailbox_msg *req;                   /* the request to answer (a reference), or NULL */
    /* results */
    ot_buf ops_json;                    /* READ_OPS: {"v","id","by","time","op"} items, comma-separated;
                                           TEXT_AT: the text; HISTORY, AUTHORS: the answer's items */
    uint32_t count_ops;
    uint64_t next_version;              /* READ_OPS: the version after the last item */
    int rc;
    struct store_fault_plan *faults;    /* tests: the table's plan, NULL in production */
    ot_doc *doc;                        /* LOAD: owned by the job until taken (set NULL) */
    store_doc_files files;              /* LOAD: closed with the job unless taken (fds -1) */
    store_recovery report;              /* LOAD */
} docs_job;

_Static_assert(offsetof(docs_job, hdr) == 0, "a delivered mailbox_msg is cast back to its docs_job");

/* refs = 1, fds -1. NULL on no memory. */
docs_job *docs_job_new(uint32_t kind, uint32_t from_worker);
/* READ_OPS: one record rendered as an item; 1 once max_count are (rec not
 * taken: it starts the next answer), -ENOMEM. */
int docs_job_render_op(docs_job *j, const store_record *rec);
/* A job on the stack, finished with rc for name without running (an answer
 * the worker already has, handed to the same completion path). */
void docs_job_answered(docs_job *j, uint32_t kind, int rc, const char *name, size_t name_len);
/* The blocking work (on the helper, or inline without one). Sets job->rc. */
void docs_job_run(docs_job *job);

typedef struct docs_disk docs_disk;

/* Starts the helper of worker `self`; finished jobs are posted to targets[self]. */
int docs_disk_start(mailbox_target *targets, uint32_t self, docs_disk **out);
/* Hands the job (the caller's reference) to the helper. -EAGAIN when
 * DOCS_DISK_MAX_QUEUED_JOBS wait (the reference stays the caller's). */
int docs_disk_submit(docs_disk *d, docs_job *job);
/* Stops the helper after the job it is running (its result is still
 * posted); jobs not started are dropped. NULL is fine. */
void docs_disk_stop(docs_disk *d);

#endif /* RINGPAD_DOCS_DISK_H */
