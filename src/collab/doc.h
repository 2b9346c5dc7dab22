/*
 * One document on its owner worker: the OT state (ot_doc), its durable log
 * (store_log), the sessions subscribed to it and their presence.
 *
 * The owner is the single serialization point: ops are transformed and
 * applied in arrival order, appended to the log, and *published* (ack to the
 * sender, op to every other subscriber) only once the log says they are
 * durable under the fsync policy, in version order. So every frame a
 * subscriber receives about the document leaves here in version order, and
 * a sender's ack follows every op before it. Snapshots and catch-ups are
 * taken at the published version, never ahead of what was made durable.
 *
 * Nothing here does I/O: the worker drives the log (store_ring.c, or
 * store_sync_flush in tests) and reports completions with doc_on_flush.
 * Frames go out through a fanout (which also works without a ring in tests).
 */
#ifndef RINGPAD_DOC_H
#define RINGPAD_DOC_H

#include "collab/fanout.h"
#include "proto/protocol.h"
#include "proto/protocol_rest.h"
#include "ringpad/ot.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOC_SESSION_ID_BYTES 24
#define DOC_BY_BYTES 256               /* a token's sub (AUTH_MAX_SUB_BYTES) */
/* Ops applied but not yet durable; beyond it new ops get storage_unavailable
 * (the log is not keeping up). The OT history keeps this many more ops than
 * the advertised history_depth so every unpublished op can be published. */
#define DOC_MAX_UNPUBLISHED_OPS 4096u
#define DOC_MAX_SUBSCRIBERS 100000u

typedef struct doc doc;

/* Who is opening: identity and display, fixed for the subscription. */
typedef struct doc_who {
    uint64_t key;                      /* fanout key of the session */
    const char *session;               /* session id as sent in presence/leave */
    const char *by;                    /* author of its ops */
    const char *name;                  /* NULL: none */
    const char *color;                 /* NULL: none */
} doc_who;

/* Takes ownership of ot and log (log may be NULL: every op is durable at once,
 * for tests of the OT flow only). name is copied. */
int doc_new(const char *name, size_t name_len, ot_doc *ot, store_log *log, doc **out);
void doc_free(doc *d);

/* The advertised history: ops and opens based more than `depth` versions
 * behind the published version get version_too_old even if the OT history
 * (which keeps DOC_MAX_UNPUBLISHED_OPS more) still has them. 0: the OT history. */
void doc_set_history_depth(doc *d, uint32_t depth);
struct membudget;
/* The history keeps at most history_max_bytes (ot_doc_history_bytes) of
 * published ops, and sheds published ops while `budget` (may be NULL) is
 * over; what the document holds (text, history, itself) is counted in
 * `budget` from now until doc_free. */
void doc_set_memory(doc *d, size_t history_max_bytes, struct membudget *budget);
/* Bytes the document holds: its text, its history and itself. */
size_t doc_memory_bytes(const doc *d);
/* Drops published ops from the history, oldest first, until `want_bytes`
 * are freed or none is left; returns the bytes freed. */
size_t doc_shed_history(doc *d, size_t want_bytes);
struct metrics_worker;
/* Published ops are counted there (ops applied, submit-to-ack latency); NULL: not counted. */
void doc_set_metrics(doc *d, struct metrics_worker *m);
/* Cluster mode: instead of a log, ops are handed to a replica (Redis) and
 * published once it reports them durable (doc_on_replicated). */
typedef struct doc_replica {
    int (*append)(void *ctx, const store_record *rec);   /* 0 or -errno (nothing queued) */
    bool (*writable)(void *ctx);                          /* false: ops get storage_unavailable */
    /* Following (another node owns the document): a client's op is sent to
     * the owner as it came, not applied here; its ack is its entry in the log
     * (doc_apply_logged with the sender). 0 or -errno. */
    int (*forward)(void *ctx, uint64_t key, const store_record *rec);
    /* A presence or leave frame the local subscribers got, for other nodes (may be NULL). */
    void (*presence)(void *ctx, const char *json, size_t len);
    void *ctx;
} doc_replica;
/* Only on a document made without a log. */
void doc_set_replica(doc *d, const doc_replica *r);
/* Every op below durable_to is durable: publish it. */
void doc_on_replicated(doc *d, uint64_t durable_to, fanout *out);
/* Ops [from, to) are not durable yet: their senders get storage_unavailable
 * (why), and the replica keeps trying; a resend by id is acked once they are. */
