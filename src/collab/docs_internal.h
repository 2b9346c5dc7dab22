/*
 * A worker's document table from the inside: the entries (a document loaded,
 * loading or being deleted, with its log and its waiting requests) shared by
 * docs.c (requests, loading, the timer) and docs_compact.c (compaction).
 * Private to the collab layer.
 */
#ifndef RINGPAD_DOCS_INTERNAL_H
#define RINGPAD_DOCS_INTERNAL_H

#include "collab/docs.h"
#include "proto/protocol_rest.h"
#include "store/store_faults.h"
#include "store/store_ring.h"

typedef enum entry_state {
    ENTRY_READY = 0,                /* d is loaded */
    ENTRY_LOADING = 1,              /* a load job is out; requests wait */
    ENTRY_DELETING = 2,             /* a delete job is out; requests wait (the first is the delete) */
} entry_state;

typedef struct docs_entry {
    store_ring_io io;               /* its CQEs come back to docs_on_store_cqe */
    doc *d;                         /* NULL unless READY */
    char name[DOCNAME_MAX_BYTES + 1];
    size_t name_len;
    uint8_t state;                  /* entry_state */
    bool load_create;
    bool fresh;                     /* its load created it and no request ran on it yet */
    bool compacting;                /* a compaction (segment or files job) is out */
    bool switching;                 /* the segment job is out: flushes are held */
    uint64_t compact_snap;          /* the snapshot the compaction writes ... */
    uint8_t *compact_image;         /* ... its image, until the segment switch (malloc'ed) */
    size_t compact_image_len;
    docs_request *wait_head;        /* requests waiting for the job, in arrival order */
    docs_request *wait_tail;
    uint32_t count_waiting;
    store_doc_files files;
    struct docs_entry *next;        /* hash chain */
    struct docs_entry *dirty_next;
    bool dirty;
    bool degraded;                  /* counted in cfg.degraded */
    uint64_t flush_submitted_us;    /* the flush in flight (fsync latency) */
    uint64_t quiet_since_ms;        /* 0: not quiet */
    uint64_t last_retry_ms;
    struct cluster_doc *cd;         /* cluster mode: the document's lease and appends (else NULL) */
    struct docs *table;             /* cluster mode: where its events go */
    uint64_t snap_version;          /* cluster mode: the last snapshot written to Redis */
    bool following;                 /* cluster mode: another node owns it; ops are forwarded */
    struct docs_forwards *fwd;      /* following: ops forwarded, waiting for their entry in the log */
} docs_entry;

struct docs {
    docs_config cfg;
    docs_entry *buckets[DOCS_HASH_BUCKETS];
    docs_entry *dirty;
    uint32_t count_loaded;
    uint32_t count_busy;
    docs_disk *disk;                /* NULL: jobs run inline */
    bool load_degraded;             /* the last load failed in the file system (counted in cfg.degraded) */
    store_fault_plan *faults;       /* tests only (RINGPAD_STORE_FAULTS); NULL: no injection */
};

/* The entry named name, or NULL; *link (when not NULL) is where it is or would be chained. */
docs_entry *docs_entry_find(docs *t, const char *name, size_t len, docs_entry ***link);
/* Queues the entry for the next docs_flush. */
void docs_entry_mark_dirty(docs *t, docs_entry *e);
/* Hands a job to the helper, or runs it here. Takes the caller's reference. */
void docs_submit_job(docs *t, docs_job *j, fanout *out, int64_t now_ms);
/* Frees a loaded document; with meta, its listing cache is written first. */
void docs_entry_unload(docs *t, docs_entry *e, bool meta, fanout *out, int64_t now_ms);
/* Marks the entry's storage failed or working (counted in cfg.degraded). */
void docs_entry_set_degraded(docs *t, docs_entry *e, bool failed);

/* docs_log.c: starts the entry's log flush unless one is out or compaction
 * holds appends; a flush that cannot start is reported to the document. */
void docs_entry_kick(docs *t, docs_entry *e, struct worker *w, fanout *out, int64_t now_ms);
/* Published ops are a change for the webhooks (with the text when they want it). */
void docs_notify_changed(docs *t, docs_entry *e);
/* Counts a finished (done) or abandoned compaction in the worker's metrics. */
void docs_count_compaction(docs *t, bool done);

/* docs_cluster.c (cluster mode): the load from Redis instead of the data
 * dir (its outcome comes back through docs_cluster_loaded), the document's
 * replica, and the timer's snapshots. */
