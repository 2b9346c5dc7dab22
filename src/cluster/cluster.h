/*
 * Cluster mode on one worker: its Redis connection and the documents this
 * worker owns in the cluster. A document is owned under a lease with a
 * fencing token (<node>:<epoch>); its ops go to Redis through the fenced
 * append script, in version order, pipelined; an op counts as durable when
 * Redis answered its append. The owner stops accepting writes at its own
 * monotonic deadline when a renewal did not come back.
 *
 * Nothing here knows sessions or the OT document: the collab layer hands
 * records in and hears back through cluster_doc_events.
 */
#ifndef RINGPAD_CLUSTER_H
#define RINGPAD_CLUSTER_H

#include "cluster/cluster_scripts.h"
#include "redis/redis_conn.h"
#include "ringpad/ot.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_NODE_MAX_BYTES 256
#define CLUSTER_PREFIX_MAX_BYTES 64
/* Entries per XRANGE page when a document is loaded. */
#define CLUSTER_LOAD_PAGE 1000u

struct worker;
typedef struct cluster cluster;
typedef struct cluster_doc cluster_doc;

typedef struct cluster_config {
    const char *host;
    uint32_t port;
    uint32_t db;
    const char *node_id;
    const char *prefix;
    uint32_t lease_ms;
    uint32_t worker;                /* this worker's id: leases and inboxes are per worker */
} cluster_config;

/* What a load found: the snapshot, then the ops after it, in version order. */
typedef struct cluster_load {
    uint64_t snap_version;
    char *snap_text;                /* malloc'ed UTF-8 ("" when no snapshot) */
    size_t snap_len;
    store_record *ops;              /* fields point into bufs */
    char **bufs;                    /* one allocation per op */
    size_t count_ops, cap_ops;
    uint64_t version;               /* meta's version: snap_version + count_ops */
    bool exists;                    /* Redis has a snapshot or a log for it */
    bool owned;                     /* this node owns it; else it follows another owner */
} cluster_load;

typedef struct cluster_doc_events {
    /* rc 0: ld is the document (owned from now on); -ENOENT: absent and not
     * created; -EAGAIN: another node holds the lease; -EIO: Redis failed. */
    void (*loaded)(void *ctx, int rc, const cluster_load *ld);
    /* Every op below durable_to is in Redis. */
    void (*appended)(void *ctx, uint64_t durable_to);
    /* Appends [from, to) did not reach Redis; they are sent again after a reconnect. */
    void (*append_failed)(void *ctx, uint64_t from, uint64_t to);
    /* The document is no longer ours (fenced, lease lost, Redis disagrees). */
    void (*lost)(void *ctx, const char *why);
    /* The document was deleted (by any node): no event follows. */
    void (*deleted)(void *ctx);
    /* Following: the next op of the log (rec points into a reply: copy what is kept). */
    void (*logged)(void *ctx, const store_record *rec);
    /* Following: the owner refused a forwarded op (a protocol error code). */
    void (*refused)(void *ctx, uint64_t key, const char *id, size_t id_len, int code);
    /* Following: the lease was free and is ours; every op of the log was logged. */
    void (*promoted)(void *ctx);
    /* Following: the lease moved to another node; ops forwarded to the
     * previous owner may never be answered. */
    void (*owner_changed)(void *ctx);
    /* Another node's presence or leave frame for this document (JSON). */
    void (*presence)(void *ctx, const char *json, size_t len);
} cluster_doc_events;

/* An op another node forwarded to this owner (pointers into a reply). */
typedef struct cluster_forward {
    const char *doc;
    size_t doc_len;
    store_record rec;               /* base_version: the sender's version */
    uint64_t key;                   /* the session on the sending node */
    const char *reply;              /* the sender's inbox */
    size_t reply_len;
} cluster_forward;
typedef void (*cluster_forward_fn)(void *ctx, const cluster_forward *f);

/* Counters for /metrics and /api/cluster. */
typedef struct cluster_stats {
    uint64_t forwarded_out;         /* ops this node forwarded to owners */
    uint64_t forwarded_in;          /* ops owners here received from other nodes */
    uint64_t takeovers;             /* leases taken while another node's token was seen */
    uint64_t lost;                  /* documents lost (fenced or lease gone) */
    uint64_t stream_lag_ms;         /* the last followed op's age when read */
} cluster_stats;

int cluster_new(const cluster_config *cfg, struct worker *w, cluster **out);
/* Shutdown: queues the release of every lease held; no event follows. */
void cluster_release_all(cluster *c);
/* Stops the connection (redis_conn_stop): its SQEs complete, then cluster_free. */
void cluster_stop(cluster *c);
/* After cluster_stop and the drain of its CQEs. */
void cluster_free(cluster *c);
/* Timer: reconnection, renewals, lease deadlines. */
void cluster_tick(cluster *c, uint64_t now_ms);
bool cluster_up(const cluster *c);
/* None of its connections has an SQE in the kernel (after cluster_stop). */
bool cluster_idle(const cluster *c);
const char *cluster_node_id(const cluster *c);

/* Starts owning the document: lease, then snapshot + log tail; the outcome
 * comes through ev->loaded (maybe before this returns). NULL on no memory. */
cluster_doc *cluster_doc_open(cluster *c, const char *name, size_t name_len, bool create,
                              const cluster_doc_events *ev, void *ctx);
/* The document is unloaded: the lease is released (when held) and no event
 * follows. */
