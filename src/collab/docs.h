/*
 * A worker's document table: the documents this worker owns (owner =
 * docs_owner(name)), loaded on first use with store_doc_open, their log
 * flushes driven through the ring (store_ring), and unloaded after they have
 * been quiet (no subscriber, nothing unpublished, log idle) for idle_ms.
 *
 * Sessions reach a document only through a docs_request executed on the
 * owner (docs_execute), delivered by the mailbox from other workers or from a
 * local queue on this one, so nothing here is ever touched by two threads.
 */
#ifndef RINGPAD_DOCS_H
#define RINGPAD_DOCS_H

#include "collab/doc.h"
#include "collab/docs_disk.h"
#include "base/nameset.h"
#include "collab/fanout.h"
#include "io/mailbox.h"
#include "proto/protocol.h"
#include "store/store.h"
#include "store/store_ring.h"

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOCS_HASH_BUCKETS 4096u
/* A failed log is retried at most this often. */
#define DOCS_RETRY_MS 500u
/* Requests waiting for one document's load or delete; beyond it they are
 * answered storage_unavailable (a close always waits: it cannot be refused). */
#define DOCS_MAX_WAITING_PER_DOC 65536u
/* Ops in one GET .../ops answer; its "to" says where it stopped. */
#define DOCS_MAX_OPS_PER_ANSWER 10000u
/* A checkpoint (the text at a version, beside the log) at most this many ops
 * after the previous one, so the text at any version costs at most this many
 * op applications. */
#define DOCS_DEFAULT_CHECKPOINT_OPS 1000u

struct worker;

typedef enum docs_request_kind {
    DOCS_REQ_OPEN = 1,
    DOCS_REQ_OP = 2,
    DOCS_REQ_PRESENCE = 3,
    DOCS_REQ_CLOSE = 4,
    DOCS_REQ_REST_GET = 5,      /* text (at v when has_v) */
    DOCS_REQ_REST_OPS = 6,      /* ops [v, to) */
    DOCS_REQ_REST_DELETE = 7,
    DOCS_REQ_REST_INFO = 8,     /* name, version, size (listing) */
    DOCS_REQ_REST_HISTORY = 9,  /* sessions of the ops [v, to) */
    DOCS_REQ_REST_AUTHORS = 10, /* who wrote the text (at v when has_v) */
    DOCS_REQ_REST_RESTORE = 11, /* a new op that makes the text that of version v */
    DOCS_REQ_REST_TEXT = 12,    /* the whole text (diffed into an op), or text appended */
} docs_request_kind;

/* The mailbox kind of a request to a document owner. */
#define DOCS_MSG_REQUEST 0x5203u

/* A session's request to the owner of `doc`. Immutable once posted. */
#define DOCS_REQUEST_INLINE_SEL 2   /* a cursor or one selection, and one more */

typedef struct docs_request {
    mailbox_msg hdr;                /* kind DOCS_MSG_REQUEST */
    struct docs_request *next;      /* local queue link (same worker) */
    uint32_t kind;                  /* docs_request_kind */
    uint64_t key;                   /* who gets the answers */
    char doc[DOCNAME_MAX_BYTES + 1];
    size_t doc_len;
    bool has_v;
    uint64_t v;
    uint64_t to;                    /* REST_OPS */
    char id[PROTO_MAX_ID_BYTES + 1];
    size_t id_len;
    ot_op op;
    /* PRESENCE: count_sel ranges, in sel_inline when they fit, else in the
     * malloc'ed sel_heap (freed with the request). Inline room for all 32
     * made the request 1,480 bytes, past glibc's per-thread cache (1,032), so
     * every op's request took malloc's slow path. */
    uint32_t count_sel;
    proto_range sel_inline[DOCS_REQUEST_INLINE_SEL];
    proto_range *sel_heap;
    char session[DOC_SESSION_ID_BYTES];
    char by[DOC_BY_BYTES + 1];
    char name[PROTO_MAX_NAME_BYTES + 1];
    char color[PROTO_MAX_COLOR_BYTES + 1];
    bool has_name;
    bool has_color;
    bool rest;                      /* from REST: no subscription needed for an op */
    char *text;                     /* REST_TEXT: malloc'ed UTF-8, freed with the request */
    size_t text_len;
    bool append;                    /* REST_TEXT: after the current text, instead of replacing it */
    bool if_absent;                 /* REST_TEXT: only when this request creates the document */
    int64_t time_ms;                /* wall clock, for the log */
} docs_request;

