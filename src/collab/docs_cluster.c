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
#include <stdlib.h>
#include <string.h>

static void ev_loaded(void *ctx, int rc, const cluster_load *ld);
static void ev_appended(void *ctx, uint64_t durable_to);
static void ev_append_failed(void *ctx, uint64_t from, uint64_t to);
static void ev_lost(void *ctx, const char *why);

static const cluster_doc_events events = {
    .loaded = ev_loaded,
    .appended = ev_appended,
    .append_failed = ev_append_failed,
    .lost = ev_lost,
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
    if (rc != 0) {
        /* the entry goes with the failed load: the lease first */
        e->cd = NULL;
        cluster_doc_close(cd);
    }
    docs_load_outcome(t, rc, name, len, ot, rc == 0 && !ld->exists, t->cfg.cluster_out, (int64_t)clock_mono_ms());
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
    return cluster_doc_append(e->cd, rec);
}

static bool replica_writable(void *ctx) {
    docs_entry *e = ctx;
    return cluster_doc_writable(e->cd, clock_mono_ms());
}

void docs_cluster_ready(docs *t, docs_entry *e, doc *d) {
    (void)t;
    doc_replica r = {.append = replica_append, .writable = replica_writable, .ctx = e};
    doc_set_replica(d, &r);
    e->snap_version = doc_version(d);
}

static void ev_appended(void *ctx, uint64_t durable_to) {
    docs_entry *e = ctx;
    if (e->state != ENTRY_READY) return;
    doc_on_replicated(e->d, durable_to, e->table->cfg.cluster_out);
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

static void ev_lost(void *ctx, const char *why) {
    docs_entry *e = ctx;
    docs *t = e->table;
    if (e->state != ENTRY_READY) return;
    log_warn("document %s: no longer owned here (%s): its sessions are told to reconnect", e->name, why);
    doc_evict_all(e->d, PROTO_ERR_STORAGE_UNAVAILABLE, "this node lost the document to another node; reconnect",
                  t->cfg.cluster_out);
    docs_entry_unload(t, e, false, t->cfg.cluster_out, (int64_t)clock_mono_ms());
}

void docs_cluster_tick(docs *t, docs_entry *e, int64_t now_ms) {
    (void)now_ms;
    uint64_t every = t->cfg.checkpoint_ops != 0 ? t->cfg.checkpoint_ops : DOCS_DEFAULT_CHECKPOINT_OPS;
    uint64_t v = doc_published_version(e->d);
    /* the text at the published version is the current text only when nothing is in flight */
    if (e->cd == NULL || v != doc_version(e->d) || v < e->snap_version + every) return;
    ot_buf text;
    ot_buf_init(&text);
    uint64_t trim = 0;
    if (t->cfg.retention.keep == STORE_KEEP_OPS && v > t->cfg.retention.ops) trim = v - t->cfg.retention.ops;
    if (trim > v) trim = v;
    if (ot_text_to_buf(ot_doc_text(doc_ot(e->d)), &text) == OT_OK &&
        cluster_doc_snapshot(e->cd, text.data != NULL ? text.data : "", text.len, v, trim) == 0)
        e->snap_version = v;
    ot_buf_free(&text);
}
