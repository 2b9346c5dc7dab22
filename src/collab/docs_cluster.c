/* Cluster mode's side of the document table: a document is loaded from
 * Redis (snapshot + log tail, under this node's lease) instead of the data
 * dir, its ops are made durable by the fenced append instead of the local
 * log, and the timer writes its snapshots. Single-node documents never come
 * here. */
#include "collab/docs_internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "cluster/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ev_loaded(void *ctx, int rc, const cluster_load *ld);
static void ev_appended(void *ctx, uint64_t durable_to);
static void ev_append_failed(void *ctx, uint64_t from, uint64_t to);
static void ev_lost(void *ctx, const char *why);
static void ev_deleted(void *ctx);
static void ev_logged(void *ctx, const store_record *rec);
static void ev_refused(void *ctx, uint64_t key, const char *id, size_t id_len, int code);
static void ev_promoted(void *ctx);
static void ev_presence(void *ctx, const char *json, size_t len);
static void ev_owner_changed(void *ctx);

static const cluster_doc_events events = {
    .loaded = ev_loaded,
    .appended = ev_appended,
    .append_failed = ev_append_failed,
    .lost = ev_lost,
    .deleted = ev_deleted,
    .logged = ev_logged,
    .refused = ev_refused,
    .promoted = ev_promoted,
    .presence = ev_presence,
    .owner_changed = ev_owner_changed,
};

/* A forwarded op waits this long for its entry in the log (or a refusal);
 * then its sender hears storage_unavailable and resends by id. */
#define FORWARD_TIMEOUT_MS 10000u
/* Forwarded ops waiting per document; beyond, ops get storage_unavailable. */
#define FORWARD_MAX_WAITING 4096u

typedef struct fwd_pending {
    uint64_t key;
    uint64_t deadline_ms;
    size_t id_len;
    char id[PROTO_MAX_ID_BYTES + 1];
} fwd_pending;

typedef struct held_open {
    docs_request *r;                /* a reference */
    uint64_t deadline_ms;
} held_open;

struct docs_forwards {
    fwd_pending *p;
    uint32_t count, cap;
    held_open *held;                /* opens at a version this follower has not read yet */
    uint32_t count_held, cap_held;
    uint64_t count_generated;       /* ids made for ops sent without one */
};

void docs_cluster_load(docs *t, docs_entry *e, fanout *out, int64_t now_ms) {
    e->table = t;
    e->cd = cluster_doc_open(t->cfg.cluster, e->name, e->name_len, e->load_create, &events, e);
    if (e->cd == NULL) docs_load_outcome(t, -ENOMEM, e->name, e->name_len, NULL, false, out, now_ms);
}

/* The document at the snapshot, then every op of the tail replayed (their
 * ids kept, so a resend across a failover is recognised in memory too). */
static int build(const docs *t, const cluster_load *ld, ot_doc **out) {
    ot_doc *ot = ot_doc_new(&t->cfg.limits, ld->snap_version, ld->snap_text != NULL ? ld->snap_text : "",
                            ld->snap_len);
    if (ot == NULL) return -ENOMEM;
    ot_op op;
    ot_op_init(&op);
    ot_submit_result res;
    ot_op_init(&res.op);
    int rc = 0;
    for (size_t i = 0; i < ld->count_ops && rc == 0; i++) {
        const store_record *r = &ld->ops[i];
        ot_op_clear(&op);
        rc = ot_op_parse_json(&op, r->op_json, r->op_len, &t->cfg.limits, NULL);
        if (rc == OT_OK)
            rc = ot_doc_submit(ot, r->base_version, &op, r->id, r->id_len, r->author, r->author_len, r->time_ms, &res);
        if (rc == OT_OK && (res.duplicate || res.applied_at_version != r->base_version)) rc = OT_ERR_VERSION_AHEAD;
        if (rc != OT_OK) {
            log_error("document %s: op at v%llu in Redis does not apply: %s", "?", (unsigned long long)r->base_version,
                      ot_err_str(rc));
            rc = -EIO;
        }
    }
    ot_op_free(&op);
    ot_op_free(&res.op);
    if (rc != 0) {
        ot_doc_free(ot);
        return rc;
    }
    *out = ot;
    return 0;
}