void cluster_doc_close(cluster_doc *d);
/* Ops may be accepted now: owned, Redis up, before the lease's deadline. */
bool cluster_doc_writable(const cluster_doc *d, uint64_t now_ms);
/* Queues the op at rec->base_version (the next version) for Redis, with the
 * text's length after it (kept in meta for the listing). 0, -ENOMEM, -EINVAL
 * when it is not the next version. */
int cluster_doc_append(cluster_doc *d, const store_record *rec, uint64_t codepoints, uint64_t bytes);
/* Writes the snapshot (text at version) and, when trim_below > 0, trims the
 * log below it, down to a version whose text is kept; with before_ms > 0 (a
 * wall-clock time, an age limit) only past ops written before it. Fire and
 * forget: a failed snapshot is retried later. */
int cluster_doc_snapshot(cluster_doc *d, const char *text, size_t len, uint64_t version, uint64_t trim_below,
                         int64_t before_ms);

/* Ops forwarded to this worker's owned documents go to fn. */
void cluster_set_forward_handler(cluster *c, cluster_forward_fn fn, void *ctx);
/* Answers a forwarded op with an error code (to the sender's inbox). */
void cluster_refuse(cluster *c, const cluster_forward *f, int code);
/* Following: sends the op to the owner's inbox; its ack is its entry in the
 * log (matched by id), its refusal an inbox entry (refused). -ENOTCONN,
 * -EAGAIN (not following), -ENOMEM. */
int cluster_doc_forward(cluster_doc *d, const store_record *rec, uint64_t key);
/* A presence or leave frame of a local session, for the other nodes
 * (PUBLISH: a lost one is fine, the next replaces it). */
void cluster_doc_publish(cluster_doc *d, const char *json, size_t len);
bool cluster_doc_owned(const cluster_doc *d);

/* GET /api/cluster's body from this worker's copy of the node registry:
 * {"redis","lease_ms","node","workers":[{worker,node,at,owned,following,...}]}
 * (without names: the counts only). 0 or -ENOMEM. */
int cluster_describe(const cluster *c, bool with_names, ot_buf *out);

/* A read of a document's retained log (cluster_read_log): the callbacks run
 * on the worker, in this order. */
typedef struct cluster_log_reader {
    /* The oldest retained version and the text there ("" when text was not
     * asked). Sets [*from, *to), the versions to read (*from at or above
     * oldest); 0 goes on, a negative errno ends the read with it. */
    int (*base)(void *ctx, uint64_t oldest, const char *text, size_t len, uint64_t *from, uint64_t *to);
    /* One entry, in version order (rec points into a reply). 0 goes on, 1
     * ends the read well, a negative errno ends it with that. */
    int (*entry)(void *ctx, const store_record *rec);
    /* The end, once: 0; -ERANGE: the log no longer holds the versions asked;
     * -EIO: Redis failed or the log has a gap; -ECANCELED: the worker is
     * stopping (answer nothing); or what base or entry returned. */
    void (*done)(void *ctx, int rc);
} cluster_log_reader;

/* Starts a read of the document's log on the worker's connection (XRANGE
 * pages of CLUSTER_LOAD_PAGE). 0 (done follows, later), -ENOTCONN (Redis is
 * down), -ENOMEM, -EINVAL; no callback runs on a failure to start. */
int cluster_read_log(cluster *c, const char *name, size_t name_len, bool want_text, const cluster_log_reader *rd,
                     void *ctx);

/* The cluster's list of documents (cluster_list.c). */
#define CLUSTER_LIST_NAME_MAX 256u
typedef struct cluster_doc_info {
    const char *name;
    size_t name_len;
    uint64_t v, codepoints, bytes;
    bool found, failed;             /* the read's own */
    void *read;
} cluster_doc_info;
/* false: the name is left out of the page (and does not count in its limit). */
typedef bool (*cluster_name_filter)(void *ctx, const char *name, size_t len);
/* rc 0: infos[n] in byte order of name; next: the page's last name when more
 * follow (else NULL); -EIO: Redis failed; -ECANCELED: the worker is stopping
 * (answer nothing). */
typedef void (*cluster_list_fn)(void *ctx, int rc, const cluster_doc_info *infos, uint32_t n, const char *next);
/* Starts a read of the page of at most limit documents after `after` (""
 * from the first) that keep (may be NULL) lets through. 0 (fn follows,
 * later), -ENOTCONN, -ENOMEM, -EINVAL. */
int cluster_list_docs(cluster *c, const char *after, size_t after_len, uint32_t limit, cluster_name_filter keep,
                      cluster_list_fn fn, void *ctx);

/* rc 0: deleted; -ENOENT: no such document; -EIO: Redis failed;
 * -ECANCELED: the worker is stopping (answer nothing). */
typedef void (*cluster_delete_fn)(void *ctx, int rc);
/* Deletes the document in Redis, whoever owns it (cluster_scripts.c says
 * how): its owner hears `deleted` at its next renewal or append, its
 * followers when they read the tombstone. 0 (fn follows), -ENOTCONN, -ENOMEM. */
int cluster_delete_doc(cluster *c, const char *name, size_t name_len, int64_t time_ms, cluster_delete_fn fn,
                       void *ctx);

/* Frees what a load allocated. */
void cluster_load_free(cluster_load *ld);

#endif /* RINGPAD_CLUSTER_H */