void docs_cluster_load(docs *t, docs_entry *e, fanout *out, int64_t now_ms);
void docs_cluster_ready(docs *t, docs_entry *e, doc *d);
/* The timer for a cluster document: expired forwards, held opens, snapshots,
 * the idle unload (its history leaves *history then). */
void docs_cluster_tick(docs *t, docs_entry *e, uint64_t *history, fanout *out, int64_t now_ms);
/* Following: an open at a version this node has not read yet waits for it
 * (a reference is kept). false: run it now. */
bool docs_cluster_hold_open(docs_entry *e, const docs_request *r);
/* Forwarded ops or held opens are waiting: not quiet. */
bool docs_cluster_busy(const docs_entry *e);
/* The entry is unloaded: its lease or its following ends. */
void docs_cluster_unload(docs_entry *e);
/* Ops other nodes forward to the documents this worker owns. */
void docs_cluster_attach(docs *t);
/* The busy (DELETING) entry's deletion in Redis; answered like a finished
 * delete job. */
void docs_cluster_delete(docs *t, docs_entry *e);
/* docs_cluster_history.c: docs_read_job in cluster mode, from the Redis stream. */
void docs_cluster_read(docs *t, docs_entry *e, const docs_request *r, uint32_t kind, uint64_t from, uint64_t to,
                       uint32_t max_count, fanout *out, int64_t now_ms);
/* A load's outcome (cluster mode): what a finished load job does. */
void docs_load_outcome(docs *t, int rc, const char *name, size_t name_len, ot_doc *ot, bool created, fanout *out,
                       int64_t now_ms);

/* docs_memory.c: over the memory budget, sheds published history, then
 * unloads quiet documents, until this worker freed the excess. */
void docs_shed_memory(docs *t, fanout *out, int64_t now_ms);
/* docs_rest.c: a typed REST answer to r's caller (r->doc filled in when a->doc is empty). */
void docs_send_answer(fanout *out, const docs_request *r, const proto_rest_answer *a);
/* An error answer with a REST-only code (not_found, already_exists). */
void docs_send_rest_error(fanout *out, const docs_request *r, const char *code, const char *message);
void docs_send_not_found(fanout *out, const docs_request *r);
/* A listing's entry: the document's version, length and size. */
void docs_send_info(fanout *out, const docs_request *r, uint64_t v, uint64_t codepoints, uint64_t bytes);
/* docs_rest.c: a listed document that is not loaded: its metadata file is
 * read by the disk helper (never on the worker), then docs_rest_info_done
 * answers from it, or loads the document when the file is stale. */
void docs_rest_info_absent(docs *t, const docs_request *r, fanout *out, int64_t now_ms);
void docs_rest_info_done(docs *t, docs_job *j, fanout *out, int64_t now_ms);
/* docs.c: loads r's document for r (or runs r when the document was loaded
 * or became busy meanwhile). */
void docs_load_for(docs *t, const docs_request *r, fanout *out, int64_t now_ms);
/* docs_rest.c: a DOCS_REQ_REST_TEXT on its loaded document; fresh: this request's load created it. */
void docs_rest_text(docs *t, docs_entry *e, const docs_request *r, bool fresh, fanout *out);

/* docs_compact.c: starts a compaction when the log has grown enough past the
 * snapshot (from the timer), and takes its finished disk jobs. */
void docs_maybe_compact(docs *t, docs_entry *e, fanout *out, int64_t now_ms);
void docs_segment_done(docs *t, docs_job *j, fanout *out, int64_t now_ms);
void docs_compact_done(docs *t, docs_job *j);

/* Opens (creating) the data dir once. 0 or -errno. */
int docs_ensure_data_dir(docs *t);
/* Runs a read of the files for request r on the helper (kind READ_OPS,
 * TEXT_AT, HISTORY or AUTHORS, over [from, to)); r is answered when it is
 * done. Answers internal itself when the job cannot be made. */
void docs_read_job(docs *t, docs_entry *e, const docs_request *r, uint32_t kind, uint64_t from, uint64_t to,
                   uint32_t max_count, fanout *out, int64_t now_ms);

/* docs_history.c: the REST reads of the past (the text at any retained
 * version, history sessions, authorship) and restore, from memory when the
 * history there holds the version, else from the files on the helper. */
void docs_rest_version_text(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms);
void docs_rest_history(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms);
void docs_rest_authors(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms);
void docs_rest_restore(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms);
/* A TEXT_AT, HISTORY or AUTHORS job finished. */
void docs_history_done(docs *t, docs_job *j, fanout *out, int64_t now_ms);

#endif /* RINGPAD_DOCS_INTERNAL_H */