static void ev_loaded(void *ctx, int rc, const cluster_load *ld) {
    docs_entry *e = ctx;
    docs *t = e->table;
    cluster_doc *cd = e->cd;
    char name[DOCNAME_MAX_BYTES + 1];
    size_t len = e->name_len;
    memcpy(name, e->name, len + 1);
    ot_doc *ot = NULL;
    if (rc == 0) rc = build(t, ld, &ot);
    if (rc == 0) e->following = !ld->owned;
    if (rc != 0) {
        /* the entry goes with the failed load: the lease first */
        e->cd = NULL;
        cluster_doc_close(cd);
    }
    /* created: by the owner's load only, so the webhook hears it once */
    docs_load_outcome(t, rc, name, len, ot, rc == 0 && !ld->exists && ld->owned, t->cfg.cluster_out,
                      (int64_t)clock_mono_ms());
    if (rc != 0) return;
    docs_entry *now = docs_entry_find(t, name, len, NULL);
    if (now == NULL || now->cd != cd || now->state != ENTRY_READY) {
        /* the document could not be made from it: let the lease go */
        if (now != NULL && now->cd == cd) now->cd = NULL;
        cluster_doc_close(cd);
    }
}

static int replica_append(void *ctx, const store_record *rec) {
    docs_entry *e = ctx;
    /* the op is applied: the text is the one after it */
    const ot_text *text = ot_doc_text(doc_ot(e->d));
    return cluster_doc_append(e->cd, rec, ot_text_len_codepoints(text), ot_text_len_bytes(text));
}

static bool replica_writable(void *ctx) {
    docs_entry *e = ctx;
    return cluster_doc_writable(e->cd, clock_mono_ms());
}

static struct docs_forwards *forwards(docs_entry *e) {
    if (e->fwd == NULL) e->fwd = calloc(1, sizeof *e->fwd);
    return e->fwd;
}

static int replica_forward(void *ctx, uint64_t key, const store_record *rec) {
    docs_entry *e = ctx;
    struct docs_forwards *f = forwards(e);
    if (f == NULL) return -ENOMEM;
    if (f->count == FORWARD_MAX_WAITING) return -EAGAIN;
    if (f->count == f->cap) {
        uint32_t cap = f->cap == 0 ? 16 : f->cap * 2;
        fwd_pending *p = realloc(f->p, sizeof *p * cap);
        if (p == NULL) return -ENOMEM;
        f->p = p;
        f->cap = cap;
    }
    fwd_pending *p = &f->p[f->count];
    store_record sent = *rec;
    if (rec->id_len == 0) {
        /* the ack is matched by id: an op sent without one gets one */
        int n = snprintf(p->id, sizeof p->id, "~%s~%llu", cluster_node_id(e->table->cfg.cluster),
                         (unsigned long long)++f->count_generated);
        p->id_len = n > 0 && (size_t)n < sizeof p->id ? (size_t)n : 0;
        sent.id = p->id;
        sent.id_len = p->id_len;
    } else {
        p->id_len = rec->id_len < PROTO_MAX_ID_BYTES ? rec->id_len : PROTO_MAX_ID_BYTES;
        memcpy(p->id, rec->id, p->id_len);
        p->id[p->id_len] = '\0';
    }
    p->key = key;
    p->deadline_ms = clock_mono_ms() + FORWARD_TIMEOUT_MS;
    /* one forward per id: a resend while it is on its way waits for the same entry */
    bool sent_already = false;
    for (uint32_t i = 0; i < f->count && !sent_already; i++)
        sent_already = f->p[i].id_len == p->id_len && memcmp(f->p[i].id, p->id, p->id_len) == 0;
    int rc = sent_already ? 0 : cluster_doc_forward(e->cd, &sent, key);
    if (rc == 0) f->count++;
    return rc;
}

static void replica_presence(void *ctx, const char *json, size_t len) {
    docs_entry *e = ctx;
    cluster_doc_publish(e->cd, json, len);
}

static void ev_presence(void *ctx, const char *json, size_t len) {
    docs_entry *e = ctx;
    if (e->state == ENTRY_READY) doc_relay(e->d, json, len, e->table->cfg.cluster_out);
}

static void set_replica(docs_entry *e) {
    doc_replica r = {.ctx = e, .presence = replica_presence};
    if (e->following) r.forward = replica_forward;
    else {
        r.append = replica_append;
        r.writable = replica_writable;
    }
    doc_set_replica(e->d, &r);
}

void docs_cluster_ready(docs *t, docs_entry *e, doc *d) {
    (void)t;
    (void)d;
    set_replica(e);
    e->snap_version = doc_version(d);
}

#define MAX_SENDERS_PER_OP 8u

/* The senders waiting for id, taken off the list (at most MAX_SENDERS_PER_OP;
 * the rest are acked at v before the op: they cannot be told apart). */