void doc_on_replica_failed(doc *d, uint64_t from, uint64_t to, const char *why, fanout *out);
/* Following: the owner's op at version v (the document's version) is
 * applied and published; sender (0: none here) gets the ack. 0, or -EIO
 * when it does not apply (the document must be loaded again). */
int doc_apply_logged(doc *d, uint64_t v, const ot_op *op, const char *id, size_t id_len, const char *author,
                     size_t author_len, int64_t time_ms, uint64_t sender, fanout *out);
/* Another node's presence or leave frame, to every subscriber here. */
void doc_relay(doc *d, const char *json, size_t len, fanout *out);
/* An ack of op id at v to key: the ack frame, or for a typed key a
 * PROTO_REST_ACK answer. */
void doc_ack(doc *d, uint64_t key, const char *id, size_t id_len, uint64_t v, fanout *out);
/* Oldest base version accepted from clients. */
uint64_t doc_oldest_version(const doc *d);
const char *doc_name(const doc *d, size_t *len);
uint64_t doc_version(const doc *d);            /* applied (ot_doc) */
uint64_t doc_published_version(const doc *d);  /* durable and sent */
uint32_t doc_count_subscribers(const doc *d);
bool doc_is_subscribed(const doc *d, uint64_t key);
store_log *doc_log(doc *d);
const ot_doc *doc_ot(const doc *d);
/* No subscriber, nothing unpublished, log idle: may be unloaded. */
bool doc_is_quiet(const doc *d);
/* Failed storage: ops are refused until a flush succeeds. */
bool doc_storage_failed(const doc *d);

/* Subscribes (or re-subscribes) `who`. Without v: a snapshot at the published
 * version with the other subscribers' presence. With v: every published op
 * since v, then synced. version_too_old / version_ahead (ref = doc) leave the
 * session unsubscribed, and fanout_drop tells its session so. */
int doc_open(doc *d, const doc_who *who, bool has_v, uint64_t v, fanout *out);

/* An op from a subscriber (or, with require_subscribed false, from a REST
 * caller whose key receives the ack). Errors go to `key` with ref = id. On
 * success the op is applied and appended; its ack and broadcast follow from
 * doc_on_flush (or at once without a log). Returns 0 or the proto_err sent. */
int doc_submit(doc *d, uint64_t key, bool require_subscribed, const char *by, uint64_t v,
               const char *id, size_t id_len, const ot_op *op, int64_t now_ms, fanout *out);

/* Presence at version v, moved to the published version and sent to the others. */
int doc_presence(doc *d, uint64_t key, uint64_t v, const proto_range *sel, uint32_t count_sel,
                 fanout *out);

/* Unsubscribes; the others get leave. No effect when not subscribed. */
void doc_close(doc *d, uint64_t key, fanout *out);

/* Every subscriber gets error{code, message, ref=doc} and is dropped (REST
 * delete, load failure). */
void doc_evict_all(doc *d, int code, const char *message, fanout *out);

/* A log flush finished: failed ops get storage_unavailable, newly durable
 * ones are published. */
void doc_on_flush(doc *d, const store_flush_result *result, fanout *out);

/* What the sender of a request hears about it (doc_reply.c): a session a
 * ringpad.v1 frame, a REST call (a typed key, fanout_key_typed) a packed
 * proto_rest_answer with the same content. When either cannot be made (no
 * memory) the key is doomed (fanout_doom): told and closed, never left
 * waiting. */

/* A typed answer to key: a REST call's, or an event stream's REST-only
 * refusal (not_found). Returns 0 or -ENOMEM. */
int doc_send_answer(fanout *out, uint64_t key, const proto_rest_answer *a);
/* One error (ref may be NULL; a typed answer has no ref) to key. Returns 0 or -ENOMEM. */
int doc_send_error(fanout *out, uint64_t key, int code, const char *message, const char *ref,
                   size_t ref_len);
/* A no_memory error (counted in ringpad_errors_total{kind="no_memory"} when m
 * is not NULL): an allocation for the request failed and nothing was applied. */
int doc_send_no_memory(struct metrics_worker *m, fanout *out, uint64_t key, const char *ref, size_t ref_len);
/* This document's worker counters (NULL when none were set). */
struct metrics_worker *doc_metrics(const doc *d);

#endif /* RINGPAD_DOC_H */
