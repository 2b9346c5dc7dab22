/*
 * The cluster's state, shared by cluster.c (lease, load, appends) and
 * cluster_follow.c (following logs, the inboxes, forwarding, promotion).
 * Private to the cluster layer.
 */
#ifndef RINGPAD_CLUSTER_INTERNAL_H
#define RINGPAD_CLUSTER_INTERNAL_H

#include "cluster/cluster.h"

#include <hiredis/hiredis.h>

#define KEY_MAX_BYTES (CLUSTER_PREFIX_MAX_BYTES + 256 + 16)

typedef enum doc_phase {
    PHASE_ACQUIRING = 0,    /* waiting for the lease */
    PHASE_LOADING = 1,      /* lease held, snapshot and log being read */
    PHASE_OWNED = 2,
    PHASE_LOST = 3,         /* not ours any more (or never): no event follows */
    PHASE_FOLLOW_LOADING = 4, /* another node owns it: snapshot and log read without the lease */
    PHASE_FOLLOWING = 5,    /* its log is read as it grows (cluster_follow.c) */
    PHASE_PROMOTING = 6,    /* was following, got the lease: reading the rest of the log */
} doc_phase;

/* The listing's backfill (cluster_backfill.c). */
typedef enum backfill_state {
    BACKFILL_CHECK = 0,     /* ask whether the cluster's list is complete (at backfill_at_ms) */
    BACKFILL_ASKING = 1,
    BACKFILL_SCANNING = 2,  /* a page of SCAN (and its documents' meta) in flight */
    BACKFILL_DONE = 3,      /* complete, or not this worker's to do */
} backfill_state;

typedef struct pending_op {
    store_record rec;       /* points into buf */
    char *buf;
    uint64_t codepoints, bytes;   /* the text's length after it */
} pending_op;

struct cluster_doc {
    cluster *c;
    cluster_doc *prev, *next;
    char name[257];
    size_t name_len;
    char keys[CLUSTER_KEY_COUNT][KEY_MAX_BYTES];
    size_t key_lens[CLUSTER_KEY_COUNT];
    uint8_t phase;
    bool create;
    bool closed;
    bool cmd_out;                   /* the acquire or a load step is in flight */
    bool renew_out;
    bool resend;                    /* appends failed: sent again once Redis is back */
    uint32_t refs;                  /* commands in flight, plus one while open */
    char token[CLUSTER_NODE_MAX_BYTES + 24];
    uint64_t deadline_ms;           /* writes stop here unless a renewal comes back */
    uint64_t renew_at_ms;
    uint64_t renew_sent_ms;
    uint64_t retry_at_ms;           /* the next acquire attempt */
    uint64_t give_up_ms;            /* the acquire's last attempt */
    cluster_load load;
    pending_op *ops;                /* appends not yet acked, versions acked.. */
    size_t ops_head, count_ops, cap_ops;
    uint64_t acked;                 /* every op below is in Redis */
    uint64_t sent_to;               /* appends below were sent on this connection */
    const cluster_doc_events *ev;
    void *ctx;
    char holder[CLUSTER_NODE_MAX_BYTES + 24]; /* following: the owner's token (its inbox) */
    bool listening;                 /* its presence channel is subscribed */
};

struct cluster {
    redis_conn conn;
    struct worker *w;
    char node[CLUSTER_NODE_MAX_BYTES];
    char prefix[CLUSTER_PREFIX_MAX_BYTES];
    uint32_t lease_ms;
    char sha[CLUSTER_SCRIPT_COUNT][CLUSTER_SHA_HEX];
    cluster_doc *docs;
    bool stopping;
    char me[CLUSTER_NODE_MAX_BYTES + 16];     /* node#worker: who holds a lease, whose inbox */
    /* following (cluster_follow.c): a second connection for the blocking XREAD */
    redis_conn follow;
    char inbox[KEY_MAX_BYTES];
    size_t inbox_len;
    char inbox_last[48];            /* the inbox's last ID read ("" until marked) */
    bool read_out;                  /* an XREAD is in flight */
    cluster_forward_fn on_forward;
    void *forward_ctx;
    cluster_stats stats;
    redis_conn sub;                 /* subscriber mode: the documents' presence channels */
    /* the node registry (cluster_registry.c): the last copy read */
    char **registry;
    uint32_t count_registry;
    bool registry_out;
    uint64_t registry_at_ms;        /* the next write of this worker's entry */
    uint64_t registry_read_at_ms;   /* the next read of the whole registry */
    /* the listing's backfill (cluster_backfill.c): the first worker of a node only */
    uint8_t backfill;               /* backfill_state */
    uint64_t backfill_at_ms;
    char backfill_cursor[24];       /* SCAN's next cursor ("" before the first page) */
};

/* cluster.c, for cluster_follow.c */
void cluster_doc_unref(cluster_doc *d);
bool cluster_doc_live(const cluster_doc *d);
void cluster_doc_lose(cluster_doc *d, const char *why);
/* The document was deleted: its lease is gone with it; no event follows. */
void cluster_doc_deleted(cluster_doc *d);
/* One log entry's fields as a record pointing into the reply. 0 or -EIO. */
int cluster_entry_record(const redisReply *fields, uint64_t v, store_record *out);
uint64_t cluster_parse_u64(const char *s, size_t n);

/* cluster_registry.c */
void cluster_registry_tick(cluster *c, uint64_t now_ms);
/* What this worker owns or follows changed: its entry is written now. */
void cluster_registry_changed(cluster *c);
/* Shutdown: this worker's entry leaves the registry. */
void cluster_registry_leave(cluster *c);
void cluster_registry_free(cluster *c);

/* cluster_list.c: the cluster's list of documents. */
size_t cluster_docs_key(const cluster *c, char *out, size_t cap);
/* The owner loaded it (created: it was absent or deleted): it exists in
 * Redis (meta) and is in the list. */
void cluster_doc_register(cluster_doc *d, uint64_t version, bool created);

/* cluster_backfill.c: documents written before the cluster's list existed
 * are added to it, once per cluster, a SCAN page at a time. */
void cluster_backfill_tick(cluster *c, uint64_t now_ms);

/* cluster_presence.c */
int cluster_presence_init(cluster *c, const char *host, uint32_t port, uint32_t db);
/* The document's channel is listened to (loaded) or not (closed). */
void cluster_presence_listen(cluster_doc *d, bool on);

/* cluster_follow.c */
int cluster_follow_init(cluster *c, const char *host, uint32_t port, uint32_t db);
/* A document joined (or left) the followed set: the XREAD is issued again. */
void cluster_follow_changed(cluster *c);
/* A follower got the lease: the rest of the log, then it is the owner. */
void cluster_follow_promote(cluster_doc *d);


#endif /* RINGPAD_CLUSTER_INTERNAL_H */