static uint32_t take_senders(docs_entry *e, const char *id, size_t id_len, uint64_t v, uint64_t *keys,
                             fanout *out) {
    struct docs_forwards *f = e->fwd;
    uint32_t n = 0;
    for (uint32_t i = 0; f != NULL && i < f->count;) {
        fwd_pending *p = &f->p[i];
        if (p->id_len != id_len || memcmp(p->id, id, id_len) != 0) {
            i++;
            continue;
        }
        if (n < MAX_SENDERS_PER_OP) keys[n++] = p->key;
        else doc_ack(e->d, p->key, p->id, p->id_len, v, out);
        f->p[i] = f->p[--f->count];
    }
    return n;
}

/* Every waiting sender hears code (and resends by id). */
static void fail_forwards(docs_entry *e, bool expired_only, const char *why, fanout *out) {
    struct docs_forwards *f = e->fwd;
    uint64_t now = clock_mono_ms();
    for (uint32_t i = 0; f != NULL && i < f->count;) {
        fwd_pending *p = &f->p[i];
        if (expired_only && now < p->deadline_ms) {
            i++;
            continue;
        }
        doc_send_error(out, p->key, PROTO_ERR_STORAGE_UNAVAILABLE, why, p->id, p->id_len);
        f->p[i] = f->p[--f->count];
    }
}

bool docs_cluster_hold_open(docs_entry *e, const docs_request *r) {
    struct docs_forwards *f = forwards(e);
    if (f == NULL || f->count_held == FORWARD_MAX_WAITING) return false;
    if (f->count_held == f->cap_held) {
        uint32_t cap = f->cap_held == 0 ? 8 : f->cap_held * 2;
        held_open *h = realloc(f->held, sizeof *h * cap);
        if (h == NULL) return false;
        f->held = h;
        f->cap_held = cap;
    }
    mailbox_msg_ref((mailbox_msg *)&r->hdr);
    f->held[f->count_held++] = (held_open){(docs_request *)r, clock_mono_ms() + FORWARD_TIMEOUT_MS};
    return true;
}

/* Opens whose version was reached (or that waited long enough: they get
 * version_ahead) run now. */
static void release_held(docs *t, docs_entry *e, bool all) {
    struct docs_forwards *f = e->fwd;
    if (f == NULL || f->count_held == 0) return;
    uint64_t now = clock_mono_ms(), pub = e->state == ENTRY_READY ? doc_published_version(e->d) : UINT64_MAX;
    for (uint32_t i = 0; i < f->count_held;) {
        held_open h = f->held[i];
        if (!all && h.r->v > pub && now < h.deadline_ms) {
            i++;
            continue;
        }
        f->held[i] = f->held[--f->count_held];
        docs_execute(t, h.r, t->cfg.cluster_out, (int64_t)now);
        mailbox_msg_unref(&h.r->hdr);
        e = docs_entry_find(t, h.r->doc, h.r->doc_len, NULL);
        if (e == NULL || e->fwd == NULL) return;
        f = e->fwd;
    }
}

bool docs_cluster_busy(const docs_entry *e) {
    return e->fwd != NULL && (e->fwd->count > 0 || e->fwd->count_held > 0);
}

void docs_cluster_unload(docs_entry *e) {
    if (e->fwd != NULL) {
        /* the doc is quiet when unloaded: nothing is held (docs_cluster_busy) */
        for (uint32_t i = 0; i < e->fwd->count_held; i++) mailbox_msg_unref(&e->fwd->held[i].r->hdr);
        free(e->fwd->held);
        free(e->fwd->p);
    }
    free(e->fwd);
    e->fwd = NULL;
    cluster_doc_close(e->cd);
    e->cd = NULL;
}

static void ev_logged(void *ctx, const store_record *rec) {
    docs_entry *e = ctx;
    docs *t = e->table;
    if (e->state != ENTRY_READY) return;
    fanout *out = t->cfg.cluster_out;
    ot_op op;
    ot_op_init(&op);
    int rc = ot_op_parse_json(&op, rec->op_json, rec->op_len, &t->cfg.limits, NULL) == OT_OK ? 0 : -EIO;
    if (rc == 0) {
        /* the newest sender gets the ack in the op's place; an earlier one (a
         * resend from a new connection) is acked after the op, as a resend is */
        uint64_t keys[MAX_SENDERS_PER_OP];
        uint32_t n = take_senders(e, rec->id, rec->id_len, rec->base_version, keys, out);
        rc = doc_apply_logged(e->d, rec->base_version, &op, rec->id, rec->id_len, rec->author, rec->author_len,
                              rec->time_ms, n > 0 ? keys[n - 1] : 0, out);
        for (uint32_t i = 0; rc == 0 && i + 1 < n; i++)
            doc_ack(e->d, keys[i], rec->id, rec->id_len, rec->base_version, out);
    }
    ot_op_free(&op);
    if (rc != 0) ev_lost(e, "an op of the followed log does not apply here; reloading");
    else release_held(t, e, false);
}