_Static_assert(offsetof(docs_request, hdr) == 0, "a delivered mailbox_msg is cast back to its docs_request");
_Static_assert(sizeof(docs_request) <= 1024, "a request stays within glibc's per-thread cache");

/* A presence request's ranges. */
static inline const proto_range *docs_request_sel(const docs_request *r) {
    return r->sel_heap != NULL ? r->sel_heap : r->sel_inline;
}

/* refs = 1, everything zero, op initialised. NULL on no memory. */
docs_request *docs_request_new(uint32_t kind, uint32_t from_worker);

/* FNV-1a of the name modulo the worker count. */
uint32_t docs_owner(const char *name, size_t len, uint32_t count_workers);

typedef struct docs_config {
    int data_dir_fd;                /* owned: closed by docs_free; -1: opened (created) at the first load */
    const char *data_dir_path;      /* outlives the table */
    ot_limits limits;               /* history_depth includes DOC_MAX_UNPUBLISHED_OPS */
    uint32_t history_depth;         /* advertised (a checkpoint trails the document by this many) */
    size_t history_memory_bytes;    /* per document (doc_set_memory); 0: no bound but the depth */
    struct membudget *budget;       /* every worker's documents together (may be NULL) */
    uint32_t checkpoint_ops;        /* a checkpoint every this many ops (0: DOCS_DEFAULT_CHECKPOINT_OPS) */
    uint64_t checkpoint_bytes;      /* ... or once the active segment is this large (0: never by size) */
    store_retention retention;      /* what the log keeps (all by default) */
    store_log_config log;
    uint32_t idle_ms;
    _Atomic uint32_t *degraded;     /* shared count of documents with failed storage (may be NULL) */
    struct metrics_worker *metrics; /* this worker's counters (may be NULL) */
    /* Disk work (load, delete, compaction files, /ops from the log, listing
     * metadata) on a helper thread that posts back to targets[self]; without
     * it (tests) the same jobs run inline, synchronously. */
    bool disk_thread;
    mailbox_target *targets;
    uint32_t self;
    uint32_t max_waiting_per_doc;   /* 0: DOCS_MAX_WAITING_PER_DOC (tests shrink it) */
    const char *store_faults;       /* tests: a store_faults.h plan (RINGPAD_STORE_FAULTS); NULL or "": none */
    store_ring_cqe_fn store_cqe;    /* where a log flush's CQEs go (the owner calls docs_on_store_cqe) */
    nameset *names;                 /* every document's name, kept current on load and delete (may be NULL) */
    struct webhook *hooks;          /* told of creates, published changes and deletes (may be NULL) */
    /* Cluster mode (NULL: single node): documents live in Redis (docs_cluster.c)
     * instead of the data dir; their events are answered into cluster_out. */
    struct cluster *cluster;
    fanout *cluster_out;
} docs_config;

typedef struct docs docs;

int docs_new(const docs_config *cfg, docs **out);
/* Flushes every log (blocking) and frees everything. Only after the loop stopped. */
void docs_free(docs *t, int64_t now_ms);

/* Runs one request on this (the owner) worker. Replies go to out. A request
 * for a document being loaded or deleted waits for it (a reference is kept). */
void docs_execute(docs *t, const docs_request *req, fanout *out, int64_t now_ms);

/* A DOCS_MSG_DISK_DONE message: the helper finished a job of this table. */
void docs_on_disk_done(docs *t, docs_job *job, fanout *out, int64_t now_ms);
/* Stops the disk helper (shutdown, before the last CQEs are drained); later
 * jobs run inline. */
void docs_stop_disk(docs *t);

/* End of a loop iteration: submit the flushes of logs that got appends. */
void docs_flush(docs *t, struct worker *w, fanout *out, int64_t now_ms);
/* A log flush's CQE (docs_config.store_cqe hands it over): io is a document's. */
void docs_on_store_cqe(docs *t, store_ring_io *io, const struct io_uring_cqe *cqe, bool fsync_cqe, fanout *out,
                       int64_t now_ms);
/* Timer: interval fsyncs, retries of failed logs, compaction, idle unload;
 * while the memory budget is over, history is shed and quiet documents are
 * unloaded at once. */
void docs_tick(docs *t, struct worker *w, fanout *out, int64_t now_ms);

uint32_t docs_count_loaded(const docs *t);
/* Documents waiting for a load or delete job. */
uint32_t docs_count_busy(const docs *t);
/* Loaded document (no loading), NULL when absent. */
doc *docs_find(docs *t, const char *name, size_t len);

#endif /* RINGPAD_DOCS_H */