static void ev_refused(void *ctx, uint64_t key, const char *id, size_t id_len, int code) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    struct docs_forwards *f = e->fwd;
    for (uint32_t i = 0; f != NULL && i < f->count; i++) {
        fwd_pending *p = &f->p[i];
        if (p->key != key || p->id_len != id_len || memcmp(p->id, id, id_len) != 0) continue;
        f->p[i] = f->p[--f->count];
        break;
    }
    if (code >= 0 || code < PROTO_ERR_NO_MEMORY) code = PROTO_ERR_INTERNAL;
    doc_send_error(e->table->cfg.cluster_out, key, code, "the document's owner refused the op", id, id_len);
}

static void ev_owner_changed(void *ctx) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    /* what went to the previous owner's inbox may never be read: resent by id, to the new one */
    fail_forwards(e, false, "the document's owner changed; resend with the same id", e->table->cfg.cluster_out);
}

static void ev_promoted(void *ctx) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    e->following = false;
    set_replica(e);
    e->snap_version = doc_version(e->d);
    /* their owner is gone without writing them: they go to this node now */
    fail_forwards(e, false, "the document moved to this node; resend with the same id", e->table->cfg.cluster_out);
    release_held(e->table, e, true);
}

/* An op another node forwarded to a document this worker owns. */
static void on_forward(void *ctx, const cluster_forward *f) {
    docs *t = ctx;
    docs_entry *e = docs_entry_find(t, f->doc, f->doc_len, NULL);
    if (e == NULL || e->state != ENTRY_READY || e->cd == NULL || !cluster_doc_owned(e->cd)) {
        cluster_refuse(t->cfg.cluster, f, PROTO_ERR_STORAGE_UNAVAILABLE);
        return;
    }
    ot_op op;
    ot_op_init(&op);
    int rc = ot_op_parse_json(&op, f->rec.op_json, f->rec.op_len, &t->cfg.limits, NULL) == OT_OK ? 0 : PROTO_ERR_BAD_OP;
    /* the ack is the op's entry in the log: nobody here is told */
    if (rc == 0)
        rc = doc_submit(e->d, 0, false, f->rec.author, f->rec.base_version, f->rec.id, f->rec.id_len, &op,
                        f->rec.time_ms, t->cfg.cluster_out);
    ot_op_free(&op);
    if (rc != 0) cluster_refuse(t->cfg.cluster, f, rc);
}

void docs_cluster_attach(docs *t) { cluster_set_forward_handler(t->cfg.cluster, on_forward, t); }

static void ev_appended(void *ctx, uint64_t durable_to) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    uint64_t before = doc_published_version(e->d);
    doc_on_replicated(e->d, durable_to, e->table->cfg.cluster_out);
    /* the owner tells the webhooks, once for the cluster (followers publish, never notify) */
    if (e->table->cfg.hooks != NULL && doc_published_version(e->d) != before) docs_notify_changed(e->table, e);
    docs_entry_set_degraded(e->table, e, false);
}

static void ev_append_failed(void *ctx, uint64_t from, uint64_t to) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    doc_on_replica_failed(e->d, from, to,
                          "the cluster's storage (Redis) did not confirm the op; retry later with the same id",
                          e->table->cfg.cluster_out);
    docs_entry_set_degraded(e->table, e, true);
}

/* The document leaves this node: its sessions hear code, its held opens run
 * again after the unload (they load it anew). */
static void drop_document(docs_entry *e, int code, const char *why) {
    docs *t = e->table;
    fail_forwards(e, false, "the document moved; resend with the same id", t->cfg.cluster_out);
    struct docs_forwards *f = e->fwd;
    /* held opens run after the unload: they load it again */
    held_open *held = f != NULL ? f->held : NULL;
    uint32_t count_held = f != NULL ? f->count_held : 0;
    if (f != NULL) {
        f->held = NULL;
        f->count_held = f->cap_held = 0;
    }
    doc_evict_all(e->d, code, why, t->cfg.cluster_out);
    docs_entry_unload(t, e, false, t->cfg.cluster_out, (int64_t)clock_mono_ms());
    for (uint32_t i = 0; i < count_held; i++) {
        docs_execute(t, held[i].r, t->cfg.cluster_out, (int64_t)clock_mono_ms());
        mailbox_msg_unref(&held[i].r->hdr);
    }
    free(held);
}

static void ev_lost(void *ctx, const char *why) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    log_warn("document %s: no longer owned here (%s): its sessions are told to reconnect", e->name, why);
    drop_document(e, PROTO_ERR_STORAGE_UNAVAILABLE, "this node lost the document to another node; reconnect");
}

static void ev_deleted(void *ctx) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    /* what a single node tells its sessions when the document is deleted */
    drop_document(e, PROTO_ERR_NOT_OPEN, "the document was deleted");
}

typedef struct delete_wait {
    docs *t;
    size_t name_len;
    char name[DOCNAME_MAX_BYTES + 1];
} delete_wait;

/* Answered like a finished delete job (the waiting requests run after it). */
static void delete_answer(docs *t, const char *name, size_t name_len, int rc) {
    docs_job j;
    docs_job_answered(&j, DOCS_JOB_DELETE, rc, name, name_len);
    docs_on_disk_done(t, &j, t->cfg.cluster_out, (int64_t)clock_mono_ms());
}

static void on_deleted(void *ctx, int rc) {
    delete_wait *w = ctx;
    if (rc != -ECANCELED) delete_answer(w->t, w->name, w->name_len, rc);
    free(w);
}

void docs_cluster_delete(docs *t, docs_entry *e) {
    delete_wait *w = malloc(sizeof *w);
    int rc = -ENOMEM;
    if (w != NULL) {
        w->t = t;
        w->name_len = e->name_len;
        memcpy(w->name, e->name, e->name_len + 1);
        rc = cluster_delete_doc(t->cfg.cluster, e->name, e->name_len, clock_wall_ms(), on_deleted, w);
    }
    if (rc == 0) return;
    free(w);
    char name[DOCNAME_MAX_BYTES + 1];
    size_t len = e->name_len;
    memcpy(name, e->name, len + 1);
    delete_answer(t, name, len, -EIO);
}

static void snapshot(docs *t, docs_entry *e) {
    if (e->cd == NULL || !cluster_doc_owned(e->cd)) return;
    uint64_t every = t->cfg.checkpoint_ops != 0 ? t->cfg.checkpoint_ops : DOCS_DEFAULT_CHECKPOINT_OPS;
    uint64_t v = doc_published_version(e->d);
    /* the text at the published version is the current text only when nothing is in flight */
    if (e->cd == NULL || v != doc_version(e->d) || v < e->snap_version + every) return;
    ot_buf text;
    ot_buf_init(&text);
    uint64_t trim = 0;
    int64_t before_ms = 0;
    if (t->cfg.retention.keep == STORE_KEEP_OPS && v > t->cfg.retention.ops) trim = v - t->cfg.retention.ops;
    if (t->cfg.retention.keep == STORE_KEEP_AGE) {
        /* any kept text will do by count; the script checks the age of the op below it */
        trim = v;
        before_ms = clock_wall_ms() - t->cfg.retention.age_ms;
    }
    if (trim > v) trim = v;
    if (ot_text_to_buf(ot_doc_text(doc_ot(e->d)), &text) == OT_OK &&
        cluster_doc_snapshot(e->cd, text.data != NULL ? text.data : "", text.len, v, trim, before_ms) == 0)
        e->snap_version = v;
    ot_buf_free(&text);
}

void docs_cluster_tick(docs *t, docs_entry *e, uint64_t *history, fanout *out, int64_t now_ms) {
    if (e->fwd != NULL && e->fwd->count > 0)
        fail_forwards(e, true, "the document's owner did not confirm the op; resend with the same id", out);
    release_held(t, e, false);
    e = docs_entry_find(t, e->name, e->name_len, NULL);   /* a held open may have unloaded it */
    if (e == NULL || e->state != ENTRY_READY) return;
    snapshot(t, e);
    if (!doc_is_quiet(e->d) || docs_cluster_busy(e)) {
        e->quiet_since_ms = 0;
    } else if (e->quiet_since_ms == 0) {
        e->quiet_since_ms = (uint64_t)now_ms + 1;
    } else if ((uint64_t)now_ms - e->quiet_since_ms >= t->cfg.idle_ms && !e->dirty) {
        *history -= ot_doc_history_bytes(doc_ot(e->d));
        docs_entry_unload(t, e, false, out, now_ms);
    }
}
